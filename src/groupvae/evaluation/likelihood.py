"""Holdout log-likelihood ``log p(x_G)`` by importance sampling, over whole-group batches.

A thin wrapper of the model's own ``group_log_marginal_likelihood`` (Burda et al.
2016, eq. 8, applied to a group, with the encoders as proposals): it batches whole
groups with :func:`groupvae.data.group_loader`, seeds the sampling, and averages. It
applies to every model, with a group latent or not (for the VAE, ``log p(x_G)`` is the
sum of its members' ``log p(x_k)``). The estimate is a stochastic lower bound that
tightens as the number of samples ``K`` grows (``K = 1`` is the ELBO).

The **conditional** score of one member given the rest of its group,
``log p(x_k | x_{G without k}) = log p(x_G) - log p(x_{G without k})``
(:func:`conditional_log_likelihoods`), is where a group latent must help: without one,
``p(x_G)`` factorises and the conditional is ``log p(x_k)``. Two estimators:

* ``"shared"`` (default): both terms on one set of samples, ``u_s ~ q(u | x_{G without
  k})``: ``log sum_s w_s r_s - log sum_s w_s`` with ``w_s`` the importance weights of
  ``x_{G without k}`` and ``r_s`` member ``k``'s
  (:meth:`GroupVAEModule.log_conditional_likelihood`); the noise of the two terms
  largely cancels;
* ``"difference"``: two independent estimates of :func:`group_log_likelihoods`, on the
  groups and on the same groups with member ``k`` removed
  (:meth:`GroupedDataset.subset_observations`), subtracted. Each term's error grows with
  the group's size, and they do not cancel: with 100 samples, the mean over 28 held-out
  ScotsSec schools moves by 0.04-0.09 nats from one seed to the next, over 4 sleepstudy
  subjects by 0.35 (a trained ML-VAE), where ``"shared"`` moves by a few thousandths.

Both are consistent as ``K`` grows; neither is a bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.nn.modules.module import register_module_forward_hook

from groupvae.data.batch import GroupBatch
from groupvae.data.grouped import GroupedDataset
from groupvae.data.sampler import group_loader
from groupvae.errors import DataError
from groupvae.evaluation.protocols import (
    ConditionalLikelihoodModel,
    LikelihoodModel,
    LikelihoodModule,
)

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


def _sampler(
    source: LikelihoodModel | LikelihoodModule,
) -> Callable[[GroupBatch, int], np.ndarray]:
    """``log_p(batch, n_samples)``: importance-sampled ``log p(x_G)`` of a batch's groups,
    ``(n_groups,)`` float64 nats, from a model or from a bare torch module (put in eval
    mode)."""
    if isinstance(source, LikelihoodModel):
        model = source
        return lambda batch, n: model.group_log_marginal_likelihood(batch, n_samples=n)
    module = source
    module.eval()
    device = next(module.parameters()).device

    def log_p(batch: GroupBatch, n: int) -> np.ndarray:
        module.check_batch(batch)
        out = module.log_marginal_likelihood(batch.to(device), n_samples=n)
        return out.double().cpu().numpy()

    return log_p


def activation_width(source: LikelihoodModel | LikelihoodModule, data: GroupedDataset) -> int:
    """The widest per-row activation of an importance-sampling pass, in elements.

    Estimates ``log p(x_G)`` of the first group of ``data`` once (one sample, the global
    generator left as it was) with a global forward hook on every torch module, and
    returns the largest ``numel / rows`` of their outputs, at least ``obs_dim``: e.g.
    ``hidden`` for MLPs, ``channels x H/2 x W/2`` for a convolutional decoder.

    Args:
        source: a :class:`~groupvae.evaluation.protocols.LikelihoodModel` (a
            :class:`~groupvae.models.GroupVAE`) or its torch module
            (:class:`~groupvae.evaluation.protocols.LikelihoodModule`).
        data: the groups to be scored.
    """
    widths = [math.prod(data.obs_shape)]
    log_p = _sampler(source)
    hook = register_module_forward_hook(lambda _m, _i, out: widths.append(_row_width(out)))
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            probe = next(iter(group_loader(data, 1, shuffle=False)))
            log_p(probe, 1)
    finally:
        hook.remove()
    return max(widths)


def group_log_likelihoods(
    model: LikelihoodModel | LikelihoodModule,
    data: GroupedDataset,
    *,
    n_samples: int = 100,
    seed: int = 0,
    groups_per_batch: int | None = None,
) -> np.ndarray:
    """Importance-sampled ``log p(x_G)`` of every group of ``data``, in nats.

    Args:
        model: a :class:`~groupvae.evaluation.protocols.LikelihoodModel` (a
            :class:`~groupvae.models.GroupVAE`), or its ``GroupVAEModule``.
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
    width = activation_width(model, data) if groups_per_batch is None else 0
    return _per_group(_sampler(model), data, n_samples, seed, groups_per_batch, width)


