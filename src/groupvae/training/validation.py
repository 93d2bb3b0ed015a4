"""Validation during training: the holdout ELBO estimate every few optimiser steps,
early stopping on it, and the best weights restored."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

Estimate = Callable[[torch.nn.Module], dict[str, float]]
"""``estimate(module) -> {"elbo_per_obs": ..., ...}``: a deterministic function of the
weights (:func:`groupvae.training.holdout.elbo_estimate` on the holdout batches)."""

MONITOR = "elbo_per_obs"
"""The estimate's term that early stopping watches (nats per observation, higher is
better); it is logged as ``val_elbo_per_obs``."""


class HoldoutValidation(Callback):
    """Estimate the holdout ELBO after every ``every``-th epoch and after the last one;
    with ``patience``, stop once ``patience`` checks in a row have not improved on the
    best by more than ``min_delta`` nats, and load the best check's weights at the end.

    The checks are counted in validation checks, not epochs; ``every`` is chosen by the
    model from ``TrainConfig.validation_every`` (optimiser steps) and the epoch's length,
    so a data set of a few groups (one or two steps an epoch) is not validated after each
    tiny epoch. The check runs in the callback's epoch-end hook, before the run's
    checkpoint is written, so a resumed run stops where it would have.

    Args:
        estimate: the holdout estimate (see :data:`Estimate`).
        every: validate after epochs ``every, 2 every, ...`` (1-based) and the last.
        patience: checks without improvement before stopping; ``None``: never stop
            early and keep the last weights.
        min_delta: the smallest rise (nats per observation) that counts.

    Attributes:
        best: the best ``elbo_per_obs`` seen, ``-inf`` before the first check.
        best_step: model optimiser steps at the best check (the restored weights').
        best_epoch: its epoch (0-based).
        stopped_step: the step training stopped at early, or ``None``.
        checks: validation checks made.
        last: the terms of the latest check (``None`` before the first).
    """

    def __init__(
        self,
        estimate: Estimate,
        *,
        every: int = 1,
        patience: int | None = None,
        min_delta: float = 0.0,
    ) -> None:
        super().__init__()
        self.estimate, self.every = estimate, max(1, every)
        self.patience, self.min_delta = patience, min_delta
        self.best = -math.inf
        self.best_step: int | None = None
        self.best_epoch: int | None = None
        self.stopped_step: int | None = None
        self.stopped_epoch: int | None = None
        self.checks = 0
        self.last: dict[str, float] | None = None
        self._since_best = 0
        self._weights: dict[str, torch.Tensor] | None = None
        self._row: dict[str, float] = {}

    # ------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Kept in the epoch checkpoint, so a resumed run stops where it would have."""
        keys = ("best", "best_step", "best_epoch", "checks", "last", "_since_best", "_weights")
        return {k: getattr(self, k) for k in keys}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for key, value in state_dict.items():
            setattr(self, key, value)

    # ------------------------------------------------------------- checks
    def due(self, trainer: L.Trainer) -> bool:
        """Whether the epoch that just ended is checked: every ``every``-th, the last of
        the budget, and one the run stops after (``should_stop``)."""
        epoch = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and epoch >= trainer.max_epochs
        return epoch % self.every == 0 or last or trainer.should_stop

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._row = {}
        if trainer.sanity_checking or not self.due(trainer):
            return
        terms = self.estimate(pl_module.module)
        self.last, self.checks = terms, self.checks + 1
        self._row = {f"val_{k}": v for k, v in terms.items() if k != "n_samples"}
        value = terms[MONITOR]
        if not math.isfinite(value):
            return  # the run's non-finite guard names it at the epoch's end
        step = int(getattr(pl_module, "model_steps", trainer.global_step))
        if value > self.best + self.min_delta:
            self.best, self.best_step, self.best_epoch = value, step, trainer.current_epoch
            self._since_best = 0
            if self.patience is not None:
                self._weights = {
                    k: v.detach().clone() for k, v in pl_module.module.state_dict().items()
                }
            return
        self._since_best += 1
        if self.patience is not None and self._since_best >= self.patience:
            self.stopped_step, self.stopped_epoch = step, trainer.current_epoch
            trainer.should_stop = True

    def pop_row(self) -> dict[str, float]:
        """The ``val_*`` terms of the epoch that just ended (empty if it was not checked),
        for the run's history; cleared once read."""
        row, self._row = self._row, {}
        return row

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._weights is not None:
            pl_module.module.load_state_dict(self._weights)

    def summary(self) -> dict[str, Any]:
        """What happened, for the run's metadata: the estimator's terms of the restored
        (best or last) weights are ``best`` (early stopping) or ``last``."""
        return {
            "monitor": f"val_{MONITOR}",
            "patience": self.patience,
            "checks": self.checks,
            "every_epochs": self.every,
            "best": self.best if self.best_step is not None else None,
            "best_step": self.best_step,
            "best_epoch": self.best_epoch,
            "stopped_step": self.stopped_step,
            "stopped_epoch": self.stopped_epoch,
            "restored": "best" if self._weights is not None else "last",
        }


__all__ = ["MONITOR", "Estimate", "HoldoutValidation"]
