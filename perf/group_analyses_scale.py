"""The analyses of groups at scale (issue 22, item 4): distances and k nearest groups for
100,000 groups, and outlier scores for a million observations, with wall time and peak
memory.

Usage:
    PYTHONPATH=src python perf/group_analyses_scale.py [--groups 100000] [--group-dim 10]
        [--k 10] [--clusters 10] [--observations 1000000] [--group-size 100]
        [--features 20] [--samples 100] [--threads N] [--stages nearest kmeans full outliers]

Stages, each in a fresh process (``spawn``) so that one stage's memory does not hide
another's:

- **nearest**: each of ``--groups`` groups' ``--k`` nearest other groups by the
  2-Wasserstein distance between synthetic diagonal Gaussian posteriors (means
  ``N(0, 1)``, standard deviations ``U(0.05, 1)``, ``--group-dim`` dimensions):
  :func:`groupvae.evaluation.groups.nearest_groups`, exact, in chunks of 4,096 queries;
- **kmeans**: the clustering beyond ``MAX_FULL`` groups (k-means, 4 starts) of the same
  posteriors: :func:`groupvae.evaluation.groups.cluster_groups`;
- **full**: the full distance matrix and the hierarchical clustering at ``MAX_FULL``
  (2,000) groups, the largest size they are offered at;
- **outliers**: :func:`groupvae.evaluation.groups.group_outliers` (importance-sampled
  ``log p(x_G)`` with ``--samples`` samples per group, in batches of whole groups that
  keep ``samples x observations x width`` under ``MAX_ELEMENTS``; then the groups'
  posteriors and their isolation) on ``--observations`` observations in groups of
  ``--group-size`` (the simulated Gaussian groups of
  :func:`groupvae.data.simulated_groups.simulate_groups`), scored by a tiny ML-VAE
  (hidden 32, 4-d codes) trained for 300 steps on 300 of the groups.

For each stage: the wall time of the analysis alone, the resident memory before it (the
interpreter, the libraries and the inputs) and its peak during the analysis (sampled
every 5 ms from ``/proc/self/statm``; also ``ru_maxrss``, the process' peak over its
whole life, inputs included). A benchmark script that prints figures, not a test:
nothing is asserted. Timings on a machine shared with other work are upper bounds.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import threading
import time
from collections.abc import Callable
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    """The process' resident memory now (MiB), from ``/proc/self/statm``."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


class PeakRss:
    """The largest resident memory seen while the block runs (a thread samples it)."""

    def __init__(self, every: float = 0.005) -> None:
        self.every, self.peak, self._stop = every, 0.0, threading.Event()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib())
            time.sleep(self.every)

    def __enter__(self) -> PeakRss:
        self.peak = rss_mib()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def measure(run: Callable[[], str]) -> dict[str, Any]:
    """Wall time, RSS before and peak RSS of ``run()`` (which returns a note)."""
    before = rss_mib()
    with PeakRss() as peak:
        start = time.perf_counter()
        note = run()
        seconds = time.perf_counter() - start
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"seconds": seconds, "rss_before": before, "rss_peak": peak.peak,
            "ru_maxrss": maxrss, "note": note}  # fmt: skip


def _posteriors(n: int, dim: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, dim)), rng.uniform(0.05, 1.0, (n, dim))


def stage_nearest(args: argparse.Namespace) -> dict[str, Any]:
    from groupvae.evaluation.groups import nearest_groups

    mean, std = _posteriors(args.groups, args.group_dim)

    def run() -> str:
        found = nearest_groups(mean, std, k=args.k, metric="w2")
        return f"{found.index.shape[0]:,} x {found.index.shape[1]} neighbours"

    return measure(run)


def stage_kmeans(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from groupvae.evaluation.groups import cluster_groups

    mean, std = _posteriors(args.groups, args.group_dim)

    def run() -> str:
        found = cluster_groups(mean, std, n_clusters=args.clusters, seed=0)
        sizes = np.bincount(found.labels)
        return f"{found.method}, {len(sizes)} clusters of {sizes.min():,}-{sizes.max():,}"

    return measure(run)


def stage_full(args: argparse.Namespace) -> dict[str, Any]:
    from groupvae.evaluation.groups import MAX_FULL, cluster_groups, pairwise_distances

    mean, std = _posteriors(MAX_FULL, args.group_dim)

    def run() -> str:
        matrix = pairwise_distances(mean, std)
        found = cluster_groups(mean, std, n_clusters=args.clusters)
        return f"{matrix.shape[0]:,}^2 matrix, {found.method} linkage"

    return measure(run)


def stage_outliers(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import torch

    from groupvae.data.simulated_groups import simulate_groups
    from groupvae.evaluation.groups import group_outliers
    from groupvae.models import create

    n_groups = max(3, round(args.observations / args.group_size))
    per_cluster = -(-(n_groups - 3) // 3)  # at least --observations
    sim = simulate_groups(
        "gaussian", group_size=args.group_size, groups_per_cluster=per_cluster, n_outliers=3,
        n_features=args.features, n_differential=2, seed=0,
    )  # fmt: skip
    data = sim.data
    train = data.subset_groups(np.random.default_rng(0).choice(data.n_groups, 300, replace=False))
    model = create("mlvae", dataset="table", data=data, seed=0, hidden=32, group_dim=4,
                   instance_dim=4)  # fmt: skip
    start = time.perf_counter()
    model.fit(train, max_steps=300, progress=False, num_threads=torch.get_num_threads())
    train_seconds = time.perf_counter() - start

    def run() -> str:
        table = group_outliers(model, data, n_samples=args.samples, seed=0)
        top = set(table["group"].iloc[:3]) & {str(g) for g in data.group_ids[sim.outliers]}
        by_isolation = table.sort_values("isolation_z", ascending=False)["group"].iloc[:3]
        found = set(by_isolation) & set(data.group_ids[sim.outliers])
        return (
            f"{data.n_obs:,} observations in {data.n_groups:,} groups, {args.samples} "
            f"samples; model trained in {train_seconds:.0f}s; planted outliers in the top 3 "
            f"by isolation {len(found)}/3, by log-likelihood {len(top)}/3"
        )

    return measure(run)


STAGES = {
    "nearest": (stage_nearest, "k nearest groups (W2)"),
    "kmeans": (stage_kmeans, "clusters (k-means)"),
    "full": (stage_full, "full matrix + tree"),
    "outliers": (stage_outliers, "outlier scores"),
}


def _child(name: str, args: argparse.Namespace, queue: Any) -> None:
    import torch

    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    queue.put(STAGES[name][0](args))


def run_stage(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Stage ``name`` in a fresh (spawned) process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(name, args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=100_000)
    parser.add_argument("--group-dim", type=int, default=10)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--group-size", type=int, default=100)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=list(STAGES))
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{args.threads} thread(s); load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| stage | seconds | RSS before (MiB) | peak RSS during (MiB) | ru_maxrss (MiB) | what |")
    print("|---|---|---|---|---|---|")
    for name in args.stages:
        r = run_stage(name, args)
        line = f"| {STAGES[name][1]} | {r['seconds']:.1f} | {r['rss_before']:.0f} | "
        line += f"{r['rss_peak']:.0f} | {r['ru_maxrss']:.0f} | {r['note']} |"
        print(line, flush=True)
    print(f"wall time {time.perf_counter() - start:.0f}s; load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
