"""CPVAE mathematics in float64: eq. 3 and eq. 4 against slow references, stacked
per-population layers against a loop over K, alpha schedules, and eq. 7-8 against the
closed-form marginal of a linear-Gaussian CPVAE."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from groupvae.config import TrainConfig
from groupvae.data.populations import PopulationBatch
from groupvae.errors import ConfigError, DataError, GroupVAEError, UnknownNameError
from groupvae.modules.cpvae import CPVAEConfig, CPVAEModule
from groupvae.nn.mlp import MLP
from groupvae.nn.stacked import StackedLinear, StackedMLP, to_padded
from groupvae.objectives.cpvae import (
    cpvae_objective,
    linear_alpha,
    make_alpha_schedule,
    mi_penalty,
)
from groupvae.training.plan import TrainingPlan

SIZES = (2, 3, 4)  # unequal populations: N - n_k differs per k


def tiny_module(objective: str = "mi", **kw) -> CPVAEModule:
    torch.manual_seed(0)
    config = CPVAEConfig(
        n_populations=len(SIZES),
        obs_shape=(4,),
        shared_dim=2,
        private_dim=3,
        hidden=5,
        n_hidden=1,
        obs_std=0.7,
        objective=objective,
        **kw,
    )
    return CPVAEModule(config).double()


def tiny_data(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    population = torch.repeat_interleave(torch.arange(len(SIZES)), torch.tensor(SIZES))
    perm = torch.randperm(len(population), generator=gen)
    x = torch.randn(len(population), 4, generator=gen, dtype=torch.float64)
    return x, population[perm]


def as_batch(x: torch.Tensor, population: torch.Tensor) -> PopulationBatch:
    return PopulationBatch(x, population, torch.arange(len(population)))


# ------------------------------------------------------------- slow references
def member_forward(stacked: StackedMLP, k: int, v: torch.Tensor) -> torch.Tensor:
    """Network ``k`` of a stack, one row at a time (the slow reference)."""
    out = v
    for layer in stacked.layers:
        if isinstance(layer, StackedLinear):
            out = out @ layer.weight[k] + layer.bias[k]
        else:
            out = layer(out)
    return out


def kl_std(mean: np.ndarray, logvar: np.ndarray) -> float:
    return float(
        sum(0.5 * (math.exp(lv) + m * m - 1 - lv) for m, lv in zip(mean, logvar, strict=True))
    )


def gauss_log_lik(x: np.ndarray, mean: np.ndarray, std: float) -> float:
    return float(
        sum(
            -0.5 * math.log(2 * math.pi * std**2) - (a - b) ** 2 / (2 * std**2)
            for a, b in zip(x, mean, strict=True)
        )
    )


def encode_one(module: CPVAEModule, x: torch.Tensor, k: int):
    """``(z_mean, z_logvar, t_mean, t_logvar)`` of one row under population ``k``'s head."""
    z = module.shared_encoder(x[None])[0]
    t = member_forward(module.private_encoders, k, x[None])[0]
    d_z, d_t = module.config.shared_dim, module.config.private_dim
    return (
        z[:d_z].numpy(),
        z[d_z:].numpy(),
        t[:d_t].numpy(),
        t[d_t:].clamp_min(module.config.min_logvar).numpy(),
    )


def reference_objective(module, x, population, z, t, *, objective: str, alpha: float) -> float:
    """Eq. 3 / eq. 4 (eq. 10) with Python loops over populations and observations."""
    n = len(population)
    sizes = [int((population == k).sum()) for k in range(len(SIZES))]
    std = math.exp(float(module.likelihood.log_std))
    first = 0.0
    for k in range(len(SIZES)):
        for i in range(n):
            if int(population[i]) != k:
                continue
            zm, zl, tm, tl = encode_one(module, x[i], k)
            mean = (
                module.decoder.shared(z[i][None])[0]
                + member_forward(module.decoder.private, k, t[i][None])[0]
            )
            term = gauss_log_lik(x[i].numpy(), mean.numpy(), std) - kl_std(zm, zl)
            if objective == "elbo":
                term -= kl_std(tm, tl)
            first += term
    first /= n
    if objective == "elbo":
        return first
    penalty = 0.0
    for k in range(len(SIZES)):
        inner = 0.0
        for j in range(len(SIZES)):
            if j == k:
                continue
            for i in range(n):
                if int(population[i]) == j:
                    _, _, tm, tl = encode_one(module, x[i], k)  # fictitious code of x_ji
                    inner += kl_std(tm, tl)
        penalty += inner / (n - sizes[k])
    return first - alpha * penalty


