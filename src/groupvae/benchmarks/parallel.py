"""Run a benchmark's independent runs side by side, one torch thread each."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any


@contextmanager
def one_thread() -> Iterator[None]:
    """Limit torch and BLAS to one thread inside the block; restore torch's count after
    (training sets the process-wide count)."""
    import torch
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
    """
    if jobs == 1:
        for task in tasks:
            yield fn(*task)
        return
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(fn, *task) for task in tasks]
        for future in as_completed(futures):
            yield future.result()


__all__ = ["one_thread", "run_tasks"]
