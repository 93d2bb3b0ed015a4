"""MINE: the Donsker-Varadhan lower bound on mutual information (Belghazi et al., 2018)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def donsker_varadhan(t_joint: Tensor, t_marginal: Tensor) -> Tensor:
    """``E_joint[T] - log E_marginal[exp T]``, a lower bound on ``I(X; Y)`` in nats.

    CxVAE eq. 2 (pairwise) and CxVAE eq. 3 (group-level); Belghazi et al. (2018), eq. 10.
    The critic ``T`` maximises it.

    Args:
        t_joint: ``(n,)`` critic values on samples of the joint ``r(x, v)``.
        t_marginal: ``(m,)`` critic values on samples of ``r(x) r(v)``.

    Returns:
        Scalar estimate.
    """
    log_mean_exp = torch.logsumexp(t_marginal, dim=0) - math.log(t_marginal.shape[0])
    return t_joint.mean() - log_mean_exp
