"""The random-intercept anchor against closed forms and statsmodels' MixedLM, and the
multilevel benchmark end to end on a tiny synthetic table."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from groupvae.evaluation.random_intercept import fit_random_intercept, group_stats


def synthetic(n_groups=40, d=1, seed=0):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 9, size=n_groups)
    group = np.repeat(np.arange(n_groups), sizes)
    b = rng.normal(0, 0.8, size=(n_groups, d))
    x = 1.0 + b[group] + rng.normal(0, 1.0, size=(len(group), d))
    return x, group


def test_log_likelihood_is_the_exact_multivariate_normal_of_each_group():
    from scipy.stats import multivariate_normal

    from groupvae.evaluation.random_intercept import RandomIntercept

    x, group = synthetic(6, d=2, seed=1)
    W = np.array([[1.0, 0.3], [0.3, 0.5]])
    B = np.array([[0.7, -0.2], [-0.2, 0.4]])
    m = np.array([0.5, -1.0])
    model = RandomIntercept(m, W, B, 0.0, True, 0)
    got = model.group_log_likelihoods(x, group)
    for i in range(6):
        xi = x[group == i]
        n = len(xi)
        cov = np.kron(np.eye(n), W) + np.kron(np.ones((n, n)), B)
        want = multivariate_normal(np.tile(m, n), cov).logpdf(xi.reshape(-1))
        assert got[i] == pytest.approx(want, rel=1e-10)


def test_group_stats_match_a_slow_loop():
    x, group = synthetic(5, d=2)
    stats = group_stats(x, group)
    for i in range(5):
        xi = x[group == i]
        dev = xi - xi.mean(0)
        np.testing.assert_allclose(stats.mean[i], xi.mean(0))
        np.testing.assert_allclose(stats.scatter[i], dev.T @ dev, atol=1e-12)


def test_fit_matches_statsmodels_mixedlm_converged():
    sm = pytest.importorskip("statsmodels.api")
    x, group = synthetic(40, d=1)
    ours = fit_random_intercept(x, group)
    assert ours.converged
    # statsmodels' L-BFGS stops at B = 0 on this set (llf inf, "converged"): use CG, and
    # require convergence to a finite optimum.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.MixedLM(x[:, 0], np.ones((len(x), 1)), groups=group).fit(
            reml=False, method=["cg"], maxiter=2000
        )
    assert ref.converged and np.isfinite(ref.llf)
    assert ours.mean[0] == pytest.approx(ref.fe_params[0], abs=1e-4)
    assert ours.within[0, 0] == pytest.approx(ref.scale, rel=1e-4)
    assert ours.between[0, 0] == pytest.approx(float(np.asarray(ref.cov_re)[0, 0]), rel=1e-4)
    assert ours.log_likelihood == pytest.approx(ref.llf, abs=1e-5)


def toy_schools(n_groups=24, seed=0):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 8, size=n_groups)
    school = np.repeat(np.arange(n_groups), sizes)
    b = rng.normal(0, 1, n_groups)[school]
    grade = np.clip(np.round((b + rng.normal(0, 1, len(school)) + 5) / 2) * 2, 0, 10)
    return pd.DataFrame({"school": school, "grade": grade, "gcse": b + rng.normal(0, 1, len(b))})


def test_prepare_drops_single_student_schools_and_dequantises_grids():
    from groupvae.benchmarks.multilevel import grid_step, prepare

    frame = toy_schools()
    assert grid_step(frame["grade"].to_numpy()) == 2.0 and grid_step(frame["gcse"]) is None
    kept, notes = prepare(frame, "school", ("grade", "gcse"), seed=0)
    singles = int((frame.groupby("school").size() == 1).sum())
    assert notes["single_student_schools_dropped"] == singles > 0
    assert kept.groupby("school").size().min() >= 2
    assert notes["dequantisation_step"] == {"grade": 2.0, "gcse": None}
    rounded = np.round((kept["grade"] - 1) / 2) * 2 + 1  # within one step of an even grade
    assert (np.abs(kept["grade"] - rounded) <= 1).all()


def test_benchmark_prints_its_table_on_a_tiny_table(tmp_path):
    from groupvae.benchmarks.multilevel import MultilevelBenchmark, run_benchmark

    bench = MultilevelBenchmark(
        datasets=("toy",), models=("vae", "mlvae"), splits=(0, 1), n_samples=4,
        overrides={"epochs": 1, "hidden": 8},
    )  # fmt: skip
    lines: list[str] = []
    summary = run_benchmark(
        bench,
        tmp_path,
        echo=lines.append,
        frames={"toy": (toy_schools(), "school", ("grade", "gcse"))},
    )
    assert set(summary.model) == {"random-intercept", "vae", "mlvae"}
    assert (summary.splits == 2).all() and np.isfinite(summary["mean"]).all()
    assert "| toy | mlvae |" in lines[-2] and (tmp_path / "table.md").is_file()
    anchor = summary[summary.model == "random-intercept"]
    assert float(anchor.gap_mean.iloc[0]) == 0.0
    assert "| toy | mlvae |" in (tmp_path / "table.md").read_text()
    runs = pd.read_csv(tmp_path / "results.csv")
    assert len(runs) == 6 and {"dataset", "model", "seed", "gap", "seconds"} <= set(runs.columns)


def _counting(calls: list[str]):
    def task(bench, source, *model, seed, run_dir):
        calls.append(f"{model[0] if model else 'anchor'}-{seed}")
        return {
            "log_likelihood_per_student": -1.0 - seed - len(model),
            "epochs": 1,
            "best_epoch": 1,
        }

    return task


def test_the_benchmark_resumes_and_takes_jobs_through_the_cli(monkeypatch, tmp_path):
    """A second call with the same settings reruns nothing; another split runs only its
    own runs; ``--jobs`` is an option of ``groupvae benchmark multilevel``."""
    from typer.testing import CliRunner

    import groupvae.benchmarks.multilevel as multilevel
    from groupvae.cli import app

    frame = toy_schools().rename(columns={"school": "primary", "grade": "attain"})
    monkeypatch.setattr(multilevel, "load_source", lambda name: frame.rename(
        columns={"gcse": "verbal"}))  # fmt: skip
    args = ["benchmark", "multilevel", "--datasets", "ScotsSec", "--models", "vae",
            "--jobs", "1", "--set", "epochs=1", "--set", "hidden=8",
            "--out", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--splits", "1"])
    assert result.exit_code == 0, result.output
    assert "| ScotsSec | vae |" in result.output
    calls: list[str] = []
    monkeypatch.setattr(multilevel, "_model_task", _counting(calls))
    monkeypatch.setattr(multilevel, "_anchor_task", _counting(calls))
    result = CliRunner().invoke(app, [*args, "--splits", "1"])
    assert result.exit_code == 0, result.output
    assert calls == [] and "reusing 2 finished run(s)" in result.output
    result = CliRunner().invoke(app, [*args, "--splits", "2"])
    assert result.exit_code == 0, result.output
    assert sorted(calls) == ["anchor-1", "vae-1"]
    runs = pd.read_csv(tmp_path / "results.csv")
    assert list(runs.seed) == [0, 1, 0, 1] and list(runs.model[:2]) == ["random-intercept"] * 2
    assert runs.gap[3] == pytest.approx(-1.0)  # the fake rows of split 1: -3 minus -2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--datasets", "Nope"], "unknown data set(s) ['Nope']; known: ScotsSec, Chem97"),
        (["--models", "vae,nope"], "unknown model 'nope'"),
    ],
)
def test_benchmark_command_refuses_bad_names_before_training(args, message):
    from typer.testing import CliRunner

    from groupvae.cli import app

    result = CliRunner().invoke(app, ["benchmark", "multilevel", *args])
    assert result.exit_code == 2 and message in result.output
