"""The ``groupvae`` command line: list, prepare, train, tune, evaluate, encode, translate,
analyse, plot, benchmark, demo.

``groupvae benchmark NAME`` is generated from the benchmark registry
(:mod:`groupvae.cli.benchmark`)."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

from groupvae.benchmarks.catalog import parse_values
from groupvae.cli.benchmark import benchmark_app
from groupvae.cli.options import parse_labels
from groupvae.cli.prepare import prepare_command
from groupvae.cli.tune import tune_command
from groupvae.config import parse_overrides
from groupvae.data import DATASETS
from groupvae.errors import ConfigError, GroupVAEError, TrainingInterrupted
from groupvae.models import FAMILY_PARTS, MODELS
from groupvae.models.saved import run_data, run_options
from groupvae.plots import PLOTS
from groupvae.runs.analyses import ANALYSES, analyse_run
from groupvae.runs.anndata_io import groups_path, write_codes_h5ad
from groupvae.runs.chunked_codes import (
    CHUNKED_SUFFIXES,
    ROWS_PER_CHUNK,
    check_codes_path,
    write_codes,
)
from groupvae.runs.demo import run_demo
from groupvae.runs.evaluate import evaluate_run
from groupvae.runs.export import frame_path, latent_table, translated_rows, write_frame
from groupvae.runs.observations import observation_table
from groupvae.runs.train import train_run
from groupvae.store.outputs import check_output
from groupvae.store.run_directory import is_global_zero, record_output

app = typer.Typer(
    help="Group VAEs for grouped and non-i.i.d. data (ML-VAE, GVAE, CxVAE, ...).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
RunDataOption = Annotated[
    list[str] | None,
    typer.Option(help="Change a recorded data option, e.g. path=new.csv (repeatable)."),
]
OverwriteOption = Annotated[
    bool,
    typer.Option(
        help="Replace the file already at --out (never a run's own files: config.json, "
        "weights.safetensors, metadata.json, history.csv, run.json, UNFINISHED, training/)."
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a model or training field: key=value (repeatable)."),
]


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Print a groupvae error as one line and exit with status 2, instead of a traceback;
    an interrupt (Ctrl-C, or SIGTERM during a parallel benchmark) exits with 130."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GroupVAEError as err:
            typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.secho("interrupted", fg=typer.colors.YELLOW, err=True)
            raise typer.Exit(130) from None

    return wrapper


@app.command("list")
@friendly_errors
def list_() -> None:
    """List the models, their parts and the data sets."""

    typer.echo("models:")
    for name, preset in MODELS.items():
        parts = ", ".join(f"{k}={v}" for k, v in preset.parts.items() if k != "group_dim")
        typer.echo(f"  {name:<10} [{preset.family}] {parts}")
    for family, registries in FAMILY_PARTS.items():
        typer.echo(f"parts ({family}):")
        for part, registry in registries.items():
            typer.echo(f"  {part:<17} {', '.join(registry)}")
    typer.echo("datasets:")
    for name, spec in DATASETS.items():
        typer.echo(f"  {name:<12} {spec.description}")


def _resume_command(args: dict[str, Any]) -> str:
    """The ``groupvae train ... --resume`` line that continues this run."""
    words = ["groupvae", "train", args["model"], args["dataset"], "--out", str(args["out"])]
    words += ["--seed", str(args["seed"])]
    for option in ("epochs", "max_steps"):
        if args[option] is not None:
            words += [f"--{option.replace('_', '-')}", str(args[option])]
    for option, values in (("--set", args["set_"]), ("--data", args["data"])):
        for value in values or []:
            words += [option, value]
    words += ["--holdout", str(args["holdout"])]
    if args["holdout_labels"]:
        words += ["--holdout-labels", args["holdout_labels"]]
    return shlex.join([*words, "--resume"])


@app.command()
@friendly_errors
def train(
    model: Annotated[str, typer.Argument(help="Model preset, e.g. mlvae or cxvae.")],
    dataset: Annotated[str, typer.Argument(help="Data set, e.g. exam-scores or mnist.")],
    epochs: Annotated[
        int | None,
        typer.Option(
            help="Train exactly this many epochs (replaces the data set's default budget; "
            "the settings line says which budget runs)."
        ),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option(
            help="Budget in optimiser steps: stop after exactly this many (or --epochs, "
            "whichever comes first). Default: the data set's (own data: sized from its "
            "groups)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of data, split, weights and training.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Run directory.")] = None,
    set_: SetOption = None,
    data: Annotated[
        list[str] | None, typer.Option(help="Data set option key=value, e.g. n_groups=4096.")
    ] = None,
    holdout: Annotated[float, typer.Option(help="Fraction of groups held out.")] = 0.2,
    holdout_labels: Annotated[
        str | None,
        typer.Option(help="Hold out these classes instead (unseen groups), e.g. 8,9."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the run already at --out (only groupvae's files).")
    ] = False,
    resume: Annotated[
        bool, typer.Option(help="Continue the interrupted run at --out from its checkpoint.")
    ] = False,
) -> None:
    """Train MODEL on DATASET in a run directory: checkpointed every epoch, resumable,
    finished when its checkpoint is complete."""

    if seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {seed}")
    out = out or Path("runs") / f"{model}-{dataset}-seed{seed}"
    command = _resume_command(locals())
    overrides = parse_overrides(set_ or [])
    if max_steps is not None:
        overrides["max_steps"] = str(max_steps)
    try:
        fitted = train_run(
            model,
            dataset,
            out,
            seed=seed,
            epochs=epochs,
            overrides=overrides,
            data_options=parse_values(data),
            holdout=holdout,
            holdout_labels=parse_labels(holdout_labels),
            overwrite=overwrite,
            resume=resume,
            resume_command=command,
        )
    except TrainingInterrupted as stop:
        if not is_global_zero():  # another device's process of a DDP run
            raise typer.Exit(130) from None
        typer.secho(
            f"interrupted at epoch {stop.epoch} of {stop.epochs} ({stop.completed} "
            f"checkpointed); resume with: {command}",
            fg=typer.colors.YELLOW,
            err=True,
        )
        raise typer.Exit(130) from None

    if not is_global_zero():  # another device's process of a DDP run
        return
    typer.echo(f"saved {out} ({final_number(fitted)}); next: groupvae evaluate {out}")


def final_number(model: Any) -> str:
    """What ``train`` reports last: the holdout estimate of the weights the run ends with
    (the number ``metadata.json``, ``evaluate`` and the history give), labelled."""
    record = model.extra_metadata.get("holdout_elbo") or {}
    value = record.get("elbo_per_observation")
    if value is not None:
        stop = model.extra_metadata.get("early_stopping") or {}
        which = "best" if stop.get("restored") == "best" else "last"
        return (
            f"{record['estimator']}: {value:.4f} nats, the {which} check's weights "
            f"(step {record['step']})"
        )
    history = model.history
    if history is None or "train_elbo_per_obs" not in history or history.empty:
        return "no holdout data"
    last = float(history["train_elbo_per_obs"].iloc[-1])
    return f"training ELBO per observation, mean over the last epoch: {last:.4f} nats"


@app.command()
@friendly_errors
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by train.")],
    json_: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the evaluation's random choices.")] = 0,
) -> None:
    """Compute the data set's metrics on the run's holdout groups; write metrics.json."""

    metrics = evaluate_run(run_dir, seed=seed)
    if json_:
        typer.echo(json.dumps(metrics, indent=2))
        return
    for key, value in metrics.items():
        typer.echo(f"{key:>24}: {value:.4f}" if isinstance(value, float) else f"{key:>24}: {value}")
    typer.echo(f"wrote {run_dir / 'metrics.json'}")


def _run_rows(run_dir: Path, out: Path, data: list[str] | None, overwrite: bool) -> tuple[Any, Any]:
    """The run's model and data (``--data`` changes applied), once ``out`` is known to be
    writable (before the run is loaded)."""
    frame_path(out, overwrite=overwrite)
    return run_data(run_dir, parse_values(data))


def _write_table(frame: Any, run_dir: Path, out: Path, overwrite: bool) -> None:
    """Write ``frame`` to ``out`` atomically, recorded in the run's manifest if it lands in
    the run directory."""
    write_frame(frame, out, overwrite=overwrite)
    record_output(run_dir, out)


@app.command()
@friendly_errors
def encode(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by train.")],
    out: Annotated[
        Path,
        typer.Option(
            help="Output: .parquet (one table, written chunk by chunk of whole groups), "
            ".zarr (a store of arrays: instance/v, group/u, ..., chunk by chunk), .csv (one "
            "table), or .h5ad (AnnData: the observations with obsm['X_groupvae'], and "
            "OUT.groups.h5ad, one row per group)."
        ),
    ],
    data: RunDataOption = None,
    overwrite: OverwriteOption = False,
    rows_per_chunk: Annotated[
        int, typer.Option(help=".parquet, .zarr: rows encoded at a time (whole groups).")
    ] = ROWS_PER_CHUNK,
) -> None:
    """Write the codes of the run's data: one row per observation, one per group."""
    suffix = out.suffix.lower()
    if suffix == ".h5ad":
        _encode_h5ad(run_dir, out, data, overwrite)
        return
    if suffix in CHUNKED_SUFFIXES:
        check_codes_path(out, overwrite=overwrite)
        model, rows = run_data(run_dir, parse_values(data))
        written = write_codes(model, rows, out, overwrite=overwrite, rows_per_chunk=rows_per_chunk)
        record_output(run_dir, out)
        typer.echo(
            f"wrote {out} ({written.n_obs} observations, {written.n_groups} groups, "
            f"{written.chunks} chunks)"
        )
        return
    model, rows = _run_rows(run_dir, out, data, overwrite)
    _write_table(latent_table(model, rows), run_dir, out, overwrite)
    typer.echo(f"wrote {out} ({rows.n_obs} observations, {rows.n_groups} groups)")