@pytest.mark.parametrize(("objective", "alpha"), [("mi", 1.0), ("mi", 2.5), ("elbo", 1.0)])
def test_objective_matches_a_slow_reference_of_eq_3_and_eq_4(gen, objective, alpha):
    module = tiny_module(objective)
    x, population = tiny_data(gen)
    module.population_sizes.copy_(torch.tensor(SIZES, dtype=torch.float64))
    batch = as_batch(x, population)
    with torch.no_grad():
        inf = module.inference(batch, all_private=objective == "mi")
        params = module.generative(inf, batch)
        out = module.loss(batch, inf, params, alpha=alpha)
        want = reference_objective(
            module, x, population, inf.z, inf.t, objective=objective, alpha=alpha
        )
    np.testing.assert_allclose(float(out.objective), want, rtol=1e-10)
    assert float(out.loss) == pytest.approx(-want, rel=1e-10)


def test_mi_penalty_is_the_fictitious_kl_normalised_by_n_minus_n_k(gen):
    population = torch.tensor([0, 0, 1, 2, 2, 2])
    kl = torch.rand(3, 6, generator=gen, dtype=torch.float64)
    sizes = torch.tensor([2.0, 1.0, 3.0], dtype=torch.float64)
    want = sum(
        sum(float(kl[k, i]) for i in range(6) if int(population[i]) != k) / (6 - sizes[k])
        for k in range(3)
    )
    assert float(mi_penalty(kl, population, sizes)) == pytest.approx(float(want), rel=1e-12)


def test_minibatch_estimate_is_unbiased_for_the_full_data_objective():
    """Algorithm 1's balanced batches: n_k / m_k weights give an unbiased estimate of J."""
    rng = np.random.default_rng(0)
    sizes = np.array([5, 8])
    population = np.repeat([0, 1], sizes)
    n = len(population)
    terms = [torch.from_numpy(rng.normal(size=n)) for _ in range(3)]
    kl_f = torch.from_numpy(rng.random((2, n)))
    pop_t, size_t = torch.from_numpy(population), torch.from_numpy(sizes.astype(np.float64))
    full = float(cpvae_objective(*terms, pop_t, size_t, kl_fictitious=kl_f).objective)
    draws = []
    for _ in range(4000):
        rows = np.concatenate(
            [rng.choice(np.flatnonzero(population == k), 2, replace=False) for k in (0, 1)]
        )
        r = torch.from_numpy(rows)
        batch = [t[r] for t in terms]
        draws.append(
            float(cpvae_objective(*batch, pop_t[r], size_t, kl_fictitious=kl_f[:, r]).objective)
        )
    assert np.mean(draws) == pytest.approx(full, abs=4 * np.std(draws) / math.sqrt(len(draws)))


def test_objective_errors():
    z = torch.zeros(2, dtype=torch.float64)
    pop, sizes = torch.tensor([0, 1]), torch.tensor([1.0, 1.0])
    with pytest.raises(ConfigError, match="objective"):
        cpvae_objective(z, z, z, pop, sizes, objective="nope")
    with pytest.raises(ConfigError, match="kl_fictitious"):
        cpvae_objective(z, z, z, pop, sizes, objective="mi")
    with pytest.raises(DataError, match="two populations"):
        mi_penalty(torch.zeros(1, 2), torch.tensor([0, 0]), torch.tensor([2.0]))
    with pytest.raises(ConfigError, match="n_populations >= 2"):
        CPVAEConfig(n_populations=1)


# ------------------------------------------------------------ stacked layers
@pytest.mark.parametrize("n_hidden", [0, 2])
def test_stacked_mlp_equals_a_loop_over_populations(gen, n_hidden):
    torch.manual_seed(1)
    k, d_in, d_out = 4, 3, 5
    mlps = [MLP(d_in, d_out, 6, n_hidden).double() for _ in range(k)]
    stacked = StackedMLP(k, d_in, d_out, 6, n_hidden).double().load_members(mlps)
    x = torch.randn(7, d_in, generator=gen, dtype=torch.float64)
    population = torch.tensor([2, 0, 0, 3, 2, 2, 1])
    all_out = stacked.forward_all(x)
    own = stacked.forward_own(x, population)
    for j in range(k):
        torch.testing.assert_close(all_out[j], mlps[j](x))
    for i in range(7):
        torch.testing.assert_close(own[i], mlps[int(population[i])](x[i]))


