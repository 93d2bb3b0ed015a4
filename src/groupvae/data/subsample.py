"""Subsampling of large groups per step (ML-VAE section 3.2): which size applies."""

from __future__ import annotations

import numpy as np

from groupvae.config import TrainConfig


def subsample_size(group_sizes: np.ndarray, config: TrainConfig) -> int | None:
    """The size groups are cut to each epoch, or ``None`` where no group exceeds
    ``config.max_group_size`` (or it is unset).

    ML-VAE section 3.2: a large group's posterior is estimated from a random subset of
    its members, drawn anew each epoch (a biased but cheaper estimate); the sampler
    (:class:`~groupvae.data.sampler.GroupBatchSampler`) draws the subsets.
    """
    limit = config.max_group_size
    if limit is None or len(group_sizes) == 0 or int(np.max(group_sizes)) <= limit:
        return None
    return int(limit)


def subsample_summary(group_sizes: np.ndarray, size: int | None) -> dict[str, float | int | None]:
    """How many groups are subsampled and the share of rows one epoch sees."""
    sizes = np.asarray(group_sizes)
    if size is None:
        return {"max_group_size": None, "groups_subsampled": 0, "rows_per_epoch": 1.0}
    return {
        "max_group_size": size,
        "groups_subsampled": int((sizes > size).sum()),
        "rows_per_epoch": float(np.minimum(sizes, size).sum() / max(sizes.sum(), 1)),
    }


__all__ = ["subsample_size", "subsample_summary"]
