"""The exact posterior of the Exam-Scores generative process: the Bayes-optimal limit.

CxVAE section 3.1: ``x_ik = 2 mu_i + a_i v_ik + eps_ik`` with ``a_i = sigma_i^2 + 1``,
``mu_i, sigma_i, v_ik ~ N(0, 1)`` and ``eps_ik ~ N(0, s^2)``. With ``v`` and ``eps``
integrated out, the students of a school are independent given ``u = (mu, sigma)``::

    x_ik | u ~ N(2 mu, tau^2),    tau^2 = a^2 + s^2,

which is a proper density for every ``s >= 0`` (``a >= 1``), the noise-free data of the
CxVAE authors' code (``s = 0``) included. A school enters only through its sufficient
statistics ``n``, ``xbar`` and ``S = sum_k (x_k - xbar)^2``:

* ``mu`` given ``sigma`` is conjugate: ``mu | sigma, x ~ N(m, 1 / lambda)`` with
  ``lambda = 1 + 4 n / tau^2`` and ``m = 2 n xbar / (tau^2 lambda)``; it is integrated in
  closed form, ``p(x | sigma) = (2 pi tau^2)^(-(n-1)/2) n^(-1/2) exp(-S / (2 tau^2))
  N(xbar; 0, 4 + tau^2 / n)``;
* ``sigma`` is integrated on a grid (trapezoid rule). The likelihood depends on
  ``sigma^2`` only, so the posterior of ``sigma`` is symmetric: ``E[sigma | x] = 0``
  whatever the data, and no estimate of ``sigma`` beats 0 on average. This is why the
  u-prediction error has a floor near 50 (x100): the ``sigma`` half of it stays at
  ``E[sigma^2] = 1``.

Given ``u``, each student's ``(v, eps)`` is jointly Normal with ``x``:
``E[v | x_k, u] = a (x_k - 2 mu) / tau^2`` and ``E[eps | x_k, u] = s^2 (x_k - 2 mu) / tau^2``
(for ``s = 0``: ``v = (x_k - 2 mu) / a`` exactly and ``eps = 0``). Their posterior means
average these over the posterior of ``u``, which needs two scalars per school.

Everything is vectorised over schools (segment sums for the statistics, a
``(schools, grid)`` array for the posterior of ``sigma``, processed in blocks of schools
to bound memory).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from groupvae.errors import DataError

GRID_SIZE = 2001
"""Points of the ``sigma >= 0`` grid (trapezoid rule)."""
SIGMA_MAX = 8.0
"""Upper end of the ``sigma`` grid; the ``N(0, 1)`` prior beyond it is ``< 1e-15``."""
BLOCK = 4096
"""Schools per block of the ``(schools, grid)`` arrays."""


@dataclass(frozen=True)
class SchoolStatistics:
    """Sufficient statistics of each school: ``n``, ``xbar`` and ``S``, all ``(n_groups,)``."""

    n: np.ndarray
    mean: np.ndarray
    scatter: np.ndarray


def school_statistics(x: np.ndarray, group: np.ndarray, n_groups: int) -> SchoolStatistics:
    """``n``, ``xbar`` and ``S = sum_k (x_k - xbar)^2`` per school, by segment sums.

    Args:
        x: ``(n_obs,)`` or ``(n_obs, 1)`` scores.
        group: ``(n_obs,)`` school ids in ``[0, n_groups)``.

    Raises:
        DataError: for an empty school.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    n = np.bincount(group, minlength=n_groups).astype(np.float64)
    if np.any(n == 0):
        raise DataError("every school needs at least one student for the exact posterior")
    mean = np.bincount(group, weights=x, minlength=n_groups) / n
    scatter = np.bincount(group, weights=(x - mean[group]) ** 2, minlength=n_groups)
    return SchoolStatistics(n, mean, scatter)


