"""``BACKBONES``: name -> ``make(obs_shape, hidden, channels) -> (module, feature_dim)``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from groupvae.nn.backbones import conv_backbone, dense_backbone, flatten_backbone
from groupvae.registry import Registry

BACKBONES: Registry[Callable[[tuple[int, ...], int, int], tuple[nn.Module, int]]] = Registry(
    "backbone"
)
BACKBONES.add("mlp", flatten_backbone)
BACKBONES.add("conv", conv_backbone)
BACKBONES.add("dense", dense_backbone)
