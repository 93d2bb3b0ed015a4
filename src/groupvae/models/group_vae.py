"""``GroupVAE``: the model users touch (fit, encode, translate, save, load)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from groupvae.config import ModelConfig, TrainConfig
from groupvae.data.batch import GroupBatch
from groupvae.data.grouped import GroupedDataset
from groupvae.data.grouping import split_by_label
from groupvae.data.sampler import group_loader
from groupvae.data.subsample import subsample_size
from groupvae.errors import ConfigError, DataError, GroupVAEError
from groupvae.models.base import BaseModel, Posterior, Schedule
from groupvae.models.common import map_batches
from groupvae.modules.backbones import BACKBONES
from groupvae.modules.group_vae import (
    DECODERS,
    GROUP_ENCODERS,
    INSTANCE_ENCODERS,
    PRIORS,
    GroupVAEModule,
)
from groupvae.modules.likelihoods import LIKELIHOODS
from groupvae.objectives.regularisers import REGULARISERS
from groupvae.registry import Registry

PARTS: dict[str, Registry[Any]] = {
    "backbone": BACKBONES,
    "group_encoder": GROUP_ENCODERS,
    "instance_encoder": INSTANCE_ENCODERS,
    "regulariser": REGULARISERS,
    "prior": PRIORS,
    "decoder": DECODERS,
    "likelihood": LIKELIHOODS,
}
"""The group-VAE parts: config field -> registry of its values."""


def _as_tensors(x: Any, group: Any) -> tuple[Tensor, Tensor]:
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if group is None:
        gt = torch.zeros(xt.shape[0], dtype=torch.int64)
    else:
        ids = np.unique(np.asarray(group), return_inverse=True)[1]
        gt = torch.as_tensor(ids, dtype=torch.int64)
    if not torch.isfinite(xt).all():
        raise DataError("x has NaN or infinite values")
    return xt, gt


class GroupVAE(BaseModel):
    """A group VAE: a config, its module, and what fitting it recorded.

    Create one with :func:`groupvae.models.create`, or restore one with
    :func:`groupvae.load`. The verbs (``fit``, ``save``, ``load``, ``history``) are those
    of every family (:class:`~groupvae.models.base.BaseModel`).

    Attributes:
        config: the :class:`ModelConfig`.
        module: the :class:`GroupVAEModule` (a ``torch.nn.Module``).
    """

    family = "group-vae"
    config_class = ModelConfig

    def _build_module(self, config: ModelConfig) -> GroupVAEModule:
        return GroupVAEModule(config)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"GroupVAE({c.model!r}: group_encoder={c.group_encoder}, instance_encoder="
            f"{c.instance_encoder}, regulariser={c.regulariser}, decoder={c.decoder}, "
            f"likelihood={c.likelihood}, group_dim={c.group_dim}, instance_dim={c.instance_dim})"
        )

    # ----------------------------------------------------------- training hooks
    def _prepare(self, train: GroupedDataset, config: TrainConfig) -> None:
        """Check that ``train`` fits the module, that every batch of an epoch has the
        groups a regulariser needs, and that one forward pass runs.

        Raises:
            DataError: naming what to fix (shape, value range, group sizes).
        """
        self._check_holdout(train, config)
        if train.transform is not None:  # recorded in the run: user units come back
            self.extra_metadata["feature_transform"] = train.transform.to_dict()
        if self.module.regulariser is not None and config.random_groups is None:
            self._check_regulariser_batches(train, config)

    def _check_holdout(self, data: GroupedDataset, config: TrainConfig) -> None:
        """Shape, value range and a first forward pass, as for the training data."""
        module = self.module
        self._check_obs_shape(data.obs_shape)
        module.likelihood.check_data(data.x)
        n = min(config.groups_per_batch, data.n_groups)
        batch = next(iter(group_loader(data, n, seed=0)))
        try:
            with torch.no_grad():
                module(batch, with_regulariser=False)
        except GroupVAEError:
            raise
        except RuntimeError as err:  # a shape mismatch deep in a network
            raise DataError(f"a first forward pass on the data failed: {err}") from None

    def _check_regulariser_batches(self, train: GroupedDataset, config: TrainConfig) -> None:
        """A regulariser pairs members of different groups: every batch needs two groups,
        each with two members (after ``max_group_size`` subsampling)."""
        name = self.config.regulariser
        sizes = np.bincount(train.group, minlength=train.n_groups)
        if config.max_group_size is not None:
            sizes = np.minimum(sizes, config.max_group_size)
        lone = np.flatnonzero(sizes < 2)
        if lone.size:
            capped = (
                ""
                if config.max_group_size is None
                else f" (max_group_size={config.max_group_size})"
            )
            example = np.asarray(train.group_ids)[lone[:1]].tolist()[0]  # the user's id
            raise DataError(
                f"{lone.size} group(s) of {train.name!r} have one member{capped}, e.g. group "
                f"{example!r}; the {name} regulariser needs at least two members per group: "
                "drop those groups, or --set regulariser=none"
            )
        if train.n_groups < 2 or config.groups_per_batch < 2:
            raise DataError(
                f"the {name} regulariser needs 2 groups in every batch; the data has "
                f"{train.n_groups} and groups_per_batch is {config.groups_per_batch}"
            )

    def _loaders(
        self, train: GroupedDataset, holdout: GroupedDataset | None, config: TrainConfig
    ) -> tuple[Any, Any]:
        # A regulariser needs two groups per batch: a last batch that would hold only one
        # joins the batch before it (every group is still trained on once per epoch).
        grouping = {"random_groups": config.random_groups, "balance_by": config.balance_by}
        loader = group_loader(
            train,
            config.groups_per_batch,
            max_group_size=subsample_size(train.group_sizes, config),
            seed=config.seed,
            min_groups_per_batch=2 if self.module.regulariser is not None else 1,
            pin_memory=config.pins_memory,
            **grouping,
        )
        val_loader = None
        if holdout is not None:
            val_loader = group_loader(
                holdout, config.groups_per_batch, shuffle=False, seed=config.seed,
                pin_memory=config.pins_memory, **grouping,
            )  # fmt: skip
        return loader, val_loader

    def eval_loader(self, data: GroupedDataset, batch_size: int = 1024) -> Any:
        """Whole groups of ``data`` in order, ``batch_size`` groups per batch."""
        return group_loader(data, batch_size, shuffle=False)

    def _schedules(self, config: TrainConfig) -> dict[str, Schedule]:
        """KL warm-up: the KL weight rises linearly to 1 over ``kl_warmup_epochs``."""
        if config.kl_warmup_epochs <= 0:
            return {}
        share = config.kl_warmup_epochs / config.epochs
        return {"kl_weight": lambda progress: min(1.0, progress / share)}

    def split(
        self,
        data: GroupedDataset,
        holdout: float,
        *,
        seed: int = 0,
        holdout_labels: list[int] | None = None,
    ) -> tuple[GroupedDataset, GroupedDataset]:
        """Split by group: a random ``holdout`` fraction of the groups, or with
        ``holdout_labels`` the groups of those classes (never seen in training, as the
        ML-VAE paper's unseen MS-Celeb identities)."""
        if holdout_labels:
            return split_by_label(data, holdout_labels)
        return data.split(holdout, seed=seed)

    # ----------------------------------------------------------------- inference
    def _batches(
        self, data: GroupedDataset | Any, group: Any, batch_groups: int
    ) -> Iterator[GroupBatch]:
        if isinstance(data, GroupedDataset):
            yield from group_loader(data, batch_groups, shuffle=False)
            return
        x, g = _as_tensors(data, group)
        n_groups = int(g.max()) + 1 if len(g) else 0
        index = torch.arange(len(g))
        yield GroupBatch(x, g, n_groups, index, torch.arange(n_groups))

    def _map(
        self, data: Any, group: Any, fn, batch_groups: int, per_group: bool
    ) -> list[np.ndarray]:
        """Apply ``fn(batch) -> tuple of tensors`` over batches; reassemble in data order."""

        def checked(batch: GroupBatch) -> tuple[Tensor, ...]:
            self.module.check_batch(batch)
            return fn(batch)

        return map_batches(
            self.module,
            self._batches(data, group, batch_groups),
            checked,
            lambda b: b.group_index if per_group else b.index,
        )

    def encode_groups(
        self, data: GroupedDataset | Any, group: Any = None, *, batch_groups: int = 1024
    ) -> Posterior:
        """The group posterior ``q(u | x_G)`` of every group.

        Args:
            data: a :class:`GroupedDataset`, or ``x: (n_obs, *obs_shape)``.
            group: with an array ``x``, ``(n_obs,)`` group ids (one group if ``None``).
            batch_groups: groups encoded per forward pass.

        Returns:
            :class:`Posterior` with ``(n_groups, group_dim)`` arrays, groups in sorted-id
            order. Without a group latent (``vae``), the product of Normals of the members'
            instance posteriors (ML-VAE section 4's VAE baseline).
        """
        mean, logvar = self._map(
            data,
            group,
            self.module.group_posterior,
            batch_groups,
            per_group=True,
        )
        return Posterior(mean, logvar)

    def encode_instances(
        self, data: GroupedDataset | Any, group: Any = None, *, batch_groups: int = 1024
    ) -> Posterior:
        """The instance posterior ``q(v_k | x_k[, u])`` of every observation.

        A conditional instance encoder is given the mean of its group's posterior.

        Returns:
            :class:`Posterior` with ``(n_obs, instance_dim)`` arrays, in data order.
        """

        def fn(b: GroupBatch) -> tuple[Tensor, Tensor]:
            inf = self.module.inference(b, sample=False)
            return inf.v_mean, inf.v_logvar

        mean, logvar = self._map(data, group, fn, batch_groups, per_group=False)
        return Posterior(mean, logvar)

    @torch.no_grad()
    def decode(self, u: Any, v: Any) -> np.ndarray:
        """Likelihood means of codes ``u: (n, group_dim)`` (or ``None``), ``v: (n, instance_dim)``.

        Returns:
            ``(n, *obs_shape)``: means (Gaussian) or pixel probabilities (Bernoulli).
        """
        self.module.eval()
        vt = self._decode_tensor(v, self.config.instance_dim, "v")
        if u is None and self.has_group_latent:
            raise DataError(f"{self.config.model} has a group latent: pass u, not None")
        ut = None if u is None else self._decode_tensor(u, self.config.group_dim, "u", len(vt))
        return self.module.likelihood.mean(self.module.decode(ut, vt)).numpy()

    def reconstruct(self, data: GroupedDataset | Any, group: Any = None) -> np.ndarray:
        """Decode every observation from its posterior means: ``(n_obs, *obs_shape)``."""
        if isinstance(data, GroupedDataset):
            group = data.group
        u, v = self._codes(data, group)
        return self.decode(u, v)

    def _codes(self, data: Any, group: Any) -> tuple[np.ndarray | None, np.ndarray]:
        """Posterior means ``(u of each observation's group or None, v)``."""
        if isinstance(data, GroupedDataset):
            group = data.group
        elif group is None:
            group = np.zeros(len(data), dtype=np.int64)
        v = self.encode_instances(data, group).mean
        if not self.has_group_latent:
            return None, v
        g = np.unique(np.asarray(group), return_inverse=True)[1]
        return self.encode_groups(data, group).mean[g], v

    def translate(self, data: GroupedDataset | Any, target_u: Any, group: Any = None) -> np.ndarray:
        """Unsupervised translation: decode each observation's instance code with a new group code.

        CxVAE section 5.1: keep ``v_k`` inferred from the source observation (with its
        own group's code for a conditional encoder), swap in the target group's code.

        Args:
            data: source observations (a :class:`GroupedDataset`, or ``x`` with ``group``).
            target_u: ``(n_obs, group_dim)`` the group code to give each observation,
                e.g. ``model.encode_groups(target).mean[target_of_each_obs]``.

        Returns:
            ``(n_obs, *obs_shape)`` translated likelihood means.

        Raises:
            ConfigError: for a model without a group latent.
        """
        if not self.has_group_latent:
            raise ConfigError(f"{self.config.model} has no group latent to translate")
        v = self.encode_instances(data, group).mean
        return self.decode(target_u, v)

    # ---------------------------------------------------------- evaluation interface
    # The public methods groupvae.evaluation calls (declared by the Protocols of
    # groupvae.evaluation.protocols), so that it needs no reach into ``self.module``.
    @property
    def has_group_latent(self) -> bool:
        """Whether the model has a group latent ``u`` (``False`` for ``vae``,
        ``beta-vae`` and ``gmvae``: their group code is the product of Normals of the
        members' instance posteriors, see :meth:`encode_groups`)."""
        return self.config.has_group_latent

    @property
    def has_mixture_prior(self) -> bool:
        """Whether the instance latent's prior is a Gaussian mixture (UG-VAE, GMVAE), so
        that its KL per dimension against ``N(0, I)`` means nothing."""
        return self.module.prior.has_clusters

    def group_log_marginal_likelihood(
        self, batch: GroupBatch, *, n_samples: int = 100
    ) -> np.ndarray:
        """Importance-sampled ``log p(x_G)`` of every group of one batch of whole groups
        (Burda et al. 2016, eq. 8, applied to a group, with the encoders as proposals;
        :meth:`GroupVAEModule.log_marginal_likelihood`), in eval mode on the model's
        device. The samples come from the global torch generator: seed it for a
        reproducible estimate (:func:`groupvae.evaluation.group_log_likelihoods` does).

        Args:
            batch: a :class:`GroupBatch` (e.g. from :func:`groupvae.data.group_loader`).
            n_samples: importance samples ``K`` per group (``K = 1`` is the ELBO).

        Returns:
            ``(batch.n_groups,)`` float64 log-densities in nats (a log-probability mass
            for Bernoulli pixels), in the batch's group order.

        Raises:
            DataError: if ``batch`` does not fit the model.
        """
        module = self.module
        module.eval()
        module.check_batch(batch)
        device = next(module.parameters()).device
        log_p = module.log_marginal_likelihood(batch.to(device), n_samples=n_samples)
        return log_p.double().cpu().numpy()

    def group_log_conditional_likelihood(
        self, batch: GroupBatch, held: np.ndarray, *, n_samples: int = 100
    ) -> np.ndarray:
        """Importance-sampled ``log p(x_k | x_{G without k})`` of the held-out member of
        every group of one batch of whole groups, on one set of samples for both terms
        of ``log p(x_G) - log p(x_{G without k})``
        (:meth:`GroupVAEModule.log_conditional_likelihood`), in eval mode on the model's
        device; the samples come from the global torch generator.

        Args:
            batch: a :class:`GroupBatch` of whole groups.
            held: ``(len(batch),)`` boolean, exactly one member of each group.
            n_samples: importance samples ``K`` per group.

        Returns:
            ``(batch.n_groups,)`` float64 log-densities of one observation each (nats).

        Raises:
            DataError: if ``batch`` does not fit the model, or ``held`` does not mark
                exactly one member of each group with another member beside it.
        """
        module = self.module
        module.eval()
        module.check_batch(batch)
        held = np.asarray(held)
        group = batch.group.cpu().numpy()
        ok = held.shape == group.shape and held.dtype == np.bool_
        if ok:
            n_held = np.bincount(group[held], minlength=batch.n_groups)
            ok = bool((n_held == 1).all() and (np.bincount(group) >= 2).all())
        if not ok:
            raise DataError(
                "held must mark exactly one member of every group of the batch, each group "
                "with another member"
            )
        device = next(module.parameters()).device
        log_p = module.log_conditional_likelihood(
            batch.to(device), torch.as_tensor(held, device=device), n_samples=n_samples
        )
        return log_p.double().cpu().numpy()


__all__ = ["PARTS", "GroupVAE", "Posterior"]
