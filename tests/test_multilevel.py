"""The random-intercept anchor against closed forms and statsmodels' MixedLM, and the
multilevel benchmark end to end on a tiny synthetic table."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from groupvae.evaluation.random_intercept import fit_random_intercept, group_stats


def fast_training() -> dict[str, int]:
    """One epoch of a tiny model, capped at two optimiser steps."""
    return {"epochs": 1, "hidden": 8, "max_steps": 2}


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
    year = rng.integers(0, 4, len(school)) - 1.5  # -1.5, -0.5, 0.5, 1.5: a grid of step 1
    gcse = b + 0.3 * year + rng.normal(0, 1, len(b))
    return pd.DataFrame({"school": school, "grade": grade, "gcse": gcse, "year": year})


def test_grid_steps_are_integer_steps_from_the_smallest_value():
    from groupvae.benchmarks.multilevel import describe_column, grid_step

    frame = toy_schools()
    assert grid_step(frame["grade"].to_numpy()) == 2.0 and grid_step(frame["gcse"]) is None
    assert grid_step(frame["year"]) == 1.0  # on -1.5 + k, not on the integers
    assert grid_step(np.array([140.5, 143.4, 150.2])) is None  # recorded to 0.1: continuous
    assert grid_step(np.array([1.0, 1.0])) is None
    assert describe_column(2.0) == "dequantised, step 2" and describe_column(None) == "continuous"


def test_prepare_drops_missing_rows_and_single_member_groups_and_dequantises_grids():
    from groupvae.benchmarks.multilevel import prepare

    frame = toy_schools()
    frame.loc[[0, 5], "gcse"] = np.nan
    kept, notes = prepare(frame, "school", ("grade", "gcse"), seed=0)
    present = frame.dropna()
    singles = int((present.groupby("school").size() == 1).sum())
    assert notes["missing_rows_dropped"] == 2
    assert notes["single_member_groups_dropped"] == singles > 0
    assert notes["groups_kept"] == present.school.nunique() - singles and not notes["subsampled"]
    assert kept.groupby("school").size().min() >= 2 and kept.notna().all().all()
    assert notes["dequantisation_step"] == {"grade": 2.0, "gcse": None}
    assert notes["columns"] == {"grade": "dequantised, step 2", "gcse": "continuous"}
    rounded = np.round((kept["grade"] - 1) / 2) * 2 + 1  # within one step of an even grade
    assert (np.abs(kept["grade"] - rounded) <= 1).all()
    assert np.unique(kept["grade"]).size == len(kept)  # dequantised: no ties left
    again, _ = prepare(frame, "school", ("grade", "gcse"), seed=0)
    pd.testing.assert_frame_equal(kept, again)  # seeded


def test_prepare_subsamples_groups_seeded_by_the_split():
    from groupvae.benchmarks.multilevel import prepare

    frame = toy_schools(60)
    a, notes = prepare(frame, "school", ("grade", "gcse"), seed=0, max_groups=10)
    b, _ = prepare(frame, "school", ("grade", "gcse"), seed=1, max_groups=10)
    assert notes["subsampled"] and notes["groups_kept"] == a.school.nunique() == 10
    assert notes["observations_kept"] == len(a) and notes["groups"] == 60
    assert set(a.school) != set(b.school)


def test_benchmark_prints_its_table_on_a_tiny_table(tmp_path):
    from groupvae.benchmarks.multilevel import MultilevelBenchmark, run_benchmark

    bench = MultilevelBenchmark(
        datasets=("toy", "flat"), models=("vae", "mlvae"), splits=(0, 1), n_samples=4, jobs=1,
        overrides=fast_training(),
    )  # fmt: skip
    lines: list[str] = []
    frames = {
        "toy": (toy_schools(), "school", ("grade", "gcse", "year"), "year"),
        "flat": (toy_schools(seed=1), "school", ("grade", "gcse")),  # no predictor
    }
    summary = run_benchmark(bench, tmp_path, echo=lines.append, frames=frames)
    toy, flat = summary[summary.dataset == "toy"], summary[summary.dataset == "flat"]
    assert list(toy.model) == ["random-intercept", "random-slope", "vae", "mlvae"]
    assert list(flat.model) == ["random-intercept", "vae", "mlvae"]  # no slope to fit
    assert (summary.splits == 2).all()
    scores = ["joint", "conditional", "joint_gap", "conditional_gap", "train_seconds"]
    assert np.isfinite(summary[scores].to_numpy()).all()
    anchor = summary[summary.model == "random-intercept"]
    assert (anchor[["joint_gap", "conditional_gap"]].to_numpy() == 0).all()
    runs = pd.read_csv(tmp_path / "results.csv")
    assert len(runs) == 2 * 7
    assert {"dataset", "model", "seed", "joint", "conditional", "joint_gap",
            "conditional_gap", "train_seconds", "seconds"} <= set(runs.columns)  # fmt: skip
    table = (tmp_path / "table.md").read_text()
    assert "| toy | mlvae |" in table and "| toy | random-slope |" in table
    assert "`grade` dequantised, step 2; `gcse` continuous; `year` dequantised, step 1" in table
    assert "14 runs; fitting" in table
    assert any("| flat | vae |" in line for line in lines)
    record = json.loads((tmp_path / "results.json").read_text())
    assert record["notes"]["toy/split1"]["columns"]["year"] == "dequantised, step 1"
    assert "nats per observation" in record["units"]


def test_every_model_sees_the_same_rows_and_held_out_members():
    """The anchors score the rows the VAEs score: the raw test rows are the test set's
    rows mapped back through the standardisation, and the held-out members are one per
    scored group, drawn per split."""
    from groupvae.benchmarks.multilevel import MultilevelBenchmark, Source, split_data

    bench = MultilevelBenchmark(max_groups=15)
    source = Source(toy_schools(40), "school", ("grade", "gcse"))
    split = split_data(bench, source, seed=0)
    back = split.test.transform.inverse(split.test.x)
    np.testing.assert_allclose(back, split.test_raw, rtol=1e-5, atol=1e-5)
    assert (np.bincount(split.test.group[split.held]) == 1).all()
    assert split.notes["groups_kept"] == 15
    assert split.notes["test_groups"] == split.test.n_groups == 3
    other = split_data(bench, source, seed=1)
    assert not np.array_equal(other.test_raw, split.test_raw)


def _counting(calls: list[str]):
    def task(bench, source, name, *, seed, run_dir):
        calls.append(f"{name}-{seed}")
        return {"joint": -1.0 - seed - len(name), "conditional": -2.0, "train_seconds": 0.0,
                "epochs": 1, "best_epoch": 1}  # fmt: skip

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
    sets = [a for k, v in fast_training().items() for a in ("--set", f"{k}={v}")]
    args = ["benchmark", "multilevel", "--datasets", "ScotsSec", "--models", "vae",
            "--jobs", "1", *sets, "--out", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--splits", "1"])
    assert result.exit_code == 0, result.output
    assert "| ScotsSec | vae |" in result.output and "| ScotsSec | random-slope |" in result.output
    calls: list[str] = []
    monkeypatch.setattr(multilevel, "_model_task", _counting(calls))
    monkeypatch.setattr(multilevel, "_anchor_task", _counting(calls))
    result = CliRunner().invoke(app, [*args, "--splits", "1"])
    assert result.exit_code == 0, result.output
    assert calls == [] and "reusing 3 finished run(s)" in result.output
    result = CliRunner().invoke(app, [*args, "--splits", "2"])
    assert result.exit_code == 0, result.output
    assert sorted(calls) == ["random-intercept-1", "random-slope-1", "vae-1"]
    runs = pd.read_csv(tmp_path / "results.csv")
    assert list(runs.seed) == [0, 1, 0, 1, 0, 1]
    assert list(runs.model[::2]) == ["random-intercept", "random-slope", "vae"]
    # the fake rows of split 1: vae -1 - 1 - 3 = -5 minus random-intercept's -1 - 1 - 16
    assert runs.joint_gap[5] == pytest.approx(13.0) and runs.conditional_gap[5] == 0.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--datasets", "Nope"], "unknown data set(s) ['Nope']; known: sleepstudy, Oxboys"),
        (["--models", "vae,nope"], "unknown model 'nope'"),
    ],
)
def test_benchmark_command_refuses_bad_names_before_training(args, message):
    from typer.testing import CliRunner

    from groupvae.cli import app

    result = CliRunner().invoke(app, ["benchmark", "multilevel", *args])
    assert result.exit_code == 2 and message in result.output


def test_tuned_rows_tune_on_the_training_groups_only_and_report_the_gain(tmp_path):
    """``tune_seconds`` adds a ``MODEL+tuned`` row per model: a study on the split's
    training and validation groups (never its scored groups), its best settings trained
    and scored as the defaults are, and a tuning table of defaults against tuned."""
    pytest.importorskip("optuna")
    from groupvae.benchmarks.multilevel import (
        MultilevelBenchmark,
        Source,
        run_benchmark,
        split_frames,
    )

    bench = MultilevelBenchmark(
        datasets=("toy",), models=("mlvae",), splits=(0,), n_samples=4, jobs=1,
        overrides=fast_training(), tune_seconds=60.0, tune_trials=3,
    )  # fmt: skip
    source = Source(toy_schools(), "school", ("grade", "gcse"))
    summary = run_benchmark(bench, tmp_path, echo=lambda line: None, frames={"toy": source})
    assert list(summary.model) == ["random-intercept", "mlvae", "mlvae+tuned"]
    assert np.isfinite(summary[["joint", "conditional", "joint_gap"]].to_numpy()).all()
    row = pd.read_csv(tmp_path / "results.csv").set_index("model").loc["mlvae+tuned"]
    assert row.trials == 3 and row.best_trial in (0, 1, 2)
    assert row.validation_best >= row.validation_defaults  # trial 0 is the defaults
    run = tmp_path / "runs" / "toy-mlvae-tuned-seed0"
    tuned_on = pd.read_csv(run / "training-groups.csv")
    frames = split_frames(bench, source, 0)
    assert set(tuned_on.school) == set(frames.train.school) | set(frames.val.school)
    assert not set(tuned_on.school) & set(frames.test.school)
    assert len(pd.read_csv(run / "study" / "trials.csv")) == 3
    table = (tmp_path / "table.md").read_text()
    assert "| toy | mlvae | 0 |" in table and "validation ELBO: defaults -> best" in table


def test_benchmark_refuses_a_tuning_budget_that_is_not_positive():
    from typer.testing import CliRunner

    from groupvae.cli import app

    result = CliRunner().invoke(app, ["benchmark", "multilevel", "--tune-seconds", "0"])
    assert result.exit_code == 2 and "--tune-seconds must be > 0, got 0.0" in result.output
