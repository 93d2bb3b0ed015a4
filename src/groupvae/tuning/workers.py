"""Workers of a study: each claims a trial, runs it and tells the storage, until the
study has the trials asked for; ``--jobs J`` runs ``J`` of them in processes of this
machine, and other machines may run their own on the same storage.

**Counting.** ``--trials N`` is the study's total: a trial counts once it completed,
was pruned or failed for its settings; an interrupted one does not (it is run again).
A worker claims a trial only while fewer than ``N`` trials count or run. On a storage in
a local file it counts and claims under the file's slot lock
(:meth:`~groupvae.tuning.storage.StudyStorage.slots`), so the processes of this machine
finish exactly ``N``; the workers of machines sharing a server's storage may together
start one more trial each at the very end.

**Dead workers.** Each claimed trial records its worker (host, pid and the process's
start time) in the user attribute ``worker``. A worker that counts finds the running
trials of this host whose process is gone (killed, or a machine restarted) and records
them as failed and interrupted, so an interrupted study continues where it was.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from groupvae.errors import ConfigError, GroupVAEError
from groupvae.tuning.objective import FAIL_REASON, INTERRUPTED, run_and_tell, tell
from groupvae.tuning.problem import TrialData, TuneProblem
from groupvae.tuning.storage import StudyStorage

WORKER = "worker"
"""The user attribute that names a trial's worker: ``{"host", "pid", "start"}``."""


@dataclass(frozen=True)
class WorkerPlan:
    """What every worker of one command does; it pickles, so processes get it whole.

    Attributes:
        problem: what is tuned.
        storage: where the study lives.
        study_name: the study's name in the storage.
        n_trials: the study's total of counted trials to reach.
        deadline: stop claiming trials after this time (``time.time()``), or ``None``.
        seed: seeds each worker's sampler (mixed with its index and the trials so far).
        pruner: the study's pruner.
        sampler: a sampler to use instead of the seeded TPE sampler (``None``: TPE).
        num_threads: torch threads of each trial (``None``: the resolved setting).
    """

    problem: TuneProblem
    storage: StudyStorage
    study_name: str
    n_trials: int
    deadline: float | None
    seed: int
    pruner: optuna.pruners.BasePruner
    sampler: optuna.samplers.BaseSampler | None = None
    num_threads: int | None = None


# ------------------------------------------------------------------ who runs a trial
def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux
    ``/proc/PID/stat``), so that a recycled pid is not taken for a live worker; ``None``
    where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def this_worker() -> dict[str, Any]:
    """This process as a trial's :data:`WORKER` attribute."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": process_start(os.getpid())}


def is_alive(worker: dict[str, Any]) -> bool:
    """Whether the worker of this host that ``worker`` names still runs."""
    pid = worker.get("pid")
    if not isinstance(pid, int):
        return True  # not ours to judge
    try:
        os.kill(pid, 0)
    except PermissionError:
        pass  # alive, another user's
    except OSError:
        return False
    start = worker.get("start")
    return start is None or process_start(pid) in (None, start)


def counts(trial: FrozenTrial) -> bool:
    """Whether ``trial`` counts towards the trials asked for: finished, and not
    interrupted."""
    return trial.state.is_finished() and not trial.user_attrs.get(INTERRUPTED, False)


def reap(
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    trials: list[FrozenTrial],
    *,
    mine: bool = False,
) -> list[int]:
    """Record the running trials of this host whose worker is gone as failed and
    interrupted; return their numbers.

    Args:
        study: the study.
        storage: the storage it was opened on.
        trials: its trials, as just read.
        mine: also those of this process (after an interrupt stopped its worker).
    """
    host, me = socket.gethostname(), os.getpid()
    study_id = storage.get_study_id_from_name(study.study_name)
    reaped = []
    for trial in trials:
        worker = trial.user_attrs.get(WORKER)
        if trial.state != TrialState.RUNNING or not isinstance(worker, dict):
            continue
        gone = not is_alive(worker) or (mine and worker.get("pid") == me)
        if worker.get("host") != host or not gone:
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        try:
            storage.set_trial_user_attr(trial_id, FAIL_REASON, "interrupted (its worker is gone)")
            storage.set_trial_user_attr(trial_id, INTERRUPTED, True)
            tell(study, trial.number, state=TrialState.FAIL, skip_if_finished=True)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # it finished after all
        reaped.append(trial.number)
    return reaped


def claim(
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    where: StudyStorage,
    n_trials: int,
) -> optuna.Trial | None:
    """A new trial of ``study`` (opened on ``storage``, which ``where`` describes), or
    ``None`` once ``n_trials`` trials count or run (see the module docstring)."""
    with where.slots():
        trials = study.get_trials(deepcopy=False)
        reaped = set(reap(study, storage, trials))
        taken = sum(
            1
            for t in trials
            if t.number not in reaped and (counts(t) or t.state == TrialState.RUNNING)
        )
        if taken >= n_trials:
            return None
        trial = study.ask()
        trial.set_user_attr(WORKER, this_worker())
        return trial


# ------------------------------------------------------------------ the study
def sampler_for(plan: WorkerPlan, index: int, done: int) -> optuna.samplers.BaseSampler:
    """``plan.sampler``, or a TPE sampler (constant liar, for parallel workers) seeded by
    the plan's seed, the worker's index and the trials already in the study, so that
    workers and continued studies do not draw the same settings."""
    if plan.sampler is not None:
        return plan.sampler
    seed = int(np.random.SeedSequence([plan.seed, index, done]).generate_state(1)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def open_study(
    plan: WorkerPlan, index: int = 0
) -> tuple[optuna.Study, optuna.storages.BaseStorage]:
    """The plan's study (it exists: the command made it) with this worker's sampler,
    and the storage it is opened on."""
    storage = plan.storage.open()
    study = optuna.load_study(study_name=plan.study_name, storage=storage, pruner=plan.pruner)
    study.sampler = sampler_for(plan, index, len(study.get_trials(deepcopy=False)))
    return study, storage


def work(
    plan: WorkerPlan,
    index: int = 0,
    *,
    data: TrialData | None = None,
    on_trial: Callable[[], None] | None = None,
) -> int:
    """Claim and run trials until the study has ``plan.n_trials`` or the deadline
    passed; returns the trials this worker ran.

    Args:
        plan: the command's plan.
        index: this worker's number (0, 1, ...), for its sampler's seed.
        data: the data, if already loaded (else loaded here, once).
        on_trial: called after each trial (the single-process command reports there).

    Raises:
        KeyboardInterrupt: when interrupted; the running trial is recorded as such.
    """
    study, storage = open_study(plan, index)
    data = data if data is not None else TrialData.load(plan.problem)
    ran = 0
    while plan.deadline is None or time.time() < plan.deadline:
        trial = claim(study, storage, plan.storage, plan.n_trials)
        if trial is None:
            break
        run_and_tell(study, trial, plan.problem, data, num_threads=plan.num_threads)
        ran += 1
        if on_trial is not None:
            on_trial()
    return ran


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM raises ``KeyboardInterrupt``, as Ctrl-C does (training
    installs its own handler while it runs, and puts this one back)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


WORKER_ERROR = 2
"""A worker's exit status after an error it printed (a storage it cannot reach, say)."""