def log_evidence_given_sigma(
    stats: SchoolStatistics, sigma: np.ndarray, noise_std: float
) -> np.ndarray:
    """``log p(x_i | sigma)`` of each school at each ``sigma`` (``mu`` integrated), nats.

    Args:
        stats: ``(n_groups,)`` statistics.
        sigma: ``(n_grid,)`` values of ``sigma``.
        noise_std: ``s >= 0``.

    Returns:
        ``(n_groups, n_grid)``.
    """
    tau2 = ((sigma**2 + 1.0) ** 2 + noise_std**2)[None, :]
    n, xbar, scatter = stats.n[:, None], stats.mean[:, None], stats.scatter[:, None]
    var_mean = 4.0 + tau2 / n  # xbar | sigma ~ N(0, 4 + tau^2 / n)
    return (
        -0.5 * (n - 1.0) * np.log(2.0 * np.pi * tau2)
        - 0.5 * np.log(n)
        - scatter / (2.0 * tau2)
        - 0.5 * np.log(2.0 * np.pi * var_mean)
        - xbar**2 / (2.0 * var_mean)
    )


@dataclass(frozen=True)
class ExamScoresPosterior:
    """Posterior means of the true factors given each whole school.

    Attributes:
        mu: ``(n_groups,)`` ``E[mu | x_i]``.
        sigma: ``(n_groups,)`` ``E[sigma | x_i]``, 0 by symmetry.
        abs_sigma: ``(n_groups,)`` ``E[|sigma| | x_i]``.
        sigma_sq: ``(n_groups,)`` ``E[sigma^2 | x_i]``.
        v: ``(n_obs,)`` ``E[v_ik | x_i]``.
        eps: ``(n_obs,)`` ``E[eps_ik | x_i]`` (0 for ``s = 0``).
        log_evidence: ``(n_groups,)`` ``log p(x_i)`` in nats per school.
    """

    mu: np.ndarray
    sigma: np.ndarray
    abs_sigma: np.ndarray
    sigma_sq: np.ndarray
    v: np.ndarray
    eps: np.ndarray
    log_evidence: np.ndarray

    @property
    def group_code(self) -> np.ndarray:
        """``(n_groups, 2)`` rows ``(E[mu], E[sigma^2 + 1])``: what translation needs."""
        return np.stack([self.mu, self.sigma_sq + 1.0], axis=1)

    @property
    def instance_code(self) -> np.ndarray:
        """``(n_obs, 2)`` rows ``(E[v], E[eps])``."""
        return np.stack([self.v, self.eps], axis=1)


def oracle_decode(group_code: np.ndarray, instance_code: np.ndarray) -> np.ndarray:
    """Posterior-mean score ``2 E[mu] + E[sigma^2 + 1] E[v] + E[eps]``, ``(n, 1)``.

    For a target school ``j`` other than the source ``i`` the factors are independent
    given the data, so this is ``E[2 mu_j + (sigma_j^2 + 1) v_ik + eps_ik | x_i, x_j]``,
    the Bayes-optimal translation (CxVAE section 5.1) under squared error.

    Args:
        group_code: ``(n, 2)`` rows of :attr:`ExamScoresPosterior.group_code`.
        instance_code: ``(n, 2)`` rows of :attr:`ExamScoresPosterior.instance_code`.
    """
    return (
        2.0 * group_code[:, :1] + group_code[:, 1:2] * instance_code[:, :1] + instance_code[:, 1:2]
    )


def _rows(stats: SchoolStatistics, rows: slice) -> SchoolStatistics:
    return SchoolStatistics(stats.n[rows], stats.mean[rows], stats.scatter[rows])


def _grid(size: int, top: float) -> tuple[np.ndarray, np.ndarray]:
    """``sigma >= 0`` grid points and trapezoid weights (times the folded prior ``2 N``)."""
    sigma = np.linspace(0.0, top, size)
    weights = np.full(size, top / (size - 1))
    weights[[0, -1]] *= 0.5
    prior = 2.0 * np.exp(-0.5 * sigma**2) / np.sqrt(2.0 * np.pi)  # half-Normal on sigma >= 0
    return sigma, np.log(weights * prior)


