"""The objective of a trial: train the preset with the trial's settings on the fit groups
and return the holdout ELBO estimate of its validation groups for the weights the fit
ends with (nats per observation, maximised), exactly the number ``groupvae train``
reports for a run (``extra_metadata["holdout_elbo"]``).

:func:`run_and_tell` runs one trial and records how it ended: a value, pruned, or failed
with its reason in the trial's user attribute ``fail_reason`` (a NaN loss, a group too
small for the regulariser, a setting its config refuses, ...), so that the study goes
on. An interrupted trial (Ctrl-C, SIGTERM) is recorded as failed with
``interrupted = True``; it does not count towards the trials asked for.
"""

from __future__ import annotations

import math
import time
from typing import Any

import optuna
from optuna.trial import TrialState

from groupvae.errors import NonFiniteLossError
from groupvae.models.search_space import Choice, SearchSpace
from groupvae.tuning.problem import TrialData, TuneProblem
from groupvae.tuning.pruning import ValidationPruning

FAIL_REASON = "fail_reason"
"""The user attribute of a failed trial that says why (``"DataError: ..."``)."""
INTERRUPTED = "interrupted"
"""The user attribute (``True``) of a trial stopped by an interrupt, not by its settings."""


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """The trial's value of every field of ``space`` (Optuna's ``suggest_*``)."""
    params: dict[str, Any] = {}
    for key, dim in space.items():
        if isinstance(dim, Choice):
            params[key] = trial.suggest_categorical(key, list(dim.values))
        elif dim.integer:
            params[key] = trial.suggest_int(key, int(dim.low), int(dim.high), log=dim.log)
        else:
            params[key] = trial.suggest_float(key, dim.low, dim.high, log=dim.log)
    return params


def run_trial(
    trial: optuna.Trial,
    problem: TuneProblem,
    data: TrialData,
    *,
    num_threads: int | None = None,
) -> float:
    """Train one model with ``trial``'s settings; return its objective value.

    The fit is ``model.fit(data.fit, holdout=data.validation, ...)`` with the problem's
    fixed settings and the trial's sampled ones, no progress bar, nothing written to
    disk; each validation check is reported to the trial (:class:`ValidationPruning`).
    The user attributes ``step`` (the optimiser step of the weights the fit ended
    with), ``checks``, ``stopped_step`` and ``fit_seconds`` record how it went.

    Args:
        num_threads: torch threads for training (``None``: the resolved setting).

    Returns:
        The validation groups' holdout ELBO estimate (nats per observation).

    Raises:
        optuna.TrialPruned: when the study's pruner stops it.
        NonFiniteLossError: on a NaN or infinite loss, or no finite estimate.
        DataError, ConfigError: for data or settings the model refuses.
    """
    params = suggest(trial, problem.space)
    model, options = problem.create_model(data, {**problem.fixed, **params})
    options["progress"] = False
    if num_threads is not None and "num_threads" not in problem.fixed:
        options["num_threads"] = num_threads
    pruning = ValidationPruning(trial)
    plan = model.plan_fit(data.fit, holdout=data.validation, callbacks=[pruning], **options)
    start = time.perf_counter()
    model.fit_planned(plan)
    record = model.extra_metadata.get("holdout_elbo") or {}
    stop = model.extra_metadata.get("early_stopping") or {}
    trial.set_user_attr("fit_seconds", round(time.perf_counter() - start, 3))
    trial.set_user_attr("step", record.get("step"))
    trial.set_user_attr("checks", stop.get("checks"))
    trial.set_user_attr("stopped_step", stop.get("stopped_step"))
    value = record.get("elbo_per_observation")
    if value is None or not math.isfinite(value):
        raise NonFiniteLossError(f"the validation estimate is {value}, not a finite number")
    return float(value)


def one_line(err: BaseException) -> str:
    """``"DataError: the first line of its message"``."""
    text = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def tell(study: optuna.Study, trial: optuna.Trial | int, *args: Any, **kwargs: Any) -> None:
    """``study.tell(trial, ...)``. A sampler that ends the study from its ``after_trial``
    (``GridSampler`` once its grid is done calls ``study.stop()``, which only works
    inside ``study.optimize``) is let be: the trial's state is stored before that hook
    runs, and the study ends when it has the trials asked for."""
    try:
        study.tell(trial, *args, **kwargs)
    except RuntimeError as err:
        if "Study.stop" not in str(err):
            raise


def run_and_tell(
    study: optuna.Study,
    trial: optuna.Trial,
    problem: TuneProblem,
    data: TrialData,
    *,
    num_threads: int | None = None,
) -> TrialState:
    """Run ``trial`` (:func:`run_trial`) and tell the study how it ended.

    Any error of the trial (``NonFiniteLossError``, ``DataError``, ``ConfigError``, or
    another exception of training, e.g. running out of memory) fails the trial with its
    reason (:data:`FAIL_REASON`) and returns: the study goes on.

    Returns:
        The trial's state: ``COMPLETE``, ``PRUNED`` or ``FAIL``.

    Raises:
        KeyboardInterrupt: (``TrainingInterrupted`` included) after recording the trial
            as failed and :data:`INTERRUPTED`.
    """
    try:
        value = run_trial(trial, problem, data, num_threads=num_threads)
    except optuna.TrialPruned as err:
        trial.set_user_attr("pruned", str(err))
        tell(study, trial, state=TrialState.PRUNED)
        return TrialState.PRUNED
    except KeyboardInterrupt:
        trial.set_user_attr(FAIL_REASON, "interrupted")
        trial.set_user_attr(INTERRUPTED, True)
        tell(study, trial, state=TrialState.FAIL)
        raise
    except Exception as err:  # recorded with its reason; the study goes on
        trial.set_user_attr(FAIL_REASON, one_line(err))
        tell(study, trial, state=TrialState.FAIL)
        return TrialState.FAIL
    tell(study, trial, value)
    return TrialState.COMPLETE


__all__ = [
    "FAIL_REASON",
    "INTERRUPTED",
    "one_line",
    "run_and_tell",
    "run_trial",
    "suggest",
    "tell",
]
