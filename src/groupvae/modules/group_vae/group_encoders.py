"""Group encoders ``q(u | x_G)``: map a flat batch of groups to one Normal per group."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from groupvae.config import ModelConfig
from groupvae.nn.mlp import MLP
from groupvae.nn.segment import average_of_normals, product_of_normals, segment_sum
from groupvae.registry import Registry

READS_FEATURES = "features"
"""Each member's input is its trunk features ``h(x_k)``."""
READS_CLUSTERS = "features-and-clusters"
"""Each member's input is ``[h(x_k), q(d_k | v_k)]`` (UG-VAE eq. 8): the instance latent
is inferred first and the prior must be the ``mixture``."""


class GroupEncoder(nn.Module):
    """Base of every group encoder: ``forward(x, group, n_groups) -> (mean, logvar)``.

    ``x: (n_obs, in_dim)`` per-member inputs, ``group: (n_obs,) int64 in [0, n_groups)``;
    returns ``(n_groups, group_dim)`` means and log-variances. Subclasses declare what
    they read in ``reads`` (:data:`READS_FEATURES` or :data:`READS_CLUSTERS`).
    """

    reads: ClassVar[str] = READS_FEATURES

    def forward(self, x: Tensor, group: Tensor, n_groups: int) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class PerObservationEncoder(GroupEncoder):
    """Encodes each member to ``N(mu_k, Sigma_k)`` and combines them per group.

    Args:
        config: model config (``group_dim``, ``hidden``, ``encoder_layers``).
        obs_dim: features of each member (the backbone's output).
        combine: ``product_of_normals`` (ML-VAE eq. 6-7) or ``average_of_normals``
            (Hosoya 2019).
    """

    def __init__(self, config: ModelConfig, obs_dim: int, combine) -> None:
        super().__init__()
        self.net = MLP(obs_dim, 2 * config.group_dim, config.hidden, config.encoder_layers)
        self.combine = combine

    def forward(self, x: Tensor, group: Tensor, n_groups: int) -> tuple[Tensor, Tensor]:
        """Args: ``x: (n_obs, obs_dim)``, ``group: (n_obs,) int64 in [0, n_groups)``.

        Returns: ``(mean, logvar)``, each ``(n_groups, group_dim)``.
        """
        mean, logvar = self.net(x).chunk(2, dim=-1)
        return self.combine(mean, logvar, group, n_groups)


class ProductOfNormalsEncoder(PerObservationEncoder):
    """ML-VAE's group encoder: the precision-weighted product of members' Normals."""

    def __init__(self, config: ModelConfig, obs_dim: int) -> None:
        super().__init__(config, obs_dim, product_of_normals)


class AverageEncoder(PerObservationEncoder):
    """GVAE's group encoder (Hosoya 2019): average of members' means and variances."""

    def __init__(self, config: ModelConfig, obs_dim: int) -> None:
        super().__init__(config, obs_dim, average_of_normals)


class ClusterProductOfNormalsEncoder(PerObservationEncoder):
    """UG-VAE's global encoder ``q(beta | X, Z)`` (Peis et al., eq. 8-9).

    Each member contributes ``N(mu_k, Sigma_k)`` computed from ``[h(x_k), pi(z_k)]``, its
    features and its cluster probabilities ``q(d_k | z_k)``; the group posterior is their
    precision-weighted product (eq. 9), the project's :func:`product_of_normals`. The
    module feeds it ``[h(x_k), pi(z_k)]``, so the instance latent is inferred first; it
    needs the ``mixture`` prior, whose ``q(d | z)`` gives ``pi``.
    """

    reads = READS_CLUSTERS

    def __init__(self, config: ModelConfig, obs_dim: int) -> None:
        super().__init__(config, obs_dim + config.n_components, product_of_normals)


class DeepSetsEncoder(GroupEncoder):
    """CxVAE's group encoder ``E_B(sum_k E_A(x_k))`` (CxVAE section 4, item 1).

    The sum makes it invariant to the order of the members; ``E_A`` ends in a ReLU so the
    pooled features are non-negative evidence counts.
    """

    def __init__(self, config: ModelConfig, obs_dim: int) -> None:
        super().__init__()
        h = config.hidden
        self.e_a = nn.Sequential(MLP(obs_dim, h, h, config.encoder_layers), nn.ReLU())
        self.e_b = MLP(h, 2 * config.group_dim, h, config.encoder_layers)

    def forward(self, x: Tensor, group: Tensor, n_groups: int) -> tuple[Tensor, Tensor]:
        """As :meth:`PerObservationEncoder.forward`."""
        pooled = segment_sum(self.e_a(x), group, n_groups)
        mean, logvar = self.e_b(pooled).chunk(2, dim=-1)
        return mean, logvar


GROUP_ENCODERS: Registry[type[GroupEncoder] | None] = Registry("group encoder")
GROUP_ENCODERS.add("poe", ProductOfNormalsEncoder)
GROUP_ENCODERS.add("mean", AverageEncoder)
GROUP_ENCODERS.add("deepsets", DeepSetsEncoder)
GROUP_ENCODERS.add("poe-clusters", ClusterProductOfNormalsEncoder)
GROUP_ENCODERS.add("none", None)

__all__ = [
    "GROUP_ENCODERS",
    "READS_CLUSTERS",
    "READS_FEATURES",
    "GroupEncoder",
    "AverageEncoder",
    "ClusterProductOfNormalsEncoder",
    "DeepSetsEncoder",
    "ProductOfNormalsEncoder",
]
