"""Adversarial mutual-information regularisers of the instance code.

Each regulariser owns a critic ``T`` and returns a MINE estimate (Donsker-Varadhan,
:func:`~groupvae.objectives.mine.donsker_varadhan`) of a mutual information that the
instance code should not carry. The critic is trained to *maximise* the estimate, the
model to *minimise* it, in alternating updates (see ``training.plan``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from groupvae.config import ModelConfig
from groupvae.errors import DataError
from groupvae.nn.mlp import MLP
from groupvae.nn.segment import (
    checks_group_sizes,
    leave_one_out_mean,
    sample_member_of_other_group,
    sample_other_member,
    segment_count,
)
from groupvae.objectives.mine import donsker_varadhan
from groupvae.registry import Registry


def require_pairs(group: Tensor, n_groups: int, name: str) -> None:
    """Raise :class:`DataError` unless there are two groups of two members or more
    (skipped inside :func:`~groupvae.nn.segment.trusted_groups`)."""
    if n_groups >= 2 and not checks_group_sizes():
        return
    count = segment_count(group, n_groups)
    if n_groups < 2 or bool((count < 2).any()):
        raise DataError(
            f"the {name} regulariser needs at least two groups per batch and at least two "
            f"members per group; got {n_groups} groups with smallest size {int(count.min())}. "
            "Drop one-member groups or use regulariser='none'."
        )


class PairwiseAdversarial(nn.Module):
    """MINE estimate of ``I_r(x; v)`` where ``v`` is inferred from *another* member.

    Németh (2020) / Hosoya (2019), as described in CxVAE section 2.3, CxVAE eq. 2:
    joint samples pair ``x_ik`` with ``v ~ q(v | x_il)``, ``l != k`` in the same group;
    marginal samples pair ``x_ik`` with ``v ~ q(v | x_jl)`` from another group ``j``.
    The critic is ``T(x, v) = MLP([x, v])``.
    """

    def __init__(self, config: ModelConfig, obs_dim: int) -> None:
        super().__init__()
        self.critic = MLP(
            obs_dim + config.instance_dim, 1, config.critic_hidden, config.n_hidden, out_bias=False
        )

    def forward(self, x: Tensor, v: Tensor, group: Tensor, n_groups: int) -> Tensor:
        """Args: ``x: (n_obs, obs_dim)`` flat observations, ``v: (n_obs, instance_dim)``
        instance samples, ``group: (n_obs,)``. Returns the scalar estimate (nats)."""
        require_pairs(group, n_groups, "pairwise-adversarial")
        same = sample_other_member(group, n_groups)
        other = sample_member_of_other_group(group, n_groups)
        # Joint and marginal pairs through the critic as one batch of 2 n_obs rows.
        pairs = torch.cat([x.repeat(2, 1), v[torch.cat([same, other])]], -1)
        t_joint, t_marginal = self.critic(pairs).squeeze(-1).chunk(2)
        return donsker_varadhan(t_joint, t_marginal)


class GroupAdversarial(nn.Module):
    """MINE estimate of ``I_r(x_{-k}; v_k)`` with a Deep Sets critic (CxVAE eq. 3).

    ``T(x_{-k}, v_k) = T_beta(v_k, mean_{l != k} T_alpha(x_l))``. Joint samples pair the
    rest of a group with the instance code of its member ``k``; marginal samples pair it
    with the instance code of a member of another group. The paper writes the pooled
    sum with ``1/K`` (the unnumbered formula after CxVAE eq. 3); we use the mean over the
    ``K - 1`` other members.
    """

    def __init__(self, config: ModelConfig, obs_dim: int) -> None:
        super().__init__()
        h = config.critic_hidden
        self.t_alpha = MLP(obs_dim, h, h, config.n_hidden)
        self.t_beta = MLP(h + config.instance_dim, 1, h, config.n_hidden, out_bias=False)

    def forward(self, x: Tensor, v: Tensor, group: Tensor, n_groups: int) -> Tensor:
        """As :meth:`PairwiseAdversarial.forward`."""
        require_pairs(group, n_groups, "group-adversarial")
        rest = leave_one_out_mean(self.t_alpha(x), group, n_groups)  # (n_obs, h)
        other = sample_member_of_other_group(group, n_groups)
        # Joint and marginal pairs through T_beta as one batch of 2 n_obs rows.
        pairs = torch.cat([rest.repeat(2, 1), torch.cat([v, v[other]])], -1)
        t_joint, t_marginal = self.t_beta(pairs).squeeze(-1).chunk(2)
        return donsker_varadhan(t_joint, t_marginal)


REGULARISERS: Registry[type[nn.Module] | None] = Registry("regulariser")
REGULARISERS.add("none", None)
REGULARISERS.add("pairwise-adversarial", PairwiseAdversarial)
REGULARISERS.add("group-adversarial", GroupAdversarial)
