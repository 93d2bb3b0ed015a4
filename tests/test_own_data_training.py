"""Defaults that train well on any grouping: epochs sized by optimiser steps, early
stopping on the holdout ELBO with the best weights restored, subsampling of large groups."""

from __future__ import annotations

import numpy as np
import torch

from groupvae.config import TrainConfig
from groupvae.data import make_exam_scores
from groupvae.data.subsample import subsample_size, subsample_summary
from groupvae.models import create
from groupvae.training.early_stopping import BestHoldoutELBO
from groupvae.training.steps import describe, epochs_for_steps


def test_epochs_adapt_to_reach_min_steps():
    config = TrainConfig(epochs=10, min_steps=1000)
    assert epochs_for_steps(config, steps_per_epoch=3).epochs == 334
    assert epochs_for_steps(config, steps_per_epoch=500).epochs == 10  # already enough
    assert epochs_for_steps(TrainConfig(epochs=7), 3).epochs == 7
    line = describe(epochs_for_steps(config, 3), 3, 64)
    assert "334 epochs x 3 steps = 1002 optimiser steps" in line and "subsampled to 64" in line


def test_subsample_size_applies_only_above_the_limit():
    sizes = np.array([3, 10, 200])
    assert subsample_size(sizes, TrainConfig(max_group_size=128)) == 128
    assert subsample_size(sizes, TrainConfig(max_group_size=500)) is None
    assert subsample_size(sizes, TrainConfig()) is None
    summary = subsample_summary(sizes, 128)
    assert summary["groups_subsampled"] == 1
    assert summary["rows_per_epoch"] == (3 + 10 + 128) / 213


class _FakeTrainer:
    def __init__(self) -> None:
        self.sanity_checking, self.should_stop, self.current_epoch = False, False, 0
        self.callback_metrics: dict[str, torch.Tensor] = {}


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    module = torch.nn.Linear(2, 1)
    stopper, trainer = BestHoldoutELBO(patience=2), _FakeTrainer()
    for epoch, elbo in enumerate([-3.0, -2.0, -2.5, -2.4, -2.2]):
        trainer.current_epoch = epoch
        with torch.no_grad():
            module.weight.fill_(float(epoch))
        trainer.callback_metrics["val_elbo_per_obs"] = torch.tensor(elbo)
        stopper.on_train_epoch_end(trainer, module)
        if trainer.should_stop:
            break
    assert stopper.best_epoch == 1 and stopper.stopped_epoch == 3 and epoch == 3
    stopper.on_fit_end(trainer, module)
    assert torch.all(module.weight == 1.0)


def test_fit_with_early_stopping_records_it_and_keeps_the_best_holdout_elbo():
    data = make_exam_scores(48, seed=0)
    train, hold = data.split(0.25, seed=0)
    model = create("mlvae", dataset="exam-scores", hidden=8, seed=0)
    model.fit(train, holdout=hold, epochs=30, groups_per_batch=8, lr=5e-2, progress=False,
              early_stopping_patience=3)  # fmt: skip
    record = model.extra_metadata["early_stopping"]
    assert record["best_epoch"] is not None
    history = model.history["val_elbo_per_obs"].to_numpy()
    assert record["best"] == np.float32(history.max()) or np.isclose(record["best"], history.max())
    if record["stopped_epoch"] is not None:
        assert record["stopped_epoch"] - record["best_epoch"] == 3
        assert len(history) == record["stopped_epoch"] + 1


def test_fit_sizes_training_by_steps_and_prints_the_settings(capsys):
    data = make_exam_scores(20, seed=0)
    model = create("mlvae", dataset="exam-scores", hidden=8, seed=0)
    model.fit(data, epochs=1, groups_per_batch=10, min_steps=6)
    assert model.train_config.epochs == 3 and len(model.history) == 3
    assert "3 epochs x 2 steps = 6 optimiser steps" in capsys.readouterr().out


def test_early_stopping_waits_for_min_epochs():
    module = torch.nn.Linear(2, 1)
    stopper, trainer = BestHoldoutELBO(patience=1, min_epochs=4), _FakeTrainer()
    for epoch, elbo in enumerate([-1.0, -2.0, -2.0, -2.0, -2.0]):
        trainer.current_epoch = epoch
        trainer.callback_metrics["val_elbo_per_obs"] = torch.tensor(elbo)
        stopper.on_train_epoch_end(trainer, module)
        if trainer.should_stop:
            break
    assert stopper.stopped_epoch == 3  # the 4th epoch, not the 2nd
