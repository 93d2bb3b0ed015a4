"""Early stopping on the holdout ELBO, with the weights of the best epoch restored."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

MONITOR = "val_elbo_per_obs"
"""The logged term watched: the holdout ELBO per observation (nats, higher is better)."""


class BestHoldoutELBO(Callback):
    """Stop when the holdout ELBO per observation has not risen by more than
    ``min_delta`` nats for ``patience`` epochs, but not before ``min_epochs`` epochs (the
    epochs that ``min_steps`` asks for: on few groups the holdout ELBO is noisy, and an
    early stop would undo the steps a run needs); at the end, load the best epoch's
    weights.

    Pass it to ``model.fit`` through ``callbacks`` (``BaseModel.plan_fit`` adds it itself
    when ``TrainConfig.early_stopping_patience`` is set and holdout data is given).

    Attributes:
        best: the best holdout ELBO per observation seen (nats), ``-inf`` before.
        best_epoch: its epoch (0-based), ``None`` before.
        stopped_epoch: the epoch training stopped at, or ``None`` if it ran to the end.
    """

    def __init__(
        self,
        patience: int,
        *,
        min_delta: float = 0.0,
        min_epochs: int = 0,
        monitor: str = MONITOR,
    ) -> None:
        super().__init__()
        self.patience, self.min_delta, self.monitor = patience, min_delta, monitor
        self.min_epochs = min_epochs
        self.best = -math.inf
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._state: dict[str, torch.Tensor] | None = None

    def state_dict(self) -> dict[str, Any]:
        """Kept in the epoch checkpoint, so a resumed run stops where it would have."""
        return {"best": self.best, "best_epoch": self.best_epoch, "weights": self._state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best, self.best_epoch = state_dict["best"], state_dict["best_epoch"]
        self._state = state_dict["weights"]

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # The epoch's validation ran, and the plan logged its terms, before this hook.
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        value = float(value)
        epoch = trainer.current_epoch
        if value > self.best + self.min_delta:
            self.best, self.best_epoch = value, epoch
            self._state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        elif (
            self.best_epoch is not None
            and epoch - self.best_epoch >= self.patience
            and epoch + 1 >= self.min_epochs
        ):
            self.stopped_epoch = epoch
            trainer.should_stop = True

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._state is not None:
            pl_module.load_state_dict(self._state)

    def summary(self) -> dict[str, Any]:
        """What happened, for the run's metadata."""
        return {
            "monitor": self.monitor,
            "patience": self.patience,
            "best": self.best if self.best_epoch is not None else None,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
        }


__all__ = ["MONITOR", "BestHoldoutELBO"]
