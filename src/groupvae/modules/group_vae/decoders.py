"""Decoders ``p(x | u, v)``: map latents to the parameters of the likelihood.

The input is ``[u, v]``, the group code first: UG-VAE eq. 2 decodes ``[z_i, beta]``, the
GVAE family (CxVAE section 2) ``p(x_k | u, v_k)``.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from groupvae.config import ModelConfig
from groupvae.errors import ConfigError
from groupvae.nn.backbones import ConvDecoderNet
from groupvae.nn.mlp import MLP
from groupvae.registry import Registry


class MLPDecoder(nn.Module):
    """``[u, v] -> MLP -> (n_obs, *obs_shape)`` likelihood parameters (mean or logits)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.obs_shape = config.obs_shape
        in_dim = config.group_dim + config.instance_dim
        self.net = MLP(in_dim, math.prod(config.obs_shape), config.hidden, config.n_hidden)

    def forward(self, z: Tensor) -> Tensor:
        """Args: ``z: (n_obs, group_dim + instance_dim)``, the group code first.

        Returns: ``(n_obs, *obs_shape)``.
        """
        return self.net(z).view(-1, *self.obs_shape)


class ExamScoresDecoder(nn.Module):
    """The known Exam-Scores generative form ``x = 2 u_0 + (u_1^2 + 1) v`` (CxVAE section 3.1).

    The CxVAE paper uses it in place of a network; it has no parameters.

    Raises:
        ConfigError: unless ``group_dim == 2``, ``instance_dim == 1`` and ``obs_shape == (1,)``.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if (config.group_dim, config.instance_dim, config.obs_shape) != (2, 1, (1,)):
            raise ConfigError(
                "the exam-scores decoder needs group_dim=2, instance_dim=1, obs_shape=(1,); "
                f"got {config.group_dim}, {config.instance_dim}, {config.obs_shape}"
            )

    def forward(self, z: Tensor) -> Tensor:
        """Args: ``z: (n_obs, 3)`` rows ``(u_0, u_1, v)``. Returns ``(n_obs, 1)``."""
        return 2.0 * z[:, 0:1] + (z[:, 1:2].pow(2) + 1.0) * z[:, 2:3]


class ConvDecoder(nn.Module):
    """``[u, v] -> linear -> transposed convolutions -> (n_obs, C, H, W)`` parameters."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        in_dim = config.group_dim + config.instance_dim
        self.net = ConvDecoderNet(in_dim, config.obs_shape, config.channels)

    def forward(self, z: Tensor) -> Tensor:
        """Args: ``z: (n_obs, group_dim + instance_dim)``. Returns ``(n_obs, C, H, W)``."""
        return self.net(z)


DECODERS: Registry[type[nn.Module]] = Registry("decoder")
DECODERS.add("mlp", MLPDecoder)
DECODERS.add("exam-scores", ExamScoresDecoder)
DECODERS.add("conv", ConvDecoder)
