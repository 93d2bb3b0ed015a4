"""The training budget in optimiser steps and epochs, and the line that tells the user."""

from __future__ import annotations

import dataclasses
import math

from groupvae.config import TrainConfig
from groupvae.training.holdout import estimator_name


def size_budget(config: TrainConfig, steps_per_epoch: int) -> TrainConfig:
    """``config`` with ``epochs`` set where it is ``None``: as many as ``max_steps``
    needs (``ceil(max_steps / steps_per_epoch)``); training still stops after exactly
    ``max_steps`` model steps (:class:`~groupvae.training.plan.TrainingPlan`).

    Args:
        config: the resolved training settings (``epochs`` or ``max_steps`` set).
        steps_per_epoch: batches of one epoch (``len(train_loader)``, >= 1).
    """
    if config.epochs is not None:
        return config
    assert config.max_steps is not None  # TrainConfig refuses both None
    epochs = math.ceil(config.max_steps / max(steps_per_epoch, 1))
    return dataclasses.replace(config, epochs=epochs)


def total_steps(config: TrainConfig, steps_per_epoch: int) -> int:
    """Model optimiser steps the budget allows: ``epochs x steps_per_epoch``, capped by
    ``max_steps`` (after :func:`size_budget`)."""
    steps = (config.epochs or 1) * max(steps_per_epoch, 1)
    return steps if config.max_steps is None else min(steps, config.max_steps)


def validation_epochs(config: TrainConfig, steps_per_epoch: int) -> int:
    """Epochs between validation checks: ``validation_every`` steps rounded up to whole
    epochs (1 when ``validation_every`` is ``None``)."""
    if config.validation_every is None:
        return 1
    return max(1, math.ceil(config.validation_every / max(steps_per_epoch, 1)))


def describe(
    config: TrainConfig,
    steps_per_epoch: int,
    max_group_size: int | None,
    *,
    budget_source: str = "",
    validation_groups: int | None = None,
) -> str:
    """One line naming the chosen settings, and where the budget came from.

    Args:
        config: the settings after :func:`size_budget`.
        steps_per_epoch: batches of one epoch.
        max_group_size: the subsampling size of large groups, if any.
        budget_source: who set the budget (e.g. ``"your --epochs"``, ``"the table
            defaults for 40 groups of median size 17"``).
        validation_groups: holdout groups validated on (``None``: no validation).
    """
    steps = total_steps(config, steps_per_epoch)
    budget = f"budget {steps} optimiser steps"
    if config.max_steps is not None:
        budget += f" (max_steps {config.max_steps}"
        budget += f", {budget_source})" if budget_source else ")"
        budget += f" = up to {config.epochs} epochs x {steps_per_epoch} steps"
    else:
        budget += f" = {config.epochs} epochs x {steps_per_epoch} steps"
        budget += f" ({budget_source})" if budget_source else ""
    parts = [budget, f"{config.groups_per_batch} groups per batch", f"lr {config.lr:g}"]
    if config.kl_warmup_epochs > 0:
        parts.append(f"KL warm-up over {config.kl_warmup_epochs} epochs")
    if validation_groups is not None:
        every = validation_epochs(config, steps_per_epoch) * steps_per_epoch
        check = f"validation every {every} steps on {validation_groups} holdout groups"
        check += f" ({estimator_name(config.validation_samples)})"
        parts.append(check)
        if config.early_stopping_patience is not None:
            parts.append(
                f"early stopping after {config.early_stopping_patience} checks without "
                "improvement, best weights restored"
            )
    if max_group_size is not None:
        parts.append(f"groups above {max_group_size} subsampled to {max_group_size} per step")
    return "training: " + ", ".join(parts)


__all__ = ["describe", "size_budget", "total_steps", "validation_epochs"]
