"""Importance-sampled log marginal likelihood against a linear-Gaussian closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from groupvae.models import create
from helpers import FAST, flat_batch


def linear_gaussian(name: str, w_u: float, w_v: float, s: float):
    """``x = w_u u + w_v v + eps``, ``eps ~ N(0, s^2)``, with prior-like encoders."""
    overrides = {"group_dim": 1} if name != "vae" else {}
    model = create(
        name,
        obs_shape=(1,),
        instance_dim=1,
        n_hidden=0,
        decoder="mlp",
        likelihood="gaussian",
        obs_std=s,
        **overrides,
    )
    module = model.module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()  # encoders output N(0, 1): the prior
        weight = module.decoder.net[0].weight
        weight.copy_(torch.tensor([[w_u, w_v]] if name != "vae" else [[w_v]]))
    return module


def exact_log_marginal(x: np.ndarray, w_u: float, w_v: float, s: float) -> float:
    """``log N(x_G; 0, w_u^2 11^T + (w_v^2 + s^2) I)`` for one group ``x: (K,)``."""
    k = len(x)
    cov = w_u**2 * np.ones((k, k)) + (w_v**2 + s**2) * np.eye(k)
    _, logdet = np.linalg.slogdet(cov)
    return float(-0.5 * (x @ np.linalg.solve(cov, x) + logdet + k * np.log(2 * np.pi)))


@pytest.mark.parametrize(("name", "w_u"), [("mlvae", 1.5), ("cxvae", 1.5), ("vae", 0.0)])
def test_matches_the_exact_marginal_of_a_linear_gaussian_group_model(name, w_u):
    torch.manual_seed(0)
    w_v, s = 0.8, 0.5
    module = linear_gaussian(name, w_u, w_v, s)
    x = torch.tensor([[0.3], [1.2], [-0.4], [2.0], [0.1]], dtype=torch.float64)
    group = torch.tensor([0, 0, 0, 1, 1])
    got = module.log_marginal_likelihood(flat_batch(x, group, 2), n_samples=20_000)
    xs = x[:, 0].numpy()
    want = [exact_log_marginal(xs[:3], w_u, w_v, s), exact_log_marginal(xs[3:], w_u, w_v, s)]
    np.testing.assert_allclose(got.numpy(), want, atol=0.05)


def test_tightens_the_elbo_on_a_trained_model(exam):
    model = create("mlvae", dataset="exam-scores", hidden=16).fit(exam, **FAST)
    x = torch.from_numpy(exam.x)
    group = torch.from_numpy(exam.group)
    torch.manual_seed(0)
    with torch.no_grad():
        elbo = model.module.eval()(flat_batch(x, group, exam.n_groups)).elbo
    one = model.module.log_marginal_likelihood(flat_batch(x, group, exam.n_groups), n_samples=1)
    many = model.module.log_marginal_likelihood(flat_batch(x, group, exam.n_groups), n_samples=200)
    # S = 1 is an unbiased ELBO estimate; more samples give a tighter bound.
    assert abs(float(one.mean() - elbo.mean())) < 0.1 * abs(float(elbo.mean()))
    assert float(many.mean()) > float(elbo.mean())
