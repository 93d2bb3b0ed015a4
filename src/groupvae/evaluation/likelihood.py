"""Holdout log-likelihood ``log p(x_G)`` by importance sampling, over whole-group batches.

A thin wrapper of the module's own ``log_marginal_likelihood`` (Burda et al. 2016, eq.
8, applied to a group, with the encoders as proposals): it batches whole
groups with :func:`groupvae.data.group_loader`, seeds the sampling, and averages. It
applies to every model, with a group latent or not (for the VAE, ``log p(x_G)`` is the
sum of its members' ``log p(x_k)``). The estimate is a stochastic lower bound that
tightens as the number of samples ``K`` grows (``K = 1`` is the ELBO).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from groupvae.data.grouped import GroupedDataset
from groupvae.data.sampler import group_loader
from groupvae.errors import DataError

MAX_ELEMENTS = 2**25
"""Bound on ``K * n_obs * obs_dim`` per forward pass (the memory of the repeated batch)."""


def group_log_likelihoods(
    model: Any,
    data: GroupedDataset,
    *,
    n_samples: int = 100,
    seed: int = 0,
    groups_per_batch: int | None = None,
) -> np.ndarray:
    """Importance-sampled ``log p(x_G)`` of every group of ``data``, in nats.

    Args:
        model: a :class:`~groupvae.models.GroupVAE` (or its ``GroupVAEModule``).
        data: the groups, e.g. a run's holdout.
        n_samples: importance samples ``K`` per group.
        seed: seed of the torch generator of the samples (the global torch RNG state is
            restored afterwards).
        groups_per_batch: whole groups per forward pass; by default as many as keep
            ``K * n_obs * obs_dim`` under :data:`MAX_ELEMENTS`.

    Returns:
        ``(n_groups,)`` float64 log-densities, in group order (nats; a log-probability
        mass for Bernoulli pixels).

    Raises:
        DataError: for ``n_samples < 1`` or observations of the wrong shape.
    """
    if n_samples < 1:
        raise DataError(f"n_samples must be >= 1, got {n_samples}")
    module = getattr(model, "module", model)
    if groups_per_batch is None:
        rows = max(1, MAX_ELEMENTS // (n_samples * math.prod(data.obs_shape)))
        groups_per_batch = max(1, rows // int(data.group_sizes.max()))
    device = next(module.parameters()).device
    out = np.empty(data.n_groups, dtype=np.float64)
    module.eval()
    with torch.random.fork_rng(devices=[]):
        batches = iter(group_loader(data, groups_per_batch, shuffle=False))  # draws a seed
        torch.manual_seed(seed)  # so the samples are those of one direct call per batch
        for batch in batches:
            module.check_batch(batch)
            batch = batch.to(device)
            log_p = module.log_marginal_likelihood(batch, n_samples=n_samples)
            out[batch.group_index.cpu().numpy()] = log_p.double().cpu().numpy()
    return out


def holdout_log_likelihood(
    model: Any, data: GroupedDataset, *, n_samples: int = 100, seed: int = 0
) -> dict[str, float]:
    """Mean importance-sampled log-likelihood per group and per observation (nats).

    Args:
        model: a fitted :class:`~groupvae.models.GroupVAE`.
        data: holdout groups.
        n_samples: importance samples ``K`` (see :func:`group_log_likelihoods`).
        seed: seed of the samples.

    Returns:
        ``log_likelihood_per_group`` (mean of ``log p(x_G)`` over groups) and
        ``log_likelihood_per_observation`` (the total over the number of observations).
    """
    per_group = group_log_likelihoods(model, data, n_samples=n_samples, seed=seed)
    return {
        "log_likelihood_per_group": float(per_group.mean()),
        "log_likelihood_per_observation": float(per_group.sum() / data.n_obs),
    }


__all__ = ["MAX_ELEMENTS", "group_log_likelihoods", "holdout_log_likelihood"]