def _block_moments(
    stats: SchoolStatistics, sigma: np.ndarray, log_w: np.ndarray, noise_std: float
) -> np.ndarray:
    """``(n, 8)`` per school: log evidence, ``E[mu]``, ``E[|sigma|]``, ``E[sigma^2]``,
    ``E[a / tau^2]``, ``E[a m / tau^2]``, ``E[s^2 / tau^2]``, ``E[s^2 m / tau^2]``
    (``m = E[mu | sigma, x]``, expectations over the posterior of ``sigma``)."""
    log_joint = log_evidence_given_sigma(stats, sigma, noise_std) + log_w[None, :]
    top = log_joint.max(axis=1, keepdims=True)
    weight = np.exp(log_joint - top)
    total = weight.sum(axis=1, keepdims=True)
    post = weight / total
    a = sigma**2 + 1.0
    tau2 = a**2 + noise_std**2
    precision = 1.0 + 4.0 * stats.n[:, None] / tau2[None, :]
    m = 2.0 * stats.n[:, None] * stats.mean[:, None] / (tau2[None, :] * precision)
    return np.stack(
        [
            (top + np.log(total))[:, 0],
            (post * m).sum(axis=1),
            post @ sigma,
            post @ sigma**2,
            post @ (a / tau2),
            (post * m * (a / tau2)[None, :]).sum(axis=1),
            post @ (noise_std**2 / tau2),
            (post * m * (noise_std**2 / tau2)[None, :]).sum(axis=1),
        ],
        axis=1,
    )


def exam_scores_posterior(
    x: np.ndarray,
    group: np.ndarray,
    *,
    noise_std: float,
    n_groups: int | None = None,
    grid_size: int = GRID_SIZE,
    sigma_max: float = SIGMA_MAX,
) -> ExamScoresPosterior:
    """The exact posterior means of ``u``, ``v`` and ``eps`` of every school.

    Args:
        x: ``(n_obs,)`` or ``(n_obs, 1)`` scores.
        group: ``(n_obs,)`` school ids in ``[0, n_groups)``; any school sizes.
        noise_std: ``s >= 0``, the noise of the data (0: the authors' noise-free data).
        n_groups: number of schools (``group.max() + 1`` if ``None``).
        grid_size: points of the ``sigma >= 0`` grid.
        sigma_max: the grid's upper end.

    Returns:
        :class:`ExamScoresPosterior`.

    Raises:
        DataError: for a negative ``noise_std``, an empty school or a grid under 3 points.
    """
    if noise_std < 0:
        raise DataError(f"noise_std must be >= 0, got {noise_std}")
    if grid_size < 3 or sigma_max <= 0:
        raise DataError("grid_size must be >= 3 and sigma_max > 0")
    group = np.asarray(group, dtype=np.int64)
    n_groups = int(group.max()) + 1 if n_groups is None else n_groups
    stats = school_statistics(x, group, n_groups)
    sigma, log_w = _grid(grid_size, sigma_max)
    blocks = [
        _block_moments(_rows(stats, slice(i, i + BLOCK)), sigma, log_w, noise_std)
        for i in range(0, n_groups, BLOCK)
    ]
    moments = np.concatenate(blocks, axis=0)
    x_flat = np.asarray(x, dtype=np.float64).reshape(-1)
    v = x_flat * moments[group, 4] - 2.0 * moments[group, 5]
    eps = x_flat * moments[group, 6] - 2.0 * moments[group, 7]  # 0 for s = 0
    return ExamScoresPosterior(
        mu=moments[:, 1],
        sigma=np.zeros(n_groups),
        abs_sigma=moments[:, 2],
        sigma_sq=moments[:, 3],
        v=v,
        eps=eps,
        log_evidence=moments[:, 0],
    )