def _encode_h5ad(run_dir: Path, out: Path, data: list[str] | None, overwrite: bool) -> None:
    """``encode --out codes.h5ad``: the observations' AnnData at ``out`` and the
    groups' beside it, both checked before the run is loaded."""
    groups_out = groups_path(out)
    for path in (out, groups_out):
        check_output(path, overwrite=overwrite)
    options = parse_values(data)
    model, rows = run_data(run_dir, options)
    name, merged = run_options(model, run_dir, options)
    obs = observation_table(name, merged, rows)
    cells, groups = write_codes_h5ad(model, rows, out, obs=obs)
    for path in (cells, groups):
        record_output(run_dir, path)
    typer.echo(
        f"wrote {cells} ({rows.n_obs} observations, obsm['X_groupvae']) and {groups} "
        f"({rows.n_groups} groups)"
    )


@app.command()
@friendly_errors
def translate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by train.")],
    source: Annotated[str, typer.Option(help="The group whose rows are translated.")],
    target: Annotated[str, typer.Option(help="The group whose code they get.")],
    out: Annotated[Path, typer.Option(help="Output file: .csv or .parquet.")],
    data: RunDataOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Decode the SOURCE group's rows with the TARGET group's code, in your units."""
    model, rows = _run_rows(run_dir, out, data, overwrite)
    frame = translated_rows(model, rows, source, target)
    _write_table(frame, run_dir, out, overwrite)
    typer.echo(f"wrote {out} ({len(frame)} rows of {source} translated to {target})")


@app.command()
@friendly_errors
def plot(
    kind: Annotated[
        str,
        typer.Argument(
            help="curves (any run), codes (group codes; --color), reconstruction (table, "
            "npz, anndata runs), translation (table and exam-scores runs), swap, "
            "interpolation, generation, evidence, global-local (image runs), denoising, "
            "cross-population (CPVAE runs)."
        ),
    ],
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by train.")],
    out: Annotated[
        Path | None,
        typer.Option(
            help="PNG path (default RUN_DIR/KIND.png, groupvae's own figure, replaced as "
            "it is drawn again)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the images or groups shown.")] = 0,
    color: Annotated[
        str | None,
        typer.Option(
            help="codes only: colour each group by this column of the run's data file "
            "(its value if constant within groups, else its group mean; default: group size)."
        ),
    ] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Draw a figure from a saved run, without training again."""

    if out is not None and out.is_dir():
        raise ConfigError(
            f"--out {out} is a directory; give the figure's file name, e.g. {out}/{kind}.png"
        )
    draw = PLOTS[kind]
    if color is not None and kind != "codes":
        raise ConfigError(f"--color is an option of the codes figure, not of {kind}")
    extra = {"color": color} if color is not None else {}
    path = draw(run_dir, out, seed=seed, overwrite=overwrite, **extra)
    typer.echo(f"wrote {path}")


