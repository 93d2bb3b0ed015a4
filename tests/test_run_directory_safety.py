"""Nothing lost, nothing silent: a run directory's manifest (``--overwrite`` removes only
what groupvae wrote), ``metadata.json`` under an integrity record, and one writer at a time
(an OS lock per run directory)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock
from typer.testing import CliRunner

import groupvae
from groupvae.cli import app
from groupvae.errors import CheckpointError, ConfigError
from groupvae.models import create
from groupvae.runs import train_run
from groupvae.store.checkpoint_files import CONFIG, HISTORY, METADATA, WEIGHTS
from groupvae.store.run_directory import (
    LOCK,
    LOCK_HOLDER,
    MANIFEST,
    clear_run,
    read_manifest,
    run_lock,
    run_state,
)

runner = CliRunner()
TINY = ["--data", "n_groups=40", "--epochs", "1", "--set", "hidden=8", "--set", "progress=false"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def names(path: Path) -> list[str]:
    """The entries of ``path`` but groupvae's housekeeping files."""
    return sorted(p.name for p in path.iterdir() if not p.name.startswith(".groupvae"))


@pytest.fixture
def saved(tmp_path) -> Path:
    """An untrained GVAE saved with a (made-up) feature transform, as a table run has."""
    model = create("gvae", dataset="exam-scores", hidden=8)
    return model.save(tmp_path / "model", metadata={"feature_transform": {"scale": [1.0]}})


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished one-epoch ML-VAE run with metrics.json and a translation figure."""
    out = tmp_path_factory.mktemp("runs") / "run"
    assert invoke("train", "mlvae", "exam-scores", "--out", str(out), *TINY).exit_code == 0
    assert invoke("evaluate", str(out)).exit_code == 0
    result = invoke("plot", "translation", str(out))
    assert result.exit_code == 0, result.output
    return out


# ------------------------------------------------------------ 1. the manifest
def test_a_users_folder_with_a_metadata_json_is_not_a_run(tmp_path):
    """Before: ``--overwrite`` deleted all four files. After: refused, naming them."""
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("metadata.json", "history.csv", "holiday.png", "wedding.png"):
        (mine / name).write_text(name)
    result = invoke("train", "mlvae", "exam-scores", "--out", str(mine), *TINY, "--overwrite")
    assert result.exit_code == 2, result.output
    assert "holds files that are not a groupvae run" in result.output
    assert "holiday.png" in result.output and "metadata.json" in result.output
    assert sorted(p.name for p in mine.iterdir()) == [
        "history.csv", "holiday.png", "metadata.json", "wedding.png",
    ]  # fmt: skip
    assert all((mine / n).read_text() == n for n in names(mine))


def test_overwrite_never_takes_the_users_files_from_a_run(saved):
    """Before: ``--overwrite`` deleted ``my_poster_figure.png`` and ``.draft.tmp.md`` from a
    run. After: refused, naming them; every file stays."""
    (saved / "my_poster_figure.png").write_bytes(b"poster")
    (saved / ".draft.tmp.md").write_text("draft")
    result = invoke("train", "mlvae", "exam-scores", "--out", str(saved), *TINY, "--overwrite")
    assert result.exit_code == 2, result.output
    assert "holds a groupvae run and other files (.draft.tmp.md, my_poster_figure.png)" in (
        result.output
    )
    assert (saved / "my_poster_figure.png").read_bytes() == b"poster"
    assert groupvae.load(saved).config.model == "gvae"  # the run is untouched too


def test_clear_run_removes_exactly_the_manifests_entries(saved):
    (saved / "my_poster_figure.png").write_bytes(b"poster")
    (saved / ".draft.tmp.md").write_text("draft")
    (saved / f".{WEIGHTS}.k3x9a_2q.tmp").write_bytes(b"left by a killed save")
    clear_run(saved)
    assert names(saved) == [".draft.tmp.md", "my_poster_figure.png"]
    assert read_manifest(saved) == {}


def test_every_writer_records_its_outputs_and_overwrite_removes_them(trained, tmp_path):
    run = Path(shutil.copytree(trained, tmp_path / "run"))
    manifest = read_manifest(run)
    for name in (CONFIG, WEIGHTS, METADATA, HISTORY, "metrics.json", "translation.png"):
        assert len(manifest[name]) == 64, name  # with its SHA-256
    assert set(names(run)) <= {k.removesuffix("/") for k in manifest}
    assert "training/" not in manifest and "UNFINISHED" not in manifest  # finished
    result = invoke("train", "mlvae", "exam-scores", "--out", str(run), *TINY, "--overwrite")
    assert result.exit_code == 0, result.output
    assert names(run) == sorted([CONFIG, HISTORY, METADATA, WEIGHTS])  # old outputs gone


def test_a_checkpoint_saved_before_manifests_loads_and_overwrite_spares_figures(saved):
    """A legacy checkpoint (no manifest) loads; ``--overwrite`` removes only its
    checkpoint files, and a folder with a figure beside them is refused by name."""
    meta = json.loads((saved / METADATA).read_text())
    del meta["manifest"]
    (saved / METADATA).write_text(json.dumps(meta))
    (saved / MANIFEST).unlink()
    assert groupvae.load(saved).config.model == "gvae"
    assert run_state(saved) == "finished"
    (saved / "swap.png").write_bytes(b"figure")
    model = create("mlvae", dataset="exam-scores", hidden=8)
    with pytest.raises(CheckpointError, match=r"a groupvae run and other files \(swap\.png\)"):
        model.save(saved, overwrite=True)
    (saved / "swap.png").rename(saved.parent / "swap.png")
    model.save(saved, overwrite=True)
    assert groupvae.load(saved).config.model == "mlvae"
    assert read_manifest(saved) is not None  # now a run with a manifest


@pytest.mark.parametrize("entries", [{"../outside.txt": None}, "not a dict"])
def test_a_corrupt_manifest_is_refused_and_nothing_goes(saved, entries):
    (saved.parent / "outside.txt").write_text("precious")
    (saved / MANIFEST).write_text(json.dumps({"format": 1, "entries": entries}))
    result = invoke("train", "mlvae", "exam-scores", "--out", str(saved), *TINY, "--overwrite")
    assert result.exit_code == 2 and f"{MANIFEST} is corrupt" in result.output
    assert (saved.parent / "outside.txt").read_text() == "precious"
    assert names(saved) == sorted([CONFIG, METADATA, WEIGHTS])


# ------------------------------------------------------------ 2. metadata.json's integrity
def _edit_metadata(run: Path, edit) -> None:
    meta = json.loads((run / METADATA).read_text())
    edit(meta)
    (run / METADATA).write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "edit",
    [
        lambda meta: meta.pop("sha256"),  # before: disabled every check
        lambda meta: meta.update(feature_transform={"scale": [2.0]}),  # before: silent
    ],
    ids=["sha256-deleted", "feature-transform-edited"],
)
def test_an_edited_metadata_json_is_refused_naming_it(saved, edit):
    _edit_metadata(saved, edit)
    with pytest.raises(CheckpointError, match=rf"{METADATA} does not match .*{MANIFEST}"):
        groupvae.load(saved)


def test_another_models_config_is_refused_even_without_metadata_hashes(saved, tmp_path):
    """Before: once ``sha256`` was deleted, ML-VAE's config loaded beside GVAE's weights."""
    other = create("mlvae", dataset="exam-scores", hidden=8).save(tmp_path / "other")
    shutil.copy(other / CONFIG, saved / CONFIG)
    _edit_metadata(saved, lambda meta: meta.pop("sha256"))
    with pytest.raises(CheckpointError, match="does not match"):
        groupvae.load(saved)


def test_a_missing_integrity_record_is_an_error(saved):
    manifest = json.loads((saved / MANIFEST).read_text())
    del manifest["entries"][METADATA]
    (saved / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=f"records no SHA-256 of {METADATA}"):
        groupvae.load(saved)
    (saved / MANIFEST).unlink()  # metadata.json says it had one
    with pytest.raises(CheckpointError, match=f"its {MANIFEST} .* is missing"):
        groupvae.load(saved)


# ------------------------------------------------------------ 3. one writer at a time
HOLDER = """
import sys, time
from groupvae.store.run_directory import run_lock
with run_lock(sys.argv[1], "train"):
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def held(saved):
    """Another process holding ``saved``'s lock; killed (SIGKILL) at the end."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(saved)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("extra", ["--overwrite", "--resume"])
def test_a_second_writer_is_refused_naming_the_holders_pid(saved, held, extra):
    before = {n: (saved / n).read_bytes() for n in names(saved)}
    result = invoke("train", "mlvae", "exam-scores", "--out", str(saved), *TINY, extra)
    assert result.exit_code == 2, result.output
    assert f"is being written by groupvae train, pid {held.pid}" in result.output
    assert len(result.output.strip().splitlines()) == 1
    with pytest.raises(ConfigError, match=f"pid {held.pid}"):
        create("gvae", dataset="exam-scores", hidden=8).save(saved, overwrite=True)
    assert {n: (saved / n).read_bytes() for n in names(saved)} == before


def test_after_the_holder_dies_the_next_writer_works(saved, held):
    held.send_signal(signal.SIGKILL)
    held.wait()
    assert (saved / LOCK_HOLDER).is_file()  # the dead holder's file is left behind
    create("mlvae", dataset="exam-scores", hidden=8).save(saved, overwrite=True)
    assert groupvae.load(saved).config.model == "mlvae"
    assert not (saved / LOCK_HOLDER).exists()


def test_a_lock_held_in_this_process_refuses_train_and_evaluate(trained, tmp_path):
    saved = Path(shutil.copytree(trained, tmp_path / "run"))
    before = (saved / "metrics.json").read_bytes()
    with FileLock(saved / LOCK):
        (saved / LOCK_HOLDER).write_text(json.dumps({"pid": os.getpid(), "command": "train"}))
        for args in (["train", "mlvae", "exam-scores", "--out", str(saved), *TINY, "--overwrite"],
                     ["evaluate", str(saved)]):  # fmt: skip
            result = invoke(*args)
            assert result.exit_code == 2, result.output
            assert f"pid {os.getpid()}" in result.output
    assert groupvae.load(saved).config.model == "mlvae"
    assert (saved / "metrics.json").read_bytes() == before


def test_the_lock_is_reentrant_and_not_taken_on_other_ddp_ranks(tmp_path, monkeypatch):
    with run_lock(tmp_path / "a", "train"), run_lock(tmp_path / "a", "save"):
        holder = json.loads((tmp_path / "a" / LOCK_HOLDER).read_text())
        assert holder == {"pid": os.getpid(), "command": "train"}
    assert not (tmp_path / "a" / LOCK_HOLDER).exists()
    result = invoke("train", "mlvae", "exam-scores", "--out", str(tmp_path / "c"), *TINY,
                    "--resume")  # fmt: skip
    assert result.exit_code == 2 and "holds no unfinished run, it is new" in result.output
    assert not (tmp_path / "c").exists()  # the lock's folder went again
    monkeypatch.setenv("LOCAL_RANK", "1")
    with run_lock(tmp_path / "b", "train"):
        assert not (tmp_path / "b").exists()


def test_train_holds_the_lock_for_the_whole_run(tmp_path):
    """A callback of the running fit finds the run directory locked against a second
    writer (this process's own lock, from another lock object)."""
    from lightning.pytorch.callbacks import Callback

    seen: list[str] = []

    class TryToWrite(Callback):
        def on_train_epoch_end(self, trainer, pl_module) -> None:
            try:
                with FileLock(tmp_path / "run" / LOCK).acquire(timeout=0):
                    seen.append("acquired")
            except Exception as err:  # filelock.Timeout
                seen.append(type(err).__name__)

    train_run(
        "mlvae", "exam-scores", tmp_path / "run", epochs=1, progress=False,
        data_options={"n_groups": 40}, overrides={"hidden": "8"},
        callbacks=lambda model, hold: [TryToWrite()],
    )  # fmt: skip
    assert seen == ["Timeout"]
    with FileLock(tmp_path / "run" / LOCK).acquire(timeout=0):  # released at the end
        pass