def test_padding_round_trip_and_gradients(gen):
    x = torch.randn(5, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    population = torch.tensor([1, 1, 0, 1, 2])
    padded, rank = to_padded(x, population, 3)
    assert padded.shape == (3, 3, 2)
    torch.testing.assert_close(padded[population, rank], x)
    assert float(padded[0, 1:].detach().abs().sum()) == 0.0
    stacked = StackedLinear(3, 2, 1).double()
    torch.autograd.gradcheck(lambda v: StackedMLP.forward_own(_wrap(stacked), v, population), (x,))
    with pytest.raises(DataError):
        to_padded(x, torch.tensor([0, 1, 2, 3, 0]), 3)


def _wrap(layer: StackedLinear) -> StackedMLP:
    mlp = StackedMLP(layer.n_stack, layer.in_dim, layer.out_dim, n_hidden=0).double()
    mlp.layers[0] = layer
    return mlp


# ------------------------------------------------------------ alpha schedules
def test_alpha_schedules():
    assert make_alpha_schedule("constant", alpha=2.0, alpha_end=9.0)(0.7) == 2.0
    lin = make_alpha_schedule("linear", alpha=1.0, alpha_end=5.0)
    assert [lin(p) for p in (-1.0, 0.0, 0.5, 1.0, 2.0)] == [1.0, 1.0, 3.0, 5.0, 5.0]
    assert linear_alpha(4.0, 0.0)(0.25) == 3.0
    custom = make_alpha_schedule(lambda p: 1.0 + p**2)
    assert custom(0.5) == 1.25
    with pytest.raises(UnknownNameError, match="constant"):
        make_alpha_schedule("cosine")


def test_training_plan_follows_the_schedule():
    plan = TrainingPlan(
        tiny_module(),
        TrainConfig(epochs=2),
        steps_per_epoch=5,
        schedules={"alpha": linear_alpha(1.0, 3.0)},
    )
    values = []
    for _ in range(11):
        weights = plan.weights()
        assert set(weights) == {"alpha"}
        values.append(weights["alpha"])
        plan.model_steps += 1
    assert values[0] == 1.0 and values[5] == pytest.approx(2.0) and values[10] == 3.0
    assert all(b >= a for a, b in itertools.pairwise(values))
    for bad in (-1.0, math.nan):
        bad_plan = TrainingPlan(
            tiny_module(), TrainConfig(), steps_per_epoch=1, schedules={"alpha": lambda p, v=bad: v}
        )
        with pytest.raises(GroupVAEError, match="alpha"):
            bad_plan.weights()


# ----------------------------------------------------------- eq. 7-8 closed form
def test_importance_sampled_likelihood_matches_a_linear_gaussian_cpvae():
    """``x = A z + B_k t + c + eps``: ``p(x | k) = N(c, A A^T + B_k B_k^T + s^2 I)``."""
    torch.manual_seed(0)
    s = 0.6
    config = CPVAEConfig(
        n_populations=2,
        obs_shape=(2,),
        shared_dim=1,
        private_dim=1,
        n_hidden=0,
        obs_std=s,
        learn_obs_std=False,
    )
    module = CPVAEModule(config).double()
    a = np.array([[1.2], [0.3]])
    b = [np.array([[0.0], [1.5]]), np.array([[0.9], [-0.8]])]
    c = np.array([0.2, -0.1])
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()  # encoders output N(0, I): the prior as the proposal
        module.decoder.shared[0].weight.copy_(torch.from_numpy(a))
        module.decoder.shared[0].bias.copy_(torch.from_numpy(c))
        for k in range(2):
            module.decoder.private.layers[0].weight[k].copy_(torch.from_numpy(b[k].T))
    x = torch.tensor([[0.5, 1.0], [-1.0, 0.2], [2.0, -1.5]], dtype=torch.float64)
    got = module.log_marginal_likelihoods(x, n_samples=20_000, chunk=5_000).numpy()
    for k in range(2):
        cov = a @ a.T + b[k] @ b[k].T + s**2 * np.eye(2)
        _, logdet = np.linalg.slogdet(cov)
        diff = x.numpy() - c
        want = -0.5 * (
            np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
            + logdet
            + 2 * math.log(2 * math.pi)
        )
        np.testing.assert_allclose(got[:, k], want, atol=0.05)


def test_concat_aggregation_and_bernoulli_run(gen):
    module = tiny_module(aggregation="concat", likelihood="bernoulli")
    x, population = tiny_data(gen)
    x = (x > 0).double()
    out = module(as_batch(x, population))
    assert torch.isfinite(out.loss)
    assert set(out.scalars()) == {
        "loss", "elbo_per_obs", "reconstruction_loss_per_obs", "kl_shared_per_obs",
        "kl_private_per_obs", "objective", "mi_penalty", "alpha",
    }  # fmt: skip
    assert module.decode(None, torch.zeros(9, 3, dtype=torch.float64), population).shape == (9, 4)
    assert module.log_marginal_likelihoods(x, n_samples=4).shape == (9, 3)
    torch.manual_seed(3)
    own = module.log_marginal_likelihood(as_batch(x, population), n_samples=4)
    torch.manual_seed(3)
    every = module.log_marginal_likelihoods(x, n_samples=4)
    torch.testing.assert_close(own, every[torch.arange(9), population])  # own population
    with pytest.raises(DataError, match="population ids"):
        module.check_batch(as_batch(x, population + 1))
