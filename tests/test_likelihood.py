"""The holdout log-likelihood wrapper against objectives/importance.py, and the METRICS."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from groupvae.errors import DataError
from groupvae.evaluation import group_log_likelihoods, holdout_log_likelihood
from groupvae.models import create
from groupvae.runs import METRICS, evaluate_run, train_run
from helpers import flat_batch


def tiny_model(name: str):
    sizes = {} if name == "vae" else {"group_dim": 2}
    return create(name, obs_shape=(1, 4, 4), likelihood="bernoulli", hidden=8, **sizes)


@pytest.mark.parametrize("name", ["vae", "mlvae", "cxvae"])
def test_agrees_with_log_marginal_likelihood_on_one_batch(images, name):
    model = tiny_model(name)
    got = group_log_likelihoods(
        model, images, n_samples=7, seed=3, groups_per_batch=images.n_groups
    )
    torch.manual_seed(3)
    x, group = torch.from_numpy(images.x), torch.from_numpy(images.group)
    want = model.module.log_marginal_likelihood(flat_batch(x, group, images.n_groups), n_samples=7)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-6)


def test_whole_group_batches_give_every_group_its_own_value(images):
    model = tiny_model("mlvae")
    one = group_log_likelihoods(model, images, n_samples=500, groups_per_batch=images.n_groups)
    many = group_log_likelihoods(model, images, n_samples=500, seed=1, groups_per_batch=5)
    # Different samples, so not equal; but each group gets its own value back.
    assert np.corrcoef(one, many)[0, 1] > 0.99
    assert np.abs(one - many).mean() < 0.5
    assert (one < 0).all()  # log-probability masses of binary images


def test_is_seeded_and_leaves_the_global_generator_alone(images):
    model = tiny_model("mlvae")
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    a = holdout_log_likelihood(model, images, n_samples=3, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert a == holdout_log_likelihood(model, images, n_samples=3, seed=5)
    assert a["log_likelihood_per_group"] * images.n_groups == pytest.approx(
        a["log_likelihood_per_observation"] * images.n_obs
    )
    with pytest.raises(DataError, match="n_samples"):
        holdout_log_likelihood(model, images, n_samples=0)


def test_the_labelled_image_data_sets_and_shapes_have_metrics():
    assert {"mnist", "uci-digits", "mnist-full", "shapes", "exam-scores"} <= set(METRICS)


def test_evaluate_covers_disentanglement_and_likelihood_on_shapes(tmp_path):
    run = tmp_path / "run"
    overrides = {"obs_shape": (3, 16, 16), "hidden": 8, "n_hidden": 1, "progress": False}
    train_run(
        "mlvae",
        "shapes",
        run,
        epochs=1,
        overrides=overrides,
        data_options={"n_groups": 40, "image_size": 16},
        holdout=0.5,
        progress=False,
    )
    metrics = evaluate_run(run)
    for key in ("disentanglement", "shape_from_group", "log_likelihood_per_observation"):
        assert isinstance(metrics[key], float) and math.isfinite(metrics[key])
    assert metrics["log_likelihood_per_group"] < 0


def test_obs_scale_variance_reads_sigma_x_as_the_authors_variance():
    import torch

    from groupvae.config import ModelConfig
    from groupvae.errors import ConfigError
    from groupvae.modules.likelihoods import GaussianLikelihood, observation_std

    as_std = ModelConfig(obs_std=0.2)
    as_var = ModelConfig(obs_std=0.2, obs_scale="variance")
    assert observation_std(as_std) == pytest.approx(0.2)
    assert observation_std(as_var) == pytest.approx(math.sqrt(0.2))  # 0.447
    x, mean = torch.tensor([[0.3, 0.9]]), torch.tensor([[0.1, 0.5]])
    sq = float(((x - mean) ** 2).sum())
    expected = -0.5 * (sq / 0.2 + 2 * math.log(2 * math.pi * 0.2))  # variance 0.2
    assert float(GaussianLikelihood(as_var).log_prob(x, mean)) == pytest.approx(expected)
    with pytest.raises(ConfigError, match="obs_scale"):
        ModelConfig(obs_scale="precision")
