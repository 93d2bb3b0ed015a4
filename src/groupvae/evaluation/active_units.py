"""Active units and the KL per dimension of a diagonal-Normal latent: pure functions of
arrays.

A unit (latent dimension) is *active* when its posterior mean varies with the data
(Burda, Grosse and Salakhutdinov 2016, section 5.2): ``A_d = Cov_x(E_{q(z | x)}[z_d])``
above ``0.01``. A code with no active unit is *collapsed*: its posterior is the same for
every input, so a k-means or a probe on it measures noise, not information.

The KL per dimension, ``KL(q(z_d | x) || N(0, 1))`` averaged over the rows, is the
information (nats) that each dimension carries about its input under a standard-Normal
prior; it sums to the latent's KL term.
"""

from __future__ import annotations

import numpy as np

from groupvae.errors import DataError

ACTIVITY_THRESHOLD = 0.01
"""Burda et al. (2016)'s threshold on ``Cov_x E_q[z_d]``."""


def _check(mean: np.ndarray, logvar: np.ndarray | None = None) -> np.ndarray:
    mean = np.asarray(mean, dtype=np.float64)
    if mean.ndim != 2 or mean.shape[0] < 2:
        raise DataError(f"posterior means must have shape (n >= 2, dim), got {mean.shape}")
    if logvar is not None and np.shape(logvar) != mean.shape:
        raise DataError(f"logvar must have the means' shape {mean.shape}, got {np.shape(logvar)}")
    return mean


def unit_activity(mean: np.ndarray) -> np.ndarray:
    """``(dim,)`` activity ``Cov_x(E_q[z_d])`` of each unit: the variance over the rows
    of the posterior means (sample variance, ``n - 1``).

    Args:
        mean: ``(n, dim)`` posterior means, one row per observation (or per group).

    Raises:
        DataError: if ``mean`` is not ``(n, dim)`` with ``n >= 2``.
    """
    return _check(mean).var(axis=0, ddof=1)


def active_units(mean: np.ndarray, *, threshold: float = ACTIVITY_THRESHOLD) -> int:
    """The number of active units (Burda et al. 2016): dimensions whose
    :func:`unit_activity` exceeds ``threshold``.

    Args:
        mean: ``(n, dim)`` posterior means.
        threshold: activity threshold (Burda et al.: 0.01).

    Returns:
        An integer in ``[0, dim]``; 0 means the code is collapsed.
    """
    return int((unit_activity(mean) > threshold).sum())


def kl_per_dimension(mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """``(dim,)`` mean over rows of ``KL(N(mean, exp(logvar)) || N(0, 1))`` per dimension,
    in nats per row (per observation or per group, as the rows are):
    ``0.5 (mean^2 + exp(logvar) - 1 - logvar)``.

    Raises:
        DataError: if the shapes differ or are not ``(n >= 2, dim)``.
    """
    mean = _check(mean, logvar)
    logvar = np.asarray(logvar, dtype=np.float64)
    return (0.5 * (mean**2 + np.exp(logvar) - 1.0 - logvar)).mean(axis=0)


def latent_summary(
    name: str,
    mean: np.ndarray,
    logvar: np.ndarray | None = None,
    *,
    threshold: float = ACTIVITY_THRESHOLD,
) -> dict[str, float | int | bool | list[float]]:
    """The activity metrics of one latent, keyed by its ``name`` (``"group"``,
    ``"instance"``, ``"shared"``, ``"private"``):

    * ``active_units_<name>``: :func:`active_units`;
    * ``collapsed_<name>``: ``True`` when no unit is active;
    * ``dim_<name>``: the latent's size;
    * with ``logvar`` (a standard-Normal prior): ``kl_<name>`` (nats per row, the sum of
      the next) and ``kl_per_dim_<name>`` (:func:`kl_per_dimension`, a list).
    """
    n_active = active_units(mean, threshold=threshold)
    out: dict[str, float | int | bool | list[float]] = {
        f"active_units_{name}": n_active,
        f"collapsed_{name}": n_active == 0,
        f"dim_{name}": int(np.shape(mean)[1]),
    }
    if logvar is not None:
        kl = kl_per_dimension(mean, logvar)
        out[f"kl_{name}"] = float(kl.sum())
        out[f"kl_per_dim_{name}"] = [float(k) for k in kl]
    return out


__all__ = [
    "ACTIVITY_THRESHOLD",
    "active_units",
    "kl_per_dimension",
    "latent_summary",
    "unit_activity",
]
