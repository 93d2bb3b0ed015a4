"""The Lightning training plan: optimisers, alternating critic updates, KL warm-up, logs."""

from __future__ import annotations

import lightning as L
import torch

from groupvae.config import TrainConfig
from groupvae.data.batch import GroupBatch
from groupvae.errors import NonFiniteLossError
from groupvae.models.module import GroupVAEModule

NAN_HINT = (
    "Try a smaller learning rate (--set lr=...), check the data range (a Bernoulli "
    "likelihood needs x in [0, 1]; standardise Gaussian data), or a smaller "
    "regulariser_weight."
)


class TrainingPlan(L.LightningModule):
    """Trains a :class:`GroupVAEModule` by maximising the group ELBO.

    With a regulariser, each step first updates the critic to maximise its MINE estimate
    on detached instance codes, then updates the model on ``-ELBO + weight * I_hat``
    (alternating updates, as in the CxVAE authors' code). Every ELBO term is logged per
    epoch as ``train_*`` and, with holdout data, ``val_*``.

    Raises:
        NonFiniteLossError: as soon as a loss is NaN or infinite.
    """

    def __init__(self, module: GroupVAEModule, config: TrainConfig, steps_per_epoch: int) -> None:
        super().__init__()
        self.module = module
        self.config = config
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.automatic_optimization = False
        # Model updates so far. Lightning's global_step also counts the critic's
        # optimiser steps, which would run the KL warm-up twice as fast with a critic.
        self.model_steps = 0

    def kl_weight(self) -> float:
        if self.config.kl_warmup_epochs <= 0:
            return 1.0
        progress = self.model_steps / (self.config.kl_warmup_epochs * self.steps_per_epoch)
        return min(1.0, progress)

    def transfer_batch_to_device(
        self, batch: GroupBatch, device: torch.device, dataloader_idx: int
    ) -> GroupBatch:
        return batch.to(device)

    def _check(self, loss: torch.Tensor, what: str) -> None:
        if not bool(torch.isfinite(loss)):
            raise NonFiniteLossError(
                f"the {what} became {float(loss.detach())} at epoch {self.current_epoch}, "
                f"step {self.model_steps}. {NAN_HINT}"
            )

    def training_step(self, batch: GroupBatch, batch_idx: int) -> None:
        optimisers = self.optimizers()
        opt_model = optimisers[0] if isinstance(optimisers, list) else optimisers
        if self.module.regulariser is not None:
            opt_critic = optimisers[1]
            critic_loss = self.module.critic_loss(batch.x, batch.group, batch.n_groups)
            self._check(critic_loss, "critic loss")
            opt_critic.zero_grad()
            self.manual_backward(critic_loss)
            opt_critic.step()
        out = self.module(batch.x, batch.group, batch.n_groups, kl_weight=self.kl_weight())
        self._check(out.loss, "training loss")
        opt_model.zero_grad()
        self.manual_backward(out.loss)
        opt_model.step()
        self.model_steps += 1
        metrics = {f"train_{k}": v.detach() for k, v in out.scalars().items()}
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=batch.n_groups)
        self.log(
            "loss", out.loss.detach(), prog_bar=True, on_step=True, on_epoch=False, logger=False
        )

    def validation_step(self, batch: GroupBatch, batch_idx: int) -> None:
        inf = self.module.inference(batch.x, batch.group, batch.n_groups)
        params = self.module.generative(inf["u"], inf["v"])
        out = self.module.loss(
            batch.x, batch.group, batch.n_groups, inf, params, with_regulariser=False
        )
        metrics = {f"val_{k}": v for k, v in out.scalars().items()}
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=batch.n_groups)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        opts = [torch.optim.Adam(self.module.model_parameters(), lr=self.config.lr)]
        if self.module.regulariser is not None:
            lr = self.config.critic_lr or self.config.lr
            opts.append(torch.optim.Adam(self.module.regulariser.parameters(), lr=lr))
        return opts
