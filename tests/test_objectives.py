"""KL terms, likelihoods, the group ELBO and MINE, against closed forms and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, MultivariateNormal, Normal, kl_divergence

from groupvae.config import ModelConfig
from groupvae.errors import DataError
from groupvae.modules.group_vae.module import GroupVAEModule
from groupvae.modules.likelihoods import BernoulliLikelihood, GaussianLikelihood
from groupvae.objectives import (
    REGULARISERS,
    donsker_varadhan,
    group_elbo,
    kl_normal_normal,
    kl_normal_standard,
    normal_log_prob,
)
from helpers import flat_batch, members, random_groups


def normal(mean: torch.Tensor, logvar: torch.Tensor) -> Normal:
    return Normal(mean, torch.exp(0.5 * logvar))


def assert_within_standard_errors(samples: torch.Tensor, expected: torch.Tensor, n_se: float = 5):
    """The Monte-Carlo mean of ``samples`` (over dim 0) is within ``n_se`` standard errors."""
    se = samples.std(0) / math.sqrt(samples.shape[0])
    assert ((samples.mean(0) - expected).abs() <= n_se * se + 1e-12).all()


# ------------------------------------------------------------------------ KL
@pytest.fixture
def two_normals(gen):
    shape = (5, 3)
    mq, mp = (torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(2))
    lq, lp = (torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(2))
    return mq, lq, mp, lp


def test_kl_normal_standard_matches_torch(two_normals):
    mq, lq, _, _ = two_normals
    expected = kl_divergence(normal(mq, lq), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(kl_normal_standard(mq, lq), expected, rtol=1e-12, atol=1e-12)


def test_kl_normal_normal_matches_torch(two_normals):
    mq, lq, mp, lp = two_normals
    expected = kl_divergence(normal(mq, lq), normal(mp, lp)).sum(-1)
    torch.testing.assert_close(kl_normal_normal(mq, lq, mp, lp), expected, rtol=1e-12, atol=1e-12)


def test_kl_special_cases(two_normals):
    mq, lq, _, _ = two_normals
    zero = torch.zeros_like(mq)
    torch.testing.assert_close(kl_normal_normal(mq, lq, zero, zero), kl_normal_standard(mq, lq))
    torch.testing.assert_close(kl_normal_normal(mq, lq, mq, lq), torch.zeros(5, dtype=mq.dtype))
    assert (kl_normal_standard(mq, lq) > 0).all()
    assert kl_normal_standard(zero, zero).abs().max() == 0


@pytest.mark.parametrize("against", ["standard", "normal"])
def test_kl_against_monte_carlo(two_normals, against, gen):
    mq, lq, mp, lp = two_normals
    if against == "standard":
        mp, lp = torch.zeros_like(mp), torch.zeros_like(lp)
        kl = kl_normal_standard(mq, lq)
    else:
        kl = kl_normal_normal(mq, lq, mp, lp)
    eps = torch.randn((100_000, *mq.shape), generator=gen, dtype=torch.float64)
    z = mq + torch.exp(0.5 * lq) * eps
    log_ratio = normal_log_prob(z, mq, lq) - normal_log_prob(z, mp, lp)
    assert_within_standard_errors(log_ratio, kl)


def test_normal_log_prob_matches_torch(two_normals, gen):
    mq, lq, _, _ = two_normals
    x = torch.randn(mq.shape, generator=gen, dtype=torch.float64)
    expected = normal(mq, lq).log_prob(x).sum(-1)
    torch.testing.assert_close(normal_log_prob(x, mq, lq), expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------- likelihoods
@pytest.mark.parametrize("learn", [False, True])
def test_gaussian_likelihood_matches_torch(learn, gen):
    lik = GaussianLikelihood(ModelConfig(obs_std=0.7, learn_obs_std=learn)).double()
    x = torch.randn(6, 2, 3, generator=gen, dtype=torch.float64)
    mean = torch.randn(6, 2, 3, generator=gen, dtype=torch.float64)
    assert lik.log_std.item() == pytest.approx(math.log(0.7))  # stored as float32 first
    expected = Normal(mean, torch.exp(lik.log_std)).log_prob(x).flatten(1).sum(-1)
    torch.testing.assert_close(lik.log_prob(x, mean), expected, rtol=1e-12, atol=1e-12)
    assert isinstance(lik.log_std, torch.nn.Parameter) == learn
    assert torch.equal(lik.mean(mean), mean)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "grey"])
def test_bernoulli_likelihood_matches_torch(binary, gen):
    lik = BernoulliLikelihood(ModelConfig())
    x = torch.rand(6, 1, 2, 2, generator=gen, dtype=torch.float64)
    x = x.round() if binary else x
    logits = 3 * torch.randn(6, 1, 2, 2, generator=gen, dtype=torch.float64)
    expected = Bernoulli(logits=logits, validate_args=False).log_prob(x).flatten(1).sum(-1)
    torch.testing.assert_close(lik.log_prob(x, logits), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lik.mean(logits), torch.sigmoid(logits))


def test_bernoulli_likelihood_checks_the_data_range():
    BernoulliLikelihood.check_data(np.array([[0.0], [0.5], [1.0]]))
    with pytest.raises(DataError, match=r"\[0, 1\].*rescale"):
        BernoulliLikelihood.check_data(np.array([[0.0], [255.0]]))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        BernoulliLikelihood.check_data(np.array([[-0.1], [0.5]]))


# ---------------------------------------------------------------- group ELBO
@pytest.mark.parametrize("kl_weight", [1.0, 0.3])
@pytest.mark.parametrize("with_regulariser", [False, True])
def test_group_elbo_matches_loop(kl_weight, with_regulariser, gen):
    n_obs, n_groups = 30, 6
    group = random_groups(n_obs, n_groups, gen)
    log_lik = torch.randn(n_obs, generator=gen, dtype=torch.float64)
    kl_v = torch.rand(n_obs, generator=gen, dtype=torch.float64)
    kl_u = torch.rand(n_groups, generator=gen, dtype=torch.float64)
    reg = torch.tensor(0.25, dtype=torch.float64) if with_regulariser else None
    out = group_elbo(
        log_lik, kl_v, kl_u, group, kl_weight=kl_weight, regulariser=reg, regulariser_weight=4.0
    )
    elbo, weighted = [], []
    for g, rows in enumerate(members(group, n_groups)):
        rec, kl = log_lik[rows].sum(), kl_v[rows].sum() + kl_u[g]
        elbo.append(rec - kl)
        weighted.append(rec - kl_weight * kl)
    torch.testing.assert_close(out.elbo, torch.stack(elbo))
    expected_loss = -torch.stack(weighted).mean() + (4.0 * 0.25 if with_regulariser else 0.0)
    torch.testing.assert_close(out.loss, expected_loss)
    torch.testing.assert_close(out.reconstruction_loss, -log_lik)
    scalars = out.scalars()
    assert ("mutual_information" in scalars) == with_regulariser
    torch.testing.assert_close(scalars["elbo_per_group"], out.elbo.mean())


# --------------------------------------------- linear-Gaussian group model
D, K, G = 2, 4, 5  # observation size, group size, groups
A = torch.tensor([1.5, -0.7], dtype=torch.float64)  # x_k = A u + B v_k + S eps_k
S = 0.8


def linear_gaussian(b: torch.Tensor, *, ideal_encoder: bool, gen: torch.Generator):
    """A float64 ML-VAE with the linear decoder ``[u, v] -> A u + b v`` and groups from it."""
    config = ModelConfig(
        obs_shape=(D,), group_dim=1, instance_dim=1, n_hidden=0, group_encoder="poe", obs_std=S
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = GroupVAEModule(config).double()
    with torch.no_grad():
        module.likelihood.log_std.fill_(math.log(S))  # built in float32; make it exact
        module.decoder.net[0].weight.copy_(torch.stack([A, b], 1))
        module.decoder.net[0].bias.zero_()
        if ideal_encoder:  # the exact posterior of u when b = 0 (groups of size K)
            precision = 1 + K * A.dot(A) / S**2
            enc = module.group_encoder.net[0]
            enc.weight.copy_(torch.stack([K * A / (S**2 * precision), torch.zeros(D)]))
            enc.bias.copy_(torch.stack([torch.zeros_like(precision), torch.log(K / precision)]))
            module.instance_encoder.net[0].weight.zero_()  # q(v) = p(v) = N(0, 1)
            module.instance_encoder.net[0].bias.zero_()
    group = torch.arange(G).repeat_interleave(K)
    u = torch.randn(G, 1, generator=gen, dtype=torch.float64)
    v = torch.randn(G * K, 1, generator=gen, dtype=torch.float64)
    x = u[group] * A + v * b + S * torch.randn(G * K, D, generator=gen, dtype=torch.float64)
    return module, x, group


def exact_log_marginal(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``log p(x_G)`` of each group: ``x_G ~ N(0, 11^T (x) AA^T + I (x) (bb^T + S^2 I))``."""
    cov = torch.kron(torch.ones(K, K, dtype=torch.float64), torch.outer(A, A)) + torch.kron(
        torch.eye(K, dtype=torch.float64),
        torch.outer(b, b) + S**2 * torch.eye(D, dtype=torch.float64),
    )
    dist = MultivariateNormal(torch.zeros(K * D, dtype=torch.float64), covariance_matrix=cov)
    return dist.log_prob(x.view(G, K * D))


