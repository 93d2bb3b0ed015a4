"""The one Lightning training plan of every model family.

What differs between families comes in as hooks of the module and the model: the critic
(``module.critic_loss`` / ``critic_parameters``: CxVAE's and Nemeth's adversarial
regularisers, updated first on each step, as in the CxVAE authors' code) and the loss
weights by training progress (``schedules``: the KL warm-up of group VAEs, CPVAE's alpha
of CPVAE eq. 10).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
import torch

from groupvae.config import TrainConfig
from groupvae.errors import GroupVAEError, NonFiniteLossError
from groupvae.models.base import BaseModule

NAN_HINT = (
    "Try a smaller learning rate (--set lr=...), check the data range (a Bernoulli "
    "likelihood needs x in [0, 1]; standardise Gaussian data), or a smaller "
    "regulariser_weight (CPVAE: a larger min_logvar or a smaller alpha)."
)


class TrainingPlan(L.LightningModule):
    """Trains a :class:`~groupvae.models.base.BaseModule` by minimising its ``loss``.

    Each step first updates the critic, if the module has one, on its own loss
    (detached codes), then the model on its loss with the current weights
    (``schedules``). Every term of :meth:`LossOutput.scalars` is logged per epoch as
    ``train_*`` and, with holdout data, ``val_*`` (without the regulariser).

    Args:
        module: the model's module (trained in place).
        config: training settings (``lr``, ``critic_lr``, ``epochs``).
        steps_per_epoch: batches per epoch, to measure progress.
        schedules: loss keyword -> ``schedule(progress in [0, 1])``.

    Raises:
        NonFiniteLossError: as soon as a loss is NaN or infinite.
    """

    def __init__(
        self,
        module: BaseModule,
        config: TrainConfig,
        steps_per_epoch: int,
        schedules: Mapping[str, Callable[[float], float]] | None = None,
    ) -> None:
        super().__init__()
        self.module = module
        self.config = config
        self.total_steps = max(1, config.epochs * steps_per_epoch)
        self.schedules = dict(schedules or {})
        self.automatic_optimization = False
        # Model updates so far. Lightning's global_step also counts the critic's
        # optimiser steps, which would run the schedules twice as fast with a critic.
        self.model_steps = 0

    def weights(self) -> dict[str, float]:
        """The loss weights at the current step (progress ``model_steps / total_steps``)."""
        progress = self.model_steps / self.total_steps
        out = {}
        for name, schedule in self.schedules.items():
            value = float(schedule(progress))
            if not math.isfinite(value) or value < 0:
                raise GroupVAEError(f"the {name} schedule returned {value}; it must be >= 0")
            out[name] = value
        return out

    def on_train_start(self) -> None:
        # Under DDP each rank has fewer batches than the loader had before the process
        # group existed: measure progress in this rank's batches.
        batches = self.trainer.num_training_batches
        if isinstance(batches, int) and batches > 0:
            self.total_steps = max(1, self.config.epochs * batches)

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        return batch.to(device)

    def _check(self, loss: torch.Tensor, what: str) -> None:
        if not bool(torch.isfinite(loss)):
            raise NonFiniteLossError(
                f"the {what} became {float(loss.detach())} at epoch {self.current_epoch}, "
                f"step {self.model_steps}. {NAN_HINT}"
            )

    def rank_weight(self, batch: Any) -> torch.Tensor | float:
        """Under DDP, ``world_size * n_local / n_total`` (groups of this rank's batch over
        all ranks'): DDP averages the ranks' gradients, and this weight makes that
        average the gradient of the mean over *all* the step's groups, whatever each rank
        holds. 1 on one device (and no synchronisation)."""
        world = self.trainer.world_size if self._trainer is not None else 1
        if world == 1:
            return 1.0
        n = torch.tensor(float(getattr(batch, "n_groups", len(batch))), device=self.device)
        total = self.trainer.strategy.reduce(n.clone(), reduce_op="sum")
        return world * n / total

    def training_step(self, batch: Any, batch_idx: int) -> None:
        optimisers = self.optimizers()
        optimisers = optimisers if isinstance(optimisers, list) else [optimisers]
        weight = self.rank_weight(batch)
        if len(optimisers) > 1:
            critic_loss = weight * self.module.critic_loss(batch)
            self._check(critic_loss, "critic loss")
            optimisers[1].zero_grad()
            self.manual_backward(critic_loss)
            optimisers[1].step()
        out = self.module(batch, **self.weights())
        self._check(out.loss, "training loss")
        optimisers[0].zero_grad()
        self.manual_backward(weight * out.loss)
        optimisers[0].step()
        self.model_steps += 1
        metrics = {f"train_{k}": v.detach() for k, v in out.scalars().items()}
        distributed = self.trainer.world_size > 1  # reduced across ranks once per epoch
        self.log_dict(
            metrics, on_step=False, on_epoch=True, batch_size=out.n_groups, sync_dist=distributed
        )
        self.log(
            "loss", out.loss.detach(), prog_bar=True, on_step=True, on_epoch=False, logger=False
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        out = self.module(batch, with_regulariser=False, **self.weights())
        metrics = {f"val_{k}": v for k, v in out.scalars().items()}
        distributed = self.trainer.world_size > 1  # each rank validates its own groups
        self.log_dict(
            metrics, on_step=False, on_epoch=True, batch_size=out.n_groups, sync_dist=distributed
        )

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        opts = [torch.optim.Adam(self.module.model_parameters(), lr=self.config.lr)]
        critic = self.module.critic_parameters()
        if critic:
            opts.append(torch.optim.Adam(critic, lr=self.config.critic_lr or self.config.lr))
        return opts
