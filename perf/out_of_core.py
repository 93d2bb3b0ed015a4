"""Data larger than memory (issue 24): peak memory and speed of ``groupvae prepare`` and of
one epoch of streaming training, against the in-memory loader on a subset that fits.

Usage (the issue's sizes; about 10 GB of table and 1 GB of counts on disk):
    python perf/out_of_core.py --workdir /data/ooc --gigabytes 10 --groups 1000000 \\
        --cells 1000000 --genes 2000 --donors 2000
Small (a minute; what the tests of this script's steps use):
    python perf/out_of_core.py --workdir /tmp/ooc --gigabytes 0.01 --groups 2000 \\
        --cells 20000 --genes 200 --donors 200 --subset-gigabytes 0.005

Steps, each run as its own process under ``/usr/bin/time -v`` (its "Maximum resident set
size" is the peak memory reported):

1. ``table``: a synthetic grouped table written chunk by chunk to one Parquet file:
   ``g`` (int64 group id) and ``--features`` float32 columns (each group's mean plus
   noise), ``--groups`` groups of 1-200 rows with heavy-tailed sizes (a Pareto tail,
   scaled so the file reaches ``--gigabytes``), written in chunks of groups taken in a
   shuffled order with the rows of each chunk shuffled: not sorted by group.
2. ``prepare``: ``groupvae prepare`` sorts it by group (DuckDB, ``--memory-limit``).
3. ``subset``: the first groups of the sorted file, up to ``--subset-gigabytes``, as a
   separate Parquet file that fits in memory.
4. training, one epoch of ML-VAE (``--epochs 1``, the same settings each time):
   ``stream/full`` (the streaming path on the sorted file), ``stream/subset`` and
   ``memory/subset`` (the in-memory path on the subset). Observations per second are the
   training observations (rows x (1 - holdout)) divided by the run's ``fit_seconds``
   (``metadata.json``: the time of ``fit``, from the first batch to the last checkpoint,
   without the start-up, the reading of an in-memory file or the saving of the run).
5. ``cells``: a sparse count matrix (``--cells`` x ``--genes``, ``--donors`` donors,
   Poisson counts, about ``--density`` non-zero), cells sorted by donor, written chunk by
   chunk into an ``.h5ad`` file (anndata's CSR layout, appended with
   ``anndata.io.sparse_dataset``), then one epoch of ML-VAE with the negative-binomial
   likelihood, backed (streaming).

Prints a Markdown table: data, size on disk, rows, groups, peak RSS (MiB) and its ratio
to the data's size, wall time, observations per second, the ratio of streaming to
in-memory throughput on the same subset; then the machine. A step that fails is a row
that says so (the last line of its error); the other steps go on. The command of every
step is printed before it runs. This is a benchmark script, not a test.

The command lines of the training runs are in :data:`TRAIN` (the CLI's data options of
the streaming readers: ``streaming=true`` for tables, ``backed=true`` for AnnData).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

GROUPVAE = [sys.executable, "-m", "groupvae"]
HOLDOUT = 0.01
"""The runs' holdout fraction (``train`` needs one in (0, 1)); small, so that the epoch is
nearly all training."""
COMMON = ["--epochs", "1", "--holdout", str(HOLDOUT), "--seed", "0", "--overwrite",
          "--set", "progress=false"]  # fmt: skip
TRAIN = {
    "stream": ["train", "mlvae", "table", "--data", "path={data}", "--data", "group=g",
               "--data", "streaming=true", *COMMON],
    "memory": ["train", "mlvae", "table", "--data", "path={data}", "--data", "group=g",
               "--data", "streaming=false", *COMMON],
    "cells": ["train", "mlvae", "anndata", "--data", "path={data}", "--data", "group=donor",
              "--data", "backed=true", "--set", "likelihood=negative-binomial", *COMMON],
}  # fmt: skip
"""The training command lines (``{data}`` is the file; ``--out`` is added)."""
MAX_GROUP = 200
ROW_BYTES_EXTRA = 8
"""Bytes of a row besides its features: the int64 group id."""


# ------------------------------------------------------------------ measuring commands
@dataclass
class Measured:
    """A command's exit status, peak resident memory (KiB), wall time (s), last lines."""

    returncode: int
    max_rss_kib: int | None
    seconds: float
    tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_measured(args: list[str], log: Path) -> Measured:
    """Run ``args`` under ``/usr/bin/time -v`` (printed first), its output in ``log``."""
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    print("$ " + shlex.join(args), flush=True)
    start = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run([*timer, *args], stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    text = log.read_text(errors="replace")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    lines = [line for line in text.splitlines()
             if line.strip() and not line.startswith(("\t", "Command exited"))]  # fmt: skip
    return Measured(done.returncode, int(match[1]) if match else None, seconds,
                    lines[-1] if lines else "")  # fmt: skip


# ------------------------------------------------------------------ the synthetic table
def group_sizes(n_groups: int, mean: float, rng: np.random.Generator) -> np.ndarray:
    """``(n_groups,)`` heavy-tailed sizes in ``[1, 200]`` with about the given mean: a
    Pareto(1.2) tail, its scale found by bisection."""
    tail = rng.pareto(1.2, n_groups)
    low, high = 0.0, 1000.0
    for _ in range(50):
        scale = (low + high) / 2
        sizes = np.clip(np.ceil(scale * tail), 1, MAX_GROUP)
        low, high = (scale, high) if sizes.mean() < mean else (low, scale)
    return np.clip(np.ceil(scale * tail), 1, MAX_GROUP).astype(np.int64)


def table_plan(gigabytes: float, groups: int, features: int) -> tuple[int, float]:
    """The groups and their mean size that reach ``gigabytes`` (1e9 bytes) of rows; the
    groups are fewer than asked when the data is too small for them (mean size >= 2)."""
    rows = gigabytes * 1e9 / (4 * features + ROW_BYTES_EXTRA)
    mean = rows / groups
    if mean < 2:
        groups = max(1, int(rows // 20))
        print(f"# {gigabytes} GB holds {rows:,.0f} rows: {groups:,} groups of ~20 rows")
        mean = rows / groups
    if mean > MAX_GROUP / 2:
        print(f"# warning: a mean group size of {mean:.0f} rows: give more --groups")
    return groups, min(mean, MAX_GROUP)


def table_chunks(
    sizes: np.ndarray, features: int, seed: int, chunk_rows: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(group ids, x)`` chunks: groups in a shuffled order, about ``chunk_rows`` rows
    each, rows shuffled within a chunk (so the file is not sorted by group)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(sizes))
    total = np.cumsum(sizes[order])
    cuts = np.searchsorted(total, np.arange(chunk_rows, total[-1], chunk_rows), side="right")
    for ids in np.split(order, np.unique(cuts)):
        if not len(ids):
            continue
        g = np.repeat(ids, sizes[ids])
        means = rng.normal(0, 1, (len(ids), features)).astype(np.float32)
        noise = rng.normal(0, 1, (len(g), features)).astype(np.float32)
        x = np.repeat(means, sizes[ids], axis=0) + noise
        perm = rng.permutation(len(g))
        yield g[perm].astype(np.int64), x[perm]


def write_table(path: Path, sizes: np.ndarray, features: int, seed: int) -> int:
    """Write the unsorted table to ``path`` chunk by chunk; its rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = ["g", *(f"f{j}" for j in range(features))]
    schema = pa.schema([("g", pa.int64()), *((n, pa.float32()) for n in names[1:])])
    rows = 0
    tmp = path.with_name(path.name + ".partial")
    # dictionaries only for the ids: a float column's dictionary pages bloat the file
    with pq.ParquetWriter(tmp, schema, compression="snappy", use_dictionary=["g"]) as writer:
        for g, x in table_chunks(sizes, features, seed, chunk_rows=262_144):
            columns = [pa.array(g), *(pa.array(x[:, j]) for j in range(features))]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            rows += len(g)
    os.replace(tmp, path)
    return rows


def write_subset(sorted_path: Path, out: Path, max_bytes: float) -> tuple[int, int]:
    """The first whole groups of the group-sorted file, up to ``max_bytes`` of rows, as a
    Parquet file; its rows and groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.ParquetFile(sorted_path)
    row_bytes = sum(4 if f.type == pa.float32() else 8 for f in source.schema_arrow)
    limit = max(1, int(max_bytes // row_bytes))
    batches, rows = [], 0
    for batch in source.iter_batches(batch_size=65_536):
        batches.append(batch)
        rows += batch.num_rows
        if rows > limit:
            break
    table = pa.Table.from_batches(batches)
    g = table.column("g").to_numpy()
    if rows > limit:  # cut at the last group boundary before the limit
        cut = int(np.searchsorted(g, g[limit], side="left")) or limit
        table = table.slice(0, cut)
    pq.write_table(table, out)
    return table.num_rows, len(np.unique(table.column("g").to_numpy()))


# ------------------------------------------------------------------ the sparse counts
def donor_sizes(cells: int, donors: int, rng: np.random.Generator) -> np.ndarray:
    """``(donors,)`` cells per donor (lognormal), at least 1 each, summing to ``cells``."""
    weights = rng.lognormal(0, 0.75, donors)
    sizes = np.maximum(1, np.floor(weights / weights.sum() * (cells - donors)).astype(int) + 1)
    sizes[np.argmax(sizes)] += cells - sizes.sum()
    return sizes


def count_chunks(
    sizes: np.ndarray, genes: int, density: float, seed: int, chunk_cells: int
) -> Iterator[object]:
    """CSR chunks of Poisson counts, cells sorted by donor: about ``density`` non-zero,
    each non-zero ``1 + Poisson(gene mean x donor scale)``."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    gene_mean = rng.lognormal(0, 1, genes)
    donor_scale = rng.lognormal(0, 0.3, len(sizes))
    donor = np.repeat(np.arange(len(sizes)), sizes)
    for start in range(0, len(donor), chunk_cells):
        rows = donor[start : start + chunk_cells]
        mask = sp.random(len(rows), genes, density=density, format="csr", random_state=rng,
                         dtype=np.float32)  # fmt: skip
        cell = np.repeat(np.arange(len(rows)), np.diff(mask.indptr))
        lam = gene_mean[mask.indices] * donor_scale[rows[cell]]
        mask.data = (1 + rng.poisson(lam)).astype(np.float32)
        yield mask


def write_cells(
    path: Path, cells: int, genes: int, donors: int, density: float, seed: int
) -> tuple[int, int]:
    """Write the sorted sparse counts as an ``.h5ad`` file chunk by chunk (anndata's
    elements: ``X`` appended, ``obs`` with a ``donor`` column, ``var``); rows, nnz."""
    import anndata
    import h5py
    import pandas as pd
    from anndata.io import sparse_dataset, write_elem

    rng = np.random.default_rng(seed)
    sizes = donor_sizes(cells, donors, rng)
    text = lambda names: pd.Index(names, dtype=object)  # noqa: E731 - anndata writes object text
    levels = text([f"d{d:05d}" for d in range(donors)])
    donor = pd.Categorical.from_codes(np.repeat(np.arange(donors), sizes), categories=levels)
    obs = pd.DataFrame({"donor": donor}, index=text([f"c{i}" for i in range(cells)]))
    var = pd.DataFrame(index=text([f"gene{j}" for j in range(genes)]))
    tmp = path.with_name(path.name + ".partial")
    nnz = 0
    with h5py.File(tmp, "w") as f:
        f.attrs["encoding-type"], f.attrs["encoding-version"] = "anndata", "0.1.0"
        write_elem(f, "obs", obs)
        write_elem(f, "var", var)
        x = None
        for chunk in count_chunks(sizes, genes, density, seed + 1, chunk_cells=20_000):
            nnz += chunk.nnz
            if x is None:
                write_elem(f, "X", chunk)
                x = sparse_dataset(f["X"])
            else:
                x.append(chunk)
        for key in ("obsm", "varm", "obsp", "varp", "layers", "uns"):
            write_elem(f, key, {})
    os.replace(tmp, path)
    anndata.read_h5ad(path, backed="r")  # it opens as an AnnData
    return cells, nnz


# ------------------------------------------------------------------ the table of results
@dataclass
class Row:
    """One line of the results table."""

    step: str
    data: str = ""
    bytes: int | None = None
    rows: int | None = None
    groups: int | None = None
    rss_kib: int | None = None
    seconds: float | None = None
    obs_per_s: float | None = None
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)


def _mib(n: float | None) -> str:
    return "" if n is None else f"{n / 2**20:,.1f}"


def markdown(rows: list[Row], ratio: float | None) -> str:
    """The results as a Markdown table."""
    head = ["step", "data", "size on disk (MiB)", "rows", "groups", "peak RSS (MiB)",
            "RSS / data", "wall (s)", "obs/s", "note"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        rss = None if r.rss_kib is None else r.rss_kib * 1024
        cells = [
            r.step, r.data, _mib(r.bytes), "" if r.rows is None else f"{r.rows:,}",
            "" if r.groups is None else f"{r.groups:,}", _mib(rss),
            "" if rss is None or not r.bytes else f"{rss / r.bytes:.2f}",
            "" if r.seconds is None else f"{r.seconds:,.1f}",
            "" if r.obs_per_s is None else f"{r.obs_per_s:,.0f}", r.note,
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    if ratio is not None:
        lines.append(f"\nstreaming / in-memory throughput on the same subset: {ratio:.2f}")
    return "\n".join(lines)


def machine() -> str:
    """The machine, as :func:`groupvae.store.machine.machine_info` says."""
    try:
        from groupvae.store.machine import machine_info

        info = machine_info()
    except Exception as err:  # a benchmark reports, it does not stop
        return f"machine: unknown ({err})"
    return "machine: " + ", ".join(f"{k}={v}" for k, v in info.items())


# ------------------------------------------------------------------ the steps
def timed_step(row: Row, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in this process, its wall time in ``row``; a failure is noted."""
    start = time.perf_counter()
    try:
        return fn(*args)
    except Exception as err:  # a benchmark reports, it does not stop
        row.note = f"failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        return None
    finally:
        row.seconds = time.perf_counter() - start


def train_row(step: str, kind: str, data: Path, workdir: Path, rows: int | None,
              groups: int | None, extra: list[str]) -> Row:  # fmt: skip
    """One epoch of training (``TRAIN[kind]``) measured; obs/s from ``fit_seconds``."""
    out = workdir / f"run-{step.replace('/', '-')}"
    args = [*GROUPVAE, *(a.format(data=data) for a in TRAIN[kind]), "--out", str(out), *extra]
    measured = run_measured(args, workdir / f"{step.replace('/', '-')}.log")
    row = Row(step, data.name, _size(data), rows, groups, measured.max_rss_kib, measured.seconds)
    if not measured.ok:
        row.note = f"failed ({measured.returncode}): {measured.tail[:160]}"
        return row
    try:
        fit = json.loads((out / "metadata.json").read_text())["fit_seconds"]
        row.obs_per_s = None if rows is None else rows * (1 - HOLDOUT) / fit
        row.note = f"fit {fit:,.1f} s"
    except (OSError, KeyError, ValueError) as err:
        row.note = f"no fit_seconds: {err}"
    return row


def table_counts(path: Path) -> tuple[int | None, int | None]:
    """Rows and groups (distinct ``g``) of a Parquet file, or ``None`` where unreadable."""
    try:
        import pyarrow.parquet as pq

        column = pq.read_table(path, columns=["g"]).column("g").to_numpy()
    except Exception:  # a benchmark reports, it does not stop
        return None, None
    return len(column), len(np.unique(column))


def _size(path: Path) -> int | None:
    if not path.exists():
        return None
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/groupvae-out-of-core"))
    parser.add_argument("--gigabytes", type=float, default=10.0, help="table size (1e9 B)")
    parser.add_argument("--groups", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--subset-gigabytes", type=float, default=1.0,
                        help="the in-memory subset's size (1e9 B)")  # fmt: skip
    parser.add_argument("--memory-limit", default="2GB", help="groupvae prepare's")
    parser.add_argument("--threads", type=int, default=2, help="groupvae prepare's")
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--donors", type=int, default=2000)
    parser.add_argument("--density", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", default="table,prepare,subset,train,cells",
                        help="which steps to run (comma-separated)")  # fmt: skip
    parser.add_argument("--train-set", action="append", default=[],
                        help="extra --set key=value for every training run")  # fmt: skip
    args = parser.parse_args(argv)
    steps = set(args.steps.split(","))
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    names = ("table.parquet", "sorted.parquet", "subset.parquet", "cells.h5ad")
    raw, ready, subset, cells = (work / n for n in names)
    extra = [w for s in args.train_set for w in ("--set", s)]
    rows: list[Row] = []
    n_rows = n_groups = None

    if "table" in steps:
        groups, mean = table_plan(args.gigabytes, args.groups, args.features)
        sizes = group_sizes(groups, mean, np.random.default_rng(args.seed))
        row = Row("table", raw.name, groups=groups, note="written unsorted, in this process")
        print(f"# writing {raw}: {groups:,} groups, {int(sizes.sum()):,} rows", flush=True)
        n_rows = timed_step(row, write_table, raw, sizes, args.features, args.seed)
        row.rows, row.bytes, n_groups = n_rows, _size(raw), groups
        rows.append(row)

    if "prepare" in steps:
        cmd = [*GROUPVAE, "prepare", str(raw), "--group", "g", "--out", str(ready), "--overwrite",
               "--memory-limit", args.memory_limit, "--threads", str(args.threads)]  # fmt: skip
        measured = run_measured(cmd, work / "prepare.log")
        row = Row("prepare", raw.name, _size(raw), n_rows, n_groups, measured.max_rss_kib,
                  measured.seconds, note=measured.tail[:200])  # fmt: skip
        if not measured.ok:
            row.note = f"failed ({measured.returncode}): {measured.tail[:160]}"
        rows.append(row)

    sub_rows = sub_groups = None
    if "subset" in steps:
        row = Row("subset", subset.name, note="first groups of the sorted file")
        done = timed_step(row, write_subset, ready, subset, args.subset_gigabytes * 1e9)
        if done is not None:
            sub_rows, sub_groups = done
            row.rows, row.groups, row.bytes = sub_rows, sub_groups, _size(subset)
        rows.append(row)

    ratio = None
    if "train" in steps:
        if n_rows is None:  # the table was written by an earlier call
            n_rows, n_groups = table_counts(ready)
        if sub_rows is None:
            sub_rows, sub_groups = table_counts(subset)
        rows.append(train_row("stream/full", "stream", ready, work, n_rows, n_groups, extra))
        stream = train_row("stream/subset", "stream", subset, work, sub_rows, sub_groups, extra)
        memory = train_row("memory/subset", "memory", subset, work, sub_rows, sub_groups, extra)
        rows += [stream, memory]
        if stream.obs_per_s and memory.obs_per_s:
            ratio = stream.obs_per_s / memory.obs_per_s

    if "cells" in steps:
        row = Row("cells", cells.name, groups=args.donors, note="written sorted by donor")
        done = timed_step(row, write_cells, cells, args.cells, args.genes, args.donors,
                          args.density, args.seed)  # fmt: skip
        if done is not None:
            row.rows, row.bytes = done[0], _size(cells)
            row.note += f", {done[1]:,} non-zero"
        rows.append(row)
        rows.append(train_row("cells/nb", "cells", cells, work, args.cells, args.donors, extra))

    print()
    print(markdown(rows, ratio))
    print()
    print(machine())


if __name__ == "__main__":
    main()
