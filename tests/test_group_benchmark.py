"""The group-analyses benchmark: the simulator plants what it says, each score against a
hand-computed answer, the pseudobulk baselines on known cases, and a tiny run end to end
through the shared runner (synthetic frames stand in for the real tables)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ttest_ind

from groupvae.benchmarks.group_analyses import (
    REAL_TABLES,
    GroupAnalysesBenchmark,
    model_data,
    real_data,
    run_benchmark,
    simulate,
    simulation_settings,
)
from groupvae.data.simulated_groups import simulate_groups
from groupvae.errors import DataError
from groupvae.evaluation.groups.pseudobulk import (
    pseudobulk_clusters,
    pseudobulk_differential,
    pseudobulk_isolation,
)
from groupvae.evaluation.groups.scores import adjusted_rand, auroc, recall_at_k


# ------------------------------------------------------------------ simulator
def test_the_simulator_plants_clusters_sets_and_outliers_as_it_says():
    sim = simulate_groups("gaussian", group_size=3, groups_per_cluster=8, n_outliers=3, seed=4)
    data = sim.data
    assert data.n_groups == 27 and (data.group_sizes == 3).all()
    np.testing.assert_array_equal(np.bincount(sim.cluster), [9, 9, 9])  # 8 + 1 outlier each
    np.testing.assert_array_equal(sim.outliers, [24, 25, 26])
    assert sim.regular.sum() == 24 and not sim.regular[sim.outliers].any()
    # the sets: disjoint, no outlier, 4 groups of each cluster in each
    assert not np.intersect1d(sim.set_a, sim.set_b).size
    assert not np.isin(sim.outliers, np.r_[sim.set_a, sim.set_b]).any()
    np.testing.assert_array_equal(np.bincount(sim.cluster[sim.set_a]), [4, 4, 4])
    np.testing.assert_array_equal(np.bincount(sim.cluster[sim.set_b]), [4, 4, 4])
    # an outlier sits about shift x spread (6 x 0.25) from its cluster's regular groups'
    # centre, farther than every regular group from its own
    z = data.u.astype(np.float64)
    centre = np.stack([z[sim.regular & (sim.cluster == k)].mean(0) for k in range(3)])
    away = np.linalg.norm(z - centre[sim.cluster], axis=1)
    assert away[sim.outliers].min() > away[sim.regular].max()
    assert away[sim.outliers] == pytest.approx(np.full(3, 6 * 0.25), abs=3 * 0.25)
    assert list(data.group_ids[:2]) == ["g000", "g001"] and sim.validation.n_groups == 12


def test_only_the_planted_features_differ_between_the_sets_by_the_effect():
    # noise-free, without instance factors: x is exactly the group level
    sim = simulate_groups("gaussian", group_size=2, noise_std=0.0, instance_scale=0.0,
                          n_differential=4, effect=0.7, seed=1)  # fmt: skip
    np.testing.assert_allclose(sim.data.x, sim.level[sim.data.group], atol=1e-5)
    # level = z W + [g in A] c: least squares over the regular groups recovers c
    reg = np.flatnonzero(sim.regular)
    in_a = np.isin(reg, sim.set_a).astype(float)[:, None]
    design = np.c_[sim.data.u[reg].astype(np.float64), in_a]
    coef, *_ = np.linalg.lstsq(design, sim.level[reg], rcond=None)
    c = coef[-1]
    assert sim.differential.sum() == 4
    np.testing.assert_allclose(np.abs(c[sim.differential]), 0.7, atol=1e-6)  # u is float32
    np.testing.assert_allclose(c[~sim.differential], 0.0, atol=1e-6)


def test_counts_are_negative_binomial_counts_at_the_library_size():
    sim = simulate_groups("counts", group_size=50, library_size=400.0, seed=2)
    x = sim.data.x
    assert (x == np.round(x)).all() and (x >= 0).all()
    # median library size 400 (log-normal spread 0.3 around it)
    assert np.median(x.sum(1)) == pytest.approx(400, rel=0.1)
    again = simulate_groups("counts", group_size=50, library_size=400.0, seed=2)
    np.testing.assert_array_equal(again.data.x, x)


def test_the_simulator_refuses_bad_settings():
    with pytest.raises(DataError, match="kind must be one of gaussian, counts"):
        simulate_groups("images")
    with pytest.raises(DataError, match="n_differential"):
        simulate_groups(n_features=6, n_differential=6)
    with pytest.raises(DataError, match="unknown simulation setting"):
        simulation_settings(GroupAnalysesBenchmark(simulation={"nope": 1}))


# --------------------------------------------------------------------- scores
def test_adjusted_rand_by_hand():
    # the same partition under other names
    assert adjusted_rand([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 9, 9]) == 1.0
    # truth {01}{23}, found {012}{3}: index sum C(n_ij, 2) = 1, rows 1 + 1 = 2, columns
    # C(3, 2) = 3, expected 2 * 3 / C(4, 2) = 1, max (2 + 3) / 2: ARI (1 - 1) / 1.5 = 0
    assert adjusted_rand([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(0.0, abs=1e-12)


def test_recall_at_k_by_hand():
    scores = np.array([5.0, 1.0, 4.0, 3.0, 2.0])
    assert recall_at_k(scores, [0, 3]) == 0.5  # top 2: groups 0 and 2
    assert recall_at_k(scores, [0, 3], k=3) == 1.0  # top 3: 0, 2, 3
    assert recall_at_k(scores, [1]) == 0.0
    assert recall_at_k(np.zeros(4), [0]) == 1.0  # ties: the lower index first
    with pytest.raises(DataError, match="k must be from 1"):
        recall_at_k(scores, [0], k=6)
    with pytest.raises(DataError, match="planted must name"):
        recall_at_k(scores, [])


def test_auroc_by_hand():
    # positives 0.9, 0.3; negatives 0.8, 0.5, 0.1: 0.9 beats all 3, 0.3 beats 0.1 only
    assert auroc([0.9, 0.8, 0.3, 0.5, 0.1], [1, 0, 1, 0, 0]) == pytest.approx(4 / 6)
    # a tie counts one half: (0.5 + 1) / 2
    assert auroc([1.0, 1.0, 0.0], [1, 0, 0]) == pytest.approx(0.75)
    with pytest.raises(DataError, match="positives and negatives"):
        auroc([1.0, 2.0], [1, 1])


# ---------------------------------------------------------- pseudobulk baselines
def test_pseudobulk_baselines_on_known_cases():
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1, 2], 10)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    profiles = centres[truth] + rng.normal(0, 0.3, (30, 3))
    assert adjusted_rand(truth, pseudobulk_clusters(profiles, n_clusters=3)) == 1.0
    # one far-off group is the most isolated
    far = np.r_[profiles, [[0.0, 0.0, 12.0]]]
    z = pseudobulk_isolation(far, k=3)
    assert np.argmax(z) == 30 and z[30] > 3.5


def test_pseudobulk_welch_t_by_hand():
    # feature 0: A {1, 3} (mean 2, var 2), B {0, 0} -> diff 2, se sqrt(2/2) = 1, t = 2
    # feature 1: A {0, 0}, B {0, 2} (mean 1, var 2) -> diff -1, se 1, t = -1
    # feature 2: constant -> t = 0
    profiles = np.array([[1.0, 0.0, 4.0], [3.0, 0.0, 4.0], [0.0, 0.0, 4.0], [0.0, 2.0, 4.0]])
    table = pseudobulk_differential(profiles, [0, 1], [2, 3])
    np.testing.assert_allclose(table["difference"], [2.0, -1.0, 0.0])
    np.testing.assert_allclose(table["t"], [2.0, -1.0, 0.0])
    rng = np.random.default_rng(1)
    p = rng.normal(size=(12, 5))
    scipy_t = ttest_ind(p[:5], p[5:], equal_var=False).statistic
    np.testing.assert_allclose(pseudobulk_differential(p, range(5), range(5, 12))["t"], scipy_t)
    with pytest.raises(DataError, match="both sets"):
        pseudobulk_differential(profiles, [0, 1], [1, 2])


# ------------------------------------------------------------ the benchmark
def toy_radon(n_counties: int = 30, seed: int = 0) -> pd.DataFrame:
    """A frame with radon's columns: houses in counties, the county's uranium shifting
    their log radon."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 7, n_counties)
    county = np.repeat(np.arange(1, n_counties + 1), sizes)
    uranium = rng.normal(0, 1, n_counties)
    basement = rng.integers(0, 2, len(county))
    radon = 1 + 0.8 * uranium[county - 1] + 0.5 * basement + rng.normal(0, 0.5, len(county))
    return pd.DataFrame({"log.radon": radon, "basement": basement,
                         "uranium": uranium[county - 1], "county": county})  # fmt: skip


