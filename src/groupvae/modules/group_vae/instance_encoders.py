"""Instance encoders ``q(v_k | x_k)`` or ``q(v_k | x_k, u)``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from groupvae.config import ModelConfig
from groupvae.nn.mlp import MLP
from groupvae.registry import Registry


class IndependentEncoder(nn.Module):
    """``q(v_k | x_k)``: the GVAE family's instance encoder (CxVAE section 2.1).

    Also ML-VAE's style encoder ``q(S_i | X_i)`` and UG-VAE eq. 6's ``q(z_i | x_i)``.
    """

    def __init__(self, config: ModelConfig, obs_dim: int) -> None:
        super().__init__()
        self.net = MLP(obs_dim, 2 * config.instance_dim, config.hidden, config.encoder_layers)

    def forward(self, x: Tensor, u: Tensor | None) -> tuple[Tensor, Tensor]:
        """Args: ``x: (n_obs, obs_dim)``; ``u`` is ignored.

        Returns: ``(mean, logvar)``, each ``(n_obs, instance_dim)``.
        """
        mean, logvar = self.net(x).chunk(2, dim=-1)
        return mean, logvar


class ConditionalEncoder(nn.Module):
    """``q(v_k | x_k, u)``: conditioned on the group code (CxVAE section 4, item 2).

    The input is the concatenation ``[x_k, u]``, with ``u`` a sample of ``q(u | x_G)``
    during training and its mean at evaluation.
    """

    def __init__(self, config: ModelConfig, obs_dim: int) -> None:
        super().__init__()
        in_dim = obs_dim + config.group_dim
        self.net = MLP(in_dim, 2 * config.instance_dim, config.hidden, config.encoder_layers)

    def forward(self, x: Tensor, u: Tensor | None) -> tuple[Tensor, Tensor]:
        """Args: ``x: (n_obs, obs_dim)``, ``u: (n_obs, group_dim)`` the code of each
        observation's group. Returns as :meth:`IndependentEncoder.forward`."""
        assert u is not None, "the conditional instance encoder needs a group latent"
        mean, logvar = self.net(torch.cat([x, u], -1)).chunk(2, dim=-1)
        return mean, logvar


INSTANCE_ENCODERS: Registry[type[nn.Module]] = Registry("instance encoder")
INSTANCE_ENCODERS.add("independent", IndependentEncoder)
INSTANCE_ENCODERS.add("conditional", ConditionalEncoder)