def _given(**options: Any) -> dict[str, Any]:
    """The options the user gave (not ``None``, a flag only when set)."""
    return {k: v for k, v in options.items() if v is not None and v is not False}


@app.command()
@friendly_errors
def analyse(
    kind: Annotated[
        str,
        typer.Argument(
            help="distances (between groups' posteriors; nearest groups; clusters), "
            "outliers (groups the model explains worst), new-groups (codes of a new "
            "file's groups; --new), covariates (group-level columns predicted from the "
            "codes vs pseudobulk), differential (two sets of groups; --a, --b)."
        ),
    ],
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by train.")],
    out: Annotated[Path, typer.Option(help="Output table: .csv or .parquet.")],
    figure: Annotated[
        Path | None, typer.Option(help="Figure (PNG); default: --out with the suffix .png.")
    ] = None,
    data: RunDataOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the analysis' random draws.")] = 0,
    overwrite: OverwriteOption = False,
    metric: Annotated[
        str | None,
        typer.Option(help="distances, new-groups: w2 (2-Wasserstein, default) or euclidean."),
    ] = None,
    k: Annotated[
        int | None, typer.Option(help="distances, new-groups: nearest groups per group.")
    ] = None,
    clusters: Annotated[int | None, typer.Option(help="distances: clusters (default 4).")] = None,
    linkage: Annotated[
        str | None,
        typer.Option(help="distances: average (default), ward or complete (hierarchical)."),
    ] = None,
    max_full: Annotated[
        int | None,
        typer.Option(help="distances: most groups for a full matrix and heatmap (2000)."),
    ] = None,
    matrix: Annotated[
        bool, typer.Option(help="distances: write the full matrix, not the nearest groups.")
    ] = False,
    samples: Annotated[
        int | None,
        typer.Option(help="outliers: importance samples (100); differential: draws (1000)."),
    ] = None,
    top: Annotated[
        int | None, typer.Option(help="outliers, differential: how many to name (10).")
    ] = None,
    new: Annotated[Path | None, typer.Option(help="new-groups: the file of new groups.")] = None,
    columns: Annotated[
        str | None, typer.Option(help="covariates: the columns (default every group-level one).")
    ] = None,
    folds: Annotated[int | None, typer.Option(help="covariates: CV folds (5).")] = None,
    a: Annotated[
        str | None, typer.Option("--a", help="differential: set A's group ids (or --by value).")
    ] = None,
    b: Annotated[
        str | None, typer.Option("--b", help="differential: set B's group ids (or --by value).")
    ] = None,
    by: Annotated[
        str | None, typer.Option(help="differential: a group-level column that defines A and B.")
    ] = None,
    delta: Annotated[
        float | None, typer.Option(help="differential: the size of a change that matters.")
    ] = None,
    effect: Annotated[
        str | None, typer.Option(help="differential: auto, difference or lfc (counts).")
    ] = None,
    instance: Annotated[
        str | None, typer.Option(help="differential: instance codes from the prior or data.")
    ] = None,
    library_size: Annotated[
        float | None, typer.Option(help="differential: library size of counts (10000).")
    ] = None,
) -> None:
    """Analyse the groups of a saved run; write a table and a figure."""
    options = _given(
        metric=metric, k=k, clusters=clusters, linkage=linkage, max_full=max_full, matrix=matrix,
        samples=samples, top=top, new=new, columns=columns, folds=folds, a=a, b=b, by=by,
        delta=delta, effect=effect, instance=instance, library_size=library_size,
    )  # fmt: skip
    ANALYSES[kind]  # an unknown kind is refused before anything else
    table, picture, summary = analyse_run(
        run_dir, kind, out, figure=figure, overwrite=overwrite,
        data_options=parse_values(data), seed=seed, **options,
    )  # fmt: skip
    typer.echo(f"{summary}\nwrote {table} and {picture}")


@app.command()
@friendly_errors
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/demo"),
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
) -> None:
    """Train ML-VAE on the 5,000 bundled MNIST digits; write a swap grid and metrics.json."""

    metrics = run_demo(out, epochs=epochs, seed=seed)
    typer.echo(json.dumps(metrics, indent=2, default=str))
    typer.echo(f"wrote {out}/swap_grid.png and {out}/metrics.json")


app.command("tune")(friendly_errors(tune_command))
app.command("prepare")(friendly_errors(prepare_command))
app.add_typer(benchmark_app(friendly_errors), name="benchmark")


def main() -> None:  # pragma: no cover - console entry for `python -m groupvae`
    app(prog_name="groupvae", args=sys.argv[1:])
