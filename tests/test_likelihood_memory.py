"""The importance-sampling chunks bound what a pass really allocates (MAX_ELEMENTS)."""

from __future__ import annotations

import numpy as np
import torch

import groupvae.evaluation.likelihood as likelihood
from groupvae.evaluation import group_log_likelihoods
from groupvae.evaluation.likelihood import activation_width
from groupvae.models import create
from helpers import make_images, upsample


def test_activation_width_is_the_widest_layer_output(images):
    wide = create("mlvae", obs_shape=(1, 4, 4), likelihood="bernoulli", hidden=64)
    assert activation_width(wide.module, images) == 64  # hidden 64 > obs_dim 16
    narrow = create("mlvae", obs_shape=(1, 4, 4), likelihood="bernoulli", hidden=8)
    assert activation_width(narrow.module, images) == 16  # obs_dim
    big = upsample(make_images(4), 4)  # (1, 16, 16): one halving to 8 x 8
    conv = create(
        "mlvae",
        obs_shape=(1, 16, 16),
        likelihood="bernoulli",
        backbone="conv",
        decoder="conv",
        channels=8,
        hidden=8,
    )
    assert activation_width(conv.module, big) == 8 * 8 * 8  # channels x H/2 x W/2


def test_no_layer_of_a_chunk_exceeds_max_elements(images, monkeypatch):
    model = create("mlvae", obs_shape=(1, 4, 4), likelihood="bernoulli", hidden=64)
    n_samples = 500
    bound = n_samples * 64 * 20  # room for about 20 observations per chunk
    monkeypatch.setattr(likelihood, "MAX_ELEMENTS", bound)
    largest = []
    hooks = [
        m.register_forward_hook(
            lambda _m, _i, out: largest.append(out.numel() if torch.is_tensor(out) else 0)
        )
        for m in model.module.modules()
    ]
    chunked = group_log_likelihoods(model, images, n_samples=n_samples)
    for hook in hooks:
        hook.remove()
    assert 0 < max(largest) <= bound
    # Counting only obs_dim (16) would have put 4x as many rows in a chunk:
    old_rows = bound // (n_samples * 16) // int(images.group_sizes.max()) * 6
    assert n_samples * old_rows * 64 > bound
    one = group_log_likelihoods(model, images, n_samples=n_samples, groups_per_batch=24)
    # Other samples in other chunks, so not bit-equal: the same estimates to within
    # their Monte Carlo error.
    assert np.corrcoef(one, chunked)[0, 1] > 0.99
    assert np.abs(one - chunked).mean() < 0.5
