"""What the user sets is what runs (epochs, max_steps), defaults sized from the data's
shape, validation on a deterministic estimate with early stopping, and one number for the
restored weights wherever it is reported."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from groupvae.cli import app
from groupvae.config import TrainConfig
from groupvae.data import make_exam_scores
from groupvae.data.readers import read_table
from groupvae.data.subsample import subsample_size, subsample_summary
from groupvae.errors import ConfigError
from groupvae.models import create
from groupvae.models.defaults import DataShape, own_data_training
from groupvae.training.steps import describe, size_budget, total_steps, validation_epochs
from groupvae.training.validation import HoldoutValidation


def _table(n_groups: int = 24, seed: int = 0):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 9, size=n_groups)
    group = np.repeat([f"g{i:02d}" for i in range(n_groups)], sizes)
    level = np.repeat(rng.normal(size=n_groups), sizes)
    n = len(group)
    frame = pd.DataFrame(
        {"g": group, "a": level + rng.normal(0, 0.5, n), "b": 2 * level + rng.normal(0, 0.5, n)}
    )
    return frame, read_table(frame, group="g", features=["a", "b"])


def test_budget_in_steps_sizes_the_epochs_and_caps_the_steps():
    config = TrainConfig(epochs=None, max_steps=1000)
    sized = size_budget(config, steps_per_epoch=3)
    assert sized.epochs == 334 and total_steps(sized, 3) == 1000  # the last epoch is cut
    assert size_budget(TrainConfig(epochs=7), 3).epochs == 7
    assert total_steps(TrainConfig(epochs=7, max_steps=10), 3) == 10  # whichever first
    assert validation_epochs(TrainConfig(validation_every=50), 3) == 17
    assert validation_epochs(TrainConfig(validation_every=50), 500) == 1
    assert validation_epochs(TrainConfig(), 3) == 1
    line = describe(sized, 3, 64, budget_source="yours: max_steps", validation_groups=5)
    assert "budget 1000 optimiser steps (max_steps 1000, yours: max_steps)" in line
    assert "up to 334 epochs x 3 steps" in line and "on 5 holdout groups" in line
    with pytest.raises(ConfigError, match="set epochs or max_steps"):
        TrainConfig(epochs=None, max_steps=None)


def test_own_data_defaults_follow_the_data_shape():
    few_large = own_data_training("table", DataShape(n_groups=52, n_obs=2600, median_group_size=50))
    many_small = own_data_training("table", DataShape(2000, 20000, 10))
    assert few_large["groups_per_batch"] == 5 and many_small["groups_per_batch"] == 26
    assert 3000 <= few_large["max_steps"] <= many_small["max_steps"] <= 10000
    assert few_large["validation_every"] >= math.ceil(52 / 5)  # at least an epoch
    assert own_data_training("exam-scores", DataShape(52, 2600, 50)) == {}


def test_what_the_user_sets_replaces_the_default_budget():
    _, data = _table()
    model = create("mlvae", dataset="table", obs_shape=data.obs_shape, seed=0)
    default = model.resolved_train_config(data)
    assert default.epochs is None and default.max_steps is not None
    mine = model.resolved_train_config(data, epochs=7)
    assert mine.epochs == 7 and mine.max_steps is None
    steps = model.resolved_train_config(data, max_steps=40)
    assert steps.epochs is None and steps.max_steps == 40
    both = model.resolved_train_config(data, epochs=3, max_steps=40)
    assert (both.epochs, both.max_steps) == (3, 40)


def test_fit_trains_exactly_the_epochs_or_steps_asked_for():
    _, data = _table()
    model = create("mlvae", dataset="table", obs_shape=data.obs_shape, hidden=8, seed=0)
    model.fit(data, epochs=2, progress=False)
    assert len(model.history) == 2 and model.train_config.epochs == 2
    model = create("mlvae", dataset="table", obs_shape=data.obs_shape, hidden=8, seed=0)
    model.fit(data, max_steps=5, groups_per_batch=4, progress=False)  # 6 steps an epoch
    assert int(model.history["step"].iloc[-1]) == 5 and len(model.history) == 1


class _FakeTrainer:
    def __init__(self, max_epochs: int = 100) -> None:
        self.sanity_checking, self.should_stop, self.current_epoch = False, False, 0
        self.max_epochs, self.global_step = max_epochs, 0


class _FakePlan:
    def __init__(self) -> None:
        self.module, self.model_steps = torch.nn.Linear(2, 1), 0


def test_validation_counts_checks_stops_after_patience_and_restores_the_best_weights():
    values = iter([-3.0, -2.0, -2.5, -2.4, -2.2])
    check = HoldoutValidation(lambda m: {"elbo_per_obs": next(values)}, every=2, patience=2)
    trainer, plan = _FakeTrainer(), _FakePlan()
    rows = []
    for epoch in range(20):
        trainer.current_epoch, plan.model_steps = epoch, 3 * (epoch + 1)
        with torch.no_grad():
            plan.module.weight.fill_(float(epoch))
        check.on_train_epoch_end(trainer, plan)
        rows.append(check.pop_row())
        if trainer.should_stop:
            break
    # checked after epochs 2, 4, 6, 8 (1-based); best at the 2nd check; 2 worse ones stop
    assert [bool(r) for r in rows] == [False, True] * 4
    assert check.best_step == 12 and check.best_epoch == 3 and check.stopped_step == 24
    check.on_fit_end(trainer, plan)
    assert torch.all(plan.module.weight == 3.0)
    summary = check.summary()
    assert summary["checks"] == 4 and summary["restored"] == "best"


def test_validation_checks_the_last_epoch_of_the_budget():
    check = HoldoutValidation(lambda m: {"elbo_per_obs": -1.0}, every=10)
    trainer, plan = _FakeTrainer(max_epochs=3), _FakePlan()
    trainer.current_epoch = 2
    check.on_train_epoch_end(trainer, plan)
    assert check.pop_row() == {"val_elbo_per_obs": -1.0} and check.summary()["restored"] == "last"


def test_the_validation_estimate_is_the_same_for_the_same_weights():
    data = make_exam_scores(24, seed=0)
    train, hold = data.split(0.25, seed=0)
    model = create("mlvae", dataset="exam-scores", hidden=8, seed=0)
    model.fit(train, epochs=1, progress=False)
    torch.manual_seed(123)
    first = model.get_elbo(hold, n_samples=3)
    torch.rand(10)  # the caller's random stream does not matter
    second = model.get_elbo(hold, n_samples=3)
    assert first == second and first["n_samples"] == 3
    assert model.get_elbo(hold, n_samples=1) != first  # more samples, another estimate


def test_train_metadata_evaluate_and_history_report_one_number(tmp_path):
    frame, _ = _table(n_groups=30)
    frame.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "run"
    runner = CliRunner()
    args = ["train", "mlvae", "table", "--out", str(out), "--data", f"path={tmp_path / 't.csv'}",
            "--data", "group=g", "--set", "hidden=8", "--set", "max_steps=60",
            "--set", "validation_every=6", "--set", "early_stopping_patience=3"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "metadata.json").read_text())
    record = meta["holdout_elbo"]
    value = record["elbo_per_observation"]
    assert f"{value:.4f} nats" in result.output and record["estimator"] in result.output
    history = pd.read_csv(out / "history.csv")
    row = history[history["step"] == record["step"]]
    assert row["val_elbo_per_obs"].item() == value
    if meta["early_stopping"]["restored"] == "best":
        assert value == history["val_elbo_per_obs"].max()
    evaluated = runner.invoke(app, ["evaluate", str(out), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(evaluated.output[evaluated.output.index("{") :])
    assert metrics["elbo_per_observation"] == value
    assert metrics["estimator"] == record["estimator"]


def test_cli_epochs_trains_exactly_that_many(tmp_path):
    frame, _ = _table()
    frame.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "run"
    args = ["train", "mlvae", "table", "--out", str(out), "--data", f"path={tmp_path / 't.csv'}",
            "--data", "group=g", "--set", "hidden=8", "--epochs", "7"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out / "history.csv")) == 7
    assert "= 7 epochs x" in result.output and "yours: epochs" in result.output


def test_subsample_size_applies_only_above_the_limit():
    sizes = np.array([3, 10, 200])
    assert subsample_size(sizes, TrainConfig(max_group_size=128)) == 128
    assert subsample_size(sizes, TrainConfig(max_group_size=500)) is None
    assert subsample_size(sizes, TrainConfig()) is None
    summary = subsample_summary(sizes, 128)
    assert summary["groups_subsampled"] == 1
    assert summary["rows_per_epoch"] == (3 + 10 + 128) / 213


def test_own_data_warms_the_kl_up_and_a_users_epochs_cap_it():
    _, data = _table()
    model = create("mlvae", dataset="table", obs_shape=data.obs_shape, seed=0)
    assert model.resolved_train_config(data).kl_warmup_epochs == 10
    assert model.resolved_train_config(data, epochs=30).kl_warmup_epochs == 3
    assert model.resolved_train_config(data, epochs=30, kl_warmup_epochs=5).kl_warmup_epochs == 5
    weights = model._schedules(TrainConfig(epochs=4, kl_warmup_epochs=8))["kl_weight"]
    assert weights(0.5) == 0.5 and weights(1.0) == 1.0  # reaches 1 by the end at most
