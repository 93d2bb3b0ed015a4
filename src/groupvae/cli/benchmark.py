"""``groupvae benchmark NAME``: one subcommand per benchmark of
:data:`~groupvae.benchmarks.catalog.BENCHMARKS`, generated from its declaration.

Every subcommand has the options the benchmark's settings offer among ``--seeds``,
``--epochs``, ``--jobs`` and ``--models``; then its own options (Exam-Scores' ``--groups``,
``--table``, ``--data``; multilevel's ``--datasets``), ``--out`` (default: the
benchmark's folder), ``--overwrite`` (start over where ``--out`` holds other results),
``--set key=value``, ``--quick`` and, where the benchmark has more
variants, ``--protocol NAME``. Bad values end in one line before anything is trained
(:meth:`~groupvae.benchmarks.catalog.Benchmark.configure`); the run itself is
:func:`~groupvae.benchmarks.runner.run_protocol`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from groupvae.benchmarks.catalog import BENCHMARKS, Benchmark
from groupvae.benchmarks.runner import run_protocol
from groupvae.errors import ConfigError

HELPS = {
    "seeds": "Number of seeds (0, 1, ...).",
    "epochs": "Training epochs per run.",
    "jobs": "Runs trained in parallel (each in its own process with one thread).",
    "set": "Override a model or training field: key=value (repeatable).",
}
"""``--help`` of the shared options, unless the benchmark says otherwise."""
OVERWRITE_HELP = (
    "Start over: the results.json in --out is kept as results.json.old-TIME and every run "
    "is made again (needed where --out holds results of other settings; only the "
    "runner's own files change)."
)


def _option(name: str, kind: Any, default: Any, *decls: str, help: str) -> inspect.Parameter:
    """A keyword parameter that typer reads as the option ``decls`` (default: from
    ``name``)."""
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[kind, typer.Option(*decls, help=help)],
    )


def parameters(bench: Benchmark[Any]) -> list[inspect.Parameter]:
    """The options of the benchmark's subcommand, in ``--help`` order."""
    helps = {**HELPS, **bench.helps}
    params = []
    if "seeds" in bench.common:
        params.append(_option("seeds", int | None, None, *bench.seeds_flags, help=helps["seeds"]))
    for name in ("epochs", "jobs"):
        if name in bench.common:
            params.append(_option(name, int | None, None, help=helps[name]))
    if "models" in bench.common:
        models = ",".join(bench.settings().models)
        text = helps.get("models", f"Comma-separated presets (default: {models}).")
        params.append(_option("models", str | None, None, help=text))
    params += [_option(o.name, o.type | None, None, o.flag, help=o.help) for o in bench.options]
    params += [
        _option("out", Path, bench.out, help="Output folder."),
        _option("overwrite", bool, False, help=OVERWRITE_HELP),
        _option("set_", list[str] | None, None, "--set", help=helps["set"]),
        _option("quick", bool, False, help=_sentence(bench.variants["quick"].help)),
    ]
    if bench.protocols:
        text = "; ".join(f"{name}: {bench.variants[name].help}" for name in bench.protocols)
        params.append(_option("protocol", str, "default", help=text + "."))
    return params


def _sentence(words: str) -> str:
    """``"a two-minute version"`` -> ``"A two-minute version."``."""
    return words[:1].upper() + words[1:] + "."


def variant(quick: bool, protocol: str) -> str:
    """The variant of ``--quick`` and ``--protocol``.

    Raises:
        ConfigError: for ``--quick`` with another ``--protocol`` than ``default``.
    """
    if quick and protocol not in ("default", "quick"):
        raise ConfigError(f"--quick and --protocol {protocol}: choose one")
    return "quick" if quick else protocol


def command(name: str, bench: Benchmark[Any]) -> Callable[..., None]:
    """The subcommand of benchmark ``name``: a function whose signature typer reads."""

    def run(**values: Any) -> None:
        out, overwrite = values.pop("out"), values.pop("overwrite")
        chosen = variant(values.pop("quick"), values.pop("protocol", "default"))
        settings = bench.configure(chosen, sets=values.pop("set_"), **values)
        run_protocol(bench.protocol(settings), out, echo=typer.echo, overwrite=overwrite)

    params = parameters(bench)
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    run.__name__ = run.__qualname__ = f"benchmark_{name.replace('-', '_')}"
    run.__doc__ = bench.description
    return run


def benchmark_app(errors: Callable[[Callable[..., Any]], Callable[..., Any]]) -> typer.Typer:
    """``groupvae benchmark``: a subcommand per registered benchmark, each wrapped in
    ``errors`` (the command line's one-line errors and exit statuses)."""
    app = typer.Typer(help="Reproduce a paper's table and figures.", no_args_is_help=True)
    for name, bench in BENCHMARKS.items():
        app.command(name, help=bench.description)(errors(command(name, bench)))
    return app


__all__ = ["HELPS", "benchmark_app", "command", "parameters", "variant"]