def test_real_data_reads_features_and_group_level_covariates():
    frame = toy_radon()
    data, covariates = real_data(REAL_TABLES["radon"], frame)
    assert data.n_groups == 30 and data.n_obs == len(frame)
    expected = frame.groupby("county")["uranium"].first().to_numpy()
    np.testing.assert_allclose(covariates["uranium"].to_numpy(), expected)
    bad = frame.assign(uranium=np.arange(len(frame), dtype=float))
    with pytest.raises(DataError, match="vary within county"):
        real_data(REAL_TABLES["radon"], bad)


def test_a_gaussian_table_is_standardised_as_the_table_reader_does():
    bench = GroupAnalysesBenchmark(simulation={"groups_per_cluster": 3, "n_validation": 3})
    sim = simulate(bench, "gaussian", 4, "high", seed=0)
    data, validation = model_data(sim)
    np.testing.assert_allclose(data.x.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.x.std(0), 1.0, atol=1e-4)
    np.testing.assert_array_equal(data.group_ids, sim.data.group_ids)
    mean, std = sim.data.x.mean(0), sim.data.x.std(0)  # the scored groups' units
    np.testing.assert_allclose(validation.x, (sim.validation.x - mean) / std, atol=1e-4)


def test_a_tiny_benchmark_runs_end_to_end_and_resumes(tmp_path):
    bench = GroupAnalysesBenchmark(
        sizes=(4,), noises=("high",), datasets=("radon",), seeds=(0,), jobs=1,
        simulation={"groups_per_cluster": 4, "n_features": 8, "n_differential": 2,
                    "n_validation": 3},
        n_samples=4, differential_samples=50, overrides={"max_steps": 10},
    )  # fmt: skip
    lines: list[str] = []
    runs = run_benchmark(bench, tmp_path, echo=lines.append, frames={"radon": toy_radon()})
    record = json.loads((tmp_path / "results.json").read_text())
    assert record["complete"] and record["benchmark"] == "group-analyses"
    assert record["simulation"]["n_features"] == 8 and record["simulation"]["shift"] == 6.0
    models = {(r["data"], r["model"]) for r in record["runs"]}
    expected = {(k, m) for k in ("gaussian", "counts") for m in ("mlvae", "pseudobulk", "oracle")}
    assert models == expected | {("radon", "mlvae"), ("radon", "pseudobulk")}
    sim = runs[runs["noise"] != "real"]
    for score in ("ari", "recall", "auroc"):
        assert sim[score].between(-0.5, 1.0).all()
    # the oracle scores the true levels: noise-free, every answer found
    oracle = sim[sim["model"] == "oracle"]
    assert (oracle["recall"] == 1.0).all() and (oracle["auroc"] == 1.0).all()
    real = runs[runs["noise"] == "real"].set_index("model")
    assert real.loc["pseudobulk", "metric:uranium"] == "r2"
    assert real.loc["pseudobulk", "cov:uranium"] > 0.5  # uranium drives the county means
    table = (tmp_path / "table.md").read_text()
    assert "| gaussian | 4 | high |" in table and "| radon | 30 |" in table
    assert "recall among the top 3" in table and "(2 of 8 features planted)" in table
    assert (tmp_path / "group_analyses.png").is_file()
    # the same command again reuses every finished run
    lines.clear()
    run_benchmark(bench, tmp_path, echo=lines.append, frames={"radon": toy_radon()})
    assert any("reusing 8 finished run(s)" in line for line in lines)
    assert not any(line.startswith("[") for line in lines)


def test_the_command_line_options_choose_sizes_and_real_tables():
    from groupvae.benchmarks.catalog import BENCHMARKS
    from groupvae.errors import ConfigError

    bench = BENCHMARKS["group-analyses"]
    settings = bench.configure("quick", sizes="2, 20", datasets="none", seeds=2)
    assert settings.sizes == (2, 20) and settings.datasets == () and settings.seeds == (0, 1)
    assert bench.configure(datasets="InstEval,radon").datasets == ("InstEval", "radon")
    with pytest.raises(ConfigError, match="--sizes must be whole numbers"):
        bench.configure(sizes="2,x")
    with pytest.raises(ConfigError, match="unknown real table"):
        bench.configure(datasets="ScotsSec")
