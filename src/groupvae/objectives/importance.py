"""Importance-sampled log marginal likelihood of groups, ``log p(x_G)``.

With the encoders as proposals (Burda et al., 2016, eq. 8 applied to a group):

``log p(x_G) ~= log 1/S sum_s [p(u_s) prod_k p(x_k | u_s, v_ks) p(v_ks)]
/ [q(u_s | x_G) prod_k q(v_ks | x_k[, u_s])]``

with ``u_s ~ q(u | x_G)`` and ``v_ks ~ q(v_k | x_k[, u_s])``. Without a group latent the
observations are independent and ``log p(x_G) = sum_k log p(x_k)``, each estimated the same
way. The estimate is a stochastic lower bound that tightens as ``S`` grows (S = 1 gives
the ELBO); it is the CPVAE paper's eq. 7-8 for one population.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from groupvae.nn.segment import segment_sum
from groupvae.objectives.kl import normal_log_prob, rsample_normal


def _standard_normal_log_prob(z: Tensor) -> Tensor:
    return normal_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))


@torch.no_grad()
def log_marginal_likelihood(
    module: torch.nn.Module, x: Tensor, group: Tensor, n_groups: int, *, n_samples: int = 100
) -> Tensor:
    """Importance-sampled ``log p(x_G)`` of every group, in nats.

    Args:
        module: a :class:`~groupvae.models.module.GroupVAEModule`.
        x: ``(n_obs, *obs_shape)``.
        group: ``(n_obs,) int64 in [0, n_groups)``.
        n_groups: groups in the batch.
        n_samples: importance samples ``S`` (memory grows as ``S * n_obs``).

    Returns:
        ``(n_groups,)`` log-densities (nats; a log-probability mass for Bernoulli data).
    """
    s = n_samples
    h = module.trunk(x)
    n_obs = x.shape[0]
    x_rep = x.unsqueeze(0).expand(s, *x.shape).reshape(s * n_obs, *x.shape[1:])
    h_rep = h.unsqueeze(0).expand(s, *h.shape).reshape(s * n_obs, -1)
    log_w_obs = x.new_zeros(s * n_obs)
    log_w_group = x.new_zeros(s, n_groups)
    u_rep = None
    if module.group_encoder is not None:
        u_mean, u_logvar = module.group_encoder(h, group, n_groups)
        u = rsample_normal(u_mean.expand(s, *u_mean.shape), u_logvar.expand(s, *u_logvar.shape))
        log_w_group = _standard_normal_log_prob(u) - normal_log_prob(u, u_mean, u_logvar)
        u_rep = u[:, group].reshape(s * n_obs, -1)  # each member gets its group's sample
    v_mean, v_logvar = module.instance_encoder(h_rep, u_rep)
    v = rsample_normal(v_mean, v_logvar)
    params = module.generative(u_rep, v)
    log_w_obs = (
        module.likelihood.log_prob(x_rep, params)
        + _standard_normal_log_prob(v)
        - normal_log_prob(v, v_mean, v_logvar)
    ).view(s, n_obs)
    log_mean = -math.log(s)
    if module.group_encoder is None:  # independent observations: estimate each, then sum
        per_obs = torch.logsumexp(log_w_obs, dim=0) + log_mean
        return segment_sum(per_obs, group, n_groups)
    per_group = segment_sum(log_w_obs.T, group, n_groups).T + log_w_group  # (S, n_groups)
    return torch.logsumexp(per_group, dim=0) + log_mean
