"""UG-VAE's parts: the mixture prior, its analytic KL, the global encoder, random groups."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import distributions as D

from groupvae.config import ModelConfig, TrainConfig
from groupvae.data import GroupedDataset, RandomGroupBatchSampler, group_loader
from groupvae.errors import ConfigError, DataError
from groupvae.models import create
from groupvae.modules.group_vae.module import GroupVAEModule
from groupvae.modules.group_vae.priors import MixturePrior
from groupvae.nn.segment import product_of_normals
from helpers import flat_batch, random_groups

K, D_Z, D_B = 4, 3, 2


def mixture(group_dim: int = D_B, seed: int = 0) -> MixturePrior:
    config = ModelConfig(
        group_dim=group_dim,
        instance_dim=D_Z,
        n_components=K,
        hidden=8,
        group_encoder="poe-clusters" if group_dim else "none",
        prior="mixture",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MixturePrior(config).double()


def posterior(n: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    mean = torch.randn(n, D_Z, generator=gen, dtype=torch.float64)
    logvar = 0.5 * torch.randn(n, D_Z, generator=gen, dtype=torch.float64)
    u = torch.randn(n, D_B, generator=gen, dtype=torch.float64)
    return mean, logvar, u


# ------------------------------------------------------- mixture prior (eq. 3, 11)
@pytest.mark.parametrize("group_dim", [D_B, 0])
def test_marginalised_kl_equals_enumeration_over_d(group_dim, gen):
    """eq. 11's expectations over d, analytic, against a loop over every value of d."""
    prior = mixture(group_dim)
    mean, logvar, u = posterior(7, gen)
    u = u if group_dim else None
    v = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen, dtype=mean.dtype)
    log_q_d = prior.cluster_log_probs(v)
    kl, kl_clusters = prior.kl(mean, logvar, u, log_q_d)

    q_z = D.Independent(D.Normal(mean, torch.exp(0.5 * logvar)), 1)
    q_d = D.Categorical(logits=log_q_d)
    p_d = D.Categorical(probs=torch.full((K,), 1.0 / K, dtype=torch.float64))
    expected = torch.zeros(7, dtype=torch.float64)
    for d in range(K):  # the slow reference: enumerate the component
        if u is None:
            p_mean, p_logvar = prior.means[d].expand(7, D_Z), prior.logvars[d].expand(7, D_Z)
        else:
            out = u  # component d's own network, layer by layer
            for layer in prior.components.layers:
                out = (
                    out @ layer.weight[d] + layer.bias[d]
                    if hasattr(layer, "weight")
                    else layer(out)
                )
            p_mean, p_logvar = out.chunk(2, dim=-1)
        p_logvar = torch.tanh(p_logvar)  # the authors' exp(tanh(.)) variances (bound 1)
        p_z = D.Independent(D.Normal(p_mean, torch.exp(0.5 * p_logvar)), 1)
        expected += q_d.probs[:, d] * D.kl_divergence(q_z, p_z)
    reference_clusters = D.kl_divergence(q_d, p_d)
    torch.testing.assert_close(kl_clusters, reference_clusters)
    torch.testing.assert_close(kl, expected + reference_clusters)


def test_mixture_log_prob_is_that_of_a_gaussian_mixture(gen):
    prior = mixture()
    _, _, u = posterior(5, gen)
    v = torch.randn(5, D_Z, generator=gen, dtype=torch.float64)
    mean, logvar = prior.component_params(u, 5)  # (n, K, d)
    reference = D.MixtureSameFamily(
        D.Categorical(probs=torch.full((5, K), 1.0 / K, dtype=torch.float64)),
        D.Independent(D.Normal(mean, torch.exp(0.5 * logvar)), 1),
    )
    torch.testing.assert_close(prior.log_prob(v, u), reference.log_prob(v))


