"""One record of the loss terms for every model family (scvi-tools' ``LossOutput`` shape)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from groupvae.nn.segment import segment_sum


@dataclass
class LossOutput:
    """The terms of one batch's objective, shared by every model family.

    Every term carries its unit in its name when logged (:meth:`scalars`): ``_per_obs``
    terms are nats per observation, ``_per_group`` terms nats per group.

    Attributes:
        loss: scalar to minimise (the negative training objective, KL weights and
            regulariser included).
        reconstruction_loss: ``(n_obs,)`` ``-log p(x_k | latents)``, nats per observation
            (a single-sample estimate).
        kl_local: name -> ``(n_obs,)`` KL terms of per-observation latents (nats per
            observation), e.g. ``kl_instance`` (group VAEs; with a mixture prior the whole
            local KL of UG-VAE eq. 11), ``kl_shared`` and ``kl_private`` (CPVAE eq. 3).
        kl_global: name -> ``(n_groups,)`` KL terms of per-group latents (nats per group),
            e.g. ``kl_group`` ``KL(q(u | x_G) || p(u))``; empty for CPVAE.
        group: ``(n_obs,) int64 in [0, n_groups)``; ``None`` when every observation is a
            group of its own (CPVAE).
        n_groups: groups ``G`` in the batch (``n_obs`` when ``group`` is ``None``).
        objective: the scalar training objective when it is not the ELBO (CPVAE's ``J``
            of CPVAE eq. 4 / 10, nats per observation), else ``None``.
        regulariser: scalar mutual-information estimate (nats), or ``None``.
        extra_metrics: other scalars to log, keyed by their logged name.
    """

    loss: Tensor
    reconstruction_loss: Tensor
    kl_local: dict[str, Tensor]
    kl_global: dict[str, Tensor] = field(default_factory=dict)
    group: Tensor | None = None
    n_groups: int | None = None
    objective: Tensor | None = None
    regulariser: Tensor | None = None
    extra_metrics: dict[str, Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_groups is None:
            self.n_groups = self.reconstruction_loss.shape[0]

    @property
    def n_obs(self) -> int:
        return self.reconstruction_loss.shape[0]

    def elbo_per_observation(self) -> Tensor:
        """``(n_obs,)`` ``log p(x_k | .) - sum of local KLs``: each observation's share of
        the ELBO without the group KL, nats."""
        kl = sum(self.kl_local.values(), torch.zeros_like(self.reconstruction_loss))
        return -self.reconstruction_loss - kl

    @property
    def elbo(self) -> Tensor:
        """``(n_groups,)`` the unweighted ELBO of each group in nats (ML-VAE eq. 3-5;
        for CPVAE, whose groups are single observations, CPVAE eq. 3's summand)."""
        per_obs = self.elbo_per_observation()
        if self.group is None:
            per_group = per_obs
        else:
            per_group = segment_sum(per_obs, self.group, int(self.n_groups))
        for kl in self.kl_global.values():
            per_group = per_group - kl
        return per_group

    def scalars(self) -> dict[str, Tensor]:
        """Batch means of every term, named with their units, for logging (tensors; no
        host sync): ``loss``, ``elbo_per_obs``, ``elbo_per_group`` (group VAEs),
        ``reconstruction_loss_per_obs``, ``<kl>_per_obs``, ``<kl>_per_group``,
        ``objective`` and ``mutual_information`` where present, and the extras.

        Computed without autograd from one sum per term (the batch's ELBO is the sum of
        its terms: no per-group reduction is needed for its mean), so logging adds a
        handful of operations to a training step and no graph.
        """
        with torch.no_grad():
            rec = self.reconstruction_loss.sum()
            local = {k: v.sum() for k, v in self.kl_local.items()}
            glob = {k: v.sum() for k, v in self.kl_global.items()}
            elbo = -rec
            for kl in (*local.values(), *glob.values()):
                elbo = elbo - kl
            n_obs, n_groups = max(self.n_obs, 1), max(int(self.n_groups), 1)
            out = {
                "loss": self.loss.detach(),
                "elbo_per_obs": elbo / n_obs,
                "reconstruction_loss_per_obs": rec / n_obs,
            }
            if self.group is not None:
                out["elbo_per_group"] = elbo / n_groups
            out.update({f"{k}_per_obs": v / n_obs for k, v in local.items()})
            out.update({f"{k}_per_group": v / n_groups for k, v in glob.items()})
        if self.objective is not None:
            out["objective"] = self.objective
        if self.regulariser is not None:
            out["mutual_information"] = self.regulariser
        return {**out, **self.extra_metrics}
