"""A run is bound to the data file it was trained on (issue 26): it records the file's
absolute path, size and SHA-256 and its holdout group ids; ``evaluate``, ``plot`` (through
``load_run``) and ``--resume`` refuse a changed file in one line; ``encode`` reads a
changed file only when it is named with ``--data path=``."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lightning.pytorch.callbacks import Callback
from typer.testing import CliRunner

from groupvae.cli import app
from groupvae.data.readers import read_table
from groupvae.errors import DataError
from groupvae.models import create
from groupvae.models.saved import holdout_groups, load_run, split_by_ids
from groupvae.runs import train_run
from groupvae.store.data_files import fingerprint
from groupvae.store.run_directory import record_output

runner = CliRunner()
DATA = ["--data", "path=scores.csv", "--data", "group=school", "--data", "id=student"]
DATA += ["--data", "features=score,hours,track", "--data", "categorical=track"]
TRAIN = ["--epochs", "2", "--set", "hidden=8", "--set", "progress=false"]
OPTIONS = {"path": "scores.csv", "group": "school", "id": "student",
           "features": "score,hours,track", "categorical": "track"}  # fmt: skip


def frame(n_groups: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 6, size=n_groups)
    school = np.repeat([f"s{i}" for i in range(n_groups)], sizes)
    n = len(school)
    return pd.DataFrame({
        "student": np.arange(1000, 1000 + n), "school": school,
        "score": 50 + rng.normal(0, 3, n), "hours": 10 + rng.normal(0, 2, n),
        "track": np.where(rng.random(n) < 0.5, "a", "b"),
    })  # fmt: skip


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def one_line_error(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


@pytest.fixture
def run(tmp_path, monkeypatch) -> Path:
    """A finished cxvae run of ``tmp_path/scores.csv``, trained from ``tmp_path`` with the
    relative path ``scores.csv``; the test runs from ``tmp_path/elsewhere``."""
    frame().to_csv(tmp_path / "scores.csv", index=False)
    monkeypatch.chdir(tmp_path)
    code, output = invoke("train", "cxvae", "table", "--out", "run", *DATA, *TRAIN)
    assert code == 0, output
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return tmp_path / "run"


def test_a_run_records_its_files_absolute_path_size_hash_and_holdout_groups(run):
    data_file = run.parent / "scores.csv"
    record = json.loads((run / "metadata.json").read_text())["data"]
    assert record["options"]["path"] == str(data_file)
    assert record["file"] == {
        "path": str(data_file), "kind": "file", "size": data_file.stat().st_size,
        "sha256": hashlib.sha256(data_file.read_bytes()).hexdigest(),
    }  # fmt: skip
    _, train, hold = load_run(run)  # from another folder: the recorded absolute path
    assert record["holdout_groups"] == list(hold.group_ids)
    assert not set(hold.group_ids) & set(train.group_ids)
    assert sorted([*hold.group_ids, *train.group_ids]) == sorted(frame()["school"].unique())


def test_commands_work_from_another_folder(run, tmp_path):
    code, output = invoke("evaluate", str(run))
    assert code == 0, output
    code, output = invoke("encode", str(run), "--out", str(tmp_path / "codes.csv"))
    assert code == 0, output


def test_evaluate_and_load_run_refuse_a_file_that_lost_a_group(run):
    """Before: one school removed, five training schools moved into the "holdout" and
    the score changed silently. Now: one line naming the file and its size change."""
    data_file = run.parent / "scores.csv"
    table = frame()
    table[table.school != "s3"].to_csv(data_file, index=False)
    code, output = invoke("evaluate", str(run))
    line = one_line_error(output)
    assert code == 2 and str(data_file) in line and "size changed" in line
    assert not (run / "metrics.json").exists()
    with pytest.raises(DataError, match="changed since the run was trained"):
        load_run(run)  # what plot opens


def test_encode_refuses_a_silently_changed_file_but_reads_one_it_is_given(run, tmp_path):
    data_file = run.parent / "scores.csv"
    table = frame()
    table["score"] = table["score"].to_numpy()[::-1]  # same size, other content
    table.to_csv(data_file, index=False)
    assert data_file.stat().st_size == len(frame().to_csv(index=False).encode())
    codes = tmp_path / "codes.csv"
    code, output = invoke("encode", str(run), "--out", str(codes))
    line = one_line_error(output)
    assert code == 2 and "content changed" in line and "--data path=" in line
    assert not codes.exists()
    code, output = invoke("encode", str(run), "--data", f"path={data_file}", "--out", str(codes))
    assert code == 0, output
    assert (pd.read_csv(codes).level == "instance").sum() == len(table)


class InterruptAfter(Callback):
    """SIGINT to this process at the end of the first epoch."""

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 0:
            os.kill(os.getpid(), signal.SIGINT)


def _interrupted(tmp_path: Path, monkeypatch) -> Path:
    frame().to_csv(tmp_path / "scores.csv", index=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_run(
            "cxvae", "table", out, epochs=3, data_options=OPTIONS, progress=False,
            overrides={"hidden": 8}, callbacks=lambda model, hold: [InterruptAfter()],
        )  # fmt: skip
    return out


def _resume(out: Path) -> None:
    train_run(
        "cxvae", "table", out, epochs=3, data_options=OPTIONS, progress=False,
        overrides={"hidden": 8}, resume=True,
    )  # fmt: skip


def test_resume_refuses_a_file_whose_values_were_shuffled(tmp_path, monkeypatch):
    """Before: ``--resume`` on shuffled values completed. Now: refused, naming the file."""
    out = _interrupted(tmp_path, monkeypatch)
    table = frame()
    table["hours"] = table["hours"].to_numpy()[::-1]
    table.to_csv(tmp_path / "scores.csv", index=False)
    with pytest.raises(DataError, match=r"--resume: the data .*scores\.csv changed .*content"):
        _resume(out)
    frame().to_csv(tmp_path / "scores.csv", index=False)  # the original back: it resumes
    _resume(out)
    assert (out / "weights.safetensors").is_file()


def test_resume_after_the_data_gained_a_category_is_one_line(tmp_path, monkeypatch):
    """Before: a one-hot column more gave a tensor-size mismatch traceback."""
    out = _interrupted(tmp_path, monkeypatch)
    table = frame()
    table.loc[:4, "track"] = "c"  # a third category: one more one-hot column
    table.to_csv(tmp_path / "scores.csv", index=False)
    code, output = invoke("train", "cxvae", "table", "--out", str(out), *DATA, *TRAIN, "--resume")
    line = one_line_error(output)
    assert code == 2 and "scores.csv changed" in line and "--resume" in line


def test_the_holdout_is_rebuilt_from_the_recorded_group_ids():
    data = read_table(frame(), group="school", id="student", features=["score", "hours"])
    model = create("mlvae", dataset="table", obs_shape=data.obs_shape, seed=0)
    train, hold = model.split(data, 0.25, seed=3)
    held = holdout_groups(train, hold)
    assert held == list(hold.group_ids)
    again_train, again_hold = split_by_ids(data, held)
    np.testing.assert_array_equal(again_hold.x, hold.x)
    np.testing.assert_array_equal(again_train.x, train.x)
    assert list(again_hold.group_ids) == list(hold.group_ids)
    gone = list(data.group_ids).index(held[0])
    smaller = data.subset_groups(np.delete(np.arange(data.n_groups), gone))
    with pytest.raises(DataError, match=f"holdout groups '{held[0]}'"):
        split_by_ids(smaller, held)


def test_load_run_takes_the_holdout_from_the_record_not_a_new_split(run):
    meta_path = run / "metadata.json"
    meta = json.loads(meta_path.read_text())
    _, train, _ = load_run(run)
    chosen = sorted(train.group_ids)[:2]
    meta["data"]["holdout_groups"] = chosen
    meta_path.write_text(json.dumps(meta))
    record_output(run, meta_path)  # as if saved so: past the manifest's SHA-256 check
    _, _, hold = load_run(run)
    assert list(hold.group_ids) == chosen


def test_a_folders_fingerprint_sees_added_and_changed_files(tmp_path):
    root = tmp_path / "images"
    (root / "g1").mkdir(parents=True)
    (root / "g1" / "a.png").write_bytes(b"1234")
    first = fingerprint(root)
    assert first["kind"] == "folder" and first["files"] == 1 and first["size"] == 4
    (root / "g1" / "a.png").write_bytes(b"4321")
    assert fingerprint(root)["sha256"] != first["sha256"]
    (root / "g1" / "a.png").write_bytes(b"1234")
    (root / ".DS_Store").write_bytes(b"x")  # hidden files do not count
    assert fingerprint(root) == first
    (root / "g2").mkdir()
    (root / "g2" / "b.png").write_bytes(b"5")
    assert fingerprint(root)["files"] == 2