def test_component_log_variances_stay_within_their_bound(gen):
    prior = mixture()
    far = 100.0 * torch.randn(9, D_B, generator=gen, dtype=torch.float64)
    _, logvar = prior.component_params(far, 9)
    assert logvar.abs().max() <= 1.0
    unbounded = MixturePrior(
        ModelConfig(
            group_dim=D_B,
            instance_dim=D_Z,
            n_components=K,
            hidden=8,
            group_encoder="poe-clusters",
            prior="mixture",
            mixture_logvar_bound=None,
        )
    ).double()
    unbounded.load_state_dict(prior.state_dict())
    assert unbounded.component_params(far, 9)[1].abs().max() > 1.0
    with pytest.raises(ConfigError, match="mixture_logvar_bound"):
        ModelConfig(mixture_logvar_bound=0.0)


def test_cluster_posterior_is_a_distribution_over_the_components(gen):
    prior = mixture()
    log_q = prior.cluster_log_probs(torch.randn(6, D_Z, generator=gen, dtype=torch.float64))
    assert log_q.shape == (6, K)
    torch.testing.assert_close(log_q.exp().sum(-1), torch.ones(6, dtype=torch.float64))


def test_one_standard_component_is_the_normal_prior(gen):
    """A GMVAE with K = 1 and a standard Normal component is the VAE: same KL, same log p."""
    config = ModelConfig(
        group_dim=0, instance_dim=D_Z, n_components=1, group_encoder="none", prior="mixture"
    )
    prior = MixturePrior(config).double()
    with torch.no_grad():
        prior.means.zero_()
        prior.logvars.zero_()
    mean, logvar, _ = posterior(5, gen)
    kl, kl_clusters = prior.kl(mean, logvar, None, prior.cluster_log_probs(mean))
    standard = D.Independent(D.Normal(torch.zeros_like(mean), torch.ones_like(mean)), 1)
    q = D.Independent(D.Normal(mean, torch.exp(0.5 * logvar)), 1)
    torch.testing.assert_close(kl, D.kl_divergence(q, standard))
    torch.testing.assert_close(kl_clusters, torch.zeros(5, dtype=torch.float64))
    torch.testing.assert_close(prior.log_prob(mean, None), standard.log_prob(mean))


# --------------------------------------------------------- global encoder (eq. 8-9)
def ugvae_module(**overrides) -> GroupVAEModule:
    fields = {
        "obs_shape": (5,),
        "group_dim": D_B,
        "instance_dim": D_Z,
        "n_components": K,
        "hidden": 8,
        "backbone": "dense",
        "encoder_n_hidden": 0,
        "group_encoder": "poe-clusters",
        "prior": "mixture",
    }
    config = ModelConfig(**{**fields, **overrides})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return GroupVAEModule(config).double().eval()


def test_global_posterior_is_the_product_of_members_normals_from_h_and_q_d(gen):
    """q(beta | X, Z) (eq. 8-9): one Normal per member from [h(x_i), pi(z_i)], multiplied."""
    module = ugvae_module()
    x = torch.randn(12, 5, generator=gen, dtype=torch.float64)
    group = random_groups(12, 3, gen)
    with torch.no_grad():
        inf = module.inference(flat_batch(x, group, 3), sample=False)
        h = module.trunk(x)
        pi = module.prior.cluster_log_probs(inf.v_mean).exp()
        member_mean, member_logvar = module.group_encoder.net(torch.cat([h, pi], -1)).chunk(2, -1)
        mean, logvar = product_of_normals(member_mean, member_logvar, group, 3)
    torch.testing.assert_close(inf.u_mean, mean)
    torch.testing.assert_close(inf.u_logvar, logvar)
    # The paper's heads: linear maps on the shared 256-unit pre-encoder (here 8).
    assert isinstance(module.group_encoder.net[0], torch.nn.Linear)
    assert module.group_encoder.net[0].in_features == 8 + K
    assert module.instance_encoder.net[0].in_features == 8


