"""Runs that never lose work: the ``--out`` policy, epoch checkpoints, bit-identical
resume, interrupts, non-finite guards, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from safetensors.torch import load_file
from typer.testing import CliRunner

import groupvae
from groupvae.cli import app
from groupvae.data import GroupedDataset, make_exam_scores, with_population
from groupvae.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    NonFiniteLossError,
    TrainingInterrupted,
)
from groupvae.models import create
from groupvae.runs import train_run
from groupvae.store.run_directory import MARKER, claim, record_output

runner = CliRunner()
TINY = ["--data", "n_groups=40", "--epochs", "2", "--set", "hidden=8", "--set", "progress=false"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.module.state_dict().items()}


class SignalAfter(Callback):
    """Sends ``signum`` to this process at the end of epoch ``epoch`` (0-based)."""

    def __init__(self, epoch: int, signum: int = signal.SIGINT) -> None:
        self.epoch, self.signum = epoch, signum

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), self.signum)


# ------------------------------------------------------------ resume, bit for bit
def _cpvae_data() -> GroupedDataset:
    """``(1, 4, 4)`` images of two populations."""
    rng = np.random.default_rng(0)
    population = rng.integers(0, 2, size=60)
    x = 0.3 * rng.random((60, 1, 4, 4)) + 0.6 * population[:, None, None, None]
    return with_population(GroupedDataset(x=x.clip(0, 1), group=np.arange(60)), population)


CASES = {
    "mlvae": lambda: make_exam_scores(64, seed=0),
    "cxvae": lambda: make_exam_scores(64, seed=0),
}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("preset", ["mlvae", "cxvae"])
def test_an_interrupted_fit_resumes_to_bit_identical_weights(preset, signum, tmp_path):
    """Interrupted after epoch 2 of 4 (its critic and both optimisers included for
    CxVAE), resumed: the same weights and history as the uninterrupted fit."""
    train, hold = CASES[preset]().split(0.25, seed=0)
    options = {"holdout": hold, "epochs": 4, "lr": 1e-3, "groups_per_batch": 8, "progress": False}
    full = create(preset, dataset="exam-scores", hidden=8, seed=3).fit(train, **options)
    stopped = create(preset, dataset="exam-scores", hidden=8, seed=3)
    with pytest.raises(TrainingInterrupted, match=r"at epoch 3 of 4; 2 completed") as info:
        stopped.fit(train, checkpoint_dir=tmp_path, callbacks=[SignalAfter(1, signum)], **options)
    assert isinstance(info.value, KeyboardInterrupt)  # what the Python API raises
    assert info.value.signal_name == signal.Signals(signum).name
    resumed = create(preset, dataset="exam-scores", hidden=8, seed=3)
    resumed.fit(train, checkpoint_dir=tmp_path, resume=True, **options)
    a, b = weights(full), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.history.equals(full.history)


def test_a_run_with_a_cosine_lr_schedule_resumes_to_bit_identical_weights(tmp_path):
    """The schedule's position is the restored model-update count: the resumed run
    continues the same learning-rate curve (critic included)."""
    train, hold = CASES["cxvae"]().split(0.25, seed=0)
    options = {"holdout": hold, "epochs": 4, "lr": 1e-3, "groups_per_batch": 8,
               "progress": False, "lr_schedule": "cosine"}  # fmt: skip
    full = create("cxvae", dataset="exam-scores", hidden=8, seed=3).fit(train, **options)
    with pytest.raises(TrainingInterrupted):
        create("cxvae", dataset="exam-scores", hidden=8, seed=3).fit(
            train, checkpoint_dir=tmp_path, callbacks=[SignalAfter(1)], **options
        )
    resumed = create("cxvae", dataset="exam-scores", hidden=8, seed=3)
    resumed.fit(train, checkpoint_dir=tmp_path, resume=True, **options)
    a, b = weights(full), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_cpvae_run_resumes_to_bit_identical_weights(tmp_path):
    data = _cpvae_data()
    model_options = {"hidden": 8, "shared_dim": 2, "private_dim": 2, "obs_shape": (1, 4, 4)}
    options = {"epochs": 3, "lr": 1e-3, "batch_per_population": 8, "progress": False}

    def fresh():
        return create("cpvae", seed=1, **model_options)

    full = fresh().fit(data, **options)
    with pytest.raises(KeyboardInterrupt):
        fresh().fit(data, checkpoint_dir=tmp_path, callbacks=[SignalAfter(0)], **options)
    resumed = fresh().fit(data, checkpoint_dir=tmp_path, resume=True, **options)
    a, b = weights(full), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_resume_with_other_settings_is_refused(tmp_path):
    train = make_exam_scores(32, seed=0)
    options = {"epochs": 3, "groups_per_batch": 8, "progress": False}
    with pytest.raises(KeyboardInterrupt):
        create("mlvae", hidden=8).fit(
            train, checkpoint_dir=tmp_path, callbacks=[SignalAfter(0)], **options
        )
    with pytest.raises(CheckpointError, match="seed"):
        create("mlvae", hidden=8).fit(
            train, checkpoint_dir=tmp_path, resume=True, **{**options, "seed": 9}
        )


# ------------------------------------------------------------ the command line
def test_ctrl_c_keeps_a_resumable_run_and_exits_130(tmp_path):
    """SIGINT to ``groupvae train``: one line naming the resume command, status 130, a
    run marked unfinished; the resumed run equals one that was never interrupted."""
    out = tmp_path / "run"
    args = ["train", "mlvae", "exam-scores", "--out", str(out), "--epochs", "40"]
    args += ["--data", "n_groups=256", "--set", "progress=false", "--set", "lr=1e-3"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "groupvae", *args], stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while not (out / "training" / "last.ckpt").is_file() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("training finished before the signal arrived")
    assert proc.returncode == 130, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("interrupted at epoch ") and line.endswith(" --resume")
    assert "Traceback" not in err
    assert (out / MARKER).is_file() and "--resume" in (out / MARKER).read_text()
    with pytest.raises(CheckpointError, match="unfinished run"):
        groupvae.load(out)
    result = invoke(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert not (out / MARKER).exists() and not (out / "training").exists()
    reference = train_run(
        "mlvae", "exam-scores", tmp_path / "reference", epochs=40, progress=False,
        data_options={"n_groups": 256}, overrides={"lr": "1e-3"},
    )  # fmt: skip
    resumed = load_file(str(out / "weights.safetensors"))
    assert all(torch.equal(resumed[k], v) for k, v in reference.module.state_dict().items())


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "done"
    result = invoke("train", "mlvae", "exam-scores", "--out", str(out), *TINY)
    assert result.exit_code == 0, result.output
    return out


def test_a_finished_run_is_replaced_only_with_overwrite(finished, tmp_path):
    import shutil

    run = Path(shutil.copytree(finished, tmp_path / "run"))
    assert invoke("evaluate", str(run)).exit_code == 0  # metrics.json, in the manifest
    before = (run / "weights.safetensors").read_bytes()
    result = invoke("train", "mlvae", "exam-scores", "--out", str(run), *TINY)
    assert result.exit_code == 2 and "holds a finished run; pass --overwrite" in result.output
    assert (run / "weights.safetensors").read_bytes() == before
    result = invoke("train", "mlvae", "exam-scores", "--out", str(run), *TINY, "--seed", "1")
    assert result.exit_code == 2
    result = invoke(
        "train", "mlvae", "exam-scores", "--out", str(run), *TINY, "--seed", "1", "--overwrite"
    )
    assert result.exit_code == 0, result.output
    assert not (run / "metrics.json").exists()  # the old run's results went with it
    assert groupvae.load(run).seed == 1
    result = invoke("train", "mlvae", "exam-scores", "--out", str(run), *TINY, "--resume")
    assert result.exit_code == 2 and "holds no unfinished run, it is finished" in result.output


@pytest.mark.parametrize("content", ["thesis.tex", "sub/data.csv"])
def test_a_folder_of_the_users_files_is_refused_and_left_alone(tmp_path, content):
    target = tmp_path / "mine"
    (target / content).parent.mkdir(parents=True, exist_ok=True)
    (target / content).write_text("precious")
    for extra in ([], ["--overwrite"]):
        result = invoke("train", "mlvae", "exam-scores", "--out", str(target), *TINY, *extra)
        assert result.exit_code == 2
        assert "holds files that are not a groupvae run" in result.output
        assert content.split("/")[0] in result.output
    assert (target / content).read_text() == "precious"
    assert sorted(p.name for p in target.iterdir()) == [content.split("/")[0]]


def test_an_unfinished_run_needs_resume_or_overwrite(tmp_path):
    out = tmp_path / "run"
    (out / "training").mkdir(parents=True)
    (out / MARKER).write_text("interrupted\n")
    (out / "run.json").write_text(json.dumps({"model": "gvae"}))
    claim(out, ["training/", MARKER, "run.json"])  # as start_run records them
    result = invoke("train", "mlvae", "exam-scores", "--out", str(out), *TINY)
    assert result.exit_code == 2 and "unfinished run; continue it with --resume" in result.output
    result = invoke("train", "mlvae", "exam-scores", "--out", str(out), *TINY, "--resume")
    assert result.exit_code == 2 and "was started with other settings" in result.output
    assert "model: 'gvae' -> 'mlvae'" in result.output


def test_a_run_that_becomes_non_finite_is_not_finished(tmp_path, monkeypatch):
    from groupvae.training.plan import TrainingPlan

    step = TrainingPlan.training_step

    def poisoned(self, batch, batch_idx):
        step(self, batch, batch_idx)
        with torch.no_grad():
            next(self.module.parameters()).fill_(float("nan"))

    monkeypatch.setattr(TrainingPlan, "training_step", poisoned)
    out = tmp_path / "run"
    result = invoke("train", "mlvae", "exam-scores", "--out", str(out), *TINY)
    assert result.exit_code == 2
    assert "non-finite" in result.output and "Traceback" not in result.output
    assert (out / MARKER).is_file() and not (out / "weights.safetensors").exists()


def test_non_finite_validation_terms_raise():
    from groupvae.training.epoch_checkpoints import RunCheckpoint
    from groupvae.training.validation import HoldoutValidation

    class Trainer:
        current_epoch, global_step, max_epochs = 0, 3, 10
        sanity_checking, should_stop = False, False

        def __init__(self) -> None:
            self.callback_metrics = {"train_loss": torch.tensor(1.0)}

    class Plan(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.module = torch.nn.Linear(1, 1)

    trainer, plan = Trainer(), Plan()
    validation = HoldoutValidation(lambda m: {"elbo_per_obs": -np.inf})
    validation.on_train_epoch_end(trainer, plan)
    with pytest.raises(NonFiniteLossError, match="val_elbo_per_obs became non-finite in epoch 1"):
        RunCheckpoint(0, validation=validation).on_train_epoch_end(trainer, plan)


# ------------------------------------------------------------ one line, status 2
def _corrupt_history(run: Path) -> None:
    (run / "history.csv").write_text("epoch,x\n0,1\n")


def _corrupt_seed(run: Path) -> None:
    """A bad data record that the manifest vouches for (as if saved so), to reach the
    record's own check past the SHA-256 one."""
    meta = json.loads((run / "metadata.json").read_text())
    meta["data"]["seed"] = "abc"
    (run / "metadata.json").write_text(json.dumps(meta))
    record_output(run, run / "metadata.json")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--data", "nope=1"],
            "unknown data option(s) ['nope']; this data set takes: mean_extra, min_size, n_groups",
        ),
        (["--data", "n_groups=abc"], "data option n_groups must be int, got 'abc'"),
        (["--seed", "-1"], "--seed must be >= 0, got -1"),
        (["--set", "lr=NaN"], "lr must be float (finite), got nan"),
        (["--set", "lr=Infinity"], "lr must be float (finite), got inf"),
        (["--set", "critic_lr=-1"], "critic_lr must be a number > 0 (or None), got -1"),
        (["--set", "num_threads=0"], "num_threads must be >= 1, got 0"),
        (["--set", "obs_shape=-1"], "obs_shape must be a tuple of whole sizes >= 1"),
        (["--set", "group_dim=2.5"], "group_dim needs a value of type int"),
        (["--set", "accelerator=tpx"], "accelerator must be one of cpu, gpu"),
        (["--set", "devices=0"], "devices must be >= 1"),
    ],
)
def test_bad_training_input_is_one_line_and_status_2(tmp_path, args, message):
    out = tmp_path / "run"
    result = invoke("train", "mlvae", "exam-scores", "--out", str(out), *TINY, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()  # refused before anything was written


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_on_a_machine_without_one_is_one_line(tmp_path):
    result = invoke("train", "mlvae", "exam-scores", "--out", str(tmp_path / "r"), *TINY,
                    "--set", "accelerator=gpu")  # fmt: skip
    assert result.exit_code == 2 and "no CUDA GPU" in result.output


@pytest.mark.parametrize("option", ["--seeds", "--jobs", "--epochs"])
@pytest.mark.parametrize("bench", ["exam-scores", "mlvae-mnist", "cpvae", "ugvae"])
def test_benchmark_counts_below_one_are_one_line(bench, option):
    result = invoke("benchmark", bench, option, "0")
    assert result.exit_code == 2 and f"{option} must be >= 1, got 0" in result.output


def test_out_paths_that_cannot_hold_a_run_are_refused_before_training(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = invoke("train", "mlvae", "exam-scores", "--out", str(afile), *TINY)
    assert result.exit_code == 2 and "is a file, not a directory" in result.output
    result = invoke("train", "mlvae", "exam-scores", "--out", str(afile / "sub"), *TINY)
    assert result.exit_code == 2 and "is a file, so no directory can be made" in result.output
    monkeypatch.chdir(tmp_path)
    result = invoke("train", "mlvae", "exam-scores", "--out", ".", *TINY)
    assert result.exit_code == 2 and "not a groupvae run (afile)" in result.output
    assert afile.read_text() == "x"


@pytest.mark.parametrize(
    ("corrupt", "command", "message"),
    [
        (_corrupt_history, "evaluate", "history.csv does not match"),
        (_corrupt_seed, "evaluate", "its data record has a bad seed ('abc')"),
        (None, "plot-into-dir", "is a directory; give the figure's file name"),
    ],
)
def test_bad_run_input_is_one_line_and_status_2(finished, tmp_path, corrupt, command, message):
    import shutil

    run = Path(shutil.copytree(finished, tmp_path / "run"))
    if corrupt is not None:
        corrupt(run)
    if command == "evaluate":
        result = invoke("evaluate", str(run))
    else:
        result = invoke("plot", "translation", str(run), "--out", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


# ------------------------------------------------------------ the Python API
def test_bad_api_input_is_a_groupvae_error():
    with pytest.raises(DataError, match="x must be numbers"):
        GroupedDataset(x=np.array([["a"], ["b"]]), group=np.array([0, 1]))
    with pytest.raises(DataError, match=r"aux\['noise'\] must be an array with one row"):
        GroupedDataset(x=np.zeros((2, 1)), group=np.array([0, 1]), aux={"noise": 3.0})
    with pytest.raises(ConfigError, match="obs_shape must be a tuple of whole sizes >= 1"):
        create("mlvae", obs_shape=(-1,))
    with pytest.raises(ConfigError, match=r"group_dim must be int, got 2\.5"):
        create("mlvae", group_dim=2.5)
    with pytest.raises(ConfigError, match="seed must be a whole number >= 0"):
        create("mlvae", seed=-1)


def test_the_holdout_is_preflighted_like_the_training_data():
    train = make_exam_scores(16, seed=0)
    wide = GroupedDataset(x=np.zeros((8, 2)), group=np.repeat(np.arange(4), 2))
    model = create("mlvae", dataset="exam-scores", hidden=8)
    with pytest.raises(DataError, match=r"observations have shape \(2,\)"):
        model.fit(train, holdout=wide, epochs=1, progress=False)
    assert model.history is None  # nothing trained
    images = create("mlvae", obs_shape=(1, 2, 2), likelihood="bernoulli", hidden=8)
    ok = GroupedDataset(x=np.full((8, 1, 2, 2), 0.5), group=np.repeat(np.arange(4), 2))
    bad = GroupedDataset(x=np.full((8, 1, 2, 2), 2.0), group=np.repeat(np.arange(4), 2))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        images.fit(ok, holdout=bad, epochs=1, progress=False)
