"""The Gaussian random-slope model (a linear mixed model with a random intercept and a
random slope on a predictor column), fitted by maximum likelihood and scored by its
exact marginal log-likelihood, joint and conditional.

The features of member ``k`` of group ``i`` are ``x_ik = (t_ik, y_ik)``: ``t`` the
predictor column (a time, an age, a covariate) and ``y`` the ``p = d - 1`` others:

``t_ik = m_t + a_i + delta_ik``,                        ``delta_ik ~ N(0, s^2)``
``y_ik = m_y + beta t_ik + b_i + c_i t_ik + e_ik``,     ``e_ik ~ N(0, E)``
``gamma_i = (a_i, b_i, c_i) ~ N(0, Sigma)``              (``q = 1 + 2p``, full covariance)

so ``y`` has a random intercept ``b_i`` and a random slope ``c_i`` on ``t`` (Laird & Ware
1982; lme4's ``y ~ t + (1 + t | group)`` for each response, the effects correlated across
responses), and ``t`` its own random intercept ``a_i``, correlated with both. The model
is a density of the whole row ``(t, y)``, as the VAEs' are, so the scores compare. With
``c_i = 0`` it is exactly the random-intercept model of
:mod:`groupvae.evaluation.random_intercept` on ``(t, y)`` (full within and between
covariances), and the fit starts there, so its maximised likelihood is at least that
model's.

**Likelihood.** Given ``gamma_i``, ``o_ik = (t_ik - m_t, y_ik - m_y - beta t_ik)`` is
``N(Z_ik gamma_i, R)`` with ``Z_ik = [[1, 0, 0], [0, I_p, t_ik I_p]]`` (``d x q``) and
``R = diag(s^2, E)``; the map ``(t, y) -> o`` has unit Jacobian. Marginalising
``gamma_i`` (Woodbury's identity and the matrix determinant lemma; Rasmussen & Williams
2006, A.9), with ``Sigma = L L'``:

``log p(x_i) = sum_k log N(o_ik; 0, R) - 1/2 log|M_i| + 1/2 v_i' M_i^-1 v_i``,
``Lambda_i = sum_k Z_ik' R^-1 Z_ik``, ``u_i = sum_k Z_ik' R^-1 o_ik``,
``M_i = I + L' Lambda_i L``, ``v_i = L' u_i``.

``Lambda_i`` and ``u_i`` are segment sums over the members (no loop over groups or
observations); ``M_i >= I`` keeps the determinant and solve stable when ``Sigma`` is
near singular.

**Conditional.** The members of a group are independent given ``gamma_i``, so the model
is a joint density of any subset of a group, and
``log p(x_k | x_{G without k}) = log p(x_G) - log p(x_{G without k})`` exactly (both
terms by the formula above).

The fit works on the features standardised with the fitting data's means and standard
deviations (maximum likelihood is equivariant under the affine map, and the model family
is closed under it); the scores are for the raw features: ``log p(x) = log p(z) - n sum
log scale``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize

from groupvae.errors import DataError
from groupvae.evaluation.random_intercept import (
    LOG_2PI,
    RandomIntercept,
    check_held,
    fit_random_intercept,
)
from groupvae.nn.segment import segment_sum


@dataclass(frozen=True)
class SlopeParams:
    """Parameters of the random-slope model in standardised units (torch, float64).

    Attributes:
        m_t: ``()`` mean of ``t``; log_s: ``()`` log of its within-group sd ``s``.
        m_y: ``(p,)``; beta: ``(p,)`` fixed slope of ``y`` on ``t``.
        chol_e: ``(p, p)`` Cholesky factor of ``E``; chol_re: ``(q, q)`` of ``Sigma``.
    """

    m_t: torch.Tensor
    log_s: torch.Tensor
    m_y: torch.Tensor
    beta: torch.Tensor
    chol_e: torch.Tensor
    chol_re: torch.Tensor


def _chol(v: torch.Tensor, n: int) -> torch.Tensor:
    """A lower-triangular ``(n, n)`` factor from its ``n (n + 1) / 2`` entries, the diagonal
    given as logs (so positive)."""
    tri = torch.tril_indices(n, n)
    L = torch.zeros(n, n, dtype=torch.float64).index_put((tri[0], tri[1]), v)
    diag = torch.diagonal(L)
    return L - torch.diag(diag) + torch.diag(torch.exp(diag))


def _pack_chol(cov: np.ndarray) -> np.ndarray:
    L = np.linalg.cholesky(cov)
    L[np.diag_indices_from(L)] = np.log(np.diag(L))
    return L[np.tril_indices(len(cov))]


def _unpack(theta: torch.Tensor, p: int) -> SlopeParams:
    q = 1 + 2 * p
    ke, kr = p * (p + 1) // 2, q * (q + 1) // 2
    cut = np.cumsum([1, 1, p, p, ke, kr])
    parts = [theta[a:b] for a, b in zip([0, *cut[:-1]], cut, strict=True)]
    return SlopeParams(
        parts[0][0], parts[1][0], parts[2], parts[3], _chol(parts[4], p), _chol(parts[5], q)
    )


def _log_lik(z: torch.Tensor, group: torch.Tensor, n_groups: int, par: SlopeParams) -> torch.Tensor:
    """``(G,)`` exact ``log p(z_i)`` (nats, standardised units) of ``z: (n_obs, d)`` with
    the predictor in column 0, by the module docstring's formula."""
    p = z.shape[1] - 1
    t, y = z[:, 0], z[:, 1:]
    o_t = t - par.m_t  # (n,)
    o_y = y - par.m_y - t[:, None] * par.beta  # (n, p)
    s2 = torch.exp(2 * par.log_s)
    E_inv = torch.cholesky_inverse(par.chol_e)
    # sum_k log N(o_k; 0, R), per group
    quad = o_t**2 / s2 + torch.einsum("ni,ij,nj->n", o_y, E_inv, o_y)
    logdet_r = 2 * par.log_s + 2 * torch.log(torch.diagonal(par.chol_e)).sum()
    n = segment_sum(torch.ones_like(t), group, n_groups)
    noise = -0.5 * (n * ((1 + p) * LOG_2PI + logdet_r) + segment_sum(quad, group, n_groups))
    # Lambda_i = blockdiag(n / s^2, [[n, St], [St, Stt]] (x) E^-1), u_i as in the docstring
    St = segment_sum(t, group, n_groups)
    Stt = segment_sum(t**2, group, n_groups)
    moments = torch.stack([torch.stack([n, St], -1), torch.stack([St, Stt], -1)], -2)
    q = 1 + 2 * p
    lam = torch.zeros(n_groups, q, q, dtype=torch.float64)
    lam[:, 0, 0] = n / s2
    lam[:, 1:, 1:] = torch.einsum("gab,ij->gaibj", moments, E_inv).reshape(n_groups, 2 * p, 2 * p)
    u_a = segment_sum(o_t, group, n_groups) / s2
    u_b = segment_sum(o_y, group, n_groups) @ E_inv
    u_c = segment_sum(t[:, None] * o_y, group, n_groups) @ E_inv
    u = torch.cat([u_a[:, None], u_b, u_c], dim=1)  # (G, q)
    L = par.chol_re
    M = torch.eye(q, dtype=torch.float64) + L.T @ lam @ L
    chol_m = torch.linalg.cholesky(M)
    v = u @ L  # (G, q): rows v_i' = u_i' L
    w = torch.linalg.solve_triangular(chol_m, v.unsqueeze(-1), upper=False).squeeze(-1)
    logdet_m = 2 * torch.log(torch.diagonal(chol_m, dim1=-2, dim2=-1)).sum(-1)
    return noise - 0.5 * logdet_m + 0.5 * (w**2).sum(-1)