def worker_main(plan: WorkerPlan, index: int) -> None:
    """A worker process of ``--jobs``: one torch thread, quiet Optuna, SIGTERM stops it
    as Ctrl-C does (the running trial is recorded as interrupted). An error of groupvae
    (a trial's errors fail only the trial) is printed as one line, exit status
    :data:`WORKER_ERROR`."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        work(plan, index)
    except KeyboardInterrupt:
        return
    except GroupVAEError as err:
        print(f"error: worker {index}: {err}", file=sys.stderr, flush=True)
        sys.exit(WORKER_ERROR)


STOP_WAIT_S = 15.0
"""How long interrupted workers get to record their trials before they are killed."""
POLL_S = 1.0
"""How often the command looks at the study while its workers run (seconds)."""


def run_processes(plan: WorkerPlan, jobs: int, poll: Callable[[], None]) -> None:
    """Run :func:`worker_main` in ``jobs`` spawned processes and call ``poll()`` about
    every :data:`POLL_S` seconds until they have all ended.

    On ``KeyboardInterrupt`` here (Ctrl-C, or SIGTERM inside
    :func:`sigterm_as_interrupt`) every worker is sent SIGTERM, so each records its
    running trial as interrupted; those still running after :data:`STOP_WAIT_S` seconds
    are killed (their trials are reaped by the next worker that counts).

    Raises:
        KeyboardInterrupt: when interrupted, once the workers are gone.
        ConfigError: if a worker ended with an error (it printed it).
    """
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=worker_main, args=(plan, i)) for i in range(jobs)]
    try:
        for process in processes:
            process.start()
        while any(p.is_alive() for p in processes):
            poll()
            multiprocessing.connection.wait([p.sentinel for p in processes], timeout=POLL_S)
        poll()
    except KeyboardInterrupt:
        _stop(processes)
        raise
    failed = [i for i, p in enumerate(processes) if p.exitcode != 0]
    if failed:
        raise ConfigError(
            f"worker(s) {', '.join(map(str, failed))} of {jobs} ended with an error (printed "
            "above); the finished trials are kept in the study"
        )


def _stop(processes: list[Any]) -> None:
    """SIGTERM every live worker, wait for them, kill the ones that do not end."""
    for process in processes:
        if process.is_alive():
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()


__all__ = [
    "WORKER",
    "WorkerPlan",
    "claim",
    "counts",
    "is_alive",
    "open_study",
    "process_start",
    "reap",
    "run_processes",
    "sigterm_as_interrupt",
    "sampler_for",
    "this_worker",
    "work",
    "worker_main",
]
