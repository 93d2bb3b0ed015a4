"""The group VAE module: the mathematics of every model in the family.

A model is a choice of parts (see ``ModelConfig``): a group encoder ``q(u | x_G)`` (or
UG-VAE's ``q(u | x_G, v_G)``), an instance encoder ``q(v_k | x_k[, u])``, a decoder and
likelihood ``p(x_k | u, v_k)``, a standard Normal prior on ``u``, a prior ``p(v | u)``
(standard Normal, or a Gaussian mixture), and an optional adversarial regulariser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from groupvae.config import ModelConfig
from groupvae.data.batch import GroupBatch
from groupvae.errors import ConfigError, DataError
from groupvae.modules.backbones import BACKBONES
from groupvae.modules.base import BaseModule
from groupvae.modules.group_vae.decoders import DECODERS
from groupvae.modules.group_vae.group_encoders import GROUP_ENCODERS, READS_CLUSTERS
from groupvae.modules.group_vae.instance_encoders import INSTANCE_ENCODERS
from groupvae.modules.group_vae.priors import PRIORS
from groupvae.modules.likelihoods import LIKELIHOODS
from groupvae.nn.segment import check_group_sizes, product_of_normals, segment_sum
from groupvae.objectives.elbo import group_elbo
from groupvae.objectives.kl import (
    kl_normal_standard,
    normal_log_prob,
    rsample_normal,
    standard_normal_log_prob,
)
from groupvae.objectives.loss_output import LossOutput
from groupvae.objectives.regularisers import REGULARISERS, require_pairs


@dataclass
class GroupInference:
    """What :meth:`GroupVAEModule.inference` infers for a flat batch of ``G`` groups.

    Attributes:
        u_mean, u_logvar: ``(G, group_dim)`` the group posterior ``q(u | x_G)`` (``None``
            without a group latent).
        u: ``(n_obs, group_dim)`` each observation's sample of its group's posterior (its
            own, ML-VAE Algorithm 1 step 9, or the group's, UG-VAE; ``config.group_sample``),
            or the mean; ``None`` without a group latent.
        v_mean, v_logvar, v: ``(n_obs, instance_dim)`` the instance posterior and its sample.
        cluster_log_probs: ``(n_obs, K)`` ``log q(d | v)`` with a mixture prior, else ``None``.
        u_group: ``(G, group_dim)`` the one sample per group (``group_sample="group"``)
            or the means (no sampling); ``None`` otherwise.
    """

    u_mean: Tensor | None
    u_logvar: Tensor | None
    u: Tensor | None
    v_mean: Tensor
    v_logvar: Tensor
    v: Tensor
    cluster_log_probs: Tensor | None = None
    u_group: Tensor | None = None


class GroupVAEModule(BaseModule):
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
        """Whether the model has a group latent (:attr:`ModelConfig.has_group_latent`)."""
        return self.config.has_group_latent

    @property
    def uses_clusters(self) -> bool:
        """Whether the group encoder reads ``[h(x_k), q(d_k | v_k)]`` (UG-VAE eq. 8), so
        that the instance latent is inferred first (the encoder's declared ``reads``)."""
        return self.group_encoder is not None and self.group_encoder.reads == READS_CLUSTERS

    def critic_parameters(self) -> list[nn.Parameter]:
        """The regulariser's critic (none without a regulariser)."""
        return [] if self.regulariser is None else list(self.regulariser.parameters())

    def check_batch(self, batch: GroupBatch) -> None:
        """Raise :class:`DataError` if ``batch.x`` or ``batch.group`` do not fit this model."""
        x, group, n_groups = batch.x, batch.group, batch.n_groups
        if tuple(x.shape[1:]) != self.config.obs_shape:
            raise DataError(
                f"x must have shape (n_obs, {', '.join(map(str, self.config.obs_shape))}) "
                f"for this model, got {tuple(x.shape)}"
            )
        if group.shape != (x.shape[0],):
            raise DataError(f"group must have shape ({x.shape[0]},), got {tuple(group.shape)}")
        if x.shape[0] and (int(group.min()) < 0 or int(group.max()) >= n_groups):
            raise DataError(f"group ids must lie in [0, {n_groups})")

    def check_step_batch(self, batch: GroupBatch, *, with_regulariser: bool = True) -> None:
        """Check the group sizes a training or validation step needs, once, on the host
        (the step then runs under :func:`~groupvae.nn.segment.trusted_groups`).

        Raises:
            DataError: for an empty group, or (with the regulariser) fewer than two
                groups or a group of fewer than two members.
        """
        check_group_sizes(batch.group, batch.n_groups)
        if with_regulariser and self.regulariser is not None:
            require_pairs(batch.group, batch.n_groups, self.config.regulariser)

    def inference(self, batch: GroupBatch, *, sample: bool = True) -> GroupInference:
        """Encode a flat batch of groups (``batch.x: (n_obs, *obs_shape)``,
        ``batch.group: (n_obs,) int64 in [0, G)``); the encoders read
        ``likelihood.encoder_input(x)`` (``x`` itself, or ``log(1 + counts)``: all of a
        negative binomial's features, a mixed table's count columns).

        The group latent is inferred first and may condition the instance encoder
        (CxVAE); with UG-VAE's ``poe-clusters`` group encoder the instance latent comes
        first and the group posterior reads ``[h(x_k), q(d_k | v_k)]`` (UG-VAE eq. 5-9).

        Args:
            batch: the groups.
            sample: draw reparameterised samples (training); otherwise use the means.
        """
        group_sample = self.config.group_sample if sample else None
        h = self.trunk(self.likelihood.encoder_input(batch.x))
        return self._infer(h, batch.group, batch.n_groups, group_sample)

    def _infer(
        self,
        h: Tensor,
        group: Tensor,
        n_groups: int,
        group_sample: str | None,
        context: Tensor | None = None,
    ) -> GroupInference:
        """The model's inference order on trunk features ``h: (n_obs, f)``.

        ``group_sample``: ``"observation"`` (a ``u`` sample per member), ``"group"`` (one
        per group, shared by its members) or ``None`` (the means, no sampling).
        ``context``: ``(n_obs,)`` boolean, the members the group posterior reads
        (``q(u | x_context)``; every group needs one); ``None``: all of them. Every
        member, in the context or not, gets its instance posterior given that ``u``.
        """
        group_part: tuple[Tensor | None, ...] = (None, None, None, None)
        if self.group_encoder is not None and not self.uses_clusters:
            group_part = self._infer_group(h, group, n_groups, group_sample, context)
        v_mean, v_logvar = self.instance_encoder(h, group_part[2])
        v = v_mean if group_sample is None else rsample_normal(v_mean, v_logvar)
        clusters = self.prior.cluster_log_probs(v) if self.prior.has_clusters else None
        if self.uses_clusters:
            features = torch.cat([h, clusters.exp()], -1)
            group_part = self._infer_group(features, group, n_groups, group_sample, context)
        u_mean, u_logvar, u, u_group = group_part
        return GroupInference(u_mean, u_logvar, u, v_mean, v_logvar, v, clusters, u_group)

    def _infer_group(
        self,
        features: Tensor,
        group: Tensor,
        n_groups: int,
        group_sample: str | None,
        context: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """``u_mean, u_logvar: (G, group_dim)``, ``u: (n_obs, group_dim)`` and the
        per-group sample ``(G, group_dim)`` (``None`` with a sample per member); the
        posterior reads the ``context`` members only (all if ``None``)."""
        assert self.group_encoder is not None
        if context is None:
            u_mean, u_logvar = self.group_encoder(features, group, n_groups)
        else:
            u_mean, u_logvar = self.group_encoder(features[context], group[context], n_groups)
        if group_sample is None:
            return u_mean, u_logvar, u_mean[group], u_mean
        if group_sample == "group":
            u_group = rsample_normal(u_mean, u_logvar)
            return u_mean, u_logvar, u_group[group], u_group
        return u_mean, u_logvar, rsample_normal(u_mean[group], u_logvar[group]), None

    def generative(self, inference: GroupInference, batch: GroupBatch | None = None) -> Tensor:
        """Likelihood parameters ``(n_obs, *obs_shape)`` (means, or logits for Bernoulli)
        of the inferred ``u`` and ``v``."""
        return self.decode(inference.u, inference.v)

    def decode(self, u: Tensor | None, v: Tensor) -> Tensor:
        """Decode ``u: (n_obs, group_dim)`` (or ``None``) and ``v: (n_obs, instance_dim)``
        into likelihood parameters ``(n_obs, *obs_shape)``."""
        z = v if u is None else torch.cat([u, v], -1)
        return self.decoder(z)

    def loss(
        self,
        batch: GroupBatch,
        inference: GroupInference,
        params: Tensor,
        *,
        with_regulariser: bool = True,
        kl_weight: float = 1.0,
    ) -> LossOutput:
        """The group ELBO (ML-VAE eq. 3-5; UG-VAE eq. 10-11 with a mixture prior) and, if
        any, the weighted regulariser (CxVAE eq. 3; Nemeth 2020's pairwise one).

        Args:
            kl_weight: multiplies ``beta`` on the KL terms of the loss (KL warm-up).
            with_regulariser: add the regulariser (training); off for validation.
        """
        x, group, n_groups = batch.x, batch.group, batch.n_groups
        log_lik = self.likelihood.log_prob(x, params)
        kl_v, kl_clusters = self.prior.kl(
            inference.v_mean, inference.v_logvar, inference.u, inference.cluster_log_probs
        )
        if inference.u_mean is None:
            kl_u = x.new_zeros(n_groups)
        else:
            kl_u = kl_normal_standard(inference.u_mean, inference.u_logvar)
        reg = None
        if with_regulariser and self.regulariser is not None:
            reg = self.regulariser(x.flatten(1), inference.v, group, n_groups)
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
            out.extra_metrics["kl_clusters_per_obs"] = kl_clusters.mean()
        return out

    def critic_loss(
        self, batch: GroupBatch, inference: GroupInference | None = None
    ) -> Tensor | None:
        """The critic's loss ``-I_hat`` on detached instance samples (it maximises I_hat).

        The samples are those of ``inference`` (the training plan passes the step's one
        inference, which the model's update then reuses), else of a new inference.
        """
        if self.regulariser is None:
            return None
        if inference is None:
            with torch.no_grad():
                inference = self.inference(batch)
        v = inference.v.detach()
        return -self.regulariser(batch.x.flatten(1), v, batch.group, batch.n_groups)

    def group_posterior(self, batch: GroupBatch) -> tuple[Tensor, Tensor]:
        """``(mean, logvar)`` of ``q(u | x_G)``, each ``(n_groups, d)``.

        Without a group latent (the VAE), the instance posteriors of each group's members
        are accumulated by a product of Normals, as the ML-VAE paper does for its VAE
        baseline (section 4).
        """
        inf = self.inference(batch, sample=False)
        if inf.u_mean is not None:
            return inf.u_mean, inf.u_logvar
        return product_of_normals(inf.v_mean, inf.v_logvar, batch.group, batch.n_groups)

    @torch.no_grad()
    def log_marginal_likelihood(self, batch: GroupBatch, *, n_samples: int = 100) -> Tensor:
        """Importance-sampled ``log p(x_G)`` of every group of ``batch``, ``(G,)`` nats.

        With the encoders as proposals (Burda et al. 2016, eq. 8, applied to a group):
        ``log p(x_G) ~= log 1/S sum_s [p(u_s) prod_k p(x_k | u_s, v_ks) p(v_ks | u_s)] /
        [q(u_s | .) prod_k q(v_ks | .)]``, one ``u_s`` per group and sample, in the
        model's own inference order (:meth:`_infer`). Without a group latent the
        observations are independent: ``log p(x_G) = sum_k log p(x_k)``, each estimated
        the same way. A stochastic lower bound that tightens with ``S`` (S = 1: the
        ELBO); CPVAE eq. 7-8 for one population. Memory grows as ``S * n_obs``.

        Returns:
            ``(n_groups,)`` log-densities (a log-probability mass for Bernoulli data).
        """
        s, n_obs, n_groups = n_samples, batch.x.shape[0], batch.n_groups
        x = batch.x
        h = self.trunk(self.likelihood.encoder_input(x))
        x_rep = x.unsqueeze(0).expand(s, *x.shape).reshape(s * n_obs, *x.shape[1:])
        h_rep = h.unsqueeze(0).expand(s, *h.shape).reshape(s * n_obs, -1)
        offset = n_groups * torch.arange(s, device=x.device).unsqueeze(1)
        group_rep = (batch.group + offset).view(-1)
        inf = self._infer(h_rep, group_rep, s * n_groups, "group")
        log_w_obs = (
            self.likelihood.log_prob(x_rep, self.generative(inf))
            + self.prior.log_prob(inf.v, inf.u)
            - normal_log_prob(inf.v, inf.v_mean, inf.v_logvar)
        ).view(s, n_obs)
        log_mean = -math.log(s)
        if inf.u_mean is None:  # independent observations: estimate each, then sum
            per_obs = torch.logsumexp(log_w_obs, dim=0) + log_mean
            return segment_sum(per_obs, batch.group, n_groups)
        u_group = inf.u_group
        log_w_group = (
            standard_normal_log_prob(u_group) - normal_log_prob(u_group, inf.u_mean, inf.u_logvar)
        ).view(s, n_groups)
        per_group = segment_sum(log_w_obs.T, batch.group, n_groups).T + log_w_group
        return torch.logsumexp(per_group, dim=0) + log_mean

    @torch.no_grad()
    def log_conditional_likelihood(
        self, batch: GroupBatch, held: Tensor, *, n_samples: int = 100
    ) -> Tensor:
        """Importance-sampled ``log p(x_k | x_{G without k})`` of the held-out member
        ``k`` of every group of ``batch``, ``(G,)`` nats.

        One set of samples serves both terms of ``log p(x_G) - log p(x_{G without k})``:
        ``u_s ~ q(u | x_{G without k})`` (the group posterior reads the other members
        only), ``v_js`` from every member's instance posterior given ``u_s``, ``k``'s
        included. With ``w_s = p(u_s) prod_{j != k} p(x_j, v_js | u_s) / [q(u_s | .)
        prod_{j != k} q(v_js | .)]`` (the weights of :meth:`log_marginal_likelihood` for
        ``x_{G without k}``) and ``r_s = p(x_k, v_ks | u_s) / q(v_ks | .)``,

        ``log p(x_k | x_{G without k}) ~= log sum_s w_s r_s - log sum_s w_s``,

        self-normalised importance sampling of ``E[p(x_k | u) | x_{G without k}]``: the
        numerator and the denominator are importance estimates of ``p(x_G)`` and
        ``p(x_{G without k})`` on common samples, so most of their noise cancels (two
        independent estimates, subtracted, are far noisier). Consistent as ``S`` grows;
        neither a lower nor an upper bound. Without a group latent the members are
        independent and this is the estimate of ``log p(x_k)``.

        Args:
            held: ``(n_obs,)`` boolean, exactly one member of each group, every group
                with another member (not checked here).
        """
        s, n_obs, n_groups = n_samples, batch.x.shape[0], batch.n_groups
        x, group = batch.x, batch.group
        h = self.trunk(x)
        x_rep = x.unsqueeze(0).expand(s, *x.shape).reshape(s * n_obs, *x.shape[1:])
        h_rep = h.unsqueeze(0).expand(s, *h.shape).reshape(s * n_obs, -1)
        offset = n_groups * torch.arange(s, device=x.device).unsqueeze(1)
        group_rep = (group + offset).view(-1)
        context = (~held).repeat(s)
        inf = self._infer(h_rep, group_rep, s * n_groups, "group", context=context)
        log_w_obs = (
            self.likelihood.log_prob(x_rep, self.generative(inf))
            + self.prior.log_prob(inf.v, inf.u)
            - normal_log_prob(inf.v, inf.v_mean, inf.v_logvar)
        ).view(s, n_obs)
        row_of = torch.zeros(n_groups, dtype=torch.long, device=x.device)
        row_of[group[held]] = torch.nonzero(held).squeeze(1)
        log_r = log_w_obs[:, row_of]  # (s, G): the held members' weights
        if inf.u_mean is None:  # independent observations: log p(x_k)
            return torch.logsumexp(log_r, dim=0) - math.log(s)
        u_group = inf.u_group
        log_w_group = (
            standard_normal_log_prob(u_group) - normal_log_prob(u_group, inf.u_mean, inf.u_logvar)
        ).view(s, n_groups)
        others = torch.where(held, torch.zeros_like(log_w_obs), log_w_obs)
        log_w = segment_sum(others.T, group, n_groups).T + log_w_group  # (s, G)
        return torch.logsumexp(log_w + log_r, dim=0) - torch.logsumexp(log_w, dim=0)