@dataclass(frozen=True)
class RandomSlope:
    """A fitted random-slope model (the module docstring's), scoring raw features.

    Attributes:
        predictor: the column of ``x`` that is ``t``.
        loc, scale: ``(d,)`` the standardisation of the fit (raw = loc + scale z).
        theta: the parameters in standardised units, packed (see :meth:`params`).
        log_likelihood: the maximised total log-likelihood of the fitting groups (raw
            units, nats).
        converged: whether the optimiser met its gradient tolerance.
        iterations: optimiser iterations.
        start_log_likelihood: the total of the nested random-intercept fit (nats): the
            fit keeps the better of it and the optimum, so ``log_likelihood`` is at least
            this.
    """

    predictor: int
    loc: np.ndarray
    scale: np.ndarray
    theta: np.ndarray
    log_likelihood: float
    converged: bool
    iterations: int
    start_log_likelihood: float

    @property
    def params(self) -> SlopeParams:
        """The parameters (standardised units, predictor first)."""
        return _unpack(torch.as_tensor(self.theta, dtype=torch.float64), len(self.loc) - 1)

    def _standardise(self, x: np.ndarray) -> torch.Tensor:
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        if x.shape[1] != len(self.loc):
            raise DataError(f"x must have {len(self.loc)} features, got {x.shape[1]}")
        z = (x - self.loc) / self.scale
        order = [self.predictor, *(j for j in range(z.shape[1]) if j != self.predictor)]
        return torch.as_tensor(z[:, order])

    def group_log_likelihoods(self, x: np.ndarray, group: np.ndarray) -> np.ndarray:
        """Exact ``log p(x_i)`` of every group of ``x: (n_obs, d)`` (raw units),
        ``group: (n_obs,)`` in ``[0, G)``: ``(G,)`` nats."""
        group_t = torch.as_tensor(np.asarray(group, dtype=np.int64))
        n_groups = int(group_t.max()) + 1
        with torch.no_grad():
            out = _log_lik(self._standardise(x), group_t, n_groups, self.params).numpy()
        sizes = np.bincount(np.asarray(group), minlength=n_groups)
        return out - sizes * np.log(self.scale).sum()

    def conditional_log_likelihoods(
        self, x: np.ndarray, group: np.ndarray, held: np.ndarray
    ) -> np.ndarray:
        """Exact ``log p(x_k | x_{G without k}) = log p(x_G) - log p(x_{G without k})`` of
        the held-out member of every group (module docstring).

        Args:
            x: ``(n_obs, d)`` raw features; group: ``(n_obs,)`` in ``[0, G)``.
            held: ``(n_obs,)`` boolean, exactly one member of every group, each group
                with another.

        Returns:
            ``(G,)`` nats, one observation each.
        """
        group, held = np.asarray(group, dtype=np.int64), np.asarray(held, dtype=bool)
        check_held(group, held, int(group.max()) + 1)
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        joint = self.group_log_likelihoods(x, group)
        return joint - self.group_log_likelihoods(x[~held], group[~held])


