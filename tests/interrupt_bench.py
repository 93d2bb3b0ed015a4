"""A tiny benchmark for the interrupt test (``test_benchmark_interrupts.py``), run as
``python tests/interrupt_bench.py OUT PIDS``: 3 runs x 4 seeds of ~0.25 s tasks in 2
workers, each writing its process id to ``PIDS`` and lines into its run folder as it goes.
Exits 130 when interrupted (SIGTERM counts as Ctrl-C from the first line, as in the CLI
while a benchmark runs)."""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@dataclass(frozen=True)
class Settings:
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    jobs: int = 2
    steps: int = 5


def sleepy(pids: str, *, seed: int, run_dir: Path) -> dict[str, Any]:
    """A 'run': note this worker's pid, write a line per step (as training writes its
    epochs), then the file that marks it finished. Like training, a SIGINT or SIGTERM
    stops it only after the step under way (as ``epoch_checkpoints.interrupts`` does)."""
    Path(pids, str(os.getpid())).touch()
    stop: list[str] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, frame: stop.append(signal.Signals(signum).name))
    run_dir.mkdir(parents=True, exist_ok=True)
    for step in range(Settings.steps):
        with open(run_dir / "epoch_errors.csv", "a") as log:
            log.write(f"{step}\n")
        time.sleep(0.05)
        if stop:
            (run_dir / "interrupted").write_text(stop[0])
            raise KeyboardInterrupt(stop[0])
    (run_dir / "done").write_text("1")
    return {"score": float(seed)}


def protocol(pids: str) -> Any:
    from groupvae.benchmarks.runner import Protocol, Run

    runs = [Run(name, {"model": name}, sleepy, (pids,)) for name in ("a", "b", "c")]
    return Protocol("interrupts", Settings(), runs, lambda rows, summary: "table")


def main(out: str, pids: str) -> int:
    from groupvae.benchmarks.runner import run_protocol

    try:
        run_protocol(protocol(pids), out, echo=lambda line: None)
    except KeyboardInterrupt:
        return 130
    return 0


def _import_uninterrupted() -> None:
    """Import the benchmark's modules with SIGINT and SIGTERM held back, then let a
    pending one through. An interrupt inside numpy's or torch's own first import leaves
    them half-loaded ("cannot load module more than once per process"): that is
    Python's start-up, not the benchmark this test is about, and under a loaded machine
    it takes longer than the test's earliest signal."""
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        import groupvae.benchmarks.runner  # noqa: F401
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _import_uninterrupted()
        sys.exit(main(*sys.argv[1:3]))
    except KeyboardInterrupt:
        sys.exit(130)