def test_ugvae_loss_is_the_eq_10_elbo(gen):
    """ELBO = sum_i [log p(x_i | z_i, beta) - local KL_i] - KL(q(beta) || N(0, I))."""
    module = ugvae_module(likelihood="gaussian")
    x = torch.randn(12, 5, generator=gen, dtype=torch.float64)
    group = random_groups(12, 3, gen)
    torch.manual_seed(1)
    inf = module.inference(flat_batch(x, group, 3))
    out = module.loss(flat_batch(x, group, 3), inf, module.generative(inf))
    local, _ = module.prior.kl(inf.v_mean, inf.v_logvar, inf.u, inf.cluster_log_probs)
    log_lik = module.likelihood.log_prob(x, module.generative(inf))
    kl_beta = D.kl_divergence(
        D.Independent(D.Normal(inf.u_mean, torch.exp(0.5 * inf.u_logvar)), 1),
        D.Independent(D.Normal(torch.zeros_like(inf.u_mean), 1.0), 1),
    )
    for g in range(3):  # the slow reference, group by group
        rows = group == g
        torch.testing.assert_close(out.elbo[g], (log_lik[rows] - local[rows]).sum() - kl_beta[g])
    assert "kl_clusters_per_obs" in out.extra_metrics


@pytest.mark.parametrize(("how", "shared"), [("group", True), ("observation", False)])
def test_group_sample_is_shared_by_members_or_drawn_for_each(how, shared, gen):
    module = ugvae_module(group_sample=how)
    x = torch.randn(12, 5, generator=gen, dtype=torch.float64)
    group = torch.arange(12) % 3
    u = module.inference(flat_batch(x, group, 3)).u
    same = [bool(torch.equal(u[group == g][0], u[group == g][1])) for g in range(3)]
    assert all(same) if shared else not any(same)
    with pytest.raises(ConfigError, match="group_sample"):
        ModelConfig(group_sample="batch")


def test_incompatible_ugvae_parts_are_refused():
    with pytest.raises(ConfigError, match="needs prior='mixture'"):
        ugvae_module(prior="normal")
    with pytest.raises(ConfigError, match="cannot also read the group latent"):
        ugvae_module(instance_encoder="conditional")
    with pytest.raises(ConfigError, match="n_components"):
        ModelConfig(n_components=0)


def test_importance_sampled_log_likelihood_of_ugvae_bounds_the_elbo(gen):
    """More samples give a tighter bound: the S = 200 estimate exceeds the mean ELBO."""
    module = ugvae_module(likelihood="gaussian")
    x = torch.randn(10, 5, generator=gen, dtype=torch.float64)
    group = random_groups(10, 2, gen)
    torch.manual_seed(0)
    with torch.no_grad():
        elbos = torch.stack([module(flat_batch(x, group, 2)).elbo for _ in range(200)]).mean(0)
        log_p = module.log_marginal_likelihood(flat_batch(x, group, 2), n_samples=200)
    assert log_p.shape == (2,) and torch.isfinite(log_p).all()
    assert (log_p > elbos).all()


# ------------------------------------------------------------------ random groups
def test_random_groups_cover_every_row_once_per_epoch():
    sampler = RandomGroupBatchSampler(50, 8, 2, seed=0)
    first, second = [np.concatenate(list(sampler)) for _ in range(2)]
    assert sorted(first) == list(range(50)) == sorted(second)
    assert not np.array_equal(first, second)  # drawn anew each epoch
    assert len(sampler) == 4  # ceil(ceil(50 / 8) / 2)
    fixed = RandomGroupBatchSampler(50, 8, 2, shuffle=False, seed=0)
    assert np.array_equal(np.concatenate(list(fixed)), np.concatenate(list(fixed)))


def test_balanced_random_groups_hold_half_of_each_stratum():
    strata = np.r_[np.zeros(40, dtype=int), np.ones(13, dtype=int)]
    sampler = RandomGroupBatchSampler(53, 4, 1, strata=strata, seed=0)
    batches = list(sampler)
    assert len(batches) == 6  # the smaller stratum fills 13 // 2 groups
    for rows in batches:
        assert sorted(strata[rows]) == [0, 0, 1, 1]
        assert len(set(rows)) == 4
    with pytest.raises(DataError, match="multiple of 2"):
        RandomGroupBatchSampler(53, 5, 1, strata=strata)