def expected_elbo(module, x, group, b) -> torch.Tensor:
    """The group ELBO's expectation over q, in closed form for a linear decoder."""
    with torch.no_grad():
        inf = module.inference(flat_batch(x, group, G), sample=False)
        out = module.loss(flat_batch(x, group, G), inf, module.generative(inf))
        spread = A.dot(A) * torch.exp(inf.u_logvar)[group, 0] + b.dot(b) * torch.exp(
            inf.v_logvar[:, 0]
        )
    return out.elbo - (0.5 * spread / S**2).view(G, K).sum(1)


def test_elbo_with_the_exact_posterior_equals_the_log_marginal(gen):
    """With b = 0 the posterior of u lies in the family, so the bound is tight."""
    b = torch.zeros(D, dtype=torch.float64)
    module, x, group = linear_gaussian(b, ideal_encoder=True, gen=gen)
    torch.testing.assert_close(
        expected_elbo(module, x, group, b), exact_log_marginal(x, b), rtol=1e-10, atol=1e-10
    )
    with torch.no_grad():  # any other posterior is strictly worse
        module.group_encoder.net[0].weight[0] *= 0.5
    assert (expected_elbo(module, x, group, b) < exact_log_marginal(x, b) - 1e-3).all()


def test_elbo_estimate_is_unbiased_and_bounded_by_the_log_marginal(gen):
    """For a generic encoder, the single-sample ELBO of ``forward`` averages to its closed
    form, which lies below the exact ``log p(x_G)``."""
    b = torch.tensor([0.4, 0.9], dtype=torch.float64)
    module, x, group = linear_gaussian(b, ideal_encoder=False, gen=gen)
    expected = expected_elbo(module, x, group, b)
    assert (expected < exact_log_marginal(x, b)).all()
    reps = 4000  # each group repeated as 4,000 independent groups: one pass, many samples
    x_rep = x.repeat(reps, 1)
    group_rep = group.repeat(reps) + G * torch.arange(reps).repeat_interleave(G * K)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        elbo = module(flat_batch(x_rep, group_rep, G * reps)).elbo.view(reps, G)
    assert_within_standard_errors(elbo, expected)


