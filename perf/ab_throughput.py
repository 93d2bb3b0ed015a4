"""Training speed of two versions of groupvae, alternating epoch by epoch in one run.

Usage:
    git worktree add /tmp/before <commit>
    python perf/ab_throughput.py --before /tmp/before/src [--after src]
        [--epochs 16] [--groups 4096] [--models mlvae gvae gvae-adv cxvae vae]

For each model, one worker process per version (``PYTHONPATH`` set to that version's
``src``) fits the preset on the same Exam-Scores data (64 groups per step, one torch
thread). The workers take turns: each runs one epoch of its ``fit`` while the other
waits, so both see the same state of the machine, whose speed may drift over minutes.
Prints per model the fastest epoch of each (ms per step) and the median over the epochs
of the ratio before / after of adjacent epochs (the first, warm-up epoch dropped), and
the machine. This is a benchmark script, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

READY = "ready"
GROUPS_PER_STEP = 64


def worker(name: str, epochs: int, groups: int) -> None:
    """Fit ``name``, waiting for a line on stdin before each epoch and printing its
    seconds after it."""
    import torch
    from lightning.pytorch.callbacks import Callback

    import groupvae

    class TakeTurns(Callback):
        def on_train_epoch_start(self, trainer, module) -> None:
            sys.stdin.readline()
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, module) -> None:
            print(time.perf_counter() - self.start, flush=True)

    torch.set_num_threads(1)
    data = groupvae.data.make_exam_scores(groups, seed=0)
    model = groupvae.models.create(name, dataset="exam-scores")
    print(READY, flush=True)
    model.fit(
        data,
        epochs=epochs,
        groups_per_batch=GROUPS_PER_STEP,
        progress=False,
        num_threads=1,
        lr=1e-4,
        callbacks=[TakeTurns()],
    )


def start_worker(src: Path, name: str, epochs: int, groups: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(src.resolve())}
    command = [sys.executable, __file__, "--worker", name, "--epochs", str(epochs)]
    process = subprocess.Popen(
        [*command, "--groups", str(groups)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker for {name} with {src} stopped before training")
        if line.strip() == READY:
            return process


def compare(name: str, before: Path, after: Path, epochs: int, groups: int) -> dict:
    """Seconds of each epoch of both versions, taking turns."""
    workers = {tag: start_worker(src, name, epochs, groups) for tag, src in
               (("before", before), ("after", after))}  # fmt: skip
    seconds: dict[str, list[float]] = {tag: [] for tag in workers}
    try:
        for _ in range(epochs):
            for tag, process in workers.items():
                process.stdin.write("go\n")
                process.stdin.flush()
                seconds[tag].append(float(process.stdout.readline()))
    finally:
        for process in workers.values():
            process.wait(timeout=60)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="the src folder of the old version")
    parser.add_argument("--after", type=Path, default=Path(__file__).parents[1] / "src")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--groups", type=int, default=GROUPS_PER_STEP * 64)
    parser.add_argument("--models", nargs="+", default=["mlvae", "gvae", "gvae-adv", "cxvae"])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.epochs, args.groups)
        return
    if args.before is None or args.epochs < 2:
        parser.error("give --before (a src folder) and --epochs >= 2")
    steps = -(-args.groups // GROUPS_PER_STEP)
    print(
        f"before {args.before}, after {args.after}; {args.epochs} epochs of {steps} steps of "
        f"{GROUPS_PER_STEP} schools, taking turns; first epoch dropped"
    )
    print(f"{'model':<10} {'before ms/step':>15} {'after ms/step':>14} {'speed-up':>9}")
    for name in args.models:
        t = compare(name, args.before, args.after, args.epochs, args.groups)
        before, after = t["before"][1:], t["after"][1:]
        ratio = statistics.median(b / a for b, a in zip(before, after, strict=True))
        print(
            f"{name:<10} {min(before) / steps * 1e3:>15.2f} {min(after) / steps * 1e3:>14.2f} "
            f"{ratio:>9.2f}",
            flush=True,
        )
    sys.path.insert(0, str(args.after.resolve()))
    import torch

    from groupvae.store.machine import machine_info

    torch.set_num_threads(1)  # as in the workers
    print("machine:", json.dumps(machine_info()))


if __name__ == "__main__":
    main()
