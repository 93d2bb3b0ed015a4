"""The epoch-end holdout scorer: one row per scored epoch, training unchanged by it."""

from __future__ import annotations

import numpy as np
import torch

from groupvae.data.exam_scores import make_exam_scores
from groupvae.models import create
from groupvae.training.callbacks import EpochEvaluation


def _errors(model, data):
    x_hat = model.reconstruct(data)
    return {"rec": float(np.mean((x_hat - data.x) ** 2)), "n_groups": data.n_groups}


def _fit(callbacks=None):
    train = make_exam_scores(40, seed=0)
    model = create("mlvae", dataset="exam-scores", hidden=8, seed=0)
    model.fit(train, epochs=3, progress=False, callbacks=callbacks)
    return model


def test_scores_every_epoch_on_a_fixed_sample_and_leaves_training_alone():
    hold = make_exam_scores(30, seed=1)
    probe = create("mlvae", dataset="exam-scores", hidden=8, seed=0)
    recorder = EpochEvaluation(probe, hold, _errors, max_groups=12, seed=0)
    model = create("mlvae", dataset="exam-scores", hidden=8, seed=0)
    recorder.model = model  # score the model being fitted
    train = make_exam_scores(40, seed=0)
    model.fit(train, epochs=3, progress=False, callbacks=[recorder])
    frame = recorder.frame()
    assert list(frame["epoch"]) == [1, 2, 3]
    assert (frame["n_groups"] == 12).all()
    assert frame["rec"].iloc[-1] == _errors(model, recorder.holdout)["rec"]  # last epoch
    plain = _fit()
    for a, b in zip(model.module.parameters(), plain.module.parameters(), strict=True):
        torch.testing.assert_close(a, b)  # scoring changed neither weights nor RNG


def test_every_n_epochs_still_scores_the_last():
    hold = make_exam_scores(10, seed=1)
    model = create("mlvae", dataset="exam-scores", hidden=8, seed=0)
    recorder = EpochEvaluation(model, hold, _errors, every=2)
    model.fit(make_exam_scores(20, seed=0), epochs=3, progress=False, callbacks=[recorder])
    assert list(recorder.frame()["epoch"]) == [2, 3]
