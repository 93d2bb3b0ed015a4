"""The group ELBO (ML-VAE eq. 3-5), shared by every model."""

from __future__ import annotations

from torch import Tensor

from groupvae.objectives.loss_output import LossOutput


def group_elbo(
    log_likelihood: Tensor,
    kl_instance: Tensor,
    kl_group: Tensor,
    group: Tensor,
    *,
    kl_weight: float = 1.0,
    regulariser: Tensor | None = None,
    regulariser_weight: float = 0.0,
) -> LossOutput:
    """Group ELBO and the training loss.

    ``ELBO_G = sum_{k in G} (E_q log p(x_k | u, v_k) - KL(q(v_k) || p(v)))
    - KL(q(u | x_G) || p(u))`` (ML-VAE eq. 3-5), averaged over the groups of the batch
    (ML-VAE eq. after 5: an unbiased estimate of the data set's average group ELBO).

    Args:
        log_likelihood: ``(n_obs,)`` single-sample estimate of ``log p(x_k | u, v_k)``.
        kl_instance: ``(n_obs,)`` instance KL per observation.
        kl_group: ``(n_groups,)`` group KL per group.
        group: ``(n_obs,) int64 in [0, n_groups)``.
        kl_weight: weight of both KL terms in ``loss`` (warm-up, beta-VAE).
        regulariser: scalar estimate added to the loss with ``regulariser_weight``.

    Returns:
        A :class:`LossOutput`.
    """
    n_groups = kl_group.shape[0]
    # The mean over groups of ELBO_G is the batch's total over n_groups: every
    # observation belongs to one group, so no per-group (segment) sum is needed.
    kl = kl_instance.sum() + kl_group.sum()
    loss = -(log_likelihood.sum() - kl_weight * kl) / n_groups
    if regulariser is not None:
        loss = loss + regulariser_weight * regulariser
    return LossOutput(
        loss=loss,
        reconstruction_loss=-log_likelihood,
        kl_local={"kl_instance": kl_instance},
        kl_global={"kl_group": kl_group},
        group=group,
        n_groups=n_groups,
        regulariser=regulariser,
    )
