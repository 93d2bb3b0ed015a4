"""Backbones: feature extractors for the encoders, and convolutional decoders.

``mlp`` flattens an observation (the encoders' MLP heads then see raw features, the
ML-VAE paper's MNIST set-up); ``conv`` is a strided-convolution encoder for images of
shape ``(C, H, W)`` whose decoder twin is :class:`ConvDecoderNet`. Sizes such as 28x28
and 64x64 are halved until at most 8 pixels wide (at most four times).
"""

from __future__ import annotations

import itertools
import math

from torch import Tensor, nn

from groupvae.errors import ConfigError


def conv_plan(obs_shape: tuple[int, ...], channels: int) -> tuple[list[int], int, int]:
    """``(channel list, n_downsamplings, base size)`` for an image ``(C, H, W)``.

    Raises:
        ConfigError: unless the image is square and its side divides into a base of 3-8
            pixels by halving.
    """
    if len(obs_shape) != 3 or obs_shape[1] != obs_shape[2]:
        raise ConfigError(f"the conv backbone needs square images (C, H, H), got {obs_shape}")
    side, steps = obs_shape[1], 0
    while side % 2 == 0 and side > 8 and steps < 4:
        side, steps = side // 2, steps + 1
    if steps == 0 or side < 3:
        raise ConfigError(f"the conv backbone cannot downsample images of side {obs_shape[1]}")
    chans = [obs_shape[0]] + [channels * 2 ** min(i, 2) for i in range(steps)]
    return chans, steps, side


class ConvEncoderNet(nn.Module):
    """``(n, C, H, W) -> (n, out_dim)``: stride-2 4x4 convolutions with ReLU, then linear.

    The output is linear (no final ReLU): the encoders' MLP heads add the nonlinearity,
    and narrow trunks keep every feature alive.
    """

    def __init__(self, obs_shape: tuple[int, ...], channels: int, out_dim: int) -> None:
        super().__init__()
        chans, _steps, side = conv_plan(obs_shape, channels)
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(chans):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        layers += [nn.Flatten(), nn.Linear(chans[-1] * side * side, out_dim)]
        self.net = nn.Sequential(*layers)
        self.out_dim = out_dim

    def forward(self, x: Tensor) -> Tensor:
        """Args: ``x: (n, C, H, W)``. Returns ``(n, out_dim)`` features."""
        return self.net(x)


class ConvDecoderNet(nn.Module):
    """``(n, in_dim) -> (n, C, H, W)``: linear, then stride-2 transposed convolutions."""

    def __init__(self, in_dim: int, obs_shape: tuple[int, ...], channels: int) -> None:
        super().__init__()
        chans, steps, side = conv_plan(obs_shape, channels)
        chans = chans[::-1]
        self.start = (chans[0], side, side)
        layers: list[nn.Module] = [nn.Linear(in_dim, math.prod(self.start)), nn.ReLU()]
        layers.append(nn.Unflatten(1, self.start))
        for i, (c_in, c_out) in enumerate(itertools.pairwise(chans)):
            layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
            if i < steps - 1:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """Args: ``z: (n, in_dim)``. Returns ``(n, C, H, W)`` likelihood parameters."""
        return self.net(z)


def flatten_backbone(
    obs_shape: tuple[int, ...], hidden: int, channels: int
) -> tuple[nn.Module, int]:
    """The ``mlp`` backbone: flatten; the encoders' MLP heads do the rest."""
    return nn.Flatten(), math.prod(obs_shape)


def dense_backbone(obs_shape: tuple[int, ...], hidden: int, channels: int) -> tuple[nn.Module, int]:
    """The ``dense`` backbone: flatten, then one shared ``Linear(obs_dim, hidden)`` + ReLU.

    UG-VAE's MNIST pre-encoder ``h`` (appendix B, Table 2: 784 -> 256, ReLU), shared by
    the local and the global encoder heads.
    """
    net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(obs_shape), hidden), nn.ReLU())
    return net, hidden


def conv_backbone(obs_shape: tuple[int, ...], hidden: int, channels: int) -> tuple[nn.Module, int]:
    """The ``conv`` backbone: :class:`ConvEncoderNet` with ``hidden`` output features."""
    return ConvEncoderNet(obs_shape, channels, hidden), hidden
