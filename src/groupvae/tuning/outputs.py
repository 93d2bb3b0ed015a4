"""What a study leaves in its folder besides the study: the table of trials
(``trials.csv``), the optimisation history and the parameter importances
(``optuna.visualization.matplotlib``), and the best trial's settings trained again as an
ordinary run directory (``best/``, with ``best.json`` saying which trial it is)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from matplotlib.ticker import MaxNLocator
from optuna.trial import FrozenTrial

from groupvae.errors import ConfigError
from groupvae.models import BaseModel
from groupvae.runs.train import train_run
from groupvae.store.atomic import write_json, write_with
from groupvae.store.run_directory import run_state
from groupvae.tuning.problem import TuneProblem
from groupvae.tuning.study_folder import (
    BEST_JSON,
    BEST_RUN,
    HISTORY_PNG,
    IMPORTANCES_PNG,
    TRIALS_CSV,
)

OBJECTIVE = "validation ELBO per observation (nats)"
"""What a trial's value is, in figures and ``best.json``."""
TRIAL_COLUMNS = (
    "number", "value", "state", "datetime_start", "datetime_complete", "duration", "params",
    "user_attrs",
)  # fmt: skip


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: ``number``, ``value`` (the validation groups' holdout ELBO per
    observation, nats; a pruned trial's is its last reported check), ``state``, times,
    ``params_*`` (the settings) and ``user_attrs_*`` (``fail_reason``, ``pruned``,
    ``interrupted``, ``step``, ``checks``, ``stopped_step``, ``fit_seconds``,
    ``worker``)."""
    frame = study.trials_dataframe(attrs=TRIAL_COLUMNS)
    if "duration" in frame:
        frame["duration"] = frame["duration"].dt.total_seconds()
        frame = frame.rename(columns={"duration": "seconds"})
    return frame


def write_trials(study: optuna.Study, out: Path) -> Path:
    """Write :func:`trials_table` to ``out/trials.csv`` atomically."""
    path = out / TRIALS_CSV
    frame = trials_table(study)
    write_with(path, lambda tmp: frame.to_csv(tmp, index=False))
    return path


def _save(axes: Any, path: Path) -> None:
    """Write the figure of ``axes`` as a PNG atomically, and close it."""
    # deferred: only figures need pyplot
    import matplotlib.pyplot as plt

    fig = axes.figure
    fig.set_size_inches(8, 5)
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def write_figures(study: optuna.Study, out: Path) -> dict[str, str]:
    """Draw the optimisation history (every completed trial's value and the best so
    far) and the parameter importances (fANOVA, seeded) of ``study`` into ``out``.

    Returns:
        Figure file name -> ``"written"`` or why it was not drawn (fewer than two
        completed trials, or nothing varied).
    """
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    notes: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if not done:
            return {HISTORY_PNG: "no trial completed", IMPORTANCES_PNG: "no trial completed"}
        history = optuna.visualization.matplotlib.plot_optimization_history(
            study, target_name=OBJECTIVE
        )
        history.legend(loc="best")
        history.xaxis.set_major_locator(MaxNLocator(integer=True))
        _save(history, out / HISTORY_PNG)
        notes[HISTORY_PNG] = "written"
        if len(done) < 2:
            notes[IMPORTANCES_PNG] = "needs two completed trials"
            return notes
        try:
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
            axes = optuna.visualization.matplotlib.plot_param_importances(
                study, evaluator=evaluator, target_name=OBJECTIVE
            )
        except (ValueError, RuntimeError) as err:  # nothing varied, say
            notes[IMPORTANCES_PNG] = f"not drawn: {err}"
            return notes
        _save(axes, out / IMPORTANCES_PNG)
        notes[IMPORTANCES_PNG] = "written"
    return notes


def best_record(study: optuna.Study, best: FrozenTrial) -> dict[str, Any]:
    """What ``best.json`` says of the best trial: study, trial, value, settings."""
    return {
        "study": study.study_name,
        "trial": best.number,
        "value": best.value,
        "objective": OBJECTIVE,
        "params": best.params,
        "run": BEST_RUN,
    }


def kept_best(out: Path, record: dict[str, Any]) -> bool:
    """Whether ``out/best`` is a finished run of the trial ``record`` names already."""
    try:
        old = json.loads((out / BEST_JSON).read_text())
    except (OSError, ValueError):
        return False
    same = all(old.get(k) == record[k] for k in ("study", "trial", "params"))
    try:
        return same and run_state(out / BEST_RUN) == "finished"
    except ConfigError:  # a folder train refuses: train says so when it retrains
        return False


def retrain_best(
    problem: TuneProblem, best: FrozenTrial, out: Path, study: optuna.Study
) -> tuple[BaseModel | None, dict[str, Any]]:
    """Train the best trial's settings again as ``groupvae train`` would, into the run
    directory ``out/best`` (replacing the run of an earlier best, only if it is a
    groupvae run), and write ``out/best.json``; nothing is trained if ``best/`` already
    holds this trial's run.

    The run is an ordinary ``train`` run: all training groups (fit and validation
    groups), early stopping on the run's holdout groups, which ``evaluate`` then scores;
    ``evaluate``, ``encode`` and ``plot`` open it.

    Returns:
        ``(model, record)``: the trained model (``None`` when kept) and ``best.json``'s
        content (with the run's own holdout estimate once trained).

    Raises:
        ConfigError: if ``out/best`` holds files that are not a groupvae run.
        TrainingInterrupted: on Ctrl-C or SIGTERM (the run stays unfinished; the next
            command trains it again).
    """
    record = best_record(study, best)
    if kept_best(out, record):
        return None, json.loads((out / BEST_JSON).read_text())
    run = out / BEST_RUN
    overwrite = run_state(run) != "new"
    model = train_run(
        problem.model,
        problem.dataset,
        run,
        seed=problem.seed,
        overrides={**problem.fixed, **best.params},
        data_options=problem.data_options,
        holdout=problem.holdout,
        holdout_labels=None if problem.holdout_labels is None else list(problem.holdout_labels),
        progress=False,
        overwrite=overwrite,
    )
    estimate = model.extra_metadata.get("holdout_elbo") or {}
    value = estimate.get("elbo_per_observation")
    record["run_holdout_elbo"] = None if value is None or not math.isfinite(value) else value
    record["run_estimator"] = estimate.get("estimator")
    write_json(out / BEST_JSON, record)
    return model, record


__all__ = [
    "OBJECTIVE",
    "best_record",
    "kept_best",
    "retrain_best",
    "trials_table",
    "write_figures",
    "write_trials",
]
