"""The group VAE module: the mathematics of every model in the family.

A model is a choice of parts (see ``ModelConfig``): a group encoder ``q(u | x_G)`` (or
UG-VAE's ``q(u | x_G, v_G)``), an instance encoder ``q(v_k | x_k[, u])``, a decoder and
likelihood ``p(x_k | u, v_k)``, a standard Normal prior on ``u``, a prior ``p(v | u)``
(standard Normal, or a Gaussian mixture), and an optional adversarial regulariser.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from groupvae.config import ModelConfig
from groupvae.errors import ConfigError, DataError
from groupvae.models.backbones import BACKBONES
from groupvae.models.decoders import DECODERS
from groupvae.models.group_encoders import GROUP_ENCODERS
from groupvae.models.instance_encoders import INSTANCE_ENCODERS
from groupvae.models.likelihoods import LIKELIHOODS
from groupvae.models.priors import PRIORS
from groupvae.nn.segment import product_of_normals
from groupvae.objectives.elbo import group_elbo
from groupvae.objectives.kl import kl_normal_standard, rsample_normal
from groupvae.objectives.loss_output import LossOutput
from groupvae.objectives.regularisers import REGULARISERS


class GroupVAEModule(nn.Module):
    """``inference`` / ``generative`` / ``loss`` for a group VAE built from ``config``.

    Raises:
        UnknownNameError: for an unknown part name.
        ConfigError: for parts that do not fit together.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        obs_dim = math.prod(config.obs_shape)
        # Shared feature extractor of both encoders (flatten for MLPs; a CNN for conv).
        self.trunk, feat_dim = BACKBONES[config.backbone](
            config.obs_shape, config.hidden, config.channels
        )
        group_cls = GROUP_ENCODERS[config.group_encoder]
        instance_cls = INSTANCE_ENCODERS[config.instance_encoder]
        if config.instance_encoder == "conditional" and group_cls is None:
            raise ConfigError("instance_encoder='conditional' needs a group encoder")
        self.group_encoder = None if group_cls is None else group_cls(config, feat_dim)
        self.instance_encoder = instance_cls(config, feat_dim)
        self.prior = PRIORS[config.prior](config)
        if self.uses_clusters and not self.prior.has_clusters:
            raise ConfigError(
                f"group_encoder={config.group_encoder!r} reads q(d | v) and needs prior='mixture'"
            )
        if self.uses_clusters and config.instance_encoder == "conditional":
            raise ConfigError(
                f"group_encoder={config.group_encoder!r} reads the instance latent, so the "
                "instance encoder cannot also read the group latent; use 'independent'"
            )
        self.decoder = DECODERS[config.decoder](config)
        self.likelihood = LIKELIHOODS[config.likelihood](config)
        reg_cls = REGULARISERS[config.regulariser]
        self.regulariser = None if reg_cls is None else reg_cls(config, obs_dim)

    @property
    def has_group_latent(self) -> bool:
        return self.group_encoder is not None

    @property
    def uses_clusters(self) -> bool:
        """Whether the group encoder reads ``[h(x_k), q(d_k | v_k)]`` (UG-VAE eq. 8)."""
        return bool(getattr(self.group_encoder, "uses_clusters", False))

    def model_parameters(self) -> list[nn.Parameter]:
        """Parameters of the encoders, decoder and likelihood (not of the critic)."""
        critic = set() if self.regulariser is None else set(self.regulariser.parameters())
        return [p for p in self.parameters() if p not in critic]

    def check_input(self, x: Tensor, group: Tensor, n_groups: int) -> None:
        """Raise :class:`DataError` if ``x`` or ``group`` do not fit this model."""
        if tuple(x.shape[1:]) != self.config.obs_shape:
            raise DataError(
                f"x must have shape (n_obs, {', '.join(map(str, self.config.obs_shape))}) "
                f"for this model, got {tuple(x.shape)}"
            )
        if group.shape != (x.shape[0],):
            raise DataError(f"group must have shape ({x.shape[0]},), got {tuple(group.shape)}")
        if x.shape[0] and (int(group.min()) < 0 or int(group.max()) >= n_groups):
            raise DataError(f"group ids must lie in [0, {n_groups})")

    def inference(
        self, x: Tensor, group: Tensor, n_groups: int, *, sample: bool = True
    ) -> dict[str, Tensor | None]:
        """Encode a flat batch of groups.

        The group latent is inferred first and may condition the instance encoder
        (CxVAE); with UG-VAE's ``poe-clusters`` group encoder the instance latent comes
        first and the group posterior reads ``[h(x_k), q(d_k | v_k)]`` (eq. 5-9).

        Args:
            x: ``(n_obs, *obs_shape)``.
            group: ``(n_obs,) int64 in [0, n_groups)``.
            n_groups: groups in the batch ``G``.
            sample: draw reparameterised samples (training); otherwise use the means.

        Returns:
            ``u_mean, u_logvar: (G, group_dim)`` (``None`` without a group latent);
            ``u: (n_obs, group_dim)`` each observation's sample of its group's posterior
            (its own, ML-VAE Algorithm 1 step 9, or the group's, UG-VAE; see
            ``config.group_sample``); ``v_mean, v_logvar, v: (n_obs, instance_dim)``;
            ``cluster_log_probs: (n_obs, K)`` ``log q(d | v)`` with a mixture prior, else
            ``None``.
        """
        xf = self.trunk(x)
        out: dict[str, Tensor | None] = dict.fromkeys(("u_mean", "u_logvar", "u"))
        if self.group_encoder is not None and not self.uses_clusters:
            out.update(self._infer_group(xf, group, n_groups, sample))
        v_mean, v_logvar = self.instance_encoder(xf, out["u"])
        v = rsample_normal(v_mean, v_logvar) if sample else v_mean
        out.update(v_mean=v_mean, v_logvar=v_logvar, v=v, cluster_log_probs=None)
        if self.prior.has_clusters:
            out["cluster_log_probs"] = self.prior.cluster_log_probs(v)
        if self.uses_clusters:
            context = torch.cat([xf, out["cluster_log_probs"].exp()], -1)
            out.update(self._infer_group(context, group, n_groups, sample))
        return out

    def _infer_group(
        self, features: Tensor, group: Tensor, n_groups: int, sample: bool
    ) -> dict[str, Tensor]:
        """``u_mean, u_logvar: (G, group_dim)`` and ``u: (n_obs, group_dim)``, a sample
        per member or one per group (``config.group_sample``), or the mean."""
        assert self.group_encoder is not None
        u_mean, u_logvar = self.group_encoder(features, group, n_groups)
        if not sample:
            u = u_mean[group]
        elif self.config.group_sample == "group":
            u = rsample_normal(u_mean, u_logvar)[group]
        else:
            u = rsample_normal(u_mean[group], u_logvar[group])
        return {"u_mean": u_mean, "u_logvar": u_logvar, "u": u}

    def generative(self, u: Tensor | None, v: Tensor) -> Tensor:
        """Decode ``u: (n_obs, group_dim)`` (or ``None``) and ``v: (n_obs, instance_dim)``
        into likelihood parameters ``(n_obs, *obs_shape)`` (means, or logits for Bernoulli)."""
        z = v if u is None else torch.cat([u, v], -1)
        return self.decoder(z)

    def loss(
        self,
        x: Tensor,
        group: Tensor,
        n_groups: int,
        inference: dict[str, Any],
        params: Tensor,
        *,
        kl_weight: float = 1.0,
        with_regulariser: bool = True,
    ) -> LossOutput:
        """The group ELBO (ML-VAE eq. 3-5; UG-VAE eq. 10-11 with a mixture prior) and, if
        any, the weighted regulariser."""
        log_lik = self.likelihood.log_prob(x, params)
        kl_v, kl_clusters = self.prior.kl(
            inference["v_mean"],
            inference["v_logvar"],
            inference["u"],
            inference["cluster_log_probs"],
        )
        if inference["u_mean"] is None:
            kl_u = x.new_zeros(n_groups)
        else:
            kl_u = kl_normal_standard(inference["u_mean"], inference["u_logvar"])
        reg = None
        if with_regulariser and self.regulariser is not None:
            reg = self.regulariser(x.flatten(1), inference["v"], group, n_groups)
        out = group_elbo(
            log_lik,
            kl_v,
            kl_u,
            group,
            kl_weight=kl_weight * self.config.beta,
            regulariser=reg,
            regulariser_weight=self.config.regulariser_weight,
        )
        if kl_clusters is not None:
            out.extra_metrics["kl_clusters"] = kl_clusters.mean()
        return out

    def forward(
        self, x: Tensor, group: Tensor, n_groups: int, *, kl_weight: float = 1.0
    ) -> LossOutput:
        """``loss(inference(...), generative(...))`` for one batch."""
        inf = self.inference(x, group, n_groups)
        params = self.generative(inf["u"], inf["v"])
        return self.loss(x, group, n_groups, inf, params, kl_weight=kl_weight)

    def critic_loss(self, x: Tensor, group: Tensor, n_groups: int) -> Tensor:
        """The critic's loss ``-I_hat`` on detached instance samples (it maximises I_hat)."""
        assert self.regulariser is not None
        with torch.no_grad():
            v = self.inference(x, group, n_groups)["v"]
        return -self.regulariser(x.flatten(1), v, group, n_groups)

    def group_posterior(self, x: Tensor, group: Tensor, n_groups: int) -> tuple[Tensor, Tensor]:
        """``(mean, logvar)`` of ``q(u | x_G)``, each ``(n_groups, d)``.

        Without a group latent (the VAE), the instance posteriors of each group's members
        are accumulated by a product of Normals, as the ML-VAE paper does for its VAE
        baseline (section 4).
        """
        inf = self.inference(x, group, n_groups, sample=False)
        if inf["u_mean"] is not None:
            return inf["u_mean"], inf["u_logvar"]
        return product_of_normals(inf["v_mean"], inf["v_logvar"], group, n_groups)
