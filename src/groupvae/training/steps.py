"""Training sized by optimiser steps: the epochs adapt to the number of groups."""

from __future__ import annotations

import dataclasses
import math

from groupvae.config import TrainConfig


def epochs_for_steps(config: TrainConfig, steps_per_epoch: int) -> TrainConfig:
    """``config`` with ``epochs`` raised so that training takes at least
    ``config.min_steps`` optimiser steps (unchanged without ``min_steps``).

    Args:
        config: the resolved training settings.
        steps_per_epoch: batches of one epoch (``len(train_loader)``).
    """
    if config.min_steps is None or steps_per_epoch < 1:
        return config
    needed = math.ceil(config.min_steps / steps_per_epoch)
    return config if needed <= config.epochs else dataclasses.replace(config, epochs=needed)


def describe(config: TrainConfig, steps_per_epoch: int, max_group_size: int | None) -> str:
    """One line naming the chosen settings, for the user."""
    parts = [
        f"{config.epochs} epochs x {steps_per_epoch} steps = "
        f"{config.epochs * steps_per_epoch} optimiser steps",
        f"{config.groups_per_batch} groups per batch",
        f"lr {config.lr:g}",
    ]
    if config.min_steps is not None:
        parts.append(f"at least {config.min_steps} steps")
    if config.early_stopping_patience is not None:
        parts.append(
            f"early stopping on the holdout ELBO (patience {config.early_stopping_patience})"
        )
    if max_group_size is not None:
        parts.append(f"groups above {max_group_size} subsampled to {max_group_size} per step")
    return "training: " + ", ".join(parts)


__all__ = ["describe", "epochs_for_steps"]
