"""Helpers shared by the tests: random flat group batches and tiny image-like data."""

from __future__ import annotations

import numpy as np
import torch

from groupvae.data import GroupBatch, GroupedDataset
from groupvae.models import MODELS

GROUP_PRESETS = [name for name, preset in MODELS.items() if preset.family == "group-vae"]
"""The presets of the group-VAE family (all but ``cpvae``)."""

# Short training runs for model tests: one epoch, no progress bar.
FAST = {"epochs": 1, "groups_per_batch": 16, "progress": False, "lr": 1e-2}


def random_groups(n_obs: int, n_groups: int, generator: torch.Generator) -> torch.Tensor:
    """``(n_obs,)`` int64 group ids in random order, every group in ``[0, n_groups)`` used."""
    extra = torch.randint(n_groups, (n_obs - n_groups,), generator=generator)
    group = torch.cat([torch.arange(n_groups), extra])
    return group[torch.randperm(n_obs, generator=generator)]


def make_images(n_groups: int = 24, *, seed: int = 0) -> GroupedDataset:
    """Binary ``(1, 4, 4)`` images: each group flips a few pixels of its own prototype."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 7, size=n_groups)
    group = np.repeat(np.arange(n_groups), sizes)
    prototype = rng.random((n_groups, 1, 4, 4)) < 0.5
    flip = rng.random((len(group), 1, 4, 4)) < 0.1
    x = (prototype[group] ^ flip).astype(np.float32)
    return GroupedDataset(x=x, group=group, name="images")


def upsample(data: GroupedDataset, factor: int) -> GroupedDataset:
    """The same groups with every pixel repeated ``factor`` x ``factor`` times."""
    x = data.x.repeat(factor, axis=-1).repeat(factor, axis=-2)
    return GroupedDataset(x=x, group=data.group, name=f"{data.name}-x{factor}")


def members(group: torch.Tensor | np.ndarray, n_groups: int) -> list[np.ndarray]:
    """Row indices of each group, by a Python loop (the slow reference)."""
    group = np.asarray(group)
    return [np.flatnonzero(group == g) for g in range(n_groups)]


def flat_batch(x: torch.Tensor, group: torch.Tensor, n_groups: int) -> GroupBatch:
    """A :class:`GroupBatch` of ``x`` and its ``group`` ids (rows and groups in order)."""
    return GroupBatch(x, group, n_groups, torch.arange(len(x)), torch.arange(n_groups))
