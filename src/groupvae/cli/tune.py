"""``groupvae tune``: the command line of :func:`groupvae.tuning.tune`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from groupvae.benchmarks.catalog import parse_values
from groupvae.cli.options import parse_labels
from groupvae.config import parse_overrides
from groupvae.errors import ConfigError


def _tuning() -> Any:
    """:mod:`groupvae.tuning`, or a one-line error naming the extra to install."""
    try:
        # deferred: Optuna is an optional dependency (the ``tune`` extra)
        import groupvae.tuning as tuning
    except ImportError as err:
        if err.name is None or err.name.split(".")[0] not in ("optuna", "sqlalchemy"):
            raise
        raise ConfigError(
            "groupvae tune needs Optuna: pip install -c constraints.txt 'groupvae[tune]'"
        ) from None
    return tuning


def tune_command(
    model: Annotated[str, typer.Argument(help="Model preset, e.g. mlvae or cxvae.")],
    dataset: Annotated[str, typer.Argument(help="Data set, e.g. table or exam-scores.")],
    trials: Annotated[
        int,
        typer.Option(
            help="The study's total number of trials (completed, pruned or failed); run "
            "again with more to continue it."
        ),
    ] = 20,
    data: Annotated[
        list[str] | None,
        typer.Option(help="Data set option key=value, e.g. path=scores.csv (repeatable)."),
    ] = None,
    space: Annotated[
        list[str] | None,
        typer.Option(
            help="Search a field: key=low:high[:log] (a range) or key=a,b,c (choices); "
            "replaces its default range (repeatable)."
        ),
    ] = None,
    default_space: Annotated[
        bool,
        typer.Option(
            help="Search the default space of the model and data shape besides --space "
            "(--no-default-space: only the --space fields)."
        ),
    ] = True,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Fix a model or training field in every trial and the best run: key=value "
            "(repeatable; a fixed field is not searched).",
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option(help="Worker processes on this machine, one torch thread each.")
    ] = 1,
    storage: Annotated[
        str | None,
        typer.Option(
            help="A study storage to share with other machines: an RDB URL "
            "(postgresql://..., sqlite:///PATH) or a journal file path. Default: "
            "OUT/study.db."
        ),
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="The study's name in the storage (default MODEL-DATASET).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Study folder (default runs/tune-MODEL-DATASET-seedSEED)."),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Start no new trial after this many seconds.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of data, splits, training and sampler.")] = 0,
    holdout: Annotated[
        float, typer.Option(help="Fraction of groups held out for scoring (never tuned on).")
    ] = 0.2,
    holdout_labels: Annotated[
        str | None, typer.Option(help="Hold out these classes instead, e.g. 8,9.")
    ] = None,
    validation: Annotated[
        float,
        typer.Option(help="Fraction of the training groups that score the trials."),
    ] = 0.2,
    pruner: Annotated[str, typer.Option(help="median (default), hyperband or none.")] = "median",
) -> None:
    """Search MODEL's settings on DATASET with Optuna: each trial is scored by the
    holdout ELBO estimate of validation groups split from the training groups; the
    best trial's settings are trained again as the run OUT/best."""
    if seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {seed}")
    tuning = _tuning()
    tuning.tune(
        model,
        dataset,
        out,
        trials=trials,
        data_options=parse_values(data),
        space=list(space or []),
        default_space=default_space,
        overrides=parse_overrides(set_ or []),
        jobs=jobs,
        storage=storage,
        study_name=study,
        timeout=timeout,
        seed=seed,
        holdout=holdout,
        holdout_labels=parse_labels(holdout_labels),
        validation=validation,
        pruner=pruner,
    )


__all__ = ["tune_command"]
