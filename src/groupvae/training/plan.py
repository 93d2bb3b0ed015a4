"""The one Lightning training plan of every model family.

What differs between families comes in as hooks of the module and the model: the critic
(``module.critic_loss`` / ``critic_parameters``: CxVAE's and Nemeth's adversarial
regularisers, updated first on each step, as in the CxVAE authors' code) and the loss
weights by training progress (``schedules``: the KL warm-up of group VAEs, CPVAE's alpha
of CPVAE eq. 10).

The step does not synchronise with the host: the logged terms are summed on the device
and logged once per epoch (:class:`EpochMeans`), the losses are checked for
non-finite values on the device (:class:`FiniteGuard`), which skips the optimiser step
of a non-finite loss and raises at the end of the epoch, and the group sizes of a batch
are checked once on the host, before it moves to the device (the module's
``check_step_batch``), so that the step runs without the segment operations' own checks
(:func:`~groupvae.nn.segment.trusted_groups`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from groupvae.config import TrainConfig
from groupvae.errors import GroupVAEError, NonFiniteLossError
from groupvae.modules.base import BaseModule
from groupvae.nn.segment import trusted_groups
from groupvae.training.steps import total_steps

NAN_HINT = (
    "Try a smaller learning rate (--set lr=...), check the data range (a Bernoulli "
    "likelihood needs x in [0, 1]; standardise Gaussian data), or a smaller "
    "regulariser_weight (CPVAE: a larger min_logvar or a smaller alpha)."
)

FUSED_DEVICES = ("cpu", "cuda")
"""Devices whose fused Adam skips a step on the device (``found_inf``) without a host sync."""

PROGRESS_EVERY = 16
"""Steps between updates of the progress bar's ``loss`` (each update reads it on the host)."""


def lr_factor(schedule: str, progress: float) -> float:
    """The learning rate's multiplier at ``progress`` in ``[0, 1]`` of training:
    1 (``"constant"``) or ``(1 + cos(pi * progress)) / 2`` (``"cosine"``, Loshchilov &
    Hutter 2017, eq. 5 without restarts, annealed to 0).

    Raises:
        GroupVAEError: for an unknown schedule.
    """
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
    raise GroupVAEError(f"unknown lr_schedule {schedule!r}")


class EpochMeans:
    """Group-weighted epoch means of a fixed set of scalars, summed on the device.

    The value logged for a term is ``sum_b G_b t_b / sum_b G_b`` over the batches ``b``
    of the epoch (``G_b`` groups), what Lightning's ``log(..., on_epoch=True,
    batch_size=G_b)`` gives, at the cost of one ``stack`` and one ``add_`` per step.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self.sums: Tensor | None = None
        self.weight = 0

    def add(self, scalars: Mapping[str, Tensor], weight: int) -> None:
        """Add one batch's scalars (0-dim tensors), weighted by ``weight`` groups.

        Raises:
            GroupVAEError: if the names differ from those of the epoch's first batch.
        """
        values = torch.stack([v.detach() for v in scalars.values()])
        if self.sums is None:
            self.names, self.sums = list(scalars), values * weight
        else:
            if list(scalars) != self.names:
                raise GroupVAEError(f"logged terms changed within an epoch: {list(scalars)}")
            self.sums.add_(values, alpha=weight)
        self.weight += weight

    def pop(self) -> dict[str, Tensor]:
        """The epoch means by name (empty if nothing was added), and start a new epoch."""
        if self.sums is None:
            return {}
        means = dict(zip(self.names, self.sums / max(self.weight, 1), strict=True))
        self.__init__()
        return means


class FiniteGuard:
    """Records the losses of an epoch on the device; checks them once, at its end.

    :meth:`record` gives the ``found_inf`` flag of a step (its loss or its gradients
    not finite) for a fused optimiser, which then skips that step on the device: weights
    never take a non-finite update, and the epoch's check (:meth:`check`) raises with
    the first bad step. The gradients are read after their all-reduce under DDP, so
    every process skips the same steps.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.losses: list[Tensor] = []
        self.flags: list[Tensor] = []
        self.first_step = 0

    def record(self, loss: Tensor, step: int, grads: list[Tensor] | None = None) -> Tensor:
        """Keep ``loss`` (0-dim) of model step ``step``; return its ``found_inf`` flag,
        a 0-dim float32 tensor: 1 if ``loss`` or an element of ``grads`` is NaN or
        infinite.

        On the CPU and CUDA the gradients are tested by one fused kernel over all of
        them, the one ``torch.amp.GradScaler`` uses (``_amp_foreach_non_finite_check_and_
        unscale_``, with a scale of exactly 1, which leaves every gradient bit for bit
        as it was). Elsewhere by ``isfinite`` of the sum of per-tensor sums, where a sum
        of finite gradients that overflows float32 counts as non-finite too.
        """
        if not self.losses:
            self.first_step = step
        loss = loss.detach()
        bad = torch.isfinite(loss).logical_not().to(torch.float32)
        if grads and all(g.device.type in FUSED_DEVICES for g in grads):
            torch._amp_foreach_non_finite_check_and_unscale_(grads, bad, bad.new_ones(()))
        elif grads:
            total = torch.stack([g.sum() for g in grads]).sum()
            bad = torch.maximum(bad, torch.isfinite(total).logical_not().to(torch.float32))
        self.losses.append(loss)
        self.flags.append(bad)
        return bad

    def check(self, epoch: int) -> None:
        """Forget the recorded steps, after raising if one was not finite.

        Raises:
            NonFiniteLossError: naming the first non-finite step's loss, epoch and step.
        """
        if not self.losses:
            return
        losses, bad = torch.stack(self.losses), torch.stack(self.flags)
        self.losses, self.flags = [], []
        if bool(bad.any()):
            first = int(bad.to(torch.int64).argmax())
            value = float(losses[first])
            what = self.what if not math.isfinite(value) else f"gradient of the {self.what}"
            shown = value if not math.isfinite(value) else "non-finite"
            raise NonFiniteLossError(
                f"the {what} became {shown} at epoch {epoch}, "
                f"step {self.first_step + first}. {NAN_HINT}"
            )


