"""Faults of the machine end in one line (issue 26): a full disk while training (the
epoch checkpoint's ``torch.save``) or writing ``encode``'s output, and a read-only run
directory for ``evaluate`` and ``encode``, raise :class:`DiskError` naming the path; the
temporary file is removed and the previous checkpoint or file is left as it was."""

from __future__ import annotations

import errno
import os
import signal
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from typer.testing import CliRunner

from groupvae.cli import app
from groupvae.errors import CheckpointError, DiskError
from groupvae.runs import train_run
from groupvae.store import atomic
from groupvae.store.atomic import write_text, write_with

runner = CliRunner()
TINY = ["--data", "n_groups=40", "--set", "hidden=8", "--set", "progress=false"]
TORCH_FULL = "[enforce fail at inline_container.cc:672] . unexpected pos 1024 vs 960"


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def one_line_error(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.tmp"))


@pytest.fixture
def run(tmp_path) -> Path:
    out = tmp_path / "run"
    code, output = invoke("train", "mlvae", "exam-scores", "--out", str(out), "--epochs", "2",
                          *TINY)  # fmt: skip
    assert code == 0, output
    return out


# ------------------------------------------------------------------ write_with itself
def test_a_full_disk_keeps_the_previous_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "file.txt"
    write_text(target, "before\n")

    def full(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DiskError, match=r"file\.txt: no space left on device \(needs about "
                       r"1,234 bytes, [\d,]+ bytes free\); it is left as it was"):  # fmt: skip
        write_with(target, full, size=1234)
    assert target.read_text() == "before\n" and leftovers(tmp_path) == []


def test_a_runtime_error_that_is_not_a_failed_write_passes_through(tmp_path):
    def broken(tmp: Path) -> None:
        raise RuntimeError("a bug, not the disk")

    with pytest.raises(RuntimeError, match="a bug") as caught:
        write_with(tmp_path / "x.bin", broken)
    assert not isinstance(caught.value, DiskError) and leftovers(tmp_path) == []


# ------------------------------------------------------------------ training
@pytest.mark.parametrize(
    "fault", [RuntimeError(TORCH_FULL), OSError(errno.ENOSPC, "No space left on device")]
)
def test_a_full_disk_while_training_keeps_the_last_checkpoint(tmp_path, monkeypatch, fault):
    """Before: ``RuntimeError: [enforce fail at inline_container.cc:672]`` traceback."""
    real_save = torch.save
    saves: list[int] = []

    def save(obj, f, *args, **kwargs):  # the first epoch's checkpoint fits, then the disk is full
        saves.append(1)
        if len(saves) > 1:
            Path(f).write_bytes(b"partial")
            raise fault
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    out = tmp_path / "run"
    args = ["train", "mlvae", "exam-scores", "--out", str(out), "--epochs", "3", *TINY]
    code, output = invoke(*args)
    line = one_line_error(output)
    last = out / "training" / "last.ckpt"
    assert code == 2 and str(last) in line and "it is left as it was" in line
    assert "needs about " in line
    assert leftovers(out) == []
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["epoch"] == 0  # the first epoch's complete checkpoint
    monkeypatch.setattr(torch, "save", real_save)  # space again: the run resumes
    code, output = invoke(*args, "--resume")
    assert code == 0, output


# ------------------------------------------------------------------ encode and evaluate
def test_a_full_disk_while_encoding_keeps_the_previous_output(run, tmp_path, monkeypatch):
    codes = tmp_path / "codes.csv"
    code, output = invoke("encode", str(run), "--out", str(codes))
    assert code == 0, output
    before = codes.read_bytes()

    def full(self, path, *args, **kwargs):
        Path(path).write_text("level,half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    code, output = invoke("encode", str(run), "--out", str(codes), "--overwrite")
    line = one_line_error(output)
    assert code == 2 and str(codes) in line and "no space left on device" in line
    assert codes.read_bytes() == before and leftovers(tmp_path) == []


def _refuse_writes_in(folder: Path, monkeypatch) -> None:
    """Make ``folder`` read-only for atomic writes (as ``chmod`` would for a user)."""
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == folder:
            raise OSError(errno.EROFS, "Read-only file system", str(folder))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize("command", ["evaluate", "encode"])
def test_a_read_only_run_directory_is_one_line(run, monkeypatch, command):
    _refuse_writes_in(run, monkeypatch)
    target = run / ("metrics.json" if command == "evaluate" else "codes.csv")
    extra = ["--out", str(target)] if command == "encode" else []
    code, output = invoke(command, str(run), *extra)
    line = one_line_error(output)
    # evaluate's first write in the run directory is its lock's holder file
    assert code == 2 and f"cannot write {run}" in line and "read-only" in line
    assert not target.exists() and leftovers(run) == []


@pytest.mark.parametrize("command", ["evaluate", "encode"])
def test_a_chmod_read_only_run_directory_is_one_line(run, command):
    target = run / ("metrics.json" if command == "evaluate" else "codes.csv")
    extra = ["--out", str(target)] if command == "encode" else []
    run.chmod(0o500)
    try:
        if os.access(run, os.W_OK):
            pytest.skip("chmod does not make a folder read-only for this user (root)")
        code, output = invoke(command, str(run), *extra)
    finally:
        run.chmod(0o755)
    line = one_line_error(output)
    assert code == 2 and str(target) in line and "not writable" in line
    assert not target.exists() and leftovers(run) == []


# ------------------------------------------------------------------ training/ as a link
class InterruptAfter(Callback):
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 0:
            os.kill(os.getpid(), signal.SIGINT)


def test_a_training_folder_replaced_by_a_symlink_is_refused(tmp_path):
    out = tmp_path / "run"
    options = {"n_groups": 40}
    with pytest.raises(KeyboardInterrupt):
        train_run(
            "mlvae", "exam-scores", out, epochs=3, data_options=options, progress=False,
            overrides={"hidden": 8}, callbacks=lambda model, hold: [InterruptAfter()],
        )  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    (out / "training").rename(elsewhere)
    (out / "training").symlink_to(elsewhere, target_is_directory=True)
    before = sorted(p.name for p in elsewhere.rglob("*"))
    with pytest.raises(CheckpointError, match="training is a symbolic link"):
        train_run(
            "mlvae", "exam-scores", out, epochs=3, data_options=options, progress=False,
            overrides={"hidden": 8}, resume=True,
        )  # fmt: skip
    code, output = invoke("train", "mlvae", "exam-scores", "--out", str(out), "--epochs", "3",
                          *TINY, "--overwrite")  # fmt: skip
    assert code == 2 and "symbolic link" in one_line_error(output)
    assert sorted(p.name for p in elsewhere.rglob("*")) == before
