"""Run a benchmark's independent runs side by side, one torch thread each."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
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


KILL_WAIT_S = 5.0
"""How long a stopped benchmark waits for its killed workers to be reaped (seconds)."""
POLL_S = 0.1
"""How often the main process looks at its workers while they run (seconds)."""


def run_tasks(
    fn: Callable[..., dict[str, Any]], tasks: Sequence[tuple[Any, ...]], jobs: int
) -> Iterator[dict[str, Any]]:
    """``fn(*task)`` for every task, yielded as each finishes.

    With ``jobs == 1`` the tasks run here, one after the other, in order; otherwise in
    ``jobs`` spawned worker processes (``fn`` and the task arguments must pickle), each
    given one task at a time.

    The workers ignore Ctrl-C (SIGINT, also when it reaches the whole process group):
    only this process decides when they stop. However the loop ends early (an error in a
    task, SIGINT or SIGTERM to this process, the caller closing the iterator, e.g. with
    ``contextlib.closing`` around a loop that raises), every worker is killed (SIGKILL,
    so that none finishes, or writes, the run it was making) and reaped within
    :data:`KILL_WAIT_S` seconds before the error goes on: none goes on training behind a
    benchmark that has stopped. While the iterator is open, SIGINT and SIGTERM kill the
    workers and raise ``KeyboardInterrupt`` (``"signal SIGTERM"``), wherever this
    process is; a worker that dies of SIGINT or SIGTERM (sent to the process group)
    counts as an interrupt too.

    Raises:
        KeyboardInterrupt: on SIGINT or SIGTERM.
        RuntimeError: when a worker process dies without a result (killed for memory).
        Exception: a task's own error, re-raised here with the worker's traceback noted.
    """
    with _Stop() as stop:
        if jobs == 1:
            for task in tasks:
                yield fn(*task)
            return
        yield from _in_workers(fn, tasks, jobs, stop)


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    task: int | None = None


@dataclass
class _Stop:
    """SIGINT and SIGTERM, while tasks run (main thread only): kill the workers and raise
    ``KeyboardInterrupt``, unless this process is starting a worker or stopping them
    (``hold``), then once that is over."""

    workers: list[_Worker] = field(default_factory=list)
    signal: str | None = None
    hold: bool = False
    previous: dict[int, Any] = field(default_factory=dict)

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        self.hold = True
        _kill(self.workers)
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _handler(self, signum: int, frame: Any) -> None:
        self.signal = signal.Signals(signum).name
        if not self.hold:
            self.check()

    def check(self) -> None:
        """Raise the interrupt a signal asked for (the workers killed first), if any."""
        if self.signal is not None:
            self.hold = True
            _kill(self.workers)
            raise KeyboardInterrupt(f"signal {self.signal}")


def _in_workers(
    fn: Callable[..., dict[str, Any]], tasks: Sequence[tuple[Any, ...]], jobs: int, stop: _Stop
) -> Iterator[dict[str, Any]]:
    """:func:`run_tasks` in ``jobs`` worker processes; they are killed by ``stop``'s exit."""
    context = get_context("spawn")
    pending = deque(enumerate(tasks))
    left = len(tasks)
    for _ in range(min(jobs, left)):
        stop.hold = True  # a worker started but not yet listed would be missed when killing
        stop.workers.append(_start(context, fn))
        stop.hold = False
        stop.check()
    for worker in stop.workers:
        _give(worker, pending)
    while left:
        stop.check()
        busy = {worker.conn: worker for worker in stop.workers if worker.task is not None}
        for conn in wait(list(busy), timeout=POLL_S):
            worker = busy[conn]
            try:
                status, value = conn.recv()
            except (EOFError, OSError):
                raise _died(worker, stop) from None
            if status == "error":
                raise value
            left -= 1
            _give(worker, pending)
            yield value
    for worker in stop.workers:
        worker.process.join(timeout=KILL_WAIT_S)


def _start(context: BaseContext, fn: Callable[..., dict[str, Any]]) -> _Worker:
    """A worker process running :func:`_serve`, spawned with SIGINT blocked (so that a
    Ctrl-C cannot reach it while Python starts, before it ignores SIGINT itself)."""
    ours, theirs = context.Pipe()
    process = context.Process(target=_serve, args=(fn, theirs, os.getpid()), daemon=True)
    block = hasattr(signal, "pthread_sigmask")
    if block:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process.start()
    finally:
        if block:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        theirs.close()
    return _Worker(process, ours)


def _give(worker: _Worker, pending: deque[tuple[int, tuple[Any, ...]]]) -> None:
    """Send ``worker`` the next pending task, or tell it to exit."""
    if pending:
        worker.task, task = pending.popleft()
        worker.conn.send(task)
    else:
        worker.task = None
        worker.conn.send(None)


def _died(worker: _Worker, stop: _Stop) -> BaseException:
    """The error of a worker that closed its pipe without a result."""
    worker.process.join(timeout=KILL_WAIT_S)
    code = worker.process.exitcode
    if stop.signal is not None or code in (-signal.SIGINT, -signal.SIGTERM):
        stop.signal = stop.signal or signal.Signals(-code).name  # type: ignore[operator]
        stop.check()
    return RuntimeError(
        f"a benchmark worker process died (exit code {code}) while running task "
        f"{worker.task}; the other workers were stopped"
    )


def _kill(workers: Sequence[_Worker]) -> None:
    """Kill the workers still running and reap them (at most :data:`KILL_WAIT_S` seconds
    in all)."""
    for worker in workers:
        if worker.process.exitcode is None:
            worker.process.kill()
    deadline = time.monotonic() + KILL_WAIT_S
    for worker in workers:
        worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
        worker.conn.close()


def _serve(fn: Callable[..., dict[str, Any]], conn: Connection, parent: int) -> None:
    """A worker's loop: run each task received, send back ``("ok", result)`` or
    ``("error", exception)``; exit on ``None``, or when the main process is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=_orphan_exit, args=(parent,), daemon=True).start()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            reply: tuple[str, Any] = ("ok", fn(*task))
        except BaseException as err:  # every error goes back to the main process
            reply = ("error", _portable(err))
        conn.send(reply)


def _orphan_exit(parent: int) -> None:
    """Exit this worker at once if its main process is gone (killed with SIGKILL)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _portable(err: BaseException) -> BaseException:
    """``err`` with the worker's traceback as a note, or a ``RuntimeError`` saying it if
    ``err`` does not pickle."""
    text = "".join(traceback.format_exception(err))
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:  # any error: the exception does not pickle
        return RuntimeError(f"in a benchmark worker:\n{text}")
    err.add_note(f"in a benchmark worker:\n{text}")
    return err


__all__ = ["KILL_WAIT_S", "one_thread", "run_tasks"]
