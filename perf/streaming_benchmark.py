"""Training on a table larger than memory: peak memory and throughput, streamed against
in memory (issue 24).

Usage:
    python perf/streaming_benchmark.py --out /big/disk/bench [--size-gb 10]
        [--features 25] [--max-group 200] [--subset-gb 1] [--workers 4] [--model mlvae]

1. Writes a synthetic group-sorted Parquet table of ``--size-gb`` of float32 features (in
   chunks of 64k-row row groups; groups of 1 to ``--max-group`` rows, so 10 GB of 25
   features is about 1.0 million groups) and a subset of its first ``--subset-gb``.
2. Trains one epoch of ``--model`` in a child process under ``/usr/bin/time -v``, on the
   whole table streamed, then on the subset streamed and in memory, side by side.
3. Prints a Markdown table: data size, peak resident memory of the training process (and
   its ratio to the data size), observations per second, and seconds.

The first streamed run also writes the group index and the Parquet row cache (the
features' size again on disk); their time is reported apart (``open s``). This is a
benchmark script, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROWS_PER_GROUP_CHUNK = 65536


def write_table(path: Path, n_bytes: float, features: int, max_group: int, seed: int = 0) -> int:
    """Write group-sorted rows (float32 features) until ``n_bytes`` of features; returns
    the rows written."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    row_bytes = 4 * features
    rows_left, first_group, written = int(n_bytes // row_bytes), 0, 0
    writer = None
    while rows_left > 0:
        sizes = rng.integers(1, max_group + 1, ROWS_PER_GROUP_CHUNK // max(1, max_group // 2))
        sizes = sizes[np.cumsum(sizes) <= rows_left] if sizes.sum() > rows_left else sizes
        if not len(sizes):
            sizes = np.array([rows_left])
        group = np.repeat(np.arange(first_group, first_group + len(sizes)), sizes)
        effect = rng.normal(size=(len(sizes), features)).astype(np.float32)
        x = np.repeat(effect, sizes, axis=0) + rng.normal(size=(len(group), features)).astype(
            np.float32
        )
        table = pa.table({"g": group, **{f"f{j}": x[:, j] for j in range(features)}})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=ROWS_PER_GROUP_CHUNK)
        first_group += len(sizes)
        rows_left -= len(group)
        written += len(group)
    writer.close()
    return written


def train(path: str, streaming: bool, workers: int, model: str) -> None:
    """One epoch of ``model`` (child process): prints a JSON line of its numbers."""
    from groupvae.data.ondisk import open_on_disk
    from groupvae.data.readers.table import read_table
    from groupvae.models import create

    start = time.perf_counter()
    data = (open_on_disk(path, group="g", num_workers=workers, prefetch_factor=4)
            if streaming else read_table(path, group="g"))  # fmt: skip
    opened = time.perf_counter() - start
    fitted = create(model, dataset="table", data=data, seed=0)
    start = time.perf_counter()
    fitted.fit(data, epochs=1, groups_per_batch=64, progress=False)
    seconds = time.perf_counter() - start
    print(json.dumps({"n_obs": data.n_obs, "n_groups": data.n_groups, "open_s": opened,
                      "fit_s": seconds, "obs_per_s": data.n_obs / seconds}))  # fmt: skip


def measured(path: Path, streaming: bool, workers: int, model: str) -> dict:
    """Run :func:`train` under ``/usr/bin/time -v``; its numbers and peak memory."""
    command = ["/usr/bin/time", "-v", sys.executable, __file__, "--train", str(path),
               "--streaming", str(streaming).lower(), "--workers", str(workers),
               "--model", model]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"training failed:\n{done.stderr[-3000:]}")
    numbers = json.loads(done.stdout.strip().splitlines()[-1])
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    numbers["peak_gb"] = int(peak.group(1)) / 1e6 if peak else float("nan")
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--size-gb", type=float, default=10.0)
    parser.add_argument("--subset-gb", type=float, default=1.0)
    parser.add_argument("--features", type=int, default=25)
    parser.add_argument("--max-group", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--model", default="mlvae")
    parser.add_argument("--train", help=argparse.SUPPRESS)
    parser.add_argument("--streaming", default="true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train:
        train(args.train, args.streaming == "true", args.workers, args.model)
        return
    if args.out is None:
        parser.error("--out is required")
    args.out.mkdir(parents=True, exist_ok=True)
    big, small = args.out / "big.parquet", args.out / "subset.parquet"
    for path, size in ((big, args.size_gb), (small, args.subset_gb)):
        if not path.exists():
            start = time.perf_counter()
            rows = write_table(path, size * 1e9, args.features, args.max_group)
            print(f"wrote {path}: {rows:,} rows, {path.stat().st_size / 1e9:.2f} GB on disk "
                  f"in {time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    runs = [("all, streamed", big, True), ("subset, streamed", small, True),
            ("subset, in memory", small, False)]  # fmt: skip
    print(f"\nmachine: {platform.node()}, {platform.processor() or platform.machine()}, "
          f"model {args.model}, {args.workers} loader workers, 64 groups a step\n")  # fmt: skip
    print("| run | features GB | rows | peak RSS GB | peak / data | obs/s | open s | fit s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, path, streaming in runs:
        r = measured(path, streaming, args.workers, args.model)
        gb = r["n_obs"] * args.features * 4 / 1e9
        print(f"| {name} | {gb:.2f} | {r['n_obs']:,} | {r['peak_gb']:.2f} | "
              f"{r['peak_gb'] / gb:.2f} | {r['obs_per_s']:,.0f} | {r['open_s']:.0f} | "
              f"{r['fit_s']:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
