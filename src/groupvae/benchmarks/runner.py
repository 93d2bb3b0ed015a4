"""One runner for every paper benchmark: a benchmark is a :class:`Protocol`.

A protocol declares its runs (a name, the columns that identify its row, and a picklable
task function with its arguments), the seeds, how to tabulate and how to draw figures
from the saved runs. :func:`run_protocol` does the rest, once for all benchmarks:

* every run once per seed (one row per run and seed), in ``jobs`` worker processes with
  one torch / BLAS thread each (:mod:`groupvae.benchmarks.parallel`), seed by seed and
  heavier runs first within a seed;
* **resume**: a run whose row the output folder's ``results.json`` already holds, written
  with the same settings (those that choose runs, :data:`SELECTION`, aside), is not run
  again; ``results.json`` is rewritten after every finished run, so an interrupted
  benchmark resumes where it stopped. A ``results.json`` written with other settings is
  refused before anything runs (``overwrite=True`` starts over); one that does not read
  as a record is set aside as ``results.json.corrupt-<time>``;
* the runner owns each run's folder ``runs/<name>-seed<seed>``: one whose row
  ``results.json`` lacks is removed, whatever it holds, before the run is made again;
* ``results.json`` (settings, machine, every run, mean and std over seeds),
  ``results.csv`` (one row per run and seed), ``summary.csv`` (mean and std per run) and
  ``table.md``, all written atomically;
* the figures, drawn by the protocol from the run directories ``runs/<name>-seed<seed>``.

A task is called as ``task(*args, seed=seed, run_dir=run_dir)`` and returns its metrics
as a dict; the runner adds the identifying columns, ``seed`` and ``seconds``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from groupvae.benchmarks.parallel import one_thread, run_tasks
from groupvae.errors import ConfigError
from groupvae.store.atomic import write_json, write_text
from groupvae.store.machine import machine_info

SELECTION = ("seeds", "splits", "models", "domain_models", "datasets", "jobs")
"""Settings that choose which runs to make, not what a run computes: ignored when
deciding whether a saved row can be reused."""
RESULTS, CSV, SUMMARY, TABLE = "results.json", "results.csv", "summary.csv", "table.md"


@dataclass(frozen=True)
class Run:
    """One run of a protocol, made once per seed.

    Attributes:
        name: the run directory's stem (``runs/<name>-seed<seed>``), unique in the protocol.
        key: the columns that identify the run's row, besides ``seed`` (e.g. ``{"model":
            "mlvae"}``); the same names for every run of a protocol.
        task: a module-level function (it must pickle for worker processes), called as
            ``task(*args, seed=seed, run_dir=run_dir)`` and returning the run's metrics.
        args: the task's positional arguments (they must pickle).
        weight: relative cost; within a seed heavier runs start first, so that workers
            finish together.
    """

    name: str
    key: dict[str, Any]
    task: Callable[..., dict[str, Any]]
    args: tuple[Any, ...] = ()
    weight: float = 1.0


def _no_figures(out: Path, runs: pd.DataFrame, summary: pd.DataFrame) -> list[Path]:
    return []


def _no_description(row: dict[str, Any]) -> str:
    return ""


def _no_columns(runs: pd.DataFrame) -> pd.DataFrame:
    return runs


@dataclass(frozen=True)
class Protocol:
    """A benchmark, declared.

    Attributes:
        name: the benchmark's name in ``results.json`` (``"exam-scores"``).
        settings: the benchmark's settings dataclass, recorded in ``results.json``; it
            must have ``seeds`` and ``jobs``.
        runs: the runs of one seed, in the order of the result rows.
        tabulate: ``tabulate(runs, summary) -> Markdown`` from the per-run rows and
            :func:`summarise`'s table.
        metrics: the columns averaged over seeds; empty: every numeric column.
        figures: ``figures(out, runs, summary) -> paths``, drawn from the saved run
            directories and the rows (never by training).
        describe: one line about a finished run's row (printed as it finishes).
        record: more fields for ``results.json`` (the paper's numbers, units).
        derive: ``derive(runs) -> runs`` with more columns computed across rows (the gap
            to another run of the same seed), applied to the rows so far before they are
            summarised and saved; a row it needs may be missing while the benchmark runs.
    """

    name: str
    settings: Any
    runs: Sequence[Run]
    tabulate: Callable[[pd.DataFrame, pd.DataFrame], str]
    metrics: Sequence[str] = ()
    figures: Callable[[Path, pd.DataFrame, pd.DataFrame], list[Path]] = _no_figures
    describe: Callable[[dict[str, Any]], str] = _no_description
    record: dict[str, Any] = field(default_factory=dict)
    derive: Callable[[pd.DataFrame], pd.DataFrame] = _no_columns

    @property
    def keys(self) -> list[str]:
        """The identifying columns of a row, besides ``seed``."""
        return list(self.runs[0].key) if self.runs else []


def run_dir(out: str | Path, name: str, seed: int) -> Path:
    """Where the run ``name`` of seed ``seed`` saves its model and files."""
    return Path(out) / "runs" / f"{name}-seed{seed}"


def _execute(run: Run, seed: int, directory: Path) -> dict[str, Any]:
    """One run on one thread (torch and BLAS), in a worker process or here.

    A run whose row ``results.json`` lacks starts afresh: its folder, made by the runner
    for this run only, goes first with whatever an earlier, interrupted attempt left in
    it (a groupvae run, the task's other files, half-written temporary files).
    """
    if directory.is_symlink() or directory.is_file():
        directory.unlink()
    elif directory.exists():
        shutil.rmtree(directory)
    start = time.perf_counter()
    with one_thread():
        metrics = run.task(*run.args, seed=seed, run_dir=directory)
    return {**run.key, "seed": seed, **metrics, "seconds": time.perf_counter() - start}


def _comparable(settings: Any) -> dict[str, Any]:
    """The settings as JSON would give them back, without the :data:`SELECTION` fields."""
    plain = json.loads(json.dumps(dataclasses.asdict(settings)))
    return {k: v for k, v in plain.items() if k not in SELECTION}


def _row_id(row: dict[str, Any], keys: Sequence[str]) -> tuple[Any, ...]:
    return (*(row[k] for k in keys), row["seed"])


def _read_record(path: Path) -> dict[str, Any] | None:
    """``results.json`` as a record (settings and runs); ``None`` if it does not read as
    one (not JSON, not an object, or without a ``settings`` object and a ``runs`` list of
    objects)."""
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError):
        return None
    ok = (
        isinstance(record, dict)
        and isinstance(record.get("settings"), dict)
        and isinstance(record.get("runs"), list)
        and all(isinstance(row, dict) for row in record["runs"])
    )
    return record if ok else None


def settings_differences(protocol: Protocol, record: dict[str, Any]) -> list[str]:
    """How ``record`` (a ``results.json``) was made otherwise than ``protocol`` would make
    it: ``"key: old -> new"`` per setting (the :data:`SELECTION` fields aside), the
    benchmark's name first; empty: its rows can be reused."""
    old = {k: v for k, v in record.get("settings", {}).items() if k not in SELECTION}
    new = _comparable(protocol.settings)
    lines = []
    if record.get("benchmark", protocol.name) != protocol.name:
        lines.append(f"benchmark: {record['benchmark']} -> {protocol.name}")
    for key in [*new, *(k for k in old if k not in new)]:
        if old.get(key, "(none)") != new.get(key, "(none)"):
            lines.append(f"{key}: {json.dumps(old.get(key))} -> {json.dumps(new.get(key))}")
    return lines


def _reusable(protocol: Protocol, record: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    keys = protocol.keys
    return {_row_id(row, keys): row for row in record["runs"] if all(k in row for k in keys)}


def finished_rows(protocol: Protocol, out: str | Path) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rows of ``out/results.json`` that can be reused: ``{(*key values, seed): row}``,
    none if the file is missing, does not read as a record or was written with other
    settings."""
    path = Path(out) / RESULTS
    record = _read_record(path) if path.is_file() else None
    if record is None or settings_differences(protocol, record):
        return {}
    return _reusable(protocol, record)


def _aside(path: Path, tag: str) -> Path:
    """Rename ``path`` to ``<path>.<tag>-<local time>`` (a new name) and return it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, n = path.with_name(f"{path.name}.{tag}-{stamp}"), 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.{tag}-{stamp}-{n}")
    path.rename(target)
    return target


def _saved_rows(
    protocol: Protocol, out: Path, *, overwrite: bool, echo: Any
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The rows of ``out/results.json`` to reuse, before anything runs.

    A file that does not read as a record is renamed ``results.json.corrupt-<time>``.
    With ``overwrite`` the old results are renamed ``results.json.old-<time>`` and the
    files made from them (``results.csv``, ``summary.csv``, ``table.md``, the figures it
    lists) removed; the run folders go as each run is made again.

    Raises:
        ConfigError: for a ``results.json`` written with other settings, without
            ``overwrite``.
    """
    path = out / RESULTS
    if not path.is_file():
        return {}
    record = _read_record(path)
    if record is None:
        moved = _aside(path, "corrupt")
        echo(f"{path} is not a benchmark record: set aside as {moved.name}; running again")
        return {}
    if overwrite:
        for name in (CSV, SUMMARY, TABLE, *record.get("figures", [])):
            own = out / str(name)
            if own.parent == out and own.is_file():
                own.unlink()
        moved = _aside(path, "old")
        echo(f"--overwrite: starting over; the old {RESULTS} is kept as {moved.name}")
        return {}
    differences = settings_differences(protocol, record)
    if differences:
        raise ConfigError(
            f"{path} was written with other settings ({'; '.join(differences)}); run with "
            "those settings to continue it, choose another --out, or add --overwrite to "
            "start over"
        )
    return _reusable(protocol, record)


def summarise(runs: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str] = ()) -> pd.DataFrame:
    """Mean and sample standard deviation (``ddof=1``; NaN for one seed) over seeds.

    Args:
        runs: one row per run and seed.
        keys: the identifying columns; rows keep their first appearance's order.
        metrics: the columns to average; empty: every numeric column but ``seed``.

    Returns:
        Indexed by ``keys``, columns ``(metric, "mean" | "std")``.
    """
    keys = list(keys)
    if not metrics:
        metrics = [
            c for c in runs.columns if c not in (*keys, "seed") and is_numeric_dtype(runs[c])
        ]
    stats = runs.groupby(keys, sort=False)[list(metrics)].agg(["mean", "std"])
    return stats


def mean_std(mean: float, std: float, digits: int, *, scale: float = 1.0) -> str:
    """``"mean ± std"`` with ``digits`` decimals (``"—"`` for a missing mean; a missing
    std, as for one seed, shows as 0)."""
    if mean is None or math.isnan(mean):
        return "—"
    std = 0.0 if std is None or math.isnan(std) else std
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


def _jsonable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _summary_json(summary: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """``{"key1/key2": {"metric_mean": ..., "metric_std": ...}}``."""
    out = {}
    for index, row in summary.iterrows():
        name = "/".join(map(str, index if isinstance(index, tuple) else (index,)))
        out[name] = {f"{m}_{s}": None if np.isnan(v) else float(v) for (m, s), v in row.items()}
    return out


def _sorted(rows: list[dict[str, Any]], protocol: Protocol) -> pd.DataFrame:
    """Rows in the protocol's run order, then by seed, with the derived columns."""
    order = {tuple(r.key.values()): i for i, r in enumerate(protocol.runs)}
    keys = protocol.keys
    rows = sorted(rows, key=lambda row: (order[tuple(row[k] for k in keys)], row["seed"]))
    frame = pd.DataFrame(rows)
    empty = [c for c in frame.columns if frame[c].isna().all()]  # all null in results.json
    return protocol.derive(frame.astype({c: float for c in empty}))


def _write(protocol: Protocol, out: Path, rows: list[dict[str, Any]], wall: float) -> dict:
    """``results.json`` of the rows so far (``complete`` once every run is in)."""
    runs = _sorted(rows, protocol)
    summary = summarise(runs, protocol.keys, protocol.metrics)
    record = {
        "benchmark": protocol.name,
        "settings": dataclasses.asdict(protocol.settings),
        "machine": machine_info(),
        "wall_seconds": wall,
        "complete": len(rows) == len(protocol.runs) * len(protocol.settings.seeds),
        "runs": _jsonable(runs),
        "summary": _summary_json(summary),
        **protocol.record,
    }
    write_json(out / RESULTS, record)
    return record


def run_protocol(
    protocol: Protocol, out: str | Path, *, echo: Any = print, overwrite: bool = False
) -> pd.DataFrame:
    """Run every (run, seed) not already finished; write the results, table and figures.

    Args:
        protocol: the benchmark.
        out: output folder (created); runs go to ``out/runs/<name>-seed<seed>``.
        echo: where progress lines and the final table are printed.
        overwrite: start over where ``out/results.json`` holds earlier results (kept as
            ``results.json.old-<time>``), even with other settings.

    Returns:
        One row per run and seed: the key columns, ``seed``, the task's metrics and
        ``seconds`` (the run's wall time, training and evaluation).

    Raises:
        ConfigError: for an ``out`` whose ``results.json`` was written with other
            settings (named, ``key: old -> new``), without ``overwrite``; nothing is run
            or written.
        KeyboardInterrupt: on SIGINT or SIGTERM; the workers are stopped and the
            finished rows kept.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = protocol.settings
    done = _saved_rows(protocol, out, overwrite=overwrite, echo=echo)
    rows, todo = [], []
    heavy_first = sorted(protocol.runs, key=lambda run: -run.weight)  # stable among equals
    for seed in settings.seeds:  # seed by seed, as a worker's history can matter
        for run in heavy_first:
            row = done.get((*run.key.values(), seed))
            if row is None:
                todo.append((run, seed, run_dir(out, run.name, seed)))
            else:
                rows.append(row)
    if rows:
        echo(f"reusing {len(rows)} finished run(s) from {out / RESULTS} (same settings)")
    start = time.perf_counter()
    # closing(): a failure while a result is written still stops the other workers.
    try:
        with closing(run_tasks(_execute, todo, max(1, settings.jobs))) as results:
            for i, row in enumerate(results, 1):
                rows.append(row)
                _write(protocol, out, rows, time.perf_counter() - start)
                line = protocol.describe(row)
                echo(f"[{i}/{len(todo)}] {line} ({row['seconds']:.0f}s)")
    except KeyboardInterrupt:
        echo(
            f"interrupted: {len(rows)} finished run(s) are kept in {out / RESULTS}; the same "
            "command continues from them"
        )
        raise
    runs = _sorted(rows, protocol)
    summary = summarise(runs, protocol.keys, protocol.metrics)
    table = protocol.tabulate(runs, summary)
    figures = protocol.figures(out, runs, summary)
    wall = time.perf_counter() - start
    record = _write(protocol, out, rows, wall)
    record["figures"] = [p.name for p in figures]
    write_json(out / RESULTS, record)
    write_text(out / CSV, runs.to_csv(index=False))
    summary_frame = summary.copy()
    summary_frame.columns = [f"{m}_{s}" for m, s in summary.columns]
    write_text(out / SUMMARY, summary_frame.reset_index().to_csv(index=False))
    write_text(out / TABLE, table + "\n")
    echo(table)
    echo(
        f"\nwall time {wall:.0f}s on {record['machine']['cpu_count']} CPUs; wrote "
        f"{out}/{RESULTS}, {CSV}, {SUMMARY}, {TABLE}" + "".join(f", {p.name}" for p in figures)
    )
    return runs


__all__ = [
    "SELECTION",
    "Protocol",
    "Run",
    "finished_rows",
    "mean_std",
    "run_dir",
    "run_protocol",
    "settings_differences",
    "summarise",
]
