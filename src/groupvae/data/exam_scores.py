"""The Exam-Scores data set (CxVAE paper, section 3.1).

Schools are groups; ``x_ik = 2 mu_i + (sigma_i^2 + 1) v_ik + eps_ik`` with
``u_i = (mu_i, sigma_i) ~ N(0, I)``, ``v_ik ~ N(0, 1)``, ``eps_ik ~ N(0, s^2)`` and
``K_i ~ Poisson(16) + 8`` students per school.
"""

from __future__ import annotations

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError


def exam_scores_mean(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Noise-free score ``2 mu + (sigma^2 + 1) v``.

    Args:
        u: ``(n, 2)`` rows ``(mu, sigma)``.
        v: ``(n, 1)``.

    Returns:
        ``(n, 1)``.
    """
    return 2.0 * u[:, :1] + (u[:, 1:2] ** 2 + 1.0) * v


def make_exam_scores(
    n_groups: int = 32_768,
    *,
    noise_std: float = 1.0,
    mean_extra: float = 16.0,
    min_size: int = 8,
    seed: int = 0,
) -> GroupedDataset:
    """Sample the Exam-Scores data set.

    Args:
        n_groups: number of schools ``N``.
        noise_std: ``s``, the standard deviation of ``eps``.
        mean_extra: Poisson mean of the group size beyond ``min_size``.
        min_size: smallest group size (``K_i = Poisson(mean_extra) + min_size``).
        seed: seed of the ``numpy.random.Generator``.

    Returns:
        A :class:`GroupedDataset` with ``x: (n_obs, 1)``, ``u: (n_groups, 2)``,
        ``v: (n_obs, 1)`` and ``aux["eps"]: (n_obs, 1)``.

    Raises:
        DataError: for ``n_groups < 2``, negative ``noise_std`` or ``min_size < 1``.
    """
    if n_groups < 2:
        raise DataError(f"n_groups must be >= 2, got {n_groups}")
    if noise_std < 0 or min_size < 1:
        raise DataError("noise_std must be >= 0 and min_size >= 1")
    rng = np.random.default_rng(seed)
    sizes = rng.poisson(mean_extra, size=n_groups) + min_size
    group = np.repeat(np.arange(n_groups), sizes)
    u = rng.standard_normal((n_groups, 2))
    v = rng.standard_normal((len(group), 1))
    eps = noise_std * rng.standard_normal((len(group), 1))
    x = exam_scores_mean(u[group], v) + eps
    return GroupedDataset(
        x=x, group=group, u=u, v=v, aux={"eps": eps.astype(np.float32)}, name="exam-scores"
    )
