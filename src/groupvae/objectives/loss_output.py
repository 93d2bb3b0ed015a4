"""One record of the loss terms for every model."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class LossOutput:
    """The terms of a group ELBO for one batch, shared by every model.

    Attributes:
        loss: scalar to minimise: ``-mean_G ELBO_G`` (with KL weight ``beta``) plus the
            weighted regulariser.
        elbo: ``(n_groups,)`` group ELBO in nats (ML-VAE eq. 3-5), unweighted.
        reconstruction_loss: ``(n_obs,)`` negative log-likelihood ``-log p(x_k | u, v_k)``.
        kl_instance: ``(n_obs,)`` ``KL(q(v_k | .) || p(v))``; with a mixture prior the
            whole local KL of UG-VAE eq. 11, ``E_q(d) KL(q(v_k) || p(v | d, u)) +
            KL(q(d | v_k) || p(d))`` (its second term is logged as ``kl_clusters``).
        kl_group: ``(n_groups,)`` ``KL(q(u | x_G) || p(u))``; zeros without a group latent.
        regulariser: scalar mutual-information estimate (nats), or ``None``.
        extra_metrics: other scalars to log.
    """

    loss: Tensor
    elbo: Tensor
    reconstruction_loss: Tensor
    kl_instance: Tensor
    kl_group: Tensor
    regulariser: Tensor | None = None
    extra_metrics: dict[str, Tensor] = field(default_factory=dict)

    def scalars(self) -> dict[str, Tensor]:
        """Batch means of every term, for logging (tensors; no host sync)."""
        out = {
            "loss": self.loss,
            "elbo": self.elbo.mean(),
            "reconstruction_loss": self.reconstruction_loss.mean(),
            "kl_instance": self.kl_instance.mean(),
            "kl_group": self.kl_group.mean(),
        }
        if self.regulariser is not None:
            out["mutual_information"] = self.regulariser
        return {**out, **self.extra_metrics}
