"""``GroupVAE``: the model users touch (fit, encode, translate, save, load)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from groupvae.checkpoint import load_model, save_model
from groupvae.config import ModelConfig, TrainConfig, replace
from groupvae.data.batch import GroupBatch
from groupvae.data.grouped import GroupedDataset
from groupvae.data.sampler import group_loader
from groupvae.errors import CheckpointError, ConfigError, DataError
from groupvae.models.common import map_batches, seeded_module
from groupvae.models.module import GroupVAEModule
from groupvae.models.presets import PRESET_TRAINING


class Posterior(NamedTuple):
    """A diagonal Normal posterior: ``mean`` and ``logvar`` arrays of equal shape."""

    mean: np.ndarray
    logvar: np.ndarray


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


class GroupVAE:
    """A group VAE: a config, its module, and what fitting it recorded.

    Create one with :func:`groupvae.models.create`, or restore one with
    :func:`groupvae.load`.

    Attributes:
        config: the :class:`ModelConfig`.
        module: the :class:`GroupVAEModule` (a ``torch.nn.Module``).
        history: per-epoch ELBO terms of the last :meth:`fit` (``None`` before).
        train_config: the :class:`TrainConfig` of the last fit.
        seed: the seed of the weight initialisation.
    """

    def __init__(self, config: ModelConfig, *, seed: int = 0) -> None:
        self.config = config
        self.seed = seed
        self.module = seeded_module(lambda: GroupVAEModule(config), seed)
        self.history: pd.DataFrame | None = None
        self.train_config: TrainConfig | None = None
        self.extra_metadata: dict[str, Any] = {}

    def __repr__(self) -> str:
        c = self.config
        return (
            f"GroupVAE({c.model!r}: group_encoder={c.group_encoder}, instance_encoder="
            f"{c.instance_encoder}, regulariser={c.regulariser}, decoder={c.decoder}, "
            f"likelihood={c.likelihood}, group_dim={c.group_dim}, instance_dim={c.instance_dim})"
        )

    # ----------------------------------------------------------------- training
    def fit(
        self,
        data: GroupedDataset,
        *,
        holdout: GroupedDataset | None = None,
        log_dir: str | Path | None = None,
        callbacks: list[Any] | None = None,
        **train_options: Any,
    ) -> GroupVAE:
        """Train on ``data`` with Lightning.

        Args:
            data: training groups.
            holdout: groups on which ``val_*`` ELBO terms are logged each epoch.
            log_dir: folder for Lightning's CSV log.
            callbacks: extra Lightning callbacks.
            **train_options: :class:`TrainConfig` fields (``epochs``, ``lr``,
                ``groups_per_batch``, ``seed``, ``accelerator``, ...). They override the
                preset's own settings (``PRESET_TRAINING``: UG-VAE, GMVAE and beta-VAE
                train on random groups of 128 with lr 5e-3 for 50 epochs).

        Returns:
            ``self``; ``self.history`` holds one row per epoch.

        Raises:
            DataError: if the data does not fit the model.
            NonFiniteLossError: if the loss becomes NaN or infinite.
        """
        from groupvae.training.fit import fit_module

        preset = PRESET_TRAINING.get(self.config.model, {})
        config = replace(TrainConfig(), **{**preset, **train_options})
        if not isinstance(data, GroupedDataset):
            raise DataError("fit needs a GroupedDataset (see groupvae.data.GroupedDataset)")
        self.history = fit_module(
            self.module, data, config, holdout=holdout, log_dir=log_dir, callbacks=callbacks
        )
        self.train_config = config
        return self

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
            self.module.check_input(batch.x, batch.group, batch.n_groups)
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
            lambda b: self.module.group_posterior(b.x, b.group, b.n_groups),
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
            inf = self.module.inference(b.x, b.group, b.n_groups, sample=False)
            return inf["v_mean"], inf["v_logvar"]

        mean, logvar = self._map(data, group, fn, batch_groups, per_group=False)
        return Posterior(mean, logvar)

    @torch.no_grad()
    def decode(self, u: Any, v: Any) -> np.ndarray:
        """Likelihood means of codes ``u: (n, group_dim)`` (or ``None``), ``v: (n, instance_dim)``.

        Returns:
            ``(n, *obs_shape)``: means (Gaussian) or pixel probabilities (Bernoulli).
        """
        self.module.eval()
        ut = None if u is None else torch.as_tensor(np.asarray(u), dtype=torch.float32)
        vt = torch.as_tensor(np.asarray(v), dtype=torch.float32)
        if ut is None and self.module.has_group_latent:
            raise DataError(f"{self.config.model} has a group latent: pass u, not None")
        if ut is not None and (ut.dim() != 2 or ut.shape != (vt.shape[0], self.config.group_dim)):
            raise DataError(
                f"u must have shape ({vt.shape[0]}, {self.config.group_dim}), got {tuple(ut.shape)}"
            )
        if vt.dim() != 2 or vt.shape[1] != self.config.instance_dim:
            raise DataError(
                f"v must have shape (n, {self.config.instance_dim}), got {tuple(vt.shape)}"
            )
        return self.module.likelihood.mean(self.module.generative(ut, vt)).numpy()

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
        if not self.module.has_group_latent:
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
        if not self.module.has_group_latent:
            raise ConfigError(f"{self.config.model} has no group latent to translate")
        v = self.encode_instances(data, group).mean
        return self.decode(target_u, v)

    # --------------------------------------------------------------- save / load
    def save(self, directory: str | Path, *, metadata: dict[str, Any] | None = None) -> Path:
        """Write a checkpoint directory atomically; returns its path.

        Contents: ``config.json``, ``weights.safetensors``, ``metadata.json`` (schema
        version, library versions, seed, training config) and ``history.csv``.
        """
        return save_model(self, directory, metadata=metadata)

    @classmethod
    def load(cls, directory: str | Path) -> GroupVAE:
        """Restore a model saved by :meth:`save`.

        Raises:
            CheckpointError: if the directory is missing, corrupt or mismatched.
        """

        def build(config_dict: dict[str, Any], seed: int) -> GroupVAE:
            try:
                config = replace(ModelConfig(), **config_dict)
            except ConfigError as err:
                raise CheckpointError(
                    f"{directory}/config.json does not describe a model: {err}"
                ) from None
            try:
                return cls(config, seed=seed)
            except Exception as err:  # an unknown part name, say
                raise CheckpointError(f"cannot rebuild the model of {directory}: {err}") from None

        return load_model(directory, build, TrainConfig)


__all__ = ["GroupVAE", "Posterior"]
