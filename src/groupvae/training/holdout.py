"""The holdout ELBO estimate that validation, early stopping, ``train``'s last line,
``metadata.json``, ``groupvae evaluate`` and ``model.get_elbo`` all report.

One function, so that the number is the same wherever it is reported: for the same
weights and the same holdout data it is the same number (on the same device), because
its noise is fixed (torch's generator seeded by :data:`ESTIMATE_SEED`, the caller's
random stream restored afterwards), the batches are the same (whole groups in order) and
it never trains. No Lightning here: the user-facing models import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from groupvae.modules.base import BaseModule

ESTIMATE_SEED = 0
"""Seed of torch's generator for every estimate (the fixed noise)."""


def estimator_name(n_samples: int) -> str:
    """How the estimate is labelled wherever it is reported."""
    noun = "sample" if n_samples == 1 else "samples"
    return f"holdout ELBO per observation, mean of {n_samples} fixed-noise {noun}"


def elbo_estimate(
    module: BaseModule,
    batches: Iterable[Any],
    *,
    n_samples: int = 1,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """The ELBO of held-out data, averaged over ``n_samples`` posterior draws per
    observation of fixed noise (a deterministic function of the weights and the data).

    For each batch the module's forward pass runs ``n_samples`` times without its
    regulariser and without gradients, in evaluation mode; torch's generators are seeded
    with :data:`ESTIMATE_SEED` once before the first batch (``torch.random.fork_rng``:
    the caller's random stream is unchanged) and the module is put back in the mode it
    was in. The ELBO is the unweighted one (ML-VAE eq. 3-5; no KL warm-up weight), in
    nats, summed in float64 on the host.

    Args:
        module: the model's module.
        batches: the holdout batches, whole groups in a fixed order (the model's
            ``eval_loader``); iterated once.
        n_samples: ``K >= 1`` draws per observation (and per group latent).
        device: where to run (default: where the module's parameters are).

    Returns:
        ``elbo_per_obs`` (sum of group ELBOs / observations, nats), ``elbo_per_group``
        where groups have a latent of their own (group VAEs),
        ``reconstruction_loss_per_obs``, each KL per observation (local) or per group
        (global), and ``n_samples``.

    Raises:
        ValueError: if ``n_samples < 1`` or ``batches`` is empty.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if device is None:
        device = next(iter(module.parameters())).device
    device = torch.device(device)
    was_training = module.training
    module.eval()
    sums: dict[str, float] = {}
    n_obs, n_groups, grouped = 0, 0, False
    forked = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=forked):
            torch.manual_seed(ESTIMATE_SEED)
            for batch in batches:
                batch = batch.to(device)
                for _ in range(n_samples):
                    out = module(batch, with_regulariser=False)
                    for name, value in term_sums(out).items():
                        sums[name] = sums.get(name, 0.0) + value / n_samples
                n_obs += int(out.n_obs)
                n_groups += int(out.n_groups)
                grouped = out.group is not None  # CPVAE: every observation its own group
    finally:
        module.train(was_training)
    if n_obs == 0:
        raise ValueError("no holdout batches to estimate the ELBO on")
    return per_unit(sums, n_obs, n_groups if grouped else None, n_samples)


def term_sums(out: Any) -> dict[str, float]:
    """One batch's sums of the ELBO's terms (float64 on the host): ``elbo``,
    ``reconstruction_loss``, ``local:<kl>`` and ``global:<kl>``."""
    terms = {"reconstruction_loss": out.reconstruction_loss}
    terms.update({f"local:{k}": v for k, v in out.kl_local.items()})
    terms.update({f"global:{k}": v for k, v in out.kl_global.items()})
    sums = {k: float(v.double().sum()) for k, v in terms.items()}
    sums["elbo"] = -sum(sums.values())
    return sums


def per_unit(
    sums: dict[str, float], n_obs: int, n_groups: int | None, n_samples: int
) -> dict[str, float]:
    """The sums as the terms are logged (:meth:`LossOutput.scalars`' names): per
    observation, and per group for the ELBO and the group KLs of group VAEs."""
    out = {
        "elbo_per_obs": sums["elbo"] / n_obs,
        "reconstruction_loss_per_obs": sums["reconstruction_loss"] / n_obs,
    }
    if n_groups is not None:
        out["elbo_per_group"] = sums["elbo"] / n_groups
    for key, value in sums.items():
        scope, _, name = key.partition(":")
        if scope == "local":
            out[f"{name}_per_obs"] = value / n_obs
        elif scope == "global":
            out[f"{name}_per_group"] = value / max(n_groups or n_obs, 1)
    out["n_samples"] = float(n_samples)
    return out


__all__ = ["ESTIMATE_SEED", "elbo_estimate", "estimator_name"]
