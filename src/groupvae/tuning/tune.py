"""``groupvae tune`` / :func:`tune`: search a preset's settings on Optuna, with the
validation groups' holdout ELBO estimate as the objective, and keep the best as a run.

One command, in order:

1. the data is built and split (:class:`~groupvae.tuning.problem.TrialData`: scored
   holdout groups as ``train`` splits them, then validation groups out of the training
   groups), and the search space resolved (:mod:`groupvae.models.search_space`);
2. ``--out`` is claimed (:mod:`groupvae.tuning.study_folder`, under its lock) and the
   study created in its storage, or continued (``load_if_exists``);
3. workers run trials until the study has ``--trials`` (:mod:`groupvae.tuning.workers`),
   each pruned on its validation checks by the study's pruner, with one line per
   finished trial and a bar over the trials (:mod:`groupvae.tuning.progress`);
4. ``trials.csv``, ``history.png``, ``importances.png``, and the best trial's settings
   trained again into the run directory ``best/`` (:mod:`groupvae.tuning.outputs`).

An interrupt keeps every finished trial in the storage (and writes ``trials.csv``); the
same command continues the study.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from groupvae.config import parse_overrides
from groupvae.errors import ConfigError
from groupvae.models import BaseModel
from groupvae.models.defaults import DataShape
from groupvae.models.search_space import describe_space, search_space, values_in
from groupvae.registry import Registry
from groupvae.store.run_directory import run_lock
from groupvae.tuning.objective import FAIL_REASON, INTERRUPTED
from groupvae.tuning.outputs import (
    best_record,
    kept_best,
    retrain_best,
    trials_table,
    write_figures,
    write_trials,
)
from groupvae.tuning.problem import TrialData, TuneProblem
from groupvae.tuning.progress import Reporter, best_of, format_value
from groupvae.tuning.storage import StudyStorage
from groupvae.tuning.study_folder import BEST_RUN, claim_folder, folder_state
from groupvae.tuning.workers import (
    WorkerPlan,
    counts,
    reap,
    run_processes,
    sigterm_as_interrupt,
    work,
)

PRUNERS: Registry[Callable[[], optuna.pruners.BasePruner]] = Registry("pruner")
"""``--pruner`` name -> a new pruner. Its steps are validation checks (1, 2, ...; the own
data's defaults make about 100 over a budget): ``median`` prunes a trial whose best check
so far is below the median of the other trials' checks at the same step, once 5 trials
completed and from the 10th check on (a KL warm-up's first checks are not judged);
``hyperband`` gives each trial at least 10 checks."""
PRUNERS.add("median", lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=10))
PRUNERS.add("hyperband", lambda: optuna.pruners.HyperbandPruner(min_resource=10))
PRUNERS.add("none", optuna.pruners.NopPruner)


@dataclass
class TuneResult:
    """What :func:`tune` leaves.

    Attributes:
        study: the Optuna study (every trial of it, earlier commands' included).
        out: the study folder.
        best: the best completed trial (its ``value``: the validation groups' holdout
            ELBO per observation, nats), or ``None``.
        run_dir: the best trial's run directory (``out/best``), or ``None``.
        model: the model trained there by this command (``None`` when an earlier
            command's run of the same trial was kept, or nothing was retrained).
        best_record: ``best.json``'s content.
        trials: the table of trials (``trials.csv``).
        figures: figure file name -> ``"written"`` or why not.
    """

    study: optuna.Study
    out: Path
    best: FrozenTrial | None
    run_dir: Path | None
    model: BaseModel | None
    best_record: dict[str, Any] = field(default_factory=dict)
    trials: pd.DataFrame = field(default_factory=pd.DataFrame)
    figures: dict[str, str] = field(default_factory=dict)


def _check_numbers(trials: int, jobs: int, timeout: float | None, validation: float) -> None:
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"--timeout must be a number of seconds > 0, got {timeout}")
    if not 0 < validation < 1:
        raise ConfigError(f"--validation must be a fraction in (0, 1), got {validation}")


def _space_entries(space: Sequence[str] | Mapping[str, str] | None) -> list[str]:
    """``--space`` entries from a list of ``key=spec`` or a ``{key: spec}`` mapping."""
    if space is None:
        return []
    if isinstance(space, Mapping):
        return [f"{k}={v}" for k, v in space.items()]
    return list(space)


def resolve_problem(
    problem: TuneProblem, entries: list[str], *, default_space: bool = True
) -> tuple[TuneProblem, TrialData]:
    """Load and split the data, resolve the search space on the fit groups (the default
    space unless ``default_space`` is false, with ``entries``), and check the default
    settings on them as ``fit`` would (a data file a model refuses is refused here,
    before any trial).

    Raises:
        UnknownNameError, ConfigError, DataError: for bad names, ``--space`` or
            ``--set`` entries, data options or data.
    """
    data = TrialData.load(problem)
    base, options = problem.create_model(data, dict(problem.fixed))
    options["progress"] = False
    train = base.preflight(data.fit, holdout=data.validation, **options)
    space = search_space(
        base.family, base.config, train, DataShape.of(data.fit), entries=entries,
        fixed=problem.fixed, defaults=default_space,
    )  # fmt: skip
    if not space:
        raise ConfigError(
            "nothing to search: give --space entries (every field of the default space is "
            "fixed by --set, or the default space is off)"
        )
    start = values_in(space, base.config, train)
    return replace(problem, space=space, start=start), data


DEFAULTS_ATTR = "defaults"
"""The user attribute (``True``) of a study's first trial: the default settings."""


def _create_study(
    storage: StudyStorage, name: str, signature: dict[str, Any], start: dict[str, Any]
) -> tuple[optuna.Study, optuna.storages.BaseStorage]:
    """Create the study in ``storage`` (or load it) and check it tunes ``signature``;
    returns it and the storage it is opened on. A new study's first trial is ``start``
    (the default settings; the others are sampled), so the study compares its best with
    the defaults on the same validation groups.

    Raises:
        ConfigError: if the storage cannot be opened, or holds a study of this name
            that tunes another problem or minimises.
    """
    with storage.slots():
        backend = storage.open()
        study = optuna.create_study(
            storage=backend, study_name=name, direction="maximize", load_if_exists=True
        )
        if study.direction != optuna.study.StudyDirection.MAXIMIZE:
            raise ConfigError(f"the study {name!r} in {storage.describe()} minimises; not ours")
        recorded = study.user_attrs.get("problem")
        if recorded is None:
            study.set_user_attr("problem", signature)
            if start and not study.get_trials(deepcopy=False):
                study.enqueue_trial(start, user_attrs={DEFAULTS_ATTR: True})
        elif recorded != signature:
            changed = [k for k in sorted(set(recorded) | set(signature))
                       if recorded.get(k) != signature.get(k)]  # fmt: skip
            raise ConfigError(
                f"the study {name!r} in {storage.describe()} tunes other settings (they "
                f"differ in {', '.join(changed)}); name another study with --study"
            )
    return study, backend


def _state(trial: FrozenTrial) -> str:
    """A trial's state for the summary: completed, pruned, failed, interrupted, running."""
    if trial.user_attrs.get(INTERRUPTED):
        return "interrupted"
    names = {TrialState.COMPLETE: "completed", TrialState.FAIL: "failed"}
    return names.get(trial.state, trial.state.name.lower())


def defaults_trial(trials: Sequence[FrozenTrial]) -> FrozenTrial | None:
    """The completed trial of the default settings (a new TPE study's first), or
    ``None`` where the study has none or it did not complete."""
    defaults = [t for t in trials if t.user_attrs.get(DEFAULTS_ATTR)]
    if defaults and defaults[0].state == TrialState.COMPLETE:
        return defaults[0]
    return None


def _summary(best: FrozenTrial | None, trials: list[FrozenTrial]) -> str:
    """The study in one line: its trials by state, the best one, and the gain over the
    default settings (the first trial) where it completed."""
    states = pd.Series([_state(t) for t in trials], dtype=object).value_counts()
    tally = ", ".join(f"{n} {s}" for s, n in states.items()) or "no trials"
    if best is None:
        return f"study: {tally}; no trial completed"
    params = " ".join(f"{k}={format_value(v)}" for k, v in best.params.items())
    line = (
        f"study: {tally}; best trial {best.number}: {best.value:.4f} nats per observation "
        f"of the validation groups; {params}"
    )
    first = defaults_trial(trials)
    if first is not None:
        line += (
            f"; the default settings (trial {first.number}): {first.value:.4f}, "
            f"{best.value - first.value:+.4f} nats per observation"
        )
    return line


def tune(
    model: str,
    dataset: str,
    out: str | Path | None = None,
    *,
    trials: int = 20,
    data_options: Mapping[str, Any] | None = None,
    space: Sequence[str] | Mapping[str, str] | None = None,
    default_space: bool = True,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    jobs: int = 1,
    storage: str | None = None,
    study_name: str | None = None,
    timeout: float | None = None,
    seed: int = 0,
    holdout: float = 0.2,
    holdout_labels: Sequence[int] | None = None,
    validation: float = 0.2,
    pruner: str | optuna.pruners.BasePruner = "median",
    sampler: optuna.samplers.BaseSampler | None = None,
    retrain: bool = True,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
) -> TuneResult:
    """Tune preset ``model`` on ``dataset`` with Optuna (``groupvae tune``).

    Each trial trains the preset with sampled settings on the fit groups (the training
    groups less the validation groups) and scores the holdout ELBO estimate of the
    validation groups for the weights it ends with (nats per observation, maximised;
    :mod:`groupvae.tuning.objective`); the scored holdout groups of the run are never
    seen. Trials are pruned on their validation checks. The study lives in
    ``out/study.db`` unless ``storage`` names another, and the same call continues it.

    Args:
        model: a preset of ``MODELS``.
        dataset: a data set of ``DATASETS``.
        out: the study folder (default ``runs/tune-MODEL-DATASET-seedSEED``).
        trials: the study's total number of trials (completed, pruned or failed; an
            interrupted trial does not count).
        data_options: options of the data set (``--data``), e.g. ``{"path": ...}``.
        space: ``--space`` entries (``"lr=1e-4:1e-2:log"``, ``"hidden=32,64"``) or
            ``{"lr": "1e-4:1e-2:log"}``, replacing or adding to the default space.
        default_space: search the default space of the model and data shape
            (:func:`groupvae.models.search_space.default_search_space`) besides
            ``space``; ``False``: only ``space``.
        overrides: ``--set`` fields (``{"max_steps": 500}`` or ``["max_steps=500"]``),
            fixed in every trial and the best run, and left out of the default space.
        jobs: worker processes on this machine (one torch thread each).
        storage: an Optuna RDB URL or a journal file path shared with other machines.
        study_name: the study's name in the storage (default ``MODEL-DATASET``).
        timeout: start no trial after this many seconds (running ones finish).
        seed: seeds the data, the splits, weights, training and the samplers.
        holdout: fraction of groups held out for scoring, as ``groupvae train``.
        holdout_labels: hold out these classes instead.
        validation: fraction of the training groups used as validation groups.
        pruner: ``"median"`` (default), ``"hyperband"``, ``"none"`` or an Optuna pruner
            (it must pickle with ``jobs > 1``).
        sampler: an Optuna sampler instead of the seeded TPE one (must pickle with
            ``jobs > 1``). With TPE, a new study's first trial is the default settings
            (where they lie in the space); a sampler of yours chooses every trial.
        retrain: train the best trial's settings into ``out/best``.
        progress: print a line per finished trial and a bar over the trials.
        echo: prints a line (default: above the bar).

    Returns:
        A :class:`TuneResult`.

    Raises:
        UnknownNameError, ConfigError, DataError: for bad names, settings, ``--space``
            entries, data or ``out`` (a folder of other files, another study's folder,
            another command writing it), before any trial; ``ConfigError`` also when no
            trial completed (the reasons are in ``trials.csv``).
        KeyboardInterrupt: on Ctrl-C or SIGTERM, once the finished trials are stored
            and ``trials.csv`` written.
    """
    _check_numbers(trials, jobs, timeout, validation)
    deadline = None if timeout is None else time.time() + timeout
    out = Path(out) if out is not None else Path("runs") / f"tune-{model}-{dataset}-seed{seed}"
    folder_state(out)  # a file or a folder of other files is refused before any work
    fixed = (
        parse_overrides(list(overrides))
        if isinstance(overrides, Sequence) and not isinstance(overrides, str)
        else dict(overrides or {})
    )
    prune = PRUNERS[pruner]() if isinstance(pruner, str) else pruner
    problem = TuneProblem.bound_to_file(
        model=model, dataset=dataset, data_options=dict(data_options or {}), seed=seed,
        holdout=holdout, validation=validation, fixed=fixed,
        holdout_labels=None if holdout_labels is None else tuple(holdout_labels),
    )  # fmt: skip
    problem, data = resolve_problem(problem, _space_entries(space), default_space=default_space)
    where = StudyStorage.resolve(storage, out)
    name = study_name or f"{model}-{dataset}"
    # the embedded storage moves with the folder; another is named by where it is
    described = "embedded (study.db)" if storage is None else where.describe()
    request = {"study": name, "storage": described, **problem.signature()}
    say = echo or (lambda line: print(line, flush=True))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with run_lock(out, "tune"), sigterm_as_interrupt():
        continued = claim_folder(out, request)
        start = problem.start if sampler is None else {}  # a sampler of yours decides all
        study, backend = _create_study(where, name, problem.signature(), start)
        before = study.get_trials(deepcopy=False)
        if progress:
            space_text = " ".join(f"{k}={v}" for k, v in describe_space(problem.space).items())
            started = any(t.state != TrialState.WAITING for t in before)
            verb = "continues" if continued or started else "starts"
            say(
                f"tune {model} on {dataset}: study {name!r} in {where.describe()} {verb} with "
                f"{sum(map(counts, before))} of {trials} trials; {data.fit.n_groups} fit "
                f"groups, {data.validation.n_groups} validation groups; searching {space_text}"
            )
        plan = WorkerPlan(
            problem=problem, storage=where, study_name=name, n_trials=trials, deadline=deadline,
            seed=seed, pruner=prune, sampler=sampler, num_threads=1 if jobs > 1 else None,
        )  # fmt: skip
        reporter = Reporter(trials, before, echo=say if echo else None, bar=progress)

        def poll() -> None:
            if progress:
                reporter.update(study.get_trials(deepcopy=False))

        try:
            if jobs == 1:
                work(plan, 0, data=data, on_trial=poll)
            else:
                run_processes(plan, jobs, poll)
        except KeyboardInterrupt:
            reap(study, backend, study.get_trials(deepcopy=False), mine=True)
            poll()
            reporter.close()
            write_trials(study, out)
            kept = sum(map(counts, study.get_trials(deepcopy=False)))
            say(
                f"interrupted: {kept} finished trial(s) are kept in {where.describe()}; the "
                "same command continues the study"
            )
            raise
        reporter.close()
        return _finish(study, problem, out, retrain=retrain, say=say if progress else None)


def _finish(
    study: optuna.Study,
    problem: TuneProblem,
    out: Path,
    *,
    retrain: bool,
    say: Callable[[str], None] | None,
) -> TuneResult:
    """Write the table and figures, train the best trial again; see :func:`tune`."""
    all_trials = study.get_trials(deepcopy=False)
    write_trials(study, out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Optuna's notes on few trials
        figures = write_figures(study, out)
    best = best_of(all_trials)
    if say is not None:
        say(_summary(best, all_trials))
    result = TuneResult(study, out, best, None, None, trials=trials_table(study), figures=figures)
    if best is None:
        reasons = [t.user_attrs.get(FAIL_REASON) for t in all_trials]
        first = next((r for r in reasons if r), "see trials.csv")
        raise ConfigError(
            f"no trial of the study completed (first reason: {first}); every trial's reason "
            f"is in {out / 'trials.csv'}"
        )
    if not retrain:
        return result
    if say is not None and not kept_best(out, best_record(study, best)):
        say(f"training trial {best.number}'s settings again as a run in {out / BEST_RUN} ...")
    model, record = retrain_best(problem, best, out, study)
    result.run_dir, result.model, result.best_record = out / BEST_RUN, model, record
    if say is not None:
        value = record.get("run_holdout_elbo")
        number = (
            "no holdout estimate"
            if value is None or not math.isfinite(value)
            else (f"{record.get('run_estimator')} on its holdout groups: {value:.4f} nats")
        )
        kept = "kept" if model is None else "saved"
        say(f"{kept} {out / BEST_RUN} ({number}); next: groupvae evaluate {out / BEST_RUN}")
    return result


__all__ = ["DEFAULTS_ATTR", "PRUNERS", "TuneResult", "defaults_trial", "resolve_problem", "tune"]
