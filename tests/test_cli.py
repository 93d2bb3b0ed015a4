"""The command line: every command runs, and bad input ends in one line, exit status 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from groupvae.cli import app

runner = CliRunner()
TINY = ["--data", "n_groups=40", "--epochs", "1", "--set", "hidden=8", "--set", "progress=false"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_list_names_every_model_part_and_dataset():
    result = invoke("list")
    assert result.exit_code == 0
    for name in ("vae", "mlvae", "gvae", "gvae-adv", "cxvae", "deepsets", "exam-scores", "mnist"):
        assert name in result.output


def test_train_then_evaluate_writes_the_exam_scores_metrics(tmp_path):
    run = tmp_path / "run"
    result = invoke("train", "cxvae", "exam-scores", "--out", str(run), *TINY)
    assert result.exit_code == 0, result.output
    assert (run / "weights.safetensors").is_file() and (run / "history.csv").is_file()
    result = invoke("evaluate", str(run), "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("reconstruction_error", "translation_error", "u_prediction_error"):
        assert metrics[key] > 0
    assert json.loads(result.output)["v_prediction_error"] == metrics["v_prediction_error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "nope", "exam-scores"], "unknown model 'nope'"),
        (["train", "mlvae", "nope"], "unknown dataset 'nope'"),
        (["train", "mlvae", "exam-scores", "--set", "hiden=3"], "unknown setting"),
        (["train", "mlvae", "exam-scores", "--set", "group_encoder=nope"], "unknown group encoder"),
        (["train", "mlvae", "exam-scores", "--set", "lr"], "key=value"),
        (["train", "mlvae", "mnist", "--holdout-labels", "a,b"], "integers"),
        (["evaluate", "/nonexistent/run"], "does not exist"),
        (["benchmark", "exam-scores", "--models", "vae,nope"], "unknown model 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_plot_draws_from_a_saved_run_and_refuses_unknown_kinds(tmp_path):
    run = tmp_path / "run"
    assert invoke("train", "mlvae", "exam-scores", "--out", str(run), *TINY).exit_code == 0
    result = invoke("plot", "translation", str(run))
    assert result.exit_code == 0, result.output
    assert (run / "translation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = invoke("plot", "nope", str(run))
    assert result.exit_code == 2 and "unknown plot 'nope'" in result.output


def test_cpvae_trains_and_evaluates_through_the_cli(tmp_path):
    run = tmp_path / "cp"
    args = ["--epochs", "1", "--data", "n=300", "--set", "hidden=16"]
    result = invoke("train", "cpvae", "grassy-mnist", "--out", str(run), *args)
    assert result.exit_code == 0, result.output
    result = invoke("evaluate", str(run), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "metrics.json").read_text())


def test_cpvae_benchmark_refuses_unknown_settings_before_training():
    result = invoke("benchmark", "cpvae", "--set", "nope=1")
    assert result.exit_code == 2 and "nope" in result.output


def test_an_interrupted_benchmark_exits_130_with_one_line(monkeypatch, tmp_path):
    import groupvae.cli.benchmark as cli_benchmark

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_benchmark, "run_protocol", interrupted)
    result = invoke("benchmark", "exam-scores", "--quick", "--out", str(tmp_path / "b"))
    assert result.exit_code == 130
    assert "interrupted" in result.output and "Traceback" not in result.output