def _start(ri: RandomIntercept, predictor: int, slope_var: float) -> np.ndarray:
    """The packed parameters (standardised units) at which the random-slope model is the
    random-intercept fit ``ri`` (with ``Var(c) = slope_var``, uncorrelated).

    With ``t`` first: ``beta = W_yt / W_tt``, ``s^2 = W_tt``,
    ``E = W_yy - W_yt W_ty / W_tt``, ``m_y = m_y^RI - beta m_t``, and
    ``(a, b) = T (b_t^RI, b_y^RI)`` with ``T = [[1, 0], [-beta, I]]``.
    """
    d = len(ri.mean)
    order = [predictor, *(j for j in range(d) if j != predictor)]
    m, W, B = ri.mean[order], ri.within[np.ix_(order, order)], ri.between[np.ix_(order, order)]
    p = d - 1
    beta = W[1:, 0] / W[0, 0]
    E = W[1:, 1:] - np.outer(W[1:, 0], W[0, 1:]) / W[0, 0]
    T = np.eye(d)
    T[1:, 0] = -beta
    ab = T @ B @ T.T
    q = 1 + 2 * p
    sigma = np.zeros((q, q))
    sigma[:d, :d] = ab
    sigma[d:, d:] = slope_var * np.eye(p)
    return np.concatenate(
        [
            [m[0], 0.5 * math.log(W[0, 0])],
            m[1:] - beta * m[0],
            beta,
            _pack_chol(E + 1e-8 * np.eye(p)),
            _pack_chol(sigma + 1e-8 * np.eye(q)),
        ]
    )


def fit_random_slope(
    x: np.ndarray,
    group: np.ndarray,
    predictor: int,
    *,
    slope_var: float = 1e-2,
    max_iter: int = 2000,
    gtol: float = 1e-7,
) -> RandomSlope:
    """Maximum-likelihood fit of the random-slope model to ``x: (n_obs, d)`` (raw units)
    in groups ``group: (n_obs,)``, slope on column ``predictor``.

    The random-intercept model is fitted first (:func:`fit_random_intercept`, on the
    standardised features); L-BFGS then starts from it with a small slope variance
    ``slope_var`` (standardised units) and maximises the exact marginal likelihood
    (gradients by autograd). Should the optimiser end below the random-intercept fit
    itself (``Var(c) = 0``), that fit is kept, so the result never scores its own
    training data below the nested model.

    Raises:
        DataError: for fewer than two groups, fewer than two features or a predictor out
            of range.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    d = x.shape[1]
    if d < 2 or not 0 <= predictor < d:
        raise DataError(f"the random-slope model needs d >= 2 and a predictor in [0, {d})")
    group = np.asarray(group, dtype=np.int64)
    loc, scale = x.mean(0), x.std(0)
    if not (scale > 0).all():
        raise DataError("every feature must vary to fit the random-slope model")
    z = (x - loc) / scale
    ri = fit_random_intercept(z, group)
    order = [predictor, *(j for j in range(d) if j != predictor)]
    z_t = torch.as_tensor(z[:, order])
    group_t = torch.as_tensor(group)
    n_groups, total = int(group.max()) + 1, float(len(x))

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        loss = -_log_lik(z_t, group_t, n_groups, _unpack(t, d - 1)).sum() / total
        loss.backward()
        return float(loss.detach()), t.grad.numpy().copy()

    nested = _start(ri, predictor, 1e-12)  # the random-intercept fit itself
    nested_ll = -objective(nested)[0]
    result = minimize(
        objective, _start(ri, predictor, slope_var), jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": gtol, "ftol": 1e-15},
    )  # fmt: skip
    better = -result.fun >= nested_ll
    theta, best = (result.x, -float(result.fun)) if better else (nested, nested_ll)
    jac = len(x) * np.log(scale).sum()
    return RandomSlope(
        predictor, loc, scale, np.asarray(theta), best * total - jac, bool(result.success),
        int(result.nit), nested_ll * total - jac,
    )  # fmt: skip


__all__ = ["RandomSlope", "SlopeParams", "fit_random_slope"]
