"""The Gaussian random-intercept model (the linear mixed model of multilevel statistics),
fitted by maximum likelihood and scored by its exact marginal log-likelihood.

``x_ik = m + b_i + e_ik`` with ``b_i ~ N(0, B)`` and ``e_ik ~ N(0, W)`` for the ``k``-th
member of group ``i``, ``x`` of ``d`` features (full ``d x d`` covariances ``B``, ``W``).
A group of ``n`` members splits exactly into ``n - 1`` orthonormal within-group contrasts,
each ``N(0, W)``, and ``sqrt(n) xbar ~ N(sqrt(n) m, W + n B)``, so

``log p(x_i) = -(n-1)/2 (d log 2 pi + log|W|) - 1/2 tr(W^-1 S_i)
               - 1/2 (d log 2 pi + log|W + n B|) - n/2 (xbar - m)' (W + n B)^-1 (xbar - m)``

with ``S_i`` the within-group scatter: the whole fit uses each group's sufficient
statistics ``(n_i, xbar_i, S_i)``, vectorised over groups (segment sums, no loop).

The **conditional** density of one member ``x_k`` given the ``r = n - 1`` others of its
group is Gaussian (the conditional of the group's multivariate normal, written through
the posterior of ``b_i``): with ``rbar`` the mean of the others minus ``m`` and
``V = B + W / r`` (the covariance of ``rbar``),

``b_i | x_{G without k} ~ N(B V^-1 rbar, B - B V^-1 B)``,
``x_k | x_{G without k} ~ N(m + B V^-1 rbar, W + B - B V^-1 B)``

(Gelman et al., *Bayesian Data Analysis*, 3rd ed., section 5.4 for ``d = 1``). It equals
``log p(x_i) - log p(x_{G without k})`` of the formula above, as any conditional of a
joint density does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize

from groupvae.errors import DataError

LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class GroupStats:
    """Sufficient statistics of groups: ``n: (G,)``, ``mean: (G, d)``, ``scatter: (G, d, d)``."""

    n: np.ndarray
    mean: np.ndarray
    scatter: np.ndarray


def group_stats(x: np.ndarray, group: np.ndarray) -> GroupStats:
    """``(n_i, xbar_i, S_i)`` of every group of ``x: (n_obs, d)``, ``group: (n_obs,)`` in
    ``[0, G)`` (every group used), by segment sums (``np.add.at``)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    group = np.asarray(group, dtype=np.int64)
    n_groups = int(group.max()) + 1
    n = np.bincount(group, minlength=n_groups).astype(np.float64)
    if (n == 0).any():
        raise DataError("every group in [0, n_groups) needs at least one member")
    sums = np.zeros((n_groups, x.shape[1]))
    np.add.at(sums, group, x)
    mean = sums / n[:, None]
    dev = x - mean[group]
    scatter = np.zeros((n_groups, x.shape[1], x.shape[1]))
    np.add.at(scatter, group, dev[:, :, None] * dev[:, None, :])
    return GroupStats(n, mean, scatter)


def _log_lik(
    stats: GroupStats, m: torch.Tensor, within: torch.Tensor, between: torch.Tensor
) -> torch.Tensor:
    """``(G,)`` exact ``log p(x_i)`` (nats) from the statistics, in torch (float64)."""
    W, B = within, between
    n = torch.as_tensor(stats.n)
    xbar = torch.as_tensor(stats.mean)
    S = torch.as_tensor(stats.scatter)
    d = xbar.shape[1]
    _, logdet_w = torch.linalg.slogdet(W)
    within = -(n - 1) / 2 * (d * LOG_2PI + logdet_w)
    within = within - 0.5 * torch.einsum("gij,ji->g", S, torch.linalg.inv(W))
    V = W + n[:, None, None] * B  # (G, d, d)
    _, logdet_v = torch.linalg.slogdet(V)
    r = xbar - m
    quad = (r * torch.linalg.solve(V, r.unsqueeze(-1)).squeeze(-1)).sum(-1)
    return within - 0.5 * (d * LOG_2PI + logdet_v) - 0.5 * n * quad


