"""What the evaluation functions call on a model, declared as ``typing.Protocol`` s.

:mod:`groupvae.evaluation` holds functions of arrays; where one needs a model it takes
any object with the few public methods below, not a concrete class and none of its
internals (its ``module``, its config). The user-facing models satisfy them:

=========================  ==========================================================
Protocol                   satisfied by
=========================  ==========================================================
:class:`GroupEncoder`      :class:`~groupvae.models.GroupVAE` (and test oracles)
:class:`GroupEncoderModel` :class:`~groupvae.models.GroupVAE`
:class:`LikelihoodModel`   :class:`~groupvae.models.GroupVAE`
:class:`LikelihoodModule`  ``GroupVAEModule`` (the torch module, for
                           :func:`~groupvae.evaluation.likelihood.activation_width`)
:class:`CPVAEModel`        :class:`~groupvae.models.CPVAE`
=========================  ==========================================================

All are ``runtime_checkable``: ``isinstance(model, GroupEncoderModel)`` tells whether the
methods and attributes exist (not their signatures).

Units: codes are in the latent's own units; log-densities are natural logarithms (nats)
of a density of the observations (of a probability mass for Bernoulli pixels). ``u`` is
a group code ``(n_groups, group_dim)``, ``v`` an instance code ``(n_obs, instance_dim)``;
CPVAE's ``z`` is shared ``(n, shared_dim)`` and ``t`` private ``(n, private_dim)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor, nn

    from groupvae.data.batch import GroupBatch
    from groupvae.data.grouped import GroupedDataset


@runtime_checkable
class DiagonalNormal(Protocol):
    """A diagonal Normal posterior (e.g. :class:`groupvae.models.Posterior`): ``mean`` and
    ``logvar`` arrays of one shape, ``(n, dim)``; ``logvar`` is the log-variance
    (``std = exp(logvar / 2)``)."""

    @property
    def mean(self) -> np.ndarray: ...

    @property
    def logvar(self) -> np.ndarray: ...


@runtime_checkable
class GroupEncoder(Protocol):
    """A model with a group and an instance encoder (every group VAE preset).

    Used by :mod:`~groupvae.evaluation.evidence`,
    :func:`~groupvae.evaluation.disentanglement.shapes_disentanglement` and the batch
    classifications of :mod:`~groupvae.evaluation.global_factors`.
    """

    def encode_groups(
        self, data: GroupedDataset | Any, group: Any = None, *, batch_groups: int = 1024
    ) -> DiagonalNormal:
        """The group posterior ``q(u | x_G)`` of every group of ``data`` (a
        ``GroupedDataset``, or ``x: (n_obs, *obs_shape)`` with ``group: (n_obs,)`` ids):
        ``(n_groups, group_dim)`` arrays in sorted-id order. Without a group latent, the
        product of Normals of the members' instance posteriors, ``(n_groups,
        instance_dim)``."""
        ...

    def encode_instances(
        self, data: GroupedDataset | Any, group: Any = None, *, batch_groups: int = 1024
    ) -> DiagonalNormal:
        """The instance posterior ``q(v_k | x_k[, u])`` of every observation:
        ``(n_obs, instance_dim)`` arrays in data order."""
        ...


@runtime_checkable
class GroupEncoderModel(GroupEncoder, Protocol):
    """A :class:`GroupEncoder` that also decodes, and says whether it has a group latent.

    Used by :func:`~groupvae.evaluation.exam_scores.exam_scores_metrics` and
    :func:`~groupvae.evaluation.global_factors.domain_transfer`.
    """

    @property
    def has_group_latent(self) -> bool:
        """Whether the model has a group latent ``u`` (``False`` for the VAE, beta-VAE and
        GMVAE, whose group code is the product of their members' posteriors)."""
        ...

    @property
    def preset(self) -> str:
        """The preset's name (e.g. ``"mlvae"``), for messages."""
        ...

    def decode(self, u: Any, v: Any) -> np.ndarray:
        """Likelihood means of ``u: (n, group_dim)`` (``None`` without a group latent) and
        ``v: (n, instance_dim)``: ``(n, *obs_shape)`` means (Gaussian) or pixel
        probabilities (Bernoulli)."""
        ...


@runtime_checkable
class LikelihoodModel(Protocol):
    """A model that estimates ``log p(x_G)`` of the groups of one batch by importance
    sampling. Used by :mod:`~groupvae.evaluation.likelihood`."""

    def group_log_marginal_likelihood(
        self, batch: GroupBatch, *, n_samples: int = 100
    ) -> np.ndarray:
        """Importance-sampled ``log p(x_G)`` of every group of ``batch`` (whole groups),
        with ``n_samples`` samples drawn from the global torch generator, in eval mode.

        Returns:
            ``(batch.n_groups,)`` float64 log-densities in nats (a log-probability mass
            for Bernoulli pixels): a stochastic lower bound that tightens as
            ``n_samples`` grows (``n_samples = 1`` is the ELBO).

        Raises:
            DataError: if ``batch`` does not fit the model.
        """
        ...


@runtime_checkable
class ConditionalLikelihoodModel(Protocol):
    """A model that estimates ``log p(x_k | x_{G without k})`` of one member of each
    group of a batch on common importance samples. Used by
    :func:`~groupvae.evaluation.likelihood.conditional_log_likelihoods`."""

    def group_log_conditional_likelihood(
        self, batch: GroupBatch, held: np.ndarray, *, n_samples: int = 100
    ) -> np.ndarray:
        """Importance-sampled ``log p(x_k | x_{G without k})`` of the member marked in
        ``held: (len(batch),)`` (one per group), samples from the global torch
        generator, in eval mode.

        Returns:
            ``(batch.n_groups,)`` float64 log-densities of one observation each (nats).

        Raises:
            DataError: if ``batch`` does not fit the model or ``held`` is not one member
                of each group.
        """
        ...


@runtime_checkable
class LikelihoodModule(Protocol):
    """The torch module of a group VAE (``GroupVAEModule``), as
    :func:`~groupvae.evaluation.likelihood.activation_width` and
    :func:`~groupvae.evaluation.likelihood.group_log_likelihoods` accept it in place of
    a :class:`LikelihoodModel`."""

    def eval(self) -> Any:
        """Put the module in evaluation mode."""
        ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        """The module's weights (their device is where batches go)."""
        ...

    def check_batch(self, batch: GroupBatch) -> None:
        """Raise ``DataError`` if ``batch`` does not fit the module."""
        ...

    def log_marginal_likelihood(self, batch: GroupBatch, *, n_samples: int = 100) -> Tensor:
        """Importance-sampled ``log p(x_G)``, ``(batch.n_groups,)`` nats, on the batch's
        device."""
        ...


@runtime_checkable
class CPVAEModel(Protocol):
    """A Cross-population VAE (:class:`~groupvae.models.CPVAE`). Used by
    :func:`~groupvae.evaluation.cpvae.cpvae_metrics`.

    ``data`` is a ``GroupedDataset`` with ``aux["population"]``, or ``x: (n,
    *obs_shape)`` with ``population: (n,)`` ints in ``[0, K)``.
    """

    def encode_shared(
        self, data: GroupedDataset | Any, population: Any = None, *, batch_size: int = 1024
    ) -> DiagonalNormal:
        """The shared posterior ``q_s(z | x)`` of every row: ``(n, shared_dim)`` arrays."""
        ...

    def encode_private(
        self, data: GroupedDataset | Any, population: Any = None, *, batch_size: int = 1024
    ) -> DiagonalNormal:
        """The private posterior ``q_k(t | x)`` of every row under its own population:
        ``(n, private_dim)`` arrays."""
        ...

    def log_marginal_likelihoods(
        self,
        data: GroupedDataset | Any,
        population: Any = None,
        *,
        n_samples: int = 100,
        seed: int = 0,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Importance-sampled ``log p(x | theta_k, theta_s)`` of every row under every
        population (CPVAE eq. 7-8), seeded: ``(n, K)`` log-densities in nats."""
        ...

    def reconstruct(
        self,
        data: GroupedDataset | Any,
        population: Any = None,
        *,
        part: Any = "full",
        ignore: Any = "prior-mean",
        decoder_population: int | np.ndarray | None = None,
        encoder_population: int | np.ndarray | None = None,
        batch_size: int = 1024,
    ) -> np.ndarray:
        """Decoded posterior means, ``(n, *obs_shape)``; ``part="private"`` ignores the
        shared latent, ``part="shared"`` the private one (CPVAE Fig. 2)."""
        ...


@runtime_checkable
class ElboModel(Protocol):
    """A model of any family with a holdout ELBO estimate. Used by
    :func:`~groupvae.evaluation.metric_sets.holdout_elbo`."""

    def get_elbo(self, data: GroupedDataset, n_samples: int | None = None) -> dict[str, Any]:
        """``elbo_per_observation`` (nats) on ``data``, ``elbo_per_group`` where groups
        have a latent of their own, ``n_samples`` and the ``estimator`` label."""
        ...


@runtime_checkable
class RunModel(GroupEncoderModel, LikelihoodModel, ElboModel, Protocol):
    """A group VAE as ``groupvae evaluate`` scores it
    (:data:`~groupvae.evaluation.metric_sets.FAMILY_METRICS`): the encoders, the
    likelihood, the ELBO, the prior's kind and the settings it trained with."""

    @property
    def has_mixture_prior(self) -> bool:
        """Whether the instance latent's prior is a Gaussian mixture (UG-VAE, GMVAE)."""
        ...

    @property
    def train_config(self) -> Any:
        """The :class:`~groupvae.config.TrainConfig` of the last fit, or ``None``
        (``random_groups``: the size of the random groups it trained on)."""
        ...


@runtime_checkable
class CPVAERunModel(CPVAEModel, ElboModel, Protocol):
    """A CPVAE as ``groupvae evaluate`` scores it."""


__all__ = [
    "CPVAEModel",
    "ConditionalLikelihoodModel",
    "CPVAERunModel",
    "ElboModel",
    "RunModel",
    "DiagonalNormal",
    "GroupEncoder",
    "GroupEncoderModel",
    "LikelihoodModel",
    "LikelihoodModule",
]
