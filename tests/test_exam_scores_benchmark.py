"""Tiny end-to-end runs of the Exam-Scores benchmark (CxVAE Tables 1-2, Fig. 3 and 5)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from groupvae.benchmarks.exam_scores import (
    ABLATION,
    BAYES,
    METRIC_NAMES,
    ExamScoresBenchmark,
    run_benchmark,
)
from groupvae.data.exam_scores import make_exam_scores
from groupvae.errors import ConfigError
from groupvae.evaluation.bayes_oracle import exam_scores_posterior, oracle_decode
from groupvae.evaluation.exam_scores import bayes_optimal_metrics, score_codes
from groupvae.models import build_config


def test_a_tiny_run_writes_the_tables_and_figures_in_process(tmp_path):
    bench = ExamScoresBenchmark(
        models=("vae", "mlvae"), seeds=(0,), n_groups=200, epochs=2, jobs=1, curve_groups=20
    )
    lines: list[str] = []
    runs = run_benchmark(bench, tmp_path, echo=lines.append)
    assert list(runs["model"]) == ["vae", "mlvae", BAYES]
    assert runs[list(METRIC_NAMES)].notna().any().all()
    for name in ("results.json", "results.csv", "table.md", "translation.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "errors_by_epoch.png").stat().st_size > 0
    curves = pd.read_csv(tmp_path / "runs" / "mlvae-seed0" / "epoch_errors.csv")
    assert list(curves["epoch"]) == [1, 2] and set(METRIC_NAMES) <= set(curves.columns)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["settings"]["n_groups"] == 200
    table = (tmp_path / "table.md").read_text()
    assert "| mlvae |" in table and "| Bayes-optimal (exact posterior) |" in table
    bayes = runs.set_index("model").loc[BAYES]
    mlvae = runs.set_index("model").loc["mlvae"]
    gap = mlvae["v_prediction_error"] - bayes["v_prediction_error"]
    assert f"v {gap:+.1f}" in table


def test_a_second_call_with_the_same_settings_trains_nothing(tmp_path):
    bench = ExamScoresBenchmark(
        models=("mlvae",), seeds=(0,), n_groups=120, epochs=1, jobs=1, curve_every=0
    )
    first = run_benchmark(bench, tmp_path, echo=lambda *_: None)
    weights = next((tmp_path / "runs" / "mlvae-seed0").rglob("*.safetensors"))
    stamp = weights.stat().st_mtime_ns
    lines: list[str] = []
    again = run_benchmark(bench, tmp_path, echo=lines.append)
    assert "reusing 2 finished run(s)" in lines[0]
    assert weights.stat().st_mtime_ns == stamp  # not retrained
    assert again[list(METRIC_NAMES)].equals(first[list(METRIC_NAMES)])
    summary = json.loads((tmp_path / "results.json").read_text())["summary"]
    assert summary["mlvae"]["translation_error_mean"] == first["translation_error"].iloc[0]
    assert not (tmp_path / "runs" / "mlvae-seed0" / "epoch_errors.csv").exists()


def test_the_ablation_replaces_one_part_of_cxvae_at_a_time():
    cxvae = build_config("cxvae", dataset="exam-scores")
    for name, parts in ABLATION.items():
        variant = build_config("cxvae", dataset="exam-scores", **parts)
        changed = {
            f.name
            for f in dataclasses.fields(cxvae)
            if getattr(variant, f.name) != getattr(cxvae, f.name)
        }
        assert changed == set(parts), name
        assert len(parts) <= 1


def test_the_paper_protocol_averages_the_sampled_errors_over_its_epochs(tmp_path):
    bench = dataclasses.replace(
        ExamScoresBenchmark.paper(epochs=3),
        models=("mlvae",), seeds=(0,), n_groups=120, jobs=1, curve_groups=10,
        data={"noise_std": 0.0},
    )  # fmt: skip
    assert bench.average_epochs == (1, 3) and bench.overrides == {"lr": 1e-4}
    assert ExamScoresBenchmark.paper().average_epochs == (44, 64)
    runs = run_benchmark(bench, tmp_path, echo=lambda *_: None).set_index("model")
    curves = pd.read_csv(tmp_path / "runs" / "mlvae-seed0" / "epoch_errors.csv")
    for metric in METRIC_NAMES:
        assert runs.loc["mlvae", metric] == pytest.approx(curves[metric].mean())
        assert np.isfinite(runs.loc["mlvae", f"final_{metric}"])
    assert np.isfinite(runs.loc[BAYES, "final_v_prediction_error"])


def test_bad_benchmark_settings_name_the_fix():
    with pytest.raises(ConfigError, match="table must be"):
        ExamScoresBenchmark(table="3")
    with pytest.raises(ConfigError, match="average_epochs"):
        ExamScoresBenchmark(epochs=10, average_epochs=(44, 64))


def test_the_oracle_is_scored_by_the_models_scorer_and_beats_a_worse_posterior():
    """Same targets and halves for every scorer; shrinking the exact posterior's v (a
    worse estimator) raises the direct v error and the translation error."""
    data = make_exam_scores(300, noise_std=1.0, seed=2)
    limit = bayes_optimal_metrics(data, noise_std=1.0, seed=0)
    post = exam_scores_posterior(data.x, data.group, noise_std=1.0)
    again = score_codes(post.group_code, post.instance_code, oracle_decode, data, seed=0)
    for metric in METRIC_NAMES:
        assert again[metric] == limit[metric]
    worse = post.instance_code * np.array([0.7, 1.0])
    shrunk = score_codes(post.group_code, worse, oracle_decode, data, seed=0)
    assert shrunk["translation_error"] > limit["translation_error"]
    # sigma's sign is unknowable, E[sigma | x] = 0: its half of the error is E[sigma^2]
    mu_err = np.mean((post.mu - data.u[:, 0]) ** 2)
    expected = 50.0 * (mu_err + np.mean(data.u[:, 1] ** 2))
    assert limit["u_prediction_error_direct"] == pytest.approx(expected)


def test_the_cli_runs_the_paper_protocol_on_noise_free_data_and_refuses_bad_choices(tmp_path):
    from typer.testing import CliRunner

    from groupvae.cli import app

    runner = CliRunner()
    args = ["benchmark", "exam-scores", "--models", "mlvae", "--seeds", "1", "--groups", "60"]
    out = tmp_path / "paper"
    result = runner.invoke(
        app, [*args, "--protocol", "paper", "--epochs", "2", "--data", "noise_std=0",
              "--jobs", "1", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "results.json").read_text())["settings"]
    assert settings["data"] == {"noise_std": 0}
    assert settings["overrides"]["lr"] == 1e-4 and settings["average_epochs"] == [1, 2]
    for bad, message in (("--table", "table must be"), ("--protocol", "--protocol must be")):
        result = runner.invoke(app, [*args, bad, "nope", "--out", str(tmp_path / "x")])
        assert result.exit_code == 2 and message in result.output


def test_the_fast_protocol_trains_fewer_epochs_at_an_annealed_rate_and_takes_set(tmp_path):
    from typer.testing import CliRunner

    from groupvae.cli import app

    fast = ExamScoresBenchmark.fast()
    assert (fast.epochs, fast.protocol, fast.seeds) == (10, "fast", (0, 1, 2))
    assert fast.overrides == {"lr": 5e-3, "lr_schedule": "cosine"}
    out = tmp_path / "fast"
    result = CliRunner().invoke(
        app, ["benchmark", "exam-scores", "--protocol", "fast", "--models", "mlvae",
              "--seeds", "1", "--groups", "60", "--epochs", "1", "--jobs", "1",
              "--set", "lr=2e-3", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "results.json").read_text())["settings"]
    assert settings["protocol"] == "fast" and settings["epochs"] == 1
    assert settings["overrides"]["lr_schedule"] == "cosine"  # yours on top of the protocol's
    run = out / "runs" / "mlvae-seed0"
    trained = json.loads((run / "metadata.json").read_text())["train_config"]
    assert (trained["lr"], trained["lr_schedule"], trained["epochs"]) == (2e-3, "cosine", 1)
