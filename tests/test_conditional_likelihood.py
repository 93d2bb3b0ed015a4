"""The importance-sampled conditional score ``log p(x_k | x_{G without k})`` of the VAEs:
the held-out members, the data set without them, the identity with two joint estimates,
the shared-sample estimator against it, and the plain VAE's conditional as its marginal
``log p(x_k)``."""

from __future__ import annotations

import numpy as np
import pytest

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError
from groupvae.evaluation.likelihood import (
    conditional_log_likelihoods,
    group_log_likelihoods,
    held_out_members,
)
from groupvae.models import create


def table(n_groups: int = 12, seed: int = 0) -> GroupedDataset:
    """Standardised-looking 2-d rows in groups of 2-6, with a group effect."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 7, size=n_groups)
    group = np.repeat(np.arange(n_groups), sizes)
    x = rng.normal(0, 0.8, size=(n_groups, 2))[group] + rng.normal(0, 0.6, (len(group), 2))
    return GroupedDataset(x=x, group=group * 10 + 3)  # ids 3, 13, ...: kept in subsets


def test_held_out_members_are_one_random_member_per_group_seeded():
    data = table(40)
    held = held_out_members(data.group, seed=0)
    assert (np.bincount(data.group[held], minlength=data.n_groups) == 1).all()
    np.testing.assert_array_equal(held, held_out_members(data.group, seed=0))
    assert (held != held_out_members(data.group, seed=1)).any()
    firsts = np.r_[True, data.group[1:] != data.group[:-1]]
    assert (held != firsts).any()  # not simply the first member
    with pytest.raises(DataError, match="fewer than two members"):
        held_out_members(np.array([0, 0, 1]), seed=0)


def test_subset_observations_keeps_groups_in_line():
    data = table()
    held = held_out_members(data.group, seed=3)
    rest = data.subset_observations(~held)
    assert rest.n_groups == data.n_groups and rest.n_obs == data.n_obs - data.n_groups
    np.testing.assert_array_equal(rest.group_ids, data.group_ids)
    np.testing.assert_array_equal(rest.group_sizes, data.group_sizes - 1)
    np.testing.assert_array_equal(rest.x, data.x[~held])
    with pytest.raises(DataError, match="removes every member of 1 group"):
        data.subset_observations(data.group != 0)
    with pytest.raises(DataError, match="boolean mask"):
        data.subset_observations(np.ones(3, dtype=bool))


@pytest.mark.parametrize("name", ["vae", "mlvae", "cxvae"])
def test_the_difference_estimator_is_the_difference_of_the_two_joint_estimates(name):
    data = table()
    held = held_out_members(data.group, seed=0)
    model = create(name, dataset="table", obs_shape=(2,), hidden=8, seed=1)
    opts = {"n_samples": 16, "seed": 5}
    got = conditional_log_likelihoods(model, data, held, estimator="difference", **opts)
    joint = group_log_likelihoods(model, data, **opts)
    rest = group_log_likelihoods(model, data.subset_observations(~held), **opts)
    np.testing.assert_allclose(got, joint - rest, rtol=1e-12)
    again = conditional_log_likelihoods(
        model, data, held, estimator="difference", joint=joint, **opts
    )
    np.testing.assert_allclose(again, got, rtol=1e-12)
    assert np.isfinite(got).all() and got.shape == (data.n_groups,)


@pytest.mark.parametrize("estimator", ["shared", "difference"])
def test_without_a_group_latent_the_conditional_is_the_marginal_of_the_member(estimator):
    """The plain VAE's ``p(x_G)`` factorises, so ``log p(x_G) - log p(x_{G without k})``
    is ``log p(x_k)`` (here: each held member scored as a group of one); the estimates
    agree up to importance-sampling noise (with this untrained encoder as the proposal,
    two seeds of the direct estimate differ by up to 0.03 nats per group at 20,000
    samples; the difference estimator adds the other members' noise)."""
    data = table(30, seed=1)
    held = held_out_members(data.group, seed=2)
    model = create("vae", dataset="table", obs_shape=(2,), hidden=8, seed=0)
    got = conditional_log_likelihoods(
        model, data, held, n_samples=20_000, seed=0, estimator=estimator
    )
    alone = GroupedDataset(x=data.x[held], group=data.group[held])
    want = group_log_likelihoods(model, alone, n_samples=20_000, seed=1)
    np.testing.assert_allclose(got, want, atol=0.1 if estimator == "difference" else 0.05)
    assert abs(got.mean() - want.mean()) < 0.01


def _briefly_trained(name: str) -> tuple[GroupedDataset, np.ndarray, object]:
    """``name`` trained for about 300 steps (so that its encoders are fair proposals)
    on 40 groups, and 20 other groups with one held member each."""
    model = create(name, dataset="table", obs_shape=(2,), hidden=16, seed=1)
    model.fit(table(40, seed=3), max_steps=300, lr=1e-3, kl_warmup_epochs=0, progress=False)
    test = table(20, seed=4)
    return test, held_out_members(test.group, seed=0), model


@pytest.mark.parametrize("name", ["mlvae", "cxvae", "ugvae"])
def test_the_shared_and_difference_estimators_estimate_the_same_conditional(name):
    """Both are consistent: with many samples they agree (the difference estimator
    averaged over three seeds: alone, UG-VAE's moves by 0.025 nats at 3,000 samples,
    the shared one by 0.0005); with few, the shared samples' estimate moves less from
    seed to seed (ML-VAE: four times less, UG-VAE: twenty)."""
    test, held, model = _briefly_trained(name)
    shared = conditional_log_likelihoods(model, test, held, n_samples=3000, seed=0)
    other = np.mean(
        [
            conditional_log_likelihoods(
                model, test, held, n_samples=3000, seed=s, estimator="difference"
            )
            for s in (1, 2, 3)
        ],
        axis=0,
    )
    assert abs(shared.mean() - other.mean()) < 0.01
    np.testing.assert_allclose(shared, other, atol=0.2)
    if name in ("mlvae", "ugvae"):
        spread = {
            est: np.std(
                [
                    conditional_log_likelihoods(
                        model, test, held, n_samples=50, seed=s, estimator=est
                    ).mean()
                    for s in range(6)
                ]
            )
            for est in ("shared", "difference")
        }
        assert spread["shared"] < 0.5 * spread["difference"]


def test_conditional_refuses_a_mask_without_one_member_per_group_and_bad_estimators():
    data = table()
    model = create("vae", dataset="table", obs_shape=(2,), hidden=8)
    held = held_out_members(data.group, seed=0)
    with pytest.raises(DataError, match="estimator must be 'shared' or 'difference'"):
        conditional_log_likelihoods(model, data, held, n_samples=2, estimator="exact")
    with pytest.raises(DataError, match="use estimator='difference'"):
        conditional_log_likelihoods(model.module, data, held, n_samples=2)
    held[np.flatnonzero(~held)[0]] = True  # a second member of some group
    with pytest.raises(DataError, match="exactly one member of every group"):
        conditional_log_likelihoods(model, data, held, n_samples=2)
    batch_held = np.zeros(6, dtype=bool)  # the model's own check, on one batch
    from groupvae.data import group_loader

    batch = next(iter(group_loader(data.subset_groups(np.arange(2)), 2, shuffle=False)))
    with pytest.raises(DataError, match="exactly one member of every group of the batch"):
        model.group_log_conditional_likelihood(batch, batch_held[: len(batch)])
