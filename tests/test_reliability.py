"""Failures users cause get clear errors, and saved files are never left half-written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import groupvae
from groupvae.data import GroupedDataset, make_exam_scores
from groupvae.errors import CheckpointError, ConfigError, DataError, NonFiniteLossError
from groupvae.models import REGULARISERS, create
from groupvae.store.atomic import atomic_path, write_json, write_text, write_with
from groupvae.store.checkpoint_files import CONFIG, METADATA, WEIGHTS
from groupvae.store.run_directory import MANIFEST
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


@pytest.fixture
def unhashed(copy) -> Path:
    """The copy as a checkpoint written before hashes (and manifests) were recorded."""
    meta = json.loads((copy / METADATA).read_text())
    del meta["sha256"], meta["manifest"]
    (copy / METADATA).write_text(json.dumps(meta))
    (copy / MANIFEST).unlink()
    return copy


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
def test_broken_checkpoints_raise_checkpoint_error(unhashed, corrupt, message):
    corrupt(unhashed)
    with pytest.raises(CheckpointError, match=message):
        groupvae.load(unhashed)


@pytest.mark.parametrize("corrupt", ["corrupt-weights", "truncated-weights", "hidden-size-changed"])
def test_a_file_changed_after_saving_is_named_against_the_metadata(copy, corrupt):
    CORRUPTIONS[corrupt][0](copy)
    name = CONFIG if corrupt == "hidden-size-changed" else WEIGHTS
    with pytest.raises(CheckpointError, match=f"{name} does not match .*metadata.json"):
        groupvae.load(copy)


def test_another_models_config_beside_these_weights_is_refused(copy, tmp_path):
    """GVAE's and ML-VAE's configs build the same shapes; the hash tells them apart."""
    other = create("mlvae", dataset="exam-scores", hidden=8).save(tmp_path / "other")
    shutil.copy(other / CONFIG, copy / CONFIG)
    with pytest.raises(CheckpointError, match=r"config\.json does not match"):
        groupvae.load(copy)


def test_non_finite_weights_are_refused(unhashed):
    from safetensors.torch import load_file, save_file

    state = load_file(str(unhashed / WEIGHTS))
    name = sorted(state)[0]
    state[name][0] = float("nan")
    save_file(state, str(unhashed / WEIGHTS))
    with pytest.raises(CheckpointError, match=f"NaN or infinite weights \\({name}"):
        groupvae.load(unhashed)


def test_an_unfinished_directory_is_refused(copy):
    (copy / "UNFINISHED").write_text("training\n")
    with pytest.raises(CheckpointError, match="unfinished run"):
        groupvae.load(copy)


@pytest.mark.parametrize("content", ["thesis.tex", "sub/data.csv"])
def test_save_never_touches_other_files(tmp_path, content):
    target = tmp_path / "mine"
    (target / content).parent.mkdir(parents=True, exist_ok=True)
    (target / content).write_text("precious")
    model = create("gvae", dataset="exam-scores", hidden=8)
    for overwrite in (False, True):
        with pytest.raises(CheckpointError, match="not a groupvae run"):
            model.save(target, overwrite=overwrite)
    assert (target / content).read_text() == "precious"


def test_the_intact_copy_loads(copy):
    assert groupvae.load(copy).config.model == "gvae"


def test_a_save_that_crashes_leaves_a_directory_marked_unfinished(copy, monkeypatch):
    """Replacing a checkpoint file by file: a crash in the middle leaves the UNFINISHED
    marker, which load refuses, rather than a mix of two models; nothing else is left."""
    import groupvae.store.checkpoint_files as checkpoint

    real = checkpoint.save_file

    def crash(tensors, path):
        real(tensors, path)
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", crash)
    model = create("mlvae", dataset="exam-scores", hidden=8)
    with pytest.raises(CheckpointError, match="pass overwrite=True"):
        model.save(copy)
    assert groupvae.load(copy).config.model == "gvae"  # untouched without overwrite
    with pytest.raises(OSError, match="disk full"):
        model.save(copy, overwrite=True)
    with pytest.raises(CheckpointError, match="unfinished"):
        groupvae.load(copy)
    left = sorted(p.name for p in copy.iterdir() if not p.name.startswith(".groupvae"))
    assert left == ["UNFINISHED", CONFIG]  # no temporaries
    monkeypatch.setattr(checkpoint, "save_file", real)
    model.save(copy, overwrite=True)
    assert groupvae.load(copy).config.model == "mlvae"


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
