"""Outputs the user names (``encode``, ``translate``, ``plot`` ``--out``): an existing file
is replaced only with ``--overwrite``, a run directory's own files never are."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from groupvae.cli import app
from groupvae.errors import ConfigError
from groupvae.runs.export import write_frame
from groupvae.store.outputs import check_output, run_owning

FIXTURE = Path(__file__).parent / "fixtures" / "mlvae-exam-scores"
runner = CliRunner()


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A finished Exam-Scores run (the committed fixture), copied."""
    shutil.copytree(FIXTURE, tmp_path / "run", ignore=shutil.ignore_patterns("expected.json"))
    return tmp_path / "run"


def test_check_output_refuses_existing_files_and_a_runs_own(run, tmp_path):
    mine = tmp_path / "user.csv"
    assert check_output(mine) == mine  # new: fine
    mine.write_text("keep")
    with pytest.raises(ConfigError, match=r"user.csv already exists; add --overwrite"):
        check_output(mine)
    assert check_output(mine, overwrite=True) == mine
    with pytest.raises(ConfigError, match="is a directory"):
        check_output(tmp_path, overwrite=True)
    (run / "training").mkdir()
    (run / "UNFINISHED").write_text("")
    own = ["history.csv", "config.json", "weights.safetensors", "metadata.json", "run.json",
           "UNFINISHED", "training/last.ckpt", "training/log/metrics.csv"]  # fmt: skip
    for name in own:
        with pytest.raises(ConfigError, match="never writes over a run's own files"):
            check_output(run / name, overwrite=True)
        assert run_owning(run / name) == run.resolve()
    assert run_owning(run / "training" / ".." / "history.csv") == run.resolve()
    assert run_owning(run / "latents.csv") is None and run_owning(run / "swap.png") is None
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "history.csv").write_text("a")  # a folder that is not a run
    assert run_owning(tmp_path / "notes" / "history.csv") is None


def test_write_frame_replaces_only_when_asked(run, tmp_path):
    frame = pd.DataFrame({"a": [1, 2]})
    path = tmp_path / "out.csv"
    path.write_text("mine\n")
    with pytest.raises(ConfigError, match="--overwrite"):
        write_frame(frame, path)
    assert path.read_text() == "mine\n"
    write_frame(frame, path, overwrite=True)
    assert list(pd.read_csv(path)["a"]) == [1, 2]
    history = (run / "history.csv").read_text()
    with pytest.raises(ConfigError, match=r"history\.csv is a file of the run"):
        write_frame(frame, run / "history.csv", overwrite=True)
    assert (run / "history.csv").read_text() == history


@pytest.fixture(scope="module")
def table_run(tmp_path_factory) -> Path:
    """A 2-epoch CxVAE run on a 6-school table written here (groups s0..s5)."""
    tmp = tmp_path_factory.mktemp("table")
    rows = [(i, f"s{i % 6}", 50.0 + i % 7, 10.0 + i % 3) for i in range(36)]
    pd.DataFrame(rows, columns=["id", "school", "score", "hours"]).to_csv(tmp / "t.csv")
    args = ["train", "cxvae", "table", "--out", str(tmp / "run"), "--epochs", "2"]
    args += ["--data", f"path={tmp / 't.csv'}", "--data", "group=school", "--data", "id=id"]
    args += ["--data", "features=score,hours", "--set", "hidden=8", "--set", "progress=false"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return tmp / "run"


def test_encode_and_translate_keep_an_existing_out_and_the_runs_files(table_run, tmp_path):
    from groupvae import load

    run = table_run
    user = tmp_path / "out" / "user.csv"
    user.parent.mkdir()
    for command in (["encode"], ["translate", "--source", "s1", "--target", "s2"]):
        user.write_text("precious\n")
        result = runner.invoke(app, [*command, str(run), "--out", str(user)])
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and "add --overwrite" in result.output
        assert user.read_text() == "precious\n"
        result = runner.invoke(app, [*command, str(run), "--out", str(user), "--overwrite"])
        assert result.exit_code == 0, result.output
        assert "row_id" in user.read_text()
        history = (run / "history.csv").read_bytes()
        args = [*command, str(run), "--out", str(run / "history.csv"), "--overwrite"]
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "never writes over a run's own files" in result.output
        assert (run / "history.csv").read_bytes() == history
    load(run)  # the run still loads


def test_plot_keeps_an_existing_out_unless_asked(tmp_path):
    run = tmp_path / "run"
    args = ["train", "mlvae", "exam-scores", "--out", str(run), "--data", "n_groups=40"]
    args += ["--epochs", "1", "--set", "hidden=8", "--set", "progress=false"]
    assert runner.invoke(app, args).exit_code == 0
    figure = tmp_path / "vacation.png"
    figure.write_bytes(b"my photo")
    result = runner.invoke(app, ["plot", "translation", str(run), "--out", str(figure)])
    assert result.exit_code == 2 and "vacation.png already exists" in result.output
    assert figure.read_bytes() == b"my photo"
    args = ["plot", "translation", str(run), "--out", str(figure), "--overwrite"]
    assert runner.invoke(app, args).exit_code == 0
    assert figure.read_bytes()[:4] == b"\x89PNG"
    args = ["plot", "translation", str(run), "--out", str(run / "config.json"), "--overwrite"]
    assert runner.invoke(app, args).exit_code == 2
    for _ in range(2):  # the default figure in the run directory is groupvae's own
        assert runner.invoke(app, ["plot", "translation", str(run)]).exit_code == 0
    assert (run / "translation.png").read_bytes()[:4] == b"\x89PNG"
