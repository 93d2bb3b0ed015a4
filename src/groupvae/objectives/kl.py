"""Closed-form KL divergences and reparameterised sampling of diagonal Normals."""

from __future__ import annotations

import math

import torch
from torch import Tensor

LOG_2PI = math.log(2.0 * math.pi)


def kl_normal_standard(mean: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mean, exp(logvar)) || N(0, I))`` per row, summed over the last dimension.

    ``0.5 * sum(exp(logvar) + mean^2 - 1 - logvar)`` (Kingma & Welling 2014, appendix B).

    Args:
        mean, logvar: ``(..., d)``.

    Returns:
        ``(...,)`` KL in nats.
    """
    return 0.5 * (torch.exp(logvar) + mean.pow(2) - 1.0 - logvar).sum(-1)


def kl_normal_normal(mean_q: Tensor, logvar_q: Tensor, mean_p: Tensor, logvar_p: Tensor) -> Tensor:
    """``KL(N(mean_q, var_q) || N(mean_p, var_p))`` for diagonal Normals, summed over ``d``.

    ``0.5 * sum(logvar_p - logvar_q + (var_q + (mean_q - mean_p)^2) / var_p - 1)``, the
    closed form of the KL between two Normals (with ``p = N(0, I)`` it is
    :func:`kl_normal_standard`); UG-VAE eq. 11 uses it against each mixture component.

    Returns:
        ``(...,)`` KL in nats.
    """
    return 0.5 * (
        logvar_p
        - logvar_q
        + (torch.exp(logvar_q) + (mean_q - mean_p).pow(2)) / torch.exp(logvar_p)
        - 1.0
    ).sum(-1)


def normal_log_prob(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """Log-density of ``x`` under a diagonal Normal, summed over the last dimension.

    Returns:
        ``(...,)`` log-density in nats (not a probability).
    """
    return -0.5 * (LOG_2PI + logvar + (x - mean).pow(2) / torch.exp(logvar)).sum(-1)


def standard_normal_log_prob(x: Tensor) -> Tensor:
    """``log N(x; 0, I)`` summed over the last dimension: ``x: (..., d) -> (...)`` nats."""
    return normal_log_prob(x, torch.zeros_like(x), torch.zeros_like(x))


def rsample_normal(mean: Tensor, logvar: Tensor) -> Tensor:
    """A reparameterised sample ``mean + exp(logvar / 2) * eps``, ``eps ~ N(0, I)``."""
    return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
