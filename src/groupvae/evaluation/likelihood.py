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
"""Bound on ``K * n_obs * width`` per forward pass, ``width`` the widest per-row
activation of the module (:func:`activation_width`): every tensor a module layer
produces in a chunk has at most this many elements (128 MiB in float32)."""


def _row_width(output: Any) -> int:
    """Elements per row of a layer's output (a tensor or a tuple of them)."""
    if isinstance(output, torch.Tensor):
        return output.numel() // output.shape[0] if output.dim() and output.shape[0] else 0
    if isinstance(output, tuple | list):
        return max((_row_width(o) for o in output), default=0)
    return 0


def activation_width(module: torch.nn.Module, data: GroupedDataset) -> int:
    """The widest per-row activation of an importance-sampling pass, in elements.

    Runs ``log_marginal_likelihood`` once on the first group of ``data`` (one sample,
    the global generator left as it was) with a forward hook on every submodule, and
    returns the largest ``numel / rows`` of their outputs, at least ``obs_dim``: e.g.
    ``hidden`` for MLPs, ``channels x H/2 x W/2`` for a convolutional decoder.
    """
    widths = [math.prod(data.obs_shape)]
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: widths.append(_row_width(out)))
        for m in module.modules()
    ]
    device = next(module.parameters()).device
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            probe = next(iter(group_loader(data, 1, shuffle=False))).to(device)
            module.log_marginal_likelihood(probe, n_samples=1)
    finally:
        for hook in hooks:
            hook.remove()
    return max(widths)


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
            ``K * n_obs * width`` under :data:`MAX_ELEMENTS` (``width``: the widest
            per-row activation, :func:`activation_width`; at least one group).

    Returns:
        ``(n_groups,)`` float64 log-densities, in group order (nats; a log-probability
        mass for Bernoulli pixels).

    Raises:
        DataError: for ``n_samples < 1`` or observations of the wrong shape.
    """
    if n_samples < 1:
        raise DataError(f"n_samples must be >= 1, got {n_samples}")
    module = getattr(model, "module", model)
    module.eval()
    if groups_per_batch is None:
        rows = max(1, MAX_ELEMENTS // (n_samples * activation_width(module, data)))
        groups_per_batch = max(1, rows // int(data.group_sizes.max()))
    device = next(module.parameters()).device
    out = np.empty(data.n_groups, dtype=np.float64)
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


__all__ = [
    "MAX_ELEMENTS",
    "activation_width",
    "group_log_likelihoods",
    "holdout_log_likelihood",
]
