"""The exact scores of the benchmark's anchors against brute-force multivariate normals:
the random-slope model's joint and conditional log-likelihoods, the random-intercept
model's closed-form conditional, and the random-slope fit against the model it nests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from groupvae.errors import DataError
from groupvae.evaluation.random_intercept import RandomIntercept, fit_random_intercept
from groupvae.evaluation.random_slope import RandomSlope, _pack_chol, fit_random_slope


def _random_cov(rng: np.random.Generator, n: int, floor: float) -> np.ndarray:
    a = rng.normal(size=(n, n))
    return a @ a.T / n + floor * np.eye(n)


def slope_model(seed: int = 0, predictor: int = 1):
    """A random-slope model of d = 3 features (p = 2 responses) with every parameter
    away from zero, and a non-trivial standardisation."""
    rng = np.random.default_rng(seed)
    p, q = 2, 5
    sigma, E = _random_cov(rng, q, 0.1), _random_cov(rng, p, 0.2)
    par = {"m_t": 0.3, "s": 0.7, "m_y": np.array([0.5, -1.0]), "beta": np.array([0.4, -0.2])}
    theta = np.concatenate(
        [[par["m_t"], np.log(par["s"])], par["m_y"], par["beta"], _pack_chol(E), _pack_chol(sigma)]
    )
    loc, scale = np.array([3.0, -1.0, 10.0]), np.array([2.0, 0.5, 4.0])
    model = RandomSlope(predictor, loc, scale, theta, 0.0, True, 0, 0.0)
    return model, par, E, sigma


def brute_force_slope(model, par, noise, sigma, x: np.ndarray) -> float:
    """``log p(x_G)`` of one group as ``log N(t_G) + log N(y_G | t_G)``: ``t_G`` is normal
    with covariance ``s^2 I + Var(a) 11'``; given it, ``(b, c)`` is normal (Gaussian
    conditioning on ``t_G``) and ``y_G`` is normal with covariance
    ``I (x) E + Z Cov(b, c | t) Z'``, ``Z_k = [I, t_k I]``; plus the standardisation's
    Jacobian."""
    n, p = len(x), 2
    z = (x - model.loc) / model.scale
    t = z[:, model.predictor]
    y = np.delete(z, model.predictor, axis=1)
    cov_t = par["s"] ** 2 * np.eye(n) + sigma[0, 0] * np.ones((n, n))
    log_t = multivariate_normal(np.full(n, par["m_t"]), cov_t).logpdf(t)
    cross = sigma[1:, [0]] @ np.ones((1, n))  # Cov((b, c), t_G): (2p, n)
    gain = cross @ np.linalg.inv(cov_t)
    mean_bc, cov_bc = gain @ (t - par["m_t"]), sigma[1:, 1:] - gain @ cross.T
    Z = np.concatenate([np.kron([[1.0, tk]], np.eye(p)) for tk in t])  # (n p, 2p)
    mean = np.concatenate([par["m_y"] + par["beta"] * tk for tk in t]) + Z @ mean_bc
    cov = np.kron(np.eye(n), noise) + Z @ cov_bc @ Z.T
    log_y = multivariate_normal(mean, cov).logpdf(y.reshape(-1))
    return log_t + log_y - n * np.log(model.scale).sum()


@pytest.mark.parametrize("predictor", [0, 1])
def test_random_slope_log_likelihood_is_the_brute_force_normal(predictor):
    model, par, E, sigma = slope_model(predictor=predictor)
    rng = np.random.default_rng(1)
    sizes = [1, 3, 5]
    group = np.repeat(np.arange(3), sizes)
    x = model.loc + model.scale * rng.normal(size=(len(group), 3))
    got = model.group_log_likelihoods(x, group)
    want = [brute_force_slope(model, par, E, sigma, x[group == i]) for i in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_random_slope_conditional_is_the_brute_force_conditional():
    model, par, E, sigma = slope_model(seed=2)
    rng = np.random.default_rng(3)
    group = np.repeat(np.arange(2), [4, 2])
    x = model.loc + model.scale * rng.normal(size=(6, 3))
    held = np.zeros(6, dtype=bool)
    held[[2, 5]] = True  # the third member of group 0, the second of group 1
    got = model.conditional_log_likelihoods(x, group, held)
    for i in range(2):
        xi, ki = x[group == i], held[group == i]
        want = brute_force_slope(model, par, E, sigma, xi) - brute_force_slope(
            model, par, E, sigma, xi[~ki]
        )
        assert got[i] == pytest.approx(want, rel=1e-10)
    # a proper conditional density of x_k: given group 0's first two members, it
    # integrates to one over x_k (a 3-d grid of +-9 standardised units)
    axes = [model.loc[j] + model.scale[j] * np.linspace(-9, 9, 41) for j in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    n = len(grid)
    xs = np.concatenate([np.repeat(x[None, :2], n, 0), grid[:, None]], 1).reshape(-1, 3)
    groups = np.repeat(np.arange(n), 3)
    mask = np.tile([False, False, True], n)
    dens = np.exp(model.conditional_log_likelihoods(xs, groups, mask))
    cell = np.prod([a[1] - a[0] for a in axes])
    assert dens.sum() * cell == pytest.approx(1.0, abs=1e-3)


def test_random_intercept_conditional_is_the_gaussian_conditional_of_the_group():
    """The closed form against the conditional of the stacked group vector's normal
    (Schur complement), and against ``log p(x_G) - log p(x_{G without k})``."""
    rng = np.random.default_rng(4)
    W = np.array([[1.0, 0.3], [0.3, 0.5]])
    B = np.array([[0.7, -0.2], [-0.2, 0.4]])
    m = np.array([0.5, -1.0])
    model = RandomIntercept(m, W, B, 0.0, True, 0)
    sizes = [2, 3, 6]
    group = np.repeat(np.arange(3), sizes)
    x = rng.normal(size=(len(group), 2)) * 1.5
    held = np.zeros(len(group), dtype=bool)
    held[[1, 2, 9]] = True
    got = model.conditional_log_likelihoods(x, group, held)
    joint = model.group_log_likelihoods(x, group)
    rest = model.group_log_likelihoods(x[~held], group[~held])
    np.testing.assert_allclose(got, joint - rest, rtol=1e-10)
    for i, n in enumerate(sizes):
        xi, ki = x[group == i], held[group == i]
        cov = np.kron(np.eye(n), W) + np.kron(np.ones((n, n)), B)
        k = np.repeat(ki, 2)
        s_rr, s_kr = cov[np.ix_(~k, ~k)], cov[np.ix_(k, ~k)]
        gain = s_kr @ np.linalg.inv(s_rr)
        mean = m + gain @ (xi[~ki].reshape(-1) - np.tile(m, n - 1))
        cond = cov[np.ix_(k, k)] - gain @ s_kr.T
        want = multivariate_normal(mean, cond).logpdf(xi[ki][0])
        assert got[i] == pytest.approx(want, rel=1e-10)


def test_conditionals_refuse_a_mask_without_one_member_per_group():
    model = RandomIntercept(np.zeros(1), np.eye(1), np.eye(1), 0.0, True, 0)
    x, group = np.zeros((4, 1)), np.array([0, 0, 1, 1])
    with pytest.raises(DataError, match="exactly one member of every group"):
        model.conditional_log_likelihoods(x, group, np.array([True, True, False, True]))
    with pytest.raises(DataError, match="single member"):
        model.conditional_log_likelihoods(x[:3], group[:3], np.array([True, False, True]))


def growth_curves(n_groups: int, slope_sd: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Reaction-time-like series: 8 days per subject, a random intercept and a random
    slope (sd ``slope_sd``) on the day; columns ``(reaction, day)``."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(n_groups), 8)
    day = np.tile(np.arange(8.0), n_groups) + rng.uniform(-0.5, 0.5, len(group))
    b, c = rng.normal(0, 25, n_groups), rng.normal(0, slope_sd, n_groups)
    y = 250 + 10 * day + b[group] + c[group] * day + rng.normal(0, 10, len(group))
    return np.c_[y, day], group


def test_random_slope_fit_finds_the_slopes_and_nests_the_random_intercept_model():
    x, group = growth_curves(60, slope_sd=6.0, seed=0)
    fit = fit_random_slope(x, group, predictor=1)
    nested = fit_random_intercept(x, group)
    assert fit.start_log_likelihood == pytest.approx(nested.log_likelihood, abs=1e-3)
    assert fit.log_likelihood > nested.log_likelihood + 50  # real slopes: a large gain
    assert fit.group_log_likelihoods(x, group).sum() == pytest.approx(fit.log_likelihood)
    par = fit.params  # the slope's sd, back in raw units (reaction per day)
    sd_c = np.sqrt((par.chol_re @ par.chol_re.T)[2, 2].item()) * fit.scale[0] / fit.scale[1]
    assert sd_c == pytest.approx(6.0, rel=0.3)
    # held-out subjects: the slope model predicts a new day of a subject far better
    x_new, g_new = growth_curves(30, slope_sd=6.0, seed=1)
    held = np.tile(np.r_[np.zeros(7, bool), True], 30)  # each subject's last day
    gain = fit.conditional_log_likelihoods(x_new, g_new, held) - (
        nested.conditional_log_likelihoods(x_new, g_new, held)
    )
    assert gain.mean() > 0.3


def test_random_slope_fit_without_slopes_is_the_random_intercept_fit():
    x, group = growth_curves(60, slope_sd=0.0, seed=2)
    fit = fit_random_slope(x, group, predictor=1)
    nested = fit_random_intercept(x, group)
    assert nested.log_likelihood <= fit.log_likelihood < nested.log_likelihood + 3
