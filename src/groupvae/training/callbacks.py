"""Lightning callbacks of groupvae: scoring a model on holdout data as it trains."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback

from groupvae.data.grouped import GroupedDataset

Score = Callable[[Any, GroupedDataset], dict[str, float]]
"""``score(model, data) -> {metric: value}``, e.g. ``exam_scores_metrics``."""


class EpochEvaluation(Callback):
    """After every ``every``-th training epoch, score the user model on a fixed sample
    of holdout groups (the CxVAE paper's Fig. 5, errors by epoch).

    The sample is drawn once (``max_groups`` groups, seeded), so every epoch and every
    model of a seed is scored on the same groups. Scoring runs without gradients on the
    posterior means, under a forked torch RNG (training's random stream is unchanged),
    and puts the module back in training mode.

    Args:
        model: the :class:`~groupvae.models.base.BaseModel` being fitted.
        holdout: the holdout groups.
        score: ``score(model, groups) -> dict`` of floats.
        max_groups: groups scored each time (all if fewer).
        every: score after epochs ``every, 2 every, ...`` (1-based) and the last.
        seed: seed of the group sample.

    Attributes:
        rows: one dict per scored epoch: ``epoch`` (1-based) and the scores.
    """

    def __init__(
        self,
        model: Any,
        holdout: GroupedDataset,
        score: Score,
        *,
        max_groups: int = 1024,
        every: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if holdout.n_groups > max_groups:
            chosen = np.random.default_rng(seed).permutation(holdout.n_groups)[:max_groups]
            holdout = holdout.subset_groups(np.sort(chosen))
        self.model = model
        self.holdout = holdout
        self.score = score
        self.every = max(1, every)
        self.rows: list[dict[str, Any]] = []

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.every and epoch != trainer.max_epochs:
            return
        module = self.model.module
        was_training = module.training
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            scores = self.score(self.model, self.holdout)
        module.train(was_training)
        self.rows.append({"epoch": epoch, **scores})

    def frame(self) -> pd.DataFrame:
        """The scores so far, one row per scored epoch."""
        return pd.DataFrame(self.rows)


__all__ = ["EpochEvaluation", "Score"]