@contextmanager
def frozen(parameters: list[nn.Parameter]) -> Iterator[None]:
    """Compute no gradients for ``parameters`` inside the block (they stay leaves)."""
    flags = [p.requires_grad for p in parameters]
    for p in parameters:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(parameters, flags, strict=True):
            p.requires_grad_(flag)


class TrainingPlan(L.LightningModule):
    """Trains a :class:`~groupvae.models.base.BaseModule` by minimising its ``loss``.

    Each step first updates the critic, if the module has one, on its own loss
    (detached codes), then the model on its loss with the current weights
    (``schedules``). With a critic, one inference serves both updates: the critic sees
    the detached instance samples of the same inference (same model weights, so the same
    distribution as a fresh one), and the model's loss reuses them with the updated
    critic; the model's backward computes no critic gradients. Every term of
    :meth:`LossOutput.scalars` is logged per epoch as ``train_*``, as group-weighted
    epoch means (validation is a callback's:
    :class:`~groupvae.training.validation.HoldoutValidation`). Training stops after
    exactly ``config.max_steps`` model updates when that is set.

    Args:
        module: the model's module (trained in place).
        config: training settings (``lr``, ``critic_lr``, ``epochs``, ``max_steps``).
        steps_per_epoch: batches per epoch, to measure progress.
        schedules: loss keyword -> ``schedule(progress in [0, 1])``.

    Raises:
        NonFiniteLossError: at the end of the epoch in which a training or critic loss,
            or its gradients, became NaN or infinite (that step's update is skipped on
            the device; on devices without a fused Adam, at once, before the update).
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
        self.total_steps = total_steps(config, steps_per_epoch)
        self.schedules = dict(schedules or {})
        self.automatic_optimization = False
        # Model updates so far. Lightning's global_step also counts the critic's
        # optimiser steps, which would run the schedules twice as fast with a critic.
        self.model_steps = 0
        self._train_means = EpochMeans()
        self._guards = {"model": FiniteGuard("training loss"), "critic": FiniteGuard("critic loss")}

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
            self.total_steps = total_steps(self.config, batches)

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        check = getattr(self.module, "check_step_batch", None)
        if check is not None:  # on the host, where the loader built the batch
            check(batch, with_regulariser=self.trainer.training)
        return batch

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        # Asynchronous from pinned memory (the loaders pin on a CUDA device): the host
        # does not wait for each batch's copy.
        return batch.to(device, non_blocking=True)

    def rank_weight(self, batch: Any) -> Tensor | None:
        """Under DDP, ``world_size * n_local / n_total`` (groups of this rank's batch over
        all ranks'): DDP averages the ranks' gradients, and this weight makes that
        average the gradient of the mean over *all* the step's groups, whatever each rank
        holds. ``None`` on one device: no weight, no synchronisation, no extra operation."""
        world = self.trainer.world_size if self._trainer is not None else 1
        if world == 1:
            return None
        n = torch.tensor(float(getattr(batch, "n_groups", len(batch))), device=self.device)
        total = self.trainer.strategy.reduce(n.clone(), reduce_op="sum")
        return world * n / total

    def _update(self, optimiser: Any, loss: Tensor, guard: str) -> None:
        """One optimiser step on ``loss``; skipped on the device if the loss or its
        gradients are not finite."""
        optimiser.zero_grad()
        self.manual_backward(loss)
        params = [p for group in optimiser.param_groups for p in group["params"]]
        grads = [p.grad for p in params if p.grad is not None]
        found_inf = self._guards[guard].record(loss, self.model_steps, grads)
        fused = getattr(optimiser.optimizer, "defaults", {}).get("fused", False)
        if not fused:  # no device-side skip: check now (one host sync)
            self._guards[guard].check(self.current_epoch)
            optimiser.step()
            return
        optimiser.optimizer.found_inf = found_inf  # as torch.amp.GradScaler passes it
        try:
            optimiser.step()
        finally:
            del optimiser.optimizer.found_inf

    def training_step(self, batch: Any, batch_idx: int) -> None:
        with trusted_groups():
            self._train_step(batch, batch_idx)

    def _set_lr(self, optimisers: list[Any]) -> None:
        """Every optimiser's learning rate for this step (``config.lr_schedule``)."""
        factor = lr_factor(self.config.lr_schedule, self.model_steps / self.total_steps)
        for optimiser in optimisers:
            for group in optimiser.param_groups:
                group["lr"] = group["initial_lr"] * factor

    def _train_step(self, batch: Any, batch_idx: int) -> None:
        optimisers = self.optimizers()
        optimisers = optimisers if isinstance(optimisers, list) else [optimisers]
        if self.config.lr_schedule != "constant":
            self._set_lr(optimisers)
        inference = None
        weight = self.rank_weight(batch)
        if len(optimisers) > 1:
            inference = self.module.inference(batch)
            critic_loss = self.module.critic_loss(batch, inference)
            self._update(optimisers[1], _weighted(critic_loss, weight), "critic")
        with frozen(self.module.critic_parameters()):
            out = self.module(batch, inference=inference, **self.weights())
        self._update(optimisers[0], _weighted(out.loss, weight), "model")
        self.model_steps += 1
        if self.config.max_steps is not None and self.model_steps >= self.config.max_steps:
            self.trainer.should_stop = True  # the budget: exactly max_steps model updates
        self._train_means.add(out.scalars(), out.n_groups)
        if self.trainer.progress_bar_callback is not None and batch_idx % PROGRESS_EVERY == 0:
            self.log("loss", out.loss.detach(), prog_bar=True, on_step=True, logger=False)

    def on_train_epoch_end(self) -> None:
        for guard in self._guards.values():
            guard.check(self.current_epoch)
        self._log_means(self._train_means, "train")

    def _log_means(self, means: EpochMeans, prefix: str) -> None:
        values = {f"{prefix}_{k}": v for k, v in means.pop().items()}
        if values:
            self.log_dict(values, on_step=False, on_epoch=True, sync_dist=True)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        opts = [_adam(self.module.model_parameters(), self.config.lr)]
        critic = self.module.critic_parameters()
        if critic:
            opts.append(_adam(critic, self.config.critic_lr or self.config.lr))
        return opts


def _weighted(loss: Tensor, weight: Tensor | None) -> Tensor:
    """``loss`` times its DDP rank weight (:meth:`TrainingPlan.rank_weight`), if any."""
    return loss if weight is None else weight * loss


def _adam(parameters: list[nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam, fused (one kernel for all parameters, device-side step skipping) where the
    parameters' device has it, else the default implementation. Each parameter group
    keeps its configured rate as ``initial_lr`` (the base of the lr schedule)."""
    fused = all(p.device.type in FUSED_DEVICES for p in parameters)
    optimiser = torch.optim.Adam(parameters, lr=lr, fused=fused or None)
    for group in optimiser.param_groups:
        group["initial_lr"] = lr
    return optimiser
