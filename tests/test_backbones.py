"""The convolutional backbone and decoder: sizes, shapes and errors."""

from __future__ import annotations

import pytest
import torch

from groupvae.errors import ConfigError
from groupvae.nn.backbones import ConvDecoderNet, ConvEncoderNet, conv_plan


@pytest.mark.parametrize(
    ("shape", "steps", "side"), [((1, 28, 28), 2, 7), ((3, 64, 64), 3, 8), ((1, 16, 16), 1, 8)]
)
def test_conv_plan_halves_down_to_a_small_base(shape, steps, side):
    chans, n, base = conv_plan(shape, 8)
    assert (n, base) == (steps, side)
    assert chans[0] == shape[0] and len(chans) == steps + 1


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 64, 64)])
def test_encoder_and_decoder_map_images_and_codes(shape):
    x = torch.rand(5, *shape)
    features = ConvEncoderNet(shape, 8, 32)(x)
    assert features.shape == (5, 32)
    assert (features < 0).any()  # linear output: no feature is clamped at zero
    assert ConvDecoderNet(6, shape, 8)(torch.randn(5, 6)).shape == (5, *shape)


@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 32), (1, 7, 7)])
def test_conv_plan_refuses_images_it_cannot_downsample(shape):
    with pytest.raises(ConfigError):
        conv_plan(shape, 8)
