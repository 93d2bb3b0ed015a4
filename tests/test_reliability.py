"""Failures users cause get clear errors, and saved files are never left half-written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import groupvae
from groupvae.checkpoint import CONFIG, METADATA, WEIGHTS
from groupvae.data import GroupedDataset, make_exam_scores
from groupvae.errors import CheckpointError, ConfigError, DataError, NonFiniteLossError
from groupvae.io import atomic_directory, atomic_path, write_json, write_text, write_with
from groupvae.models import REGULARISERS, create
from helpers import FAST, make_images

ADVERSARIAL = [name for name, cls in REGULARISERS.items() if cls is not None]


# --------------------------------------------------------------- training
@pytest.mark.parametrize("name", ["mlvae", "gvae-adv"])
def test_non_finite_loss_raises_with_advice(name):
    """Scores of 1e20 overflow the squared error in float32: the loss becomes infinite."""
    data = make_exam_scores(16, seed=0)
    huge = GroupedDataset(x=data.x * 1e20, group=data.group)
    model = create(name, dataset="exam-scores", hidden=8)
    with pytest.raises(NonFiniteLossError, match=r"became (nan|inf) at epoch 0, step 0") as info:
        model.fit(huge, **FAST)
    assert "learning rate" in str(info.value) and "lr=" in str(info.value)


def test_bernoulli_data_outside_unit_interval_is_rejected_before_training():
    images = make_images(8)
    scaled = GroupedDataset(x=images.x * 255, group=images.group)
    model = create("mlvae", obs_shape=(1, 4, 4), likelihood="bernoulli", hidden=8)
    with pytest.raises(DataError, match=r"Bernoulli likelihood needs data in \[0, 1\].*x / 255"):
        model.fit(scaled, **FAST)
    assert model.history is None


def test_wrong_observation_shape_is_rejected(exam):
    model = create("gvae", obs_shape=(2,), hidden=8)
    with pytest.raises(DataError, match=r"shape \(1,\) but the model was built for \(2,\)"):
        model.fit(exam, **FAST)
    with pytest.raises(DataError, match=r"x must have shape \(n_obs, 2\)"):
        model.encode_groups(exam)
    with pytest.raises(DataError, match="NaN or infinite"):
        model.encode_instances(np.array([[0.0, np.nan]]))


@pytest.mark.parametrize("regulariser", ADVERSARIAL)
def test_regulariser_with_one_member_groups_is_rejected(regulariser):
    group = np.r_[np.zeros(6, dtype=int), np.arange(1, 7)]  # one group of 6, six of 1
    data = GroupedDataset(x=np.arange(12.0)[:, None], group=group)
    model = create("gvae", dataset="exam-scores", hidden=8, regulariser=regulariser)
    with pytest.raises(DataError, match="at least two members per group"):
        model.fit(data, **FAST)


def test_fit_rejects_bad_arguments(exam):
    model = create("gvae", dataset="exam-scores", hidden=8)
    with pytest.raises(DataError, match="needs a GroupedDataset"):
        model.fit(exam.x, **FAST)
    with pytest.raises(ConfigError, match=r"unknown TrainConfig field\(s\) \['epoch'\]"):
        model.fit(exam, epoch=1)


# ------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    model = create("gvae", dataset="exam-scores", hidden=8)
    return model.save(tmp_path_factory.mktemp("ckpt") / "model")


@pytest.fixture
def copy(saved, tmp_path) -> Path:
    """A fresh copy of the saved checkpoint to break."""
    return Path(shutil.copytree(saved, tmp_path / "model"))


def edit_json(name: str, **changes):
    def edit(path: Path) -> None:
        data = json.loads((path / name).read_text())
        (path / name).write_text(json.dumps({**data, **changes}))

    return edit


def truncate(path: Path) -> None:
    raw = (path / WEIGHTS).read_bytes()
    (path / WEIGHTS).write_bytes(raw[: len(raw) // 2])


CORRUPTIONS = {
    "missing-dir": (lambda p: shutil.rmtree(p), "does not exist"),
    "missing-config": (lambda p: (p / CONFIG).unlink(), "config.json is missing"),
    "missing-metadata": (lambda p: (p / METADATA).unlink(), "metadata.json is missing"),
    "missing-weights": (lambda p: (p / WEIGHTS).unlink(), "weights.safetensors is missing"),
    "corrupt-config": (lambda p: (p / CONFIG).write_text("{not json"), "config.json is corrupt"),
    "config-not-object": (lambda p: (p / CONFIG).write_text("[1, 2]"), "expected a JSON object"),
    "binary-metadata": (lambda p: (p / METADATA).write_bytes(b"\xff\xfe"), "metadata.json is"),
    "newer-schema": (edit_json(METADATA, schema_version=99), "schema 99; this groupvae reads"),
    "corrupt-weights": (lambda p: (p / WEIGHTS).write_bytes(b"garbage" * 3), "is corrupt"),
    "truncated-weights": (truncate, "is corrupt"),
    "hidden-size-changed": (edit_json(CONFIG, hidden=9), "do not match their config"),
    "part-renamed": (edit_json(CONFIG, group_encoder="nope"), "cannot rebuild the model"),
    "unknown-field": (edit_json(CONFIG, colour="red"), "does not describe a model"),
    "bad-value": (edit_json(CONFIG, hidden=0), "does not describe a model"),
}


@pytest.mark.parametrize(("corrupt", "message"), CORRUPTIONS.values(), ids=list(CORRUPTIONS))
def test_broken_checkpoints_raise_checkpoint_error(copy, corrupt, message):
    corrupt(copy)
    with pytest.raises(CheckpointError, match=message):
        groupvae.load(copy)


def test_the_intact_copy_loads(copy):
    assert groupvae.load(copy).config.model == "gvae"


def test_failed_save_keeps_the_previous_checkpoint(copy, monkeypatch):
    before = (copy / WEIGHTS).read_bytes()

    def crash(directory, *args):
        (directory / CONFIG).write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr("groupvae.checkpoint.write_checkpoint", crash)  # used by save_model
    with pytest.raises(OSError, match="disk full"):
        create("mlvae", dataset="exam-scores", hidden=8).save(copy)
    assert (copy / WEIGHTS).read_bytes() == before
    assert groupvae.load(copy).config.model == "gvae"
    assert sorted(p.name for p in copy.parent.iterdir()) == ["model"]  # no temporary left


# ------------------------------------------------------------ atomic writes
def test_atomic_file_writes_keep_the_old_file_on_error(tmp_path):
    path = tmp_path / "out.json"
    write_json(path, {"a": 1, "b": [1.5, None]})
    assert json.loads(path.read_text()) == {"a": 1, "b": [1.5, None]}
    with pytest.raises(TypeError):  # not JSON-serialisable
        write_json(path, {"a": object()})
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("interrupted")

    def failing_writer(tmp: Path) -> None:
        tmp.write_text("partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_with(path, failing_writer)
    assert json.loads(path.read_text()) == {"a": 1, "b": [1.5, None]}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    write_text(tmp_path / "new" / "file.txt", "hello")  # creates the folder
    assert (tmp_path / "new" / "file.txt").read_text() == "hello"


def test_atomic_directory_replaces_only_on_success(tmp_path):
    path = tmp_path / "run"
    with atomic_directory(path) as tmp:
        (tmp / "a.txt").write_text("old")
    assert [p.name for p in path.iterdir()] == ["a.txt"]
    with pytest.raises(RuntimeError), atomic_directory(path) as tmp:
        (tmp / "b.txt").write_text("new")
        raise RuntimeError("interrupted")
    assert [p.name for p in path.iterdir()] == ["a.txt"]
    assert (path / "a.txt").read_text() == "old"
    with atomic_directory(path) as tmp:
        (tmp / "b.txt").write_text("new")
    assert [p.name for p in path.iterdir()] == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary or .old left


def test_saved_files_get_the_usual_permissions(tmp_path):
    """Files and folders written atomically are as readable as ones written plainly."""
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "file").write_text("x")
    dir_mode = (tmp_path / "plain").stat().st_mode
    file_mode = (tmp_path / "plain" / "file").stat().st_mode
    path = create("gvae", dataset="exam-scores", hidden=8).save(tmp_path / "model")
    write_json(tmp_path / "result.json", {"a": 1})
    assert path.stat().st_mode == dir_mode
    for file in [*path.iterdir(), tmp_path / "result.json"]:
        assert file.stat().st_mode == file_mode, file.name