def _unpack(theta: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``theta`` -> ``(m, W, B)``: Cholesky factors with log-diagonals (positive definite)."""
    tri = torch.tril_indices(d, d)
    k = len(tri[0])

    def chol(v: torch.Tensor) -> torch.Tensor:
        L = torch.zeros(d, d, dtype=torch.float64)
        L = L.index_put((tri[0], tri[1]), v)
        diag = torch.diagonal(L)
        return L - torch.diag(diag) + torch.diag(torch.exp(diag))

    m = theta[:d]
    Lw, Lb = chol(theta[d : d + k]), chol(theta[d + k : d + 2 * k])
    return m, Lw @ Lw.T, Lb @ Lb.T


def _pack_chol(cov: np.ndarray) -> np.ndarray:
    L = np.linalg.cholesky(cov)
    L[np.diag_indices_from(L)] = np.log(np.diag(L))
    return L[np.tril_indices(len(cov))]


@dataclass(frozen=True)
class RandomIntercept:
    """A fitted random-intercept model.

    Attributes:
        mean: ``(d,)`` ``m``; within: ``(d, d)`` ``W``; between: ``(d, d)`` ``B``.
        log_likelihood: the maximised total log-likelihood of the training groups (nats).
        converged: whether the optimiser met its gradient tolerance.
        iterations: optimiser iterations.
    """

    mean: np.ndarray
    within: np.ndarray
    between: np.ndarray
    log_likelihood: float
    converged: bool
    iterations: int

    def group_log_likelihoods(self, x: np.ndarray, group: np.ndarray) -> np.ndarray:
        """Exact ``log p(x_i)`` of every group of ``x: (n_obs, d)``, ``(G,)`` nats."""
        stats = group_stats(x, group)
        t = [
            torch.as_tensor(a, dtype=torch.float64) for a in (self.mean, self.within, self.between)
        ]
        return _log_lik(stats, *t).numpy()

    def conditional_log_likelihoods(
        self, x: np.ndarray, group: np.ndarray, held: np.ndarray
    ) -> np.ndarray:
        """Exact ``log p(x_k | x_{G without k})`` of the held-out member ``k`` of every
        group, in closed form (the module docstring's posterior predictive).

        Args:
            x: ``(n_obs, d)`` observations.
            group: ``(n_obs,)`` group indices in ``[0, G)``.
            held: ``(n_obs,)`` boolean, exactly one ``True`` per group (the member ``k``);
                every group needs another member.

        Returns:
            ``(G,)`` log-densities of one observation each, nats.

        Raises:
            DataError: for a group without exactly one held member, or with no other.
        """
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        group, held = np.asarray(group, dtype=np.int64), np.asarray(held, dtype=bool)
        n_groups = int(group.max()) + 1
        check_held(group, held, n_groups)
        rest = group_stats(x[~held], group[~held])
        xk = np.empty((n_groups, x.shape[1]))
        xk[group[held]] = x[held]
        W, B = self.within, self.between
        V = B + W / rest.n[:, None, None]  # (G, d, d): covariance of the others' mean
        gain = np.linalg.solve(V, np.broadcast_to(B, V.shape)).transpose(0, 2, 1)  # B V^-1
        mean = self.mean + np.einsum("gij,gj->gi", gain, rest.mean - self.mean)
        cov = W + B - gain @ B
        return gaussian_log_pdf(xk, mean, cov)


def check_held(group: np.ndarray, held: np.ndarray, n_groups: int) -> None:
    """Refuse a ``held: (n_obs,)`` mask without exactly one member of each of the
    ``n_groups`` groups, or one that holds out a group's only member.

    Raises:
        DataError: naming how many groups are wrong.
    """
    if held.shape != group.shape:
        raise DataError(f"held must have shape {group.shape}, got {held.shape}")
    per_group = np.bincount(group[held], minlength=n_groups)
    sizes = np.bincount(group, minlength=n_groups)
    if (per_group != 1).any():
        raise DataError(
            f"held must mark exactly one member of every group; {int((per_group != 1).sum())} "
            "group(s) have none or several"
        )
    if (sizes < 2).any():
        raise DataError(
            f"{int((sizes < 2).sum())} group(s) have a single member: nothing to condition on"
        )


def gaussian_log_pdf(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``log N(x_g; mean_g, cov_g)`` of every row, ``x, mean: (G, d)``, ``cov: (G, d, d)``
    (or ``(d, d)``), ``(G,)`` nats (by Cholesky factors, batched)."""
    diff = np.asarray(x, dtype=np.float64) - mean
    chol = np.linalg.cholesky(np.broadcast_to(cov, (*diff.shape, diff.shape[1])))
    white = np.linalg.solve(chol, diff[..., None])[..., 0]
    logdet = 2 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
    return -0.5 * (diff.shape[1] * LOG_2PI + logdet + (white**2).sum(-1))


def fit_random_intercept(
    x: np.ndarray, group: np.ndarray, *, max_iter: int = 2000, gtol: float = 1e-8
) -> RandomIntercept:
    """Maximum-likelihood fit of the random-intercept model to ``x: (n_obs, d)`` in groups
    ``group: (n_obs,)`` (L-BFGS on the exact marginal likelihood, gradients by autograd).

    Raises:
        DataError: for fewer than two groups.
    """
    stats = group_stats(x, group)
    if len(stats.n) < 2:
        raise DataError("the random-intercept model needs at least two groups")
    d = stats.mean.shape[1]
    xs = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    W0 = stats.scatter.sum(0) / max(stats.n.sum() - len(stats.n), 1) + 1e-6 * np.eye(d)
    B0 = 0.5 * np.cov(stats.mean.T).reshape(d, d) + 1e-3 * np.eye(d)
    theta0 = np.concatenate([xs.mean(0), _pack_chol(W0), _pack_chol(B0)])
    total = float(stats.n.sum())

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        loss = -_log_lik(stats, *_unpack(t, d)).sum() / total
        loss.backward()
        return float(loss.detach()), t.grad.numpy().copy()

    result = minimize(
        objective, theta0, jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": gtol, "ftol": 1e-15},
    )  # fmt: skip
    m, W, B = (a.detach().numpy() for a in _unpack(torch.as_tensor(result.x), d))
    return RandomIntercept(
        m, W, B, -float(result.fun) * total, bool(result.success), int(result.nit)
    )


__all__ = [
    "GroupStats",
    "RandomIntercept",
    "check_held",
    "fit_random_intercept",
    "gaussian_log_pdf",
    "group_stats",
]
