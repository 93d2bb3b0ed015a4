"""Training throughput of groupvae against the CxVAE authors' code, side by side.

Usage:
    python perf/peer_throughput.py [--peer-dir ../shared/peers/cxvae-authors]
        [--rounds 3] [--batches 64] [--threads 1] [--models cxvae mlvae gvae gvae-adv]

For each model, alternating, ``--rounds`` times each: the authors' training step
(``src.model.Model.step``, the adversary's step first where it has one; their latent
probes are not run) over ``--batches`` of their Exam-Scores batches of 64 groups, and
groupvae's full training loop (``model.fit``: Lightning, data loader, logging) over a data
set of ``64 * --batches`` Exam-Scores groups, 64 groups per step, after one warm-up
epoch. Both draw group sizes ``8 + Poisson(16)``. Prints observations per second of both
(the median over the rounds, and the range), the median over the rounds of the ratio
ours / theirs (each round's two runs are back to back), and the machine.
This is a benchmark script, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

import groupvae
from groupvae.store.machine import machine_info

sys.path.insert(0, str(Path(__file__).parent))
from throughput import EpochTimer

GROUPS_PER_STEP = 64
DEFAULT_PEER = Path(__file__).resolve().parents[1] / ".." / "shared" / "peers" / "cxvae-authors"
PEER_VARIANTS = {
    # groupvae preset: the authors' (group_acc, inst_cond, reg), as their PEER.md lists
    "cxvae": (None, True, "ours"),
    "mlvae": ("mul", False, None),
    "gvae": ("med", False, None),
    "gvae-adv": ("med", False, "nemeth"),
}


@contextlib.contextmanager
def peer_imports(peer_dir: Path) -> Iterator[None]:
    """The authors' folder on ``sys.path`` and as the working directory (their PEER.md)."""
    cwd = os.getcwd()
    sys.path.insert(0, str(peer_dir))
    os.chdir(peer_dir)
    try:
        yield
    finally:
        os.chdir(cwd)
        sys.path.remove(str(peer_dir))


def peer_runner(peer_dir: Path, name: str, batches: int) -> tuple[Callable[[], float], int]:
    """``(run, n_obs)``: ``run()`` trains the authors' model one pass over ``batches``
    batches and returns the seconds it took; ``n_obs`` observations per pass."""
    with peer_imports(peer_dir), contextlib.redirect_stdout(sys.stderr):
        from src.model import Model
        from utils.helpers import prepare_data
        from utils.toy_data import generate_dataset

        train, *_ = generate_dataset(batches, 1, GROUPS_PER_STEP, seed=0)
    group_acc, inst_cond, reg = PEER_VARIANTS[name]
    model = Model(group_acc=group_acc, inst_cond=inst_cond, reg=reg, lr=1e-4)
    xs = [prepare_data(x) for x in train[0]]
    n_obs = sum(int(x.shape[0] * x.shape[1]) for x in xs)

    def run() -> float:
        start = time.perf_counter()
        for x in xs:
            model.step(x)
        return time.perf_counter() - start

    run()  # warm-up pass
    return run, n_obs


def ours_runner(name: str, batches: int, threads: int) -> tuple[Callable[[], float], int]:
    """``(run, n_obs)``: ``run()`` fits the preset for two epochs (one warm-up) and
    returns the seconds of the timed epoch."""
    data = groupvae.data.make_exam_scores(GROUPS_PER_STEP * batches, seed=0)

    def run() -> float:
        timer = EpochTimer()
        model = groupvae.models.create(name, dataset="exam-scores")
        model.fit(
            data,
            epochs=2,
            groups_per_batch=GROUPS_PER_STEP,
            progress=False,
            num_threads=threads,
            lr=1e-4,
            callbacks=[timer],
        )
        return timer.times[-1]

    return run, data.n_obs


def compare(name: str, peer_dir: Path, rounds: int, batches: int, threads: int) -> dict:
    """Alternating rounds of the authors' step and ours; obs/s of each round."""
    theirs, n_theirs = peer_runner(peer_dir, name, batches)
    ours, n_ours = ours_runner(name, batches, threads)
    result: dict[str, list[float]] = {"authors": [], "groupvae": []}
    for _ in range(rounds):
        result["authors"].append(n_theirs / theirs())
        result["groupvae"].append(n_ours / ours())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-dir", type=Path, default=DEFAULT_PEER)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", nargs="+", default=list(PEER_VARIANTS), choices=PEER_VARIANTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    peer_dir = args.peer_dir.resolve()
    print(
        f"{GROUPS_PER_STEP} groups per step, {args.batches} steps per pass, {args.rounds} "
        f"alternating rounds; authors: model step only ({peer_dir}); groupvae: full "
        f"training loop; torch threads {args.threads}"
    )
    print(f"{'model':<10} {'authors obs/s':>22} {'groupvae obs/s':>22} {'ratio':>6}")
    for name in args.models:
        r = compare(name, peer_dir, args.rounds, args.batches, args.threads)
        a, g = (statistics.median(r[k]) for k in ("authors", "groupvae"))
        ratio = statistics.median(x / y for x, y in zip(r["groupvae"], r["authors"], strict=True))
        span = {k: f"{min(v) / 1e3:.0f}-{max(v) / 1e3:.0f}k" for k, v in r.items()}
        print(
            f"{name:<10} {a:>10.0f} ({span['authors']:>9}) {g:>10.0f} ({span['groupvae']:>9}) "
            f"{ratio:>6.2f}",
            flush=True,
        )
    print("machine:", json.dumps(machine_info()))


if __name__ == "__main__":
    main()