def _per_group(
    log_p: Callable[[GroupBatch, int], np.ndarray],
    data: GroupedDataset,
    n_samples: int,
    seed: int,
    groups_per_batch: int | None,
    width: int,
) -> np.ndarray:
    """``log_p(batch, n_samples)`` over whole-group batches of ``data``, seeded, as one
    ``(n_groups,)`` array in group order; ``groups_per_batch`` by default from the widest
    activation ``width`` (:func:`activation_width`) and :data:`MAX_ELEMENTS`."""
    if n_samples < 1:
        raise DataError(f"n_samples must be >= 1, got {n_samples}")
    if groups_per_batch is None:
        rows = max(1, MAX_ELEMENTS // (n_samples * width))
        groups_per_batch = max(1, rows // int(data.group_sizes.max()))
    out = np.empty(data.n_groups, dtype=np.float64)
    with torch.random.fork_rng(devices=[]):
        batches = iter(group_loader(data, groups_per_batch, shuffle=False))  # draws a seed
        torch.manual_seed(seed)  # so the samples are those of one direct call per batch
        for batch in batches:
            out[batch.group_index.cpu().numpy()] = log_p(batch, n_samples)
    return out


def held_out_members(group: np.ndarray, seed: int) -> np.ndarray:
    """One member of every group, uniformly at random: the ``k`` of the conditional score.

    Args:
        group: ``(n_obs,)`` group indices in ``[0, G)``, every group of two or more.
        seed: seed of the ``numpy.random.Generator`` that draws the members.

    Returns:
        ``(n_obs,)`` boolean, ``True`` at exactly one member of each group.

    Raises:
        DataError: for a group of one member (nothing to condition on) or an empty one.
    """
    group = np.asarray(group, dtype=np.int64)
    sizes = np.bincount(group)
    if (sizes < 2).any():
        raise DataError(
            f"{int((sizes < 2).sum())} group(s) have fewer than two members; the conditional "
            "score needs another member to condition on (drop them first)"
        )
    key = np.random.default_rng(seed).random(len(group))
    order = np.lexsort((key, group))  # by group, then by the random key
    first = np.r_[True, group[order][1:] != group[order][:-1]]
    held = np.zeros(len(group), dtype=bool)
    held[order[first]] = True
    return held


def conditional_log_likelihoods(
    model: LikelihoodModel | LikelihoodModule | ConditionalLikelihoodModel,
    data: GroupedDataset,
    held: np.ndarray,
    *,
    n_samples: int = 100,
    seed: int = 0,
    estimator: str = "shared",
    joint: np.ndarray | None = None,
    groups_per_batch: int | None = None,
) -> np.ndarray:
    """Importance-sampled ``log p(x_k | x_{G without k})`` of one held-out member ``k`` of
    every group, ``log p(x_G) - log p(x_{G without k})`` (module docstring), in nats.

    Args:
        model: a :class:`~groupvae.evaluation.protocols.ConditionalLikelihoodModel` (a
            :class:`~groupvae.models.GroupVAE`) for ``"shared"``; any model of
            :func:`group_log_likelihoods` for ``"difference"``.
        data: the groups, each of two or more members.
        held: ``(n_obs,)`` boolean, exactly one member of each group
            (:func:`held_out_members`).
        n_samples: importance samples ``K`` (of each of the two estimates for
            ``"difference"``).
        seed: seed of the samples (the global torch RNG state is restored afterwards).
        estimator: ``"shared"`` or ``"difference"`` (module docstring).
        joint: for ``"difference"``, ``(n_groups,)`` ``log p(x_G)`` already estimated
            with these settings (:func:`group_log_likelihoods`), to save estimating it
            again.
        groups_per_batch: as for :func:`group_log_likelihoods`.

    Returns:
        ``(n_groups,)`` float64 log-densities of one observation each, in group order.

    Raises:
        DataError: for a ``held`` mask without exactly one member of every group, a
            group without another member, an unknown estimator, or ``"shared"`` with a
            model that cannot estimate it.
    """
    held = np.asarray(held)
    sizes = data.group_sizes
    if held.shape != (data.n_obs,) or held.dtype != np.bool_:
        raise DataError(f"held must be a boolean mask of shape ({data.n_obs},)")
    if (np.bincount(data.group[held], minlength=data.n_groups) != 1).any() or (sizes < 2).any():
        raise DataError(
            "held must mark exactly one member of every group, and every group needs "
            "another member (held_out_members)"
        )
    if estimator == "difference":
        if joint is None:
            joint = group_log_likelihoods(
                model, data, n_samples=n_samples, seed=seed, groups_per_batch=groups_per_batch
            )
        rest = group_log_likelihoods(
            model, data.subset_observations(~held), n_samples=n_samples, seed=seed,
            groups_per_batch=groups_per_batch,
        )  # fmt: skip
        return np.asarray(joint, dtype=np.float64) - rest
    if estimator != "shared":
        raise DataError(f"estimator must be 'shared' or 'difference', got {estimator!r}")
    if not isinstance(model, ConditionalLikelihoodModel):
        raise DataError(
            f"{type(model).__name__} cannot estimate the conditional on shared samples; "
            "use estimator='difference'"
        )
    model_c = model

    def log_p(batch: GroupBatch, n: int) -> np.ndarray:
        rows = batch.index.cpu().numpy()
        return model_c.group_log_conditional_likelihood(batch, held[rows], n_samples=n)

    width = activation_width(model, data) if groups_per_batch is None else 0
    return _per_group(log_p, data, n_samples, seed, groups_per_batch, width)


def holdout_log_likelihood(
    model: LikelihoodModel | LikelihoodModule,
    data: GroupedDataset,
    *,
    n_samples: int = 100,
    seed: int = 0,
) -> dict[str, float]:
    """Mean importance-sampled log-likelihood per group and per observation (nats).

    Args:
        model: a fitted :class:`~groupvae.models.GroupVAE` (a
            :class:`~groupvae.evaluation.protocols.LikelihoodModel`), or its module.
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
    "conditional_log_likelihoods",
    "group_log_likelihoods",
    "held_out_members",
    "holdout_log_likelihood",
]
