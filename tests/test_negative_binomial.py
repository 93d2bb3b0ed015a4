"""The negative-binomial likelihood (scVI's, with the observed library size) against
scipy's closed form, its data checks, and training on an AnnData file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import nbinom

from groupvae.config import ModelConfig
from groupvae.errors import DataError
from groupvae.modules.likelihoods import LIKELIHOODS, NegativeBinomialLikelihood


def test_log_prob_is_scipys_nbinom_with_mean_library_times_proportions():
    torch.manual_seed(0)
    lik = NegativeBinomialLikelihood(ModelConfig(obs_shape=(4,)))
    with torch.no_grad():
        lik.log_theta.copy_(torch.tensor([-1.0, 0.0, 0.5, 2.0]))
    x = torch.tensor([[0.0, 3.0, 10.0, 1.0], [5.0, 0.0, 2.0, 7.0]], dtype=torch.float64)
    params = torch.randn(2, 4, dtype=torch.float64)
    got = lik.double().log_prob(x, params).detach().numpy()
    theta = np.exp(lik.log_theta.detach().numpy())
    mu = x.sum(1, keepdim=True).numpy() * torch.softmax(params, -1).numpy()
    want = nbinom.logpmf(x.numpy(), theta, theta / (theta + mu)).sum(1)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_counts_are_checked_and_the_library_size_recorded():
    lik = LIKELIHOODS["negative-binomial"](ModelConfig(obs_shape=(3,)))
    with pytest.raises(DataError, match="needs counts"):
        lik.check_data(np.array([[0.5, 1.0, 2.0]]))
    with pytest.raises(DataError, match="needs counts"):
        lik.check_data(np.array([[-1.0, 1.0, 2.0]]))
    lik.check_data(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 2.0]]))
    assert float(lik.library_size) == pytest.approx(4.0)
    mean = lik.mean(torch.zeros(1, 3))
    np.testing.assert_allclose(mean.numpy(), [[4 / 3] * 3], rtol=1e-6)


def test_mlvae_trains_on_counts_from_an_h5ad_file(tmp_path):
    pytest.importorskip("anndata")
    from groupvae.data.readers import read_h5ad
    from groupvae.models import create
    from test_readers import write_h5ad

    write_h5ad(tmp_path / "cells.h5ad", sparse=True)
    data = read_h5ad(tmp_path / "cells.h5ad", group="donor")
    model = create("mlvae", dataset="anndata", obs_shape=data.obs_shape, hidden=8, seed=0)
    before = model.module.likelihood.log_theta.detach().clone()
    model.fit(data, epochs=2, progress=False)
    assert not torch.equal(before, model.module.likelihood.log_theta.detach())
    assert np.isfinite(model.history["train_elbo_per_obs"]).all()


def test_the_encoders_read_log1p_counts_so_large_counts_train():
    # hundreds of counts per gene: read raw, the encoders' log-variances passed 80 at
    # the first step and the loss became inf (issue 22's benchmark, 8 genes)
    from groupvae.data.simulated_groups import simulate_groups
    from groupvae.models import create

    lik = NegativeBinomialLikelihood(ModelConfig(obs_shape=(3,)))
    x = torch.tensor([[0.0, 9.0, 999.0]])
    torch.testing.assert_close(lik.encoder_input(x), torch.log1p(x))
    sim = simulate_groups("counts", group_size=4, groups_per_cluster=4, n_features=8,
                          n_differential=2, n_validation=3, seed=0)  # fmt: skip
    assert sim.data.x.max() > 500
    torch.set_num_threads(1)
    model = create("mlvae", dataset="anndata", data=sim.data, seed=0)
    model.fit(sim.data, holdout=sim.validation, max_steps=10, progress=False)
    assert np.isfinite(model.history["train_loss"]).all()
