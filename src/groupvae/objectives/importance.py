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


def _sample_group(
    module: torch.nn.Module, features: Tensor, group: Tensor, n_groups: int, s: int
) -> tuple[Tensor, Tensor]:
    """``u: (S * n_obs, d)`` each member's sample of its group's posterior, and the
    group weights ``log p(u) - log q(u | .)``: ``(S, n_groups)``.

    ``features: (S * n_obs, f)`` sample-major; ``group`` is that of one copy.
    """
    group_rep = (group + n_groups * torch.arange(s, device=group.device).unsqueeze(1)).view(-1)
    u_mean, u_logvar = module.group_encoder(features, group_rep, s * n_groups)
    u = rsample_normal(u_mean, u_logvar)
    log_w = (_standard_normal_log_prob(u) - normal_log_prob(u, u_mean, u_logvar)).view(s, -1)
    return u[group_rep], log_w


@torch.no_grad()
def log_marginal_likelihood(
    module: torch.nn.Module, x: Tensor, group: Tensor, n_groups: int, *, n_samples: int = 100
) -> Tensor:
    """Importance-sampled ``log p(x_G)`` of every group, in nats.

    The proposal follows the model's inference order: ``u`` then ``v | u`` (ML-VAE,
    CxVAE), or ``v`` then ``u | x_G, v_G`` (UG-VAE eq. 5). The prior ``p(v | u)`` is the
    model's own (``N(0, I)`` or the Gaussian mixture with ``d`` summed out).

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
    log_w_group = x.new_zeros(s, n_groups)
    u_rep = None
    if module.group_encoder is not None and not module.uses_clusters:
        u_rep, log_w_group = _sample_group(module, h_rep, group, n_groups, s)
    v_mean, v_logvar = module.instance_encoder(h_rep, u_rep)
    v = rsample_normal(v_mean, v_logvar)
    if module.uses_clusters:
        context = torch.cat([h_rep, module.prior.cluster_log_probs(v).exp()], -1)
        u_rep, log_w_group = _sample_group(module, context, group, n_groups, s)
    params = module.generative(u_rep, v)
    log_w_obs = (
        module.likelihood.log_prob(x_rep, params)
        + module.prior.log_prob(v, u_rep)
        - normal_log_prob(v, v_mean, v_logvar)
    ).view(s, n_obs)
    log_mean = -math.log(s)
    if module.group_encoder is None:  # independent observations: estimate each, then sum
        per_obs = torch.logsumexp(log_w_obs, dim=0) + log_mean
        return segment_sum(per_obs, group, n_groups)
    per_group = segment_sum(log_w_obs.T, group, n_groups).T + log_w_group  # (S, n_groups)
    return torch.logsumexp(per_group, dim=0) + log_mean
