"""The exact Exam-Scores posterior against brute-force numerical integration."""

from __future__ import annotations

import numpy as np
import pytest

from groupvae.data.exam_scores import make_exam_scores
from groupvae.errors import DataError
from groupvae.evaluation.bayes_oracle import exam_scores_posterior, oracle_decode

SCHOOLS = [np.array([0.7]), np.array([-1.3, 2.4]), np.array([3.1, 0.2, -2.5, 5.0])]


def _normal(z: np.ndarray, var: float | np.ndarray = 1.0) -> np.ndarray:
    return np.exp(-0.5 * z**2 / var) / np.sqrt(2.0 * np.pi * var)


def _grid(top: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    z = np.linspace(-top, top, n)
    w = np.full(n, z[1] - z[0])
    w[[0, -1]] *= 0.5
    return z, w


def _brute_force(x: np.ndarray, s: float, n_u: int = 201, n_v: int = 161) -> dict:
    """Integrate over (mu, sigma) and, for s > 0, every v_k on grids, from the generative
    process itself: p(mu) p(sigma) prod_k p(v_k) N(x_k; 2 mu + a v_k, s^2). For s = 0,
    v_k = (x_k - 2 mu) / a is a change of variables with Jacobian 1 / a."""
    mu, wm = _grid(7.0, n_u)
    sg, ws = _grid(7.0, n_u)
    mu, sg = mu[:, None, None], sg[None, :, None]
    a = sg**2 + 1.0
    prior = _normal(mu) * _normal(sg) * wm[:, None, None] * ws[None, :, None]
    lik, v_num, e_num = [], [], []
    for xk in x:  # a few students: a reference, not the code under test
        if s == 0:
            vk = (xk - 2.0 * mu) / a
            lk = _normal(vk) / a
            lik.append(lk)
            v_num.append(lk * vk)
            e_num.append(0.0 * lk)
            continue
        v, wv = _grid(7.0, n_v)
        v = v[None, None, :]
        dens = _normal(v) * _normal(xk - 2.0 * mu - a * v, s**2) * wv
        lik.append(dens.sum(axis=2, keepdims=True))
        v_num.append((dens * v).sum(axis=2, keepdims=True))
        e_num.append((dens * (xk - 2.0 * mu - a * v)).sum(axis=2, keepdims=True))
    joint = prior * np.prod(lik, axis=0)
    z = joint.sum()
    out = {
        "mu": (joint * mu).sum() / z,
        "sigma": (joint * sg).sum() / z,
        "sigma_sq": (joint * sg**2).sum() / z,
        "abs_sigma": (joint * np.abs(sg)).sum() / z,
        "log_evidence": np.log(z),
    }
    others = [np.prod(lik[:k] + lik[k + 1 :], axis=0) if len(x) > 1 else 1.0 for k in range(len(x))]
    out["v"] = np.array([(prior * vn * o).sum() / z for vn, o in zip(v_num, others, strict=True)])
    out["eps"] = np.array([(prior * en * o).sum() / z for en, o in zip(e_num, others, strict=True)])
    return out


@pytest.mark.parametrize("noise_std", [0.0, 0.5, 1.0])
def test_the_exact_posterior_matches_brute_force_integration(noise_std):
    x = np.concatenate(SCHOOLS)
    group = np.repeat(np.arange(len(SCHOOLS)), [len(s) for s in SCHOOLS])
    post = exam_scores_posterior(x[:, None], group, noise_std=noise_std)
    for i, school in enumerate(SCHOOLS):
        ref = _brute_force(school, noise_std, n_v=161 if noise_std else 2)
        rows = group == i
        assert post.mu[i] == pytest.approx(ref["mu"], abs=1e-5)
        assert post.sigma_sq[i] == pytest.approx(ref["sigma_sq"], abs=1e-5)
        # |sigma| has a kink at 0, where the coarse reference grid is O(h^2) accurate
        assert post.abs_sigma[i] == pytest.approx(ref["abs_sigma"], abs=5e-4)
        assert ref["sigma"] == pytest.approx(0.0, abs=1e-9)  # symmetric: sign unknowable
        assert post.sigma[i] == 0.0
        assert post.log_evidence[i] == pytest.approx(ref["log_evidence"], abs=1e-5)
        np.testing.assert_allclose(post.v[rows], ref["v"], atol=1e-5)
        np.testing.assert_allclose(post.eps[rows], ref["eps"], atol=1e-5)


def test_posterior_means_add_up_to_the_observed_score_in_expectation():
    """E[2 mu + a v + eps | x] = x: the plug-in decode differs only by -Cov(a, v | x)."""
    data = make_exam_scores(64, noise_std=1.0, seed=3)
    post = exam_scores_posterior(data.x, data.group, noise_std=1.0)
    plug_in = oracle_decode(post.group_code[data.group], post.instance_code)
    assert np.abs(plug_in - data.x).mean() < 0.5  # close, not equal (a and v covary)
    assert not np.allclose(plug_in, data.x)


def test_posterior_means_beat_the_truth_of_a_nearby_estimator_on_fresh_schools():
    """The posterior mean minimises expected squared error: on many schools its MSE of
    v is below that of a perturbed version of it (a check of optimality, not a value)."""
    data = make_exam_scores(2000, noise_std=1.0, seed=5)
    post = exam_scores_posterior(data.x, data.group, noise_std=1.0)
    v = data.v[:, 0]
    best = np.mean((post.v - v) ** 2)
    for factor in (0.9, 1.1):
        assert best < np.mean((factor * post.v - v) ** 2)
    mu_err = np.mean((post.mu - data.u[:, 0]) ** 2)
    assert mu_err < np.mean((0.9 * post.mu - data.u[:, 0]) ** 2)
    # the sign of sigma is not identifiable: E[sigma | x] = 0, so its error is E[sigma^2]
    assert np.mean((post.sigma - data.u[:, 1]) ** 2) == pytest.approx(1.0, abs=0.1)


def test_schools_are_independent_and_order_free():
    data = make_exam_scores(30, noise_std=0.0, seed=1)
    full = exam_scores_posterior(data.x, data.group, noise_std=0.0)
    perm = np.random.default_rng(0).permutation(data.n_obs)
    shuffled = exam_scores_posterior(data.x[perm], data.group[perm], noise_std=0.0)
    np.testing.assert_allclose(shuffled.mu, full.mu, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(shuffled.v, full.v[perm], rtol=1e-10, atol=1e-12)
    one = data.group == 7
    alone = exam_scores_posterior(data.x[one], np.zeros(one.sum(), dtype=int), noise_std=0.0)
    assert alone.mu[0] == pytest.approx(full.mu[7], rel=1e-10)
    assert np.all(full.eps == 0.0)


def test_bad_input_is_refused_with_the_fix():
    with pytest.raises(DataError, match="noise_std"):
        exam_scores_posterior(np.zeros(3), np.zeros(3, dtype=int), noise_std=-1.0)
    with pytest.raises(DataError, match="at least one student"):
        exam_scores_posterior(np.zeros(2), np.array([0, 2]), noise_std=1.0)
