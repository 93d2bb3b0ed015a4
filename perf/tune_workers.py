"""One worker against two: the wall time of the same study (the README's Tuning section).

Writes ScotsSec as the multilevel benchmark prepares split 0 to a CSV, then runs a study
of ``--trials`` trials that all do the same work (only ``lr`` searched, ``max_steps``
fixed, no early stopping, no pruning, nothing retrained) with ``jobs=1`` and with
``jobs=2``, ``--repeats`` times each, alternating, and prints each wall time, the ratio
and the machine. With ``jobs=1`` the trials run in this process with torch's default
threads; with ``jobs=2`` in two worker processes of one thread each.

    python perf/tune_workers.py [--trials 8] [--max-steps 3000] [--repeats 2]
        [--out runs/tune-workers]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from groupvae.benchmarks.multilevel import SOURCES, load_source, prepare
from groupvae.store.machine import machine_info
from groupvae.tuning import tune


def study_seconds(csv: Path, out: Path, *, jobs: int, trials: int, max_steps: int) -> float:
    """Wall time of one study of ``trials`` equal-work trials with ``jobs`` workers."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    tune(
        "mlvae", "table", out, trials=trials,
        data_options={"path": str(csv), "group": "primary", "features": "attain,verbal"},
        space={"lr": "1e-4:1e-2:log"}, default_space=False, pruner="none", jobs=jobs,
        overrides={"max_steps": max_steps, "early_stopping_patience": None},
        retrain=False, progress=False,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/tune-workers"))
    args = parser.parse_args()

    table = SOURCES["ScotsSec"]
    frame, _ = prepare(load_source("ScotsSec"), table.group, table.features, 0)
    args.out.mkdir(parents=True, exist_ok=True)
    csv = args.out / "ScotsSec-split0.csv"
    frame.to_csv(csv, index=False)
    print("| repeat | 1 worker (s) | 2 workers (s) | ratio | load average before |")
    print("|---|---|---|---|---|")
    for repeat in range(args.repeats):
        load = os.getloadavg()[0]
        one, two = (
            study_seconds(csv, args.out / f"jobs{j}", jobs=j, trials=args.trials,
                          max_steps=args.max_steps)
            for j in (1, 2)
        )  # fmt: skip
        print(f"| {repeat} | {one:.1f} | {two:.1f} | {one / two:.2f} | {load:.2f} |", flush=True)
    print(f"\nmachine: {json.dumps(machine_info())}")


if __name__ == "__main__":
    main()
