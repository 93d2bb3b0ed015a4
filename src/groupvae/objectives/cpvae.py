"""CPVAE objectives: the ELBO (CPVAE eq. 3) and the mutual-information objective (CPVAE eq. 4, 10).

Notation of the CPVAE paper (Cross-population VAE): ``K`` populations, population ``k``
holds ``n_k`` of the ``N`` observations; ``z`` is the shared latent, ``t`` the private
one; ``q_k(t | x)`` is population ``k``'s private encoder.

A mini-batch holds ``m_k >= 1`` observations of every population (CPVAE Algorithm 1). A sum
over population ``j`` of the data set, ``sum_{i=1}^{n_j} f(x_ji)``, is estimated without
bias by ``n_j / m_j * sum_{i in batch_j} f(x_ji)``; when the batch is the whole data set
(``m_j = n_j``) the estimates are the equations themselves. Every function here is
vectorised over observations and populations (one masked reduction, no Python loop).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from groupvae.errors import ConfigError, DataError
from groupvae.nn.segment import checks_group_sizes
from groupvae.objectives.loss_output import LossOutput
from groupvae.registry import Registry

OBJECTIVES = ("elbo", "mi")
"""``elbo``: CPVAE eq. 3; ``mi``: the mutual-information regularised objective,
CPVAE eq. 4 / 10."""


def population_weights(population: Tensor, population_sizes: Tensor) -> Tensor:
    """``(n,)`` weight ``n_k / m_k`` of each row: the rows of population ``k`` in the
    batch (``m_k`` of them) stand for its ``n_k`` members in the data set.

    Args:
        population: ``(n,) int64 in [0, K)``.
        population_sizes: ``(K,)`` ``n_k`` of the data set (float or int).

    Raises:
        DataError: if a population size is not positive (not checked inside
            :func:`~groupvae.nn.segment.trusted_groups`, i.e. in a training step: the
            sizes are those of the training data, checked when training starts).
    """
    sizes = population_sizes
    if not sizes.is_floating_point():
        sizes = sizes.to(torch.get_default_dtype())
    if checks_group_sizes() and bool((sizes <= 0).any()):  # a host read: not in a step
        raise DataError("every population needs at least one observation in the data set")
    m = torch.bincount(population, minlength=sizes.shape[0]).to(sizes.dtype)
    return (sizes / m.clamp_min(1.0))[population]


def mi_penalty(kl_fictitious: Tensor, population: Tensor, population_sizes: Tensor) -> Tensor:
    """CPVAE eq. 4's last term from the fictitious codes of CPVAE Algorithm 1.

    ``sum_k 1/(N - n_k) sum_{j != k} sum_{i=1}^{n_j} KL(q_k(t~_ji | x_ji) || N(0, I))``,
    the sums over population ``j`` estimated from the batch (module docstring).

    Args:
        kl_fictitious: ``(K, n)``, entry ``[k, i]`` = ``KL(q_k(t | x_i) || N(0, I))``:
            population ``k``'s private encoder applied to row ``i`` (entries with
            ``population[i] == k`` are ignored).
        population: ``(n,) int64 in [0, K)``.
        population_sizes: ``(K,)`` ``n_k``.

    Returns:
        Scalar, nats.

    Raises:
        DataError: for fewer than two populations (``N - n_k`` would be 0).
    """
    n_pop = kl_fictitious.shape[0]
    if n_pop < 2:
        raise DataError("the mutual-information term needs at least two populations")
    sizes = population_sizes.to(kl_fictitious.dtype)
    weight = population_weights(population, sizes).to(kl_fictitious.dtype)  # (n,) n_j / m_j
    other = population.unsqueeze(0) != torch.arange(n_pop, device=population.device)[:, None]
    per_k = (kl_fictitious * weight * other).sum(-1)  # (K,) sum over j != k
    return (per_k / (sizes.sum() - sizes)).sum()


def cpvae_objective(
    log_likelihood: Tensor,
    kl_shared: Tensor,
    kl_private: Tensor,
    population: Tensor,
    population_sizes: Tensor,
    *,
    objective: str = "mi",
    kl_fictitious: Tensor | None = None,
    alpha: float = 1.0,
) -> LossOutput:
    """The CPVAE training objective of one mini-batch, per observation of the data set.

    * ``objective="elbo"``, CPVAE eq. 3 divided by ``N``:
      ``L / N = 1/N sum_k sum_i (E_q log p(x_ki | z, t) - KL(q(z | x_ki) || p(z))
      - KL(q_k(t | x_ki) || p(t)))``.
    * ``objective="mi"``, CPVAE eq. 4 (``alpha = 1``) and CPVAE eq. 10:
      ``J = 1/N sum_k sum_i (E_q log p(x_ki | z, t) - KL(q(z | x_ki) || p(z)))
      - alpha sum_k 1/(N - n_k) sum_{j != k} sum_i KL(q_k(t~_ji | x_ji) || N(0, I))``.
      As in the paper, CPVAE eq. 4 has no ``KL(q_k(t | x_ki) || p(t))`` of a population's own
      members: their private posteriors are left free to be informative (CPVAE eq. 5).

    Args:
        log_likelihood: ``(n,)`` single-sample ``log p(x_i | z_i, t_i)`` (nats).
        kl_shared: ``(n,)`` ``KL(q(z | x_i) || N(0, I))``.
        kl_private: ``(n,)`` ``KL(q_k(t | x_i) || N(0, I))``, ``k = population[i]``.
        population: ``(n,) int64 in [0, K)``; every population should be present.
        population_sizes: ``(K,)`` population sizes ``n_k`` of the data set (``N`` is
            their sum).
        objective: ``"elbo"`` or ``"mi"``.
        kl_fictitious: ``(K, n)`` for ``"mi"``: see :func:`mi_penalty`.
        alpha: weight of the mutual-information term (CPVAE eq. 10), ``>= 0``.

    Returns:
        A :class:`~groupvae.objectives.loss_output.LossOutput` with ``objective`` the
        scalar ``J`` (or ``L / N``) in nats per observation, ``kl_local`` holding
        ``kl_shared`` and ``kl_private`` ``(n,)``, no groups (each observation is its
        own), and ``mi_penalty`` (eq. 4's last term, an upper bound on
        ``I_q(x_{-k}; t~_k)``, CPVAE eq. 6; zero for the ELBO) and ``alpha`` among the
        extra metrics.

    Raises:
        ConfigError: for an unknown objective, a negative alpha, or ``"mi"`` without
            ``kl_fictitious``.
    """
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if alpha < 0:
        raise ConfigError(f"alpha must be >= 0, got {alpha}")
    sizes = population_sizes.to(log_likelihood.dtype)
    weight = population_weights(population, sizes).to(log_likelihood.dtype) / sizes.sum()
    if objective == "elbo":
        value = (weight * (log_likelihood - kl_shared - kl_private)).sum()
        penalty = log_likelihood.new_zeros(())
    else:
        if kl_fictitious is None:
            raise ConfigError("the 'mi' objective needs kl_fictitious (K, n)")
        penalty = mi_penalty(kl_fictitious, population, sizes)
        value = (weight * (log_likelihood - kl_shared)).sum() - alpha * penalty
    return LossOutput(
        loss=-value,
        reconstruction_loss=-log_likelihood,
        kl_local={"kl_shared": kl_shared, "kl_private": kl_private},
        objective=value,
        extra_metrics={
            "mi_penalty": penalty,
            "alpha": torch.as_tensor(float(alpha), device=value.device),
        },
    )


# ------------------------------------------------------------------ alpha schedules
AlphaSchedule = Callable[[float], float]
"""``schedule(progress) -> alpha``; ``progress`` runs from 0 (start of training) to 1."""


def constant_alpha(alpha: float) -> AlphaSchedule:
    """``alpha`` throughout training (CPVAE eq. 10 with a fixed weight; CPVAE eq. 4 for
    ``alpha = 1``)."""
    return lambda progress: float(alpha)


def linear_alpha(start: float, end: float) -> AlphaSchedule:
    """Anneal ``alpha`` linearly from ``start`` to ``end`` over training (CPVAE eq. 10; the
    paper begins at ``alpha = 1`` and anneals "gradually" without giving the schedule)."""

    def schedule(progress: float) -> float:
        p = min(max(float(progress), 0.0), 1.0)
        return float(start + (end - start) * p)

    return schedule


ALPHA_SCHEDULES: Registry[Callable[[float, float], AlphaSchedule]] = Registry("alpha schedule")
ALPHA_SCHEDULES.add("constant", lambda start, end: constant_alpha(start))
ALPHA_SCHEDULES.add("linear", linear_alpha)


def make_alpha_schedule(
    schedule: str | AlphaSchedule, *, alpha: float = 1.0, alpha_end: float = 1.0
) -> AlphaSchedule:
    """Resolve a schedule name (``ALPHA_SCHEDULES``) or pass a user callable through.

    Args:
        schedule: ``"constant"`` (``alpha``), ``"linear"`` (``alpha -> alpha_end``) or a
            callable ``progress -> alpha``.
        alpha, alpha_end: the start and end values.

    Raises:
        UnknownNameError: for an unknown name.
    """
    if callable(schedule):
        return schedule
    return ALPHA_SCHEDULES[schedule](alpha, alpha_end)


__all__ = [
    "ALPHA_SCHEDULES",
    "OBJECTIVES",
    "AlphaSchedule",
    "constant_alpha",
    "cpvae_objective",
    "linear_alpha",
    "make_alpha_schedule",
    "mi_penalty",
    "population_weights",
]