def test_random_group_loader_numbers_groups_by_position():
    x = np.arange(20, dtype=np.float32)[:, None]
    data = GroupedDataset(x=x, group=np.zeros(20, dtype=int), aux={"d": np.arange(20) % 2})
    batch = next(iter(group_loader(data, 2, random_groups=6, balance_by="d", seed=0)))
    assert batch.n_groups == 2
    assert batch.group.tolist() == [0] * 6 + [1] * 6
    assert sorted(data.aux["d"][batch.index[:6].numpy()]) == [0, 0, 0, 1, 1, 1]
    with pytest.raises(DataError, match="'domain' is no aux array"):
        group_loader(data, 2, random_groups=6, balance_by="domain")


def test_ugvae_trains_on_random_groups_reproducibly(images):
    options = {"epochs": 2, "random_groups": 16, "groups_per_batch": 1, "progress": False}
    config = {"obs_shape": (1, 4, 4), "likelihood": "bernoulli", "hidden": 8, "n_components": 3}
    a = create("ugvae", seed=0, **config).fit(images, **options)
    b = create("ugvae", seed=0, **config).fit(images, **options)
    for (name, pa), pb in zip(
        a.module.state_dict().items(), b.module.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(pa, pb, msg=name)
    assert len(a.history) == 2 and np.isfinite(a.history["train_elbo_per_obs"]).all()
    assert "train_kl_clusters_per_obs" in a.history
    assert TrainConfig(random_groups=128).random_groups == 128
    with pytest.raises(ConfigError, match="random_groups"):
        TrainConfig(random_groups=0)


def test_digit_domains_hold_both_domains_with_their_digits():
    from groupvae.data import make_digit_domains

    data = make_digit_domains(seed=0)
    domain = data.aux["domain"]
    assert data.x.shape == (6797, 1, 28, 28) and data.x.min() >= 0 and data.x.max() <= 1
    assert np.bincount(domain).tolist() == [5000, 1797]
    assert set(np.unique(data.labels[domain == 1])) == set(range(10))
    one_domain = np.array([len(np.unique(domain[data.group == g])) for g in range(5)])
    assert (one_domain == 1).all()
    assert math.isclose(data.x[domain == 1].max(), 1.0)


def test_regrouping_at_random_keeps_every_observation_in_groups_of_the_size():
    from groupvae.data import regroup_at_random

    data = GroupedDataset(
        x=np.arange(23, dtype=np.float32)[:, None], group=np.arange(23) // 2, labels=np.arange(23)
    )
    regrouped = regroup_at_random(data, 5, seed=0)
    assert sorted(regrouped.group_sizes.tolist()) == [3, 5, 5, 5, 5]
    np.testing.assert_array_equal(regrouped.x, data.x)
    np.testing.assert_array_equal(regrouped.labels, data.labels)
    again = regroup_at_random(data, 5, seed=0)
    np.testing.assert_array_equal(regrouped.group, again.group)
    with pytest.raises(DataError, match="size >= 1"):
        regroup_at_random(data, 0)


def test_a_random_group_model_is_scored_on_random_groups(images):
    from groupvae.runs import scoring_groups

    model = create("ugvae", obs_shape=(1, 4, 4), likelihood="bernoulli", hidden=8)
    model.fit(images, epochs=1, random_groups=16, groups_per_batch=1, progress=False)
    assert scoring_groups(model, images).group_sizes.max() == 16
    mlvae = create("mlvae", obs_shape=(1, 4, 4), likelihood="bernoulli", hidden=8)
    mlvae.fit(images, epochs=1, progress=False)
    assert scoring_groups(mlvae, images) is images