# ---------------------------------------------------------------------- MINE
def test_donsker_varadhan_hand_computation():
    t_joint = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    t_marginal = torch.tensor([0.0, math.log(3.0)], dtype=torch.float64)
    # mean(T_joint) - log mean(exp T_marginal) = 2 - log((1 + 3) / 2)
    assert donsker_varadhan(t_joint, t_marginal).item() == pytest.approx(2 - math.log(2))


def test_donsker_varadhan_of_a_constant_critic_is_zero(gen):
    x, _ = correlated_pair(1000, 0.0, gen)
    t = torch.full_like(x, 3.7)  # T(x, y) = 3.7 on independent samples
    assert donsker_varadhan(t, t[:10]).item() == pytest.approx(0.0, abs=1e-12)


def correlated_pair(n: int, rho: float, gen: torch.Generator):
    x = torch.randn(n, generator=gen, dtype=torch.float64)
    y = rho * x + math.sqrt(1 - rho**2) * torch.randn(n, generator=gen, dtype=torch.float64)
    return x, y


def log_density_ratio(x, y, rho):
    """The optimal critic ``log p(x, y) / (p(x) p(y))`` of a standard bivariate Normal."""
    q = (x**2 - 2 * rho * x * y + y**2) / (2 * (1 - rho**2))
    return -0.5 * math.log(1 - rho**2) - q + (x**2 + y**2) / 2


def test_donsker_varadhan_with_the_optimal_critic_recovers_the_mutual_information(gen):
    rho, n = 0.8, 200_000
    x, y = correlated_pair(n, rho, gen)
    y_shuffled = y[torch.randperm(n, generator=gen)]
    estimate = donsker_varadhan(log_density_ratio(x, y, rho), log_density_ratio(x, y_shuffled, rho))
    assert estimate.item() == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.03)


def test_donsker_varadhan_is_not_positive_for_independent_samples(gen):
    """Without dependence, any fixed critic gives E[T] - log E[exp T] <= 0 (Jensen). For
    ``T = xy / 2`` it is ``0 - log E[exp(x^2 / 8)] = log(3 / 4) / 2``."""
    x, y = correlated_pair(200_000, 0.0, gen)
    critic = 0.5 * x * y
    estimate = donsker_varadhan(critic[:100_000], critic[100_000:])
    assert estimate.item() == pytest.approx(0.5 * math.log(0.75), abs=0.02)


# -------------------------------------------------------------- regularisers
ADVERSARIAL = [name for name, cls in REGULARISERS.items() if cls is not None]


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_regulariser_is_a_differentiable_scalar(name, gen):
    config = ModelConfig(instance_dim=2, critic_hidden=8)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        reg = REGULARISERS[name](config, 3).double()
        group = random_groups(20, 4, gen)
        group = torch.where(torch.bincount(group, minlength=4)[group] < 2, 0, group)
        x = torch.randn(20, 3, generator=gen, dtype=torch.float64)
        v = torch.randn(20, 2, generator=gen, dtype=torch.float64, requires_grad=True)
        estimate = reg(x, v, group, 4)
    assert estimate.shape == () and torch.isfinite(estimate)
    estimate.backward()
    assert v.grad is not None and v.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ADVERSARIAL)
@pytest.mark.parametrize(
    ("group", "n_groups"),
    [(torch.tensor([0, 0, 1]), 2), (torch.tensor([0, 0, 0]), 1)],
    ids=["one-member-group", "one-group"],
)
def test_regulariser_needs_pairs(name, group, n_groups):
    reg = REGULARISERS[name](ModelConfig(instance_dim=1), 1)
    with pytest.raises(DataError, match=f"{name} regulariser needs .*regulariser='none'"):
        reg(torch.zeros(3, 1), torch.zeros(3, 1), group, n_groups)
