"""Training throughput of every preset on Exam-Scores, in observations per second.

Usage:
    python benchmarks/throughput.py [--groups 4096] [--epochs 3] [--threads 1] [--accelerator cpu]

Prints one row per preset (observations/s and groups/s over the timed epochs, excluding
the first, warm-up epoch) and the wall time of the whole benchmark, with the machine.
This is a benchmark script, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from lightning.pytorch.callbacks import Callback

import groupvae
from groupvae.models import MODELS


class EpochTimer(Callback):
    """Records the wall time of each training epoch."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, module) -> None:
        self.times.append(time.perf_counter() - self._start)


def measure(name: str, data, epochs: int, threads: int, accelerator: str) -> tuple[float, float]:
    """``(observations/s, groups/s)`` of training ``name`` after one warm-up epoch."""
    timer = EpochTimer()
    model = groupvae.models.create(name, dataset="exam-scores")
    model.fit(
        data,
        epochs=epochs,
        progress=False,
        num_threads=threads,
        accelerator=accelerator,
        lr=1e-3,
        callbacks=[timer],
    )
    seconds = sum(timer.times[1:]) or timer.times[0]
    n_epochs = max(1, len(timer.times) - 1)
    return data.n_obs * n_epochs / seconds, data.n_groups * n_epochs / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    start = time.perf_counter()
    data = groupvae.data.make_exam_scores(args.groups, seed=0)
    print(
        f"Exam-Scores: {data.n_groups} groups, {data.n_obs} observations; 64 groups per batch; "
        f"{args.epochs} epochs (first is warm-up); torch threads {args.threads}; "
        f"accelerator {args.accelerator}"
    )
    print(f"{'model':<10} {'obs/s':>10} {'groups/s':>10}")
    for name in args.models:
        obs, groups = measure(name, data, args.epochs, args.threads, args.accelerator)
        print(f"{name:<10} {obs:>10.0f} {groups:>10.0f}", flush=True)
    print(
        f"wall time {time.perf_counter() - start:.1f}s; {platform.platform()}; "
        f"{platform.processor() or platform.machine()}; torch {torch.__version__}; "
        f"{torch.get_num_threads()} threads"
    )


if __name__ == "__main__":
    main()
