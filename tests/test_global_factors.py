"""Structured batches and SVM batch classification (UG-VAE Table 1, A.3, section 4.2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from groupvae.data import GroupedDataset
from groupvae.errors import ConfigError, DataError
from groupvae.evaluation.global_factors import (
    DIGIT_SETS,
    classify_batches,
    domain_batch_classification,
    domain_transfer,
    draw_batches,
    label_pools,
    mixed_batches,
    structured_batch_classification,
)
from groupvae.models import create


def test_batches_draw_from_their_pool_without_repeats():
    labels = np.random.default_rng(0).integers(0, 10, size=500)
    pools = label_pools(labels, ["even", "prime"])
    rows, group, kind = draw_batches(pools, n_batches=6, batch_size=20, seed=1)
    assert rows.shape == group.shape == (2 * 6 * 20,)
    assert kind.tolist() == [0] * 6 + [1] * 6
    for b in range(12):
        batch = rows[group == b]
        assert len(set(batch.tolist())) == 20
        assert np.isin(labels[batch], DIGIT_SETS[["even", "prime"][kind[b]]]).all()
    again = draw_batches(pools, n_batches=6, batch_size=20, seed=1)[0]
    np.testing.assert_array_equal(rows, again)
    with pytest.raises(DataError, match="cannot fill"):
        draw_batches([np.arange(5)], n_batches=1, batch_size=6)


def test_mixed_batches_take_an_equal_share_of_each_pool():
    domain = np.r_[np.zeros(50, dtype=int), np.ones(30, dtype=int)]
    pools = [np.flatnonzero(domain == 0), np.flatnonzero(domain == 1)]
    rows = mixed_batches(pools, n_batches=4, batch_size=10, seed=0).reshape(4, 10)
    assert (domain[rows].sum(1) == 5).all()
    with pytest.raises(DataError, match="evenly"):
        mixed_batches(pools, n_batches=1, batch_size=9)


def test_svms_score_an_informative_code_perfectly_and_noise_near_chance():
    """Oracle checks: the kind itself is separable; a code without information is not."""
    rng = np.random.default_rng(0)
    kind = np.repeat([0, 1, 2], 60)
    informative = np.eye(3)[kind] + 0.05 * rng.standard_normal((180, 3))
    scores = classify_batches(informative, kind, seed=0)
    assert scores["linear_test"] == scores["rbf_test"] == 1.0
    assert scores["chance"] == pytest.approx(1 / 3)
    noise = classify_batches(rng.standard_normal((180, 3)), kind, seed=0)
    assert noise["linear_test"] < 0.5 and noise["rbf_test"] < 0.5
    with pytest.raises(DataError, match="two kinds"):
        classify_batches(informative, np.zeros(180, dtype=int))


def test_structured_and_domain_classification_run_on_a_model():
    rng = np.random.default_rng(0)
    x = (rng.random((300, 1, 4, 4)) < 0.5).astype(np.float32)
    labels = rng.integers(0, 10, size=300)
    model = create("ugvae", obs_shape=(1, 4, 4), likelihood="bernoulli", hidden=8, group_dim=2)
    tasks = {"even/odd": ("even", "odd"), "even/odd/random": ("even", "odd", "random")}
    metrics, codes = structured_batch_classification(
        model, x, labels, tasks=tasks, n_batches=10, batch_size=16, seed=0
    )
    assert set(metrics) == {
        f"{t}_{m}"
        for t in tasks
        for m in ("chance", *(f"{c}_{s}" for c in ("linear", "rbf") for s in ("train", "test")))
    }
    assert codes["samples"].shape == codes["means"].shape == (30, 2)
    assert codes["kinds"].tolist() == ["even", "odd", "random"]
    domain = (np.arange(300) % 3 == 0).astype(int)
    metrics, codes = domain_batch_classification(
        model, x, domain, domain_names=("a", "b"), n_batches=8, batch_size=16, seed=0
    )
    assert 0 <= metrics["a/b_linear_test"] <= 1 and metrics["a/b/mixed_chance"] == pytest.approx(
        1 / 3
    )
    assert codes["kind"].tolist() == [0] * 8 + [1] * 8 + [2] * 8


def test_domain_transfer_is_zero_when_beta_does_not_reach_the_decoder():
    """A decoder blind to beta renders every translation as its source domain."""
    rng = np.random.default_rng(0)
    domain = np.repeat([0, 1], 120)
    x = np.where(domain[:, None, None, None] == 0, 0.1, 0.9) + 0.05 * rng.random((240, 1, 4, 4))
    data = GroupedDataset(x=x.astype(np.float32), group=np.arange(240) // 8)
    model = create("ugvae", obs_shape=(1, 4, 4), likelihood="gaussian", hidden=8, group_dim=2)
    model.fit(data, epochs=20, random_groups=16, groups_per_batch=1, lr=1e-2, progress=False)
    with torch.no_grad():
        model.module.decoder.net[0].weight[:, :2] = 0.0  # [beta, z]: the beta columns
    scores = domain_transfer(model, data.x, domain, n_batches=4, batch_size=16, seed=0)
    assert scores["reconstruction_domain_accuracy"] == 1.0  # z renders the domain
    assert scores["transfer_rate"] == 0.0
    with pytest.raises(ConfigError, match="no group latent"):
        domain_transfer(create("gmvae", obs_shape=(1, 4, 4), hidden=8), x, domain)
    with pytest.raises(DataError, match="two domains"):
        domain_transfer(model, x, np.zeros(240, dtype=int))
