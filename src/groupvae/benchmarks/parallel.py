"""Run a benchmark's independent runs side by side, one torch thread each."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

import torch


@contextmanager
def one_thread() -> Iterator[None]:
    """Limit torch and BLAS to one thread inside the block; restore torch's count after
    (training sets the process-wide count)."""
    # deferred: only where threads are capped
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    try:
        with threadpool_limits(limits=1):
            torch.set_num_threads(1)
            yield
    finally:
        torch.set_num_threads(threads)


def run_tasks(
    fn: Callable[..., dict[str, Any]], tasks: Sequence[tuple[Any, ...]], jobs: int
) -> Iterator[dict[str, Any]]:
    """``fn(*task)`` for every task, yielded as each finishes.

    With ``jobs == 1`` the tasks run here, one after the other, in order; otherwise in
    ``jobs`` spawned worker processes (``fn`` and the task arguments must pickle).

    However the loop ends early (an error in a task, Ctrl-C, SIGTERM to this process,
    the caller closing the iterator, e.g. with ``contextlib.closing`` around a loop that
    raises), pending tasks are cancelled and the worker processes are terminated: none
    goes on training, or writing its run directory, behind a benchmark that has stopped
    (and that a resumed benchmark would run again). While the workers run, SIGTERM
    terminates them and is raised as ``KeyboardInterrupt``, wherever this process is.
    """
    if jobs == 1:
        for task in tasks:
            yield fn(*task)
        return
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"))
    try:
        with _sigterm_as_interrupt(lambda: _terminate_workers(pool)):
            futures = [pool.submit(fn, *task) for task in tasks]
            for future in as_completed(futures):
                yield future.result()
    except BaseException:
        _terminate_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the pool's pending tasks and terminate its worker processes."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)


@contextmanager
def _sigterm_as_interrupt(cleanup: Callable[[], None]) -> Iterator[None]:
    """Inside the block (main thread only), SIGTERM runs ``cleanup`` and raises
    ``KeyboardInterrupt``, so that a terminated benchmark stops as Ctrl-C stops it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        cleanup()
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


__all__ = ["one_thread", "run_tasks"]
