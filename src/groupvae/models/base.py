"""The contract every model family meets: a module (the mathematics) and a user model.

* :class:`BaseModule` is scvi-tools' three-part module: ``inference(batch)`` returns a
  typed record of posteriors and samples, ``generative(inference, batch)`` the
  likelihood parameters, ``loss(batch, inference, params)`` the one
  :class:`~groupvae.objectives.loss_output.LossOutput`; the module also owns its
  importance-sampled ``log_marginal_likelihood`` and, where it has one, its critic.
* :class:`BaseModel` is what users touch, with the same verbs in every family: ``fit``,
  ``encode_*`` returning :class:`Posterior`, ``decode``, ``save``, ``load`` and
  ``history``. Training goes through the one training plan
  (:class:`groupvae.training.plan.TrainingPlan`) with the family's hooks: its loaders,
  its preflight and its weight schedules (KL warm-up, CPVAE's alpha).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from groupvae.config import TrainConfig, fits_type
from groupvae.data.grouped import GroupedDataset
from groupvae.errors import ConfigError, DataError
from groupvae.models.common import seeded_module
from groupvae.objectives.loss_output import LossOutput

Schedule = Callable[[float], float]
"""``schedule(progress) -> weight``; ``progress`` runs from 0 to 1 over training."""


class Posterior(NamedTuple):
    """A diagonal Normal posterior: ``mean`` and ``logvar`` arrays of equal shape
    (``logvar`` is the log-variance, in log nats^0: ``std = exp(logvar / 2)``)."""

    mean: np.ndarray
    logvar: np.ndarray

    @property
    def std(self) -> np.ndarray:
        return np.exp(0.5 * self.logvar)


class BaseModule(nn.Module):
    """``inference`` / ``generative`` / ``loss`` of one model family.

    Subclasses implement the three parts, :meth:`check_batch` and
    :meth:`log_marginal_likelihood`; ``forward`` chains them. A family with an
    adversarial critic overrides :meth:`critic_loss` and :meth:`critic_parameters`.
    """

    def check_batch(self, batch: Any) -> None:
        """Raise :class:`~groupvae.errors.DataError` if ``batch`` does not fit the module."""
        raise NotImplementedError

    def inference(self, batch: Any, *, sample: bool = True) -> Any:
        """The posteriors of ``batch`` and (``sample``) reparameterised samples, else means."""
        raise NotImplementedError

    def generative(self, inference: Any, batch: Any) -> Tensor:
        """Likelihood parameters ``(n_obs, *obs_shape)`` of ``batch`` given ``inference``."""
        raise NotImplementedError

    def loss(
        self, batch: Any, inference: Any, params: Tensor, *, with_regulariser: bool = True,
        **weights: float,
    ) -> LossOutput:  # fmt: skip
        """The objective's terms; ``weights`` are the training plan's schedules."""
        raise NotImplementedError

    def log_marginal_likelihood(self, batch: Any, *, n_samples: int = 100) -> Tensor:
        """Importance-sampled ``log p(x_G)`` of every group of ``batch`` (nats), ``(n_groups,)``."""
        raise NotImplementedError

    def forward(
        self,
        batch: Any,
        *,
        inference: Any = None,
        with_regulariser: bool = True,
        **weights: float,
    ) -> LossOutput:
        """``loss(inference(batch), generative(...))`` of one batch, with sampling; a
        given ``inference`` of ``batch`` (the one the critic's update saw) is reused."""
        inf = self.inference(batch) if inference is None else inference
        params = self.generative(inf, batch)
        return self.loss(batch, inf, params, with_regulariser=with_regulariser, **weights)

    def critic_loss(self, batch: Any, inference: Any = None) -> Tensor | None:
        """The critic's loss on detached codes (of ``inference`` if given, else of a new
        inference of ``batch``), or ``None`` without a critic."""
        return None

    def critic_parameters(self) -> list[nn.Parameter]:
        """Parameters updated by the critic's optimiser (none by default)."""
        return []

    def model_parameters(self) -> list[nn.Parameter]:
        """Parameters of the encoders, decoders and likelihood (not of the critic)."""
        critic = {id(p) for p in self.critic_parameters()}
        return [p for p in self.parameters() if id(p) not in critic]


class BaseModel:
    """What users touch, for every family: a config, its module and what fitting recorded.

    Attributes:
        config: the family's config dataclass (``config.model`` names the preset).
        module: the family's :class:`BaseModule`.
        seed: seed of the weight initialisation; also ``fit``'s default training seed.
        dataset: the registered data set whose defaults apply to ``fit`` (``DATASETS``),
            or ``None``.
        history: per-epoch terms of the last :meth:`fit` (``None`` before), named with
            their units (``train_elbo_per_obs``, ``val_elbo_per_group``, ...).
        train_config: the :class:`TrainConfig` of the last fit.
    """

    family: ClassVar[str]
    """The family's name in :data:`groupvae.models.FAMILIES`, recorded in checkpoints."""
    config_class: ClassVar[type]
    train_defaults: ClassVar[dict[str, Any]] = {}
    """The family's own training defaults (above ``TrainConfig``'s, below a data set's)."""

    def __init__(self, config: Any, *, seed: int = 0, dataset: str | None = None) -> None:
        if not fits_type(seed, int) or seed < 0:
            raise ConfigError(f"seed must be a whole number >= 0, got {seed!r}")
        self.config = config
        self.seed = seed
        self.dataset = dataset
        self.module = seeded_module(lambda: self._build_module(config), seed)
        self.history: pd.DataFrame | None = None
        self.train_config: TrainConfig | None = None
        self.extra_metadata: dict[str, Any] = {}

    # ------------------------------------------------------------- family hooks
    def _build_module(self, config: Any) -> BaseModule:
        raise NotImplementedError

    def _prepare(self, train: GroupedDataset, config: TrainConfig) -> None:
        """Check ``train`` before training (and set data-dependent buffers)."""
        raise NotImplementedError

    def _check_holdout(self, data: GroupedDataset, config: TrainConfig) -> None:
        """Check holdout data as the training data is checked (shape, range, groups)."""
        raise NotImplementedError

    def _loaders(
        self, train: GroupedDataset, holdout: GroupedDataset | None, config: TrainConfig
    ) -> tuple[Any, Any]:
        """``(train loader, holdout loader or None)``."""
        raise NotImplementedError

    def eval_loader(self, data: GroupedDataset, batch_size: int = 1024) -> Any:
        """Batches of the module's kind over ``data`` in order, for evaluation."""
        raise NotImplementedError

    def _schedules(self, config: TrainConfig) -> dict[str, Schedule]:
        """Loss weights by training progress (keyword -> schedule), for the plan."""
        return {}

    def split(
        self,
        data: GroupedDataset,
        holdout: float,
        *,
        seed: int = 0,
        holdout_labels: list[int] | None = None,
    ) -> tuple[GroupedDataset, GroupedDataset]:
        """Split ``data`` into ``(train, holdout)`` as this family evaluates."""
        raise NotImplementedError

    # ----------------------------------------------------------------- training
    def fit(
        self,
        data: GroupedDataset,
        *,
        holdout: GroupedDataset | None = None,
        log_dir: str | Path | None = None,
        callbacks: list[Any] | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        **train_options: Any,
    ) -> BaseModel:
        """Train on ``data`` with Lightning.

        The settings are resolved once, for the API, ``groupvae train``, the demo and the
        benchmarks alike (:func:`groupvae.settings.resolve_train_config`):
        ``TrainConfig`` defaults < the family's < the data set's (``self.dataset``) < the
        preset's < ``train_options``; the training seed defaults to ``self.seed``.

        Args:
            data: training data (a :class:`GroupedDataset`).
            holdout: data whose ``val_*`` terms are logged each epoch.
            log_dir: folder for Lightning's CSV log.
            callbacks: extra Lightning callbacks.
            checkpoint_dir: folder for the epoch checkpoint ``last.ckpt`` (weights,
                optimisers, progress, history), written atomically after every epoch.
            resume: continue from ``checkpoint_dir/last.ckpt`` (same data and settings:
                the result is bit-identical to an uninterrupted fit on the same machine).
            **train_options: :class:`TrainConfig` fields.

        Returns:
            ``self``; ``self.history`` holds one row per epoch.

        Raises:
            DataError: if the data does not fit the model.
            ConfigError: for an unknown or bad training setting.
            NonFiniteLossError: if a loss, a validation term or a parameter becomes NaN
                or infinite.
            KeyboardInterrupt: (:class:`~groupvae.training.checkpointing.TrainingInterrupted`)
                on SIGINT or SIGTERM; the last epoch checkpoint is kept.
        """
        from groupvae.training.fit import fit_plan

        config = self.preflight(data, holdout=holdout, **train_options)
        if resume and checkpoint_dir is None:
            raise ConfigError("resume=True needs the checkpoint_dir of the interrupted fit")
        config, callbacks, stopper = self._training_plan(data, holdout, config, callbacks)
        self.history = fit_plan(
            self, data, holdout, config, log_dir=log_dir, callbacks=callbacks,
            checkpoint_dir=checkpoint_dir, resume=resume,
        )  # fmt: skip
        self.train_config = config
        if stopper is not None:
            self.extra_metadata["early_stopping"] = stopper.summary()
        return self

    def preflight(
        self, data: GroupedDataset, *, holdout: GroupedDataset | None = None, **train_options: Any
    ) -> TrainConfig:
        """Resolve the training settings and check ``data`` and ``holdout`` as :meth:`fit`
        would, without training; returns the resolved :class:`TrainConfig`.

        Raises:
            DataError: if the data or the holdout does not fit the model (shape, value
                range, groups too small for the regulariser in some batch).
            ConfigError: for an unknown or bad training setting.
        """
        from groupvae.settings import resolve_train_config
        from groupvae.training.fit import check_accelerator

        config = resolve_train_config(self, {"seed": self.seed, **train_options})
        check_accelerator(config)
        for name, part in (("data", data), ("holdout", holdout)):
            if part is not None and not isinstance(part, GroupedDataset):
                raise DataError(f"fit needs a GroupedDataset as {name}")
        self._prepare(data, config)
        if holdout is not None:
            self._check_holdout(holdout, config)
        return config

    def _training_plan(
        self,
        data: GroupedDataset,
        holdout: GroupedDataset | None,
        config: TrainConfig,
        callbacks: list[Any] | None,
    ) -> tuple[TrainConfig, list[Any], Any]:
        """Epochs sized by ``min_steps``, the early-stopping callback (with holdout
        data and ``early_stopping_patience``), and the chosen settings printed (with
        ``progress``)."""
        from groupvae.data.subsample import subsample_size
        from groupvae.training.early_stopping import BestHoldoutELBO
        from groupvae.training.steps import describe, epochs_for_steps

        steps = len(self._loaders(data, None, config)[0])
        config = epochs_for_steps(config, steps)
        stopper = None
        if config.early_stopping_patience is not None and holdout is not None:
            stopper = BestHoldoutELBO(
                config.early_stopping_patience,
                min_delta=config.early_stopping_min_delta,
                min_epochs=-(-(config.min_steps or 0) // max(steps, 1)),
            )
        if config.progress:
            print(describe(config, steps, subsample_size(data.group_sizes, config)), flush=True)
        return config, [*(callbacks or []), *([stopper] if stopper else [])], stopper

    # ----------------------------------------------------------------- latents
    def get_latent_representation(
        self,
        data: GroupedDataset,
        *,
        level: str = "group",
        give_mean: bool = True,
        with_std: bool = False,
        seed: int = 0,
    ) -> pd.DataFrame:
        """The codes of ``data`` as a DataFrame indexed by the user's ids (scvi-tools'
        naming).

        Args:
            data: a :class:`GroupedDataset` (a reader's keeps the user's row ids in
                ``aux["row_id"]`` and group ids in ``group_ids``).
            level: ``"group"``: one row per group, the group posterior ``q(u | x_G)``
                (without a group latent, the product of the members' posteriors);
                ``"instance"``: one row per observation, ``q(v_k | x_k[, u])``.
            give_mean: the posterior means; otherwise one sample each (seeded).
            with_std: add the posterior standard deviations as ``<col>_std`` columns.
            seed: seed of the samples (``give_mean=False``).

        Returns:
            ``level="group"``: index ``group`` (the original ids), columns ``u_0 ..
            u_{d-1}``; ``level="instance"``: index ``row_id``, a ``group`` column and
            ``v_0 .. v_{d-1}``.

        Raises:
            ConfigError: for another ``level``, or a family without these encoders.
        """
        from groupvae.errors import ConfigError

        if level not in ("group", "instance"):
            raise ConfigError(f"level must be 'group' or 'instance', got {level!r}")
        encode = getattr(self, "encode_groups" if level == "group" else "encode_instances", None)
        if encode is None:
            raise ConfigError(f"{type(self).__name__} has no {level} encoder to export")
        post = encode(data)
        values = post.mean
        if not give_mean:
            noise = np.random.default_rng(seed).standard_normal(values.shape)
            values = values + post.std * noise
        prefix = "u" if level == "group" else "v"
        cols = [f"{prefix}_{j}" for j in range(values.shape[1])]
        frame = pd.DataFrame(values, columns=cols)
        if with_std:
            frame = frame.join(pd.DataFrame(post.std, columns=[f"{c}_std" for c in cols]))
        if level == "group":
            frame.index = pd.Index(data.group_ids, name="group")
            return frame
        rows = data.aux.get("row_id", np.arange(data.n_obs))
        frame.insert(0, "group", np.asarray(data.group_ids)[data.group])
        frame.index = pd.Index(rows, name="row_id")
        return frame

    # --------------------------------------------------------------- save / load
    def save(
        self,
        directory: str | Path,
        *,
        metadata: dict[str, Any] | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write a checkpoint directory (each file atomically); returns its path.

        Contents: ``config.json``, ``weights.safetensors``, ``metadata.json`` (family,
        schema and library versions, seed, data set, training config, extras, the files'
        SHA-256) and ``history.csv`` when fitted.

        Raises:
            CheckpointError: if ``directory`` is a file, holds files groupvae did not
                write, or already holds a model and ``overwrite`` is false.
        """
        from groupvae.checkpoint import save_model

        return save_model(self, directory, metadata=metadata, overwrite=overwrite)

    @classmethod
    def load(cls, directory: str | Path) -> BaseModel:
        """Restore a model saved by :meth:`save`, of whichever family it records.

        Raises:
            CheckpointError: if the directory is missing, corrupt or mismatched.
        """
        from groupvae.checkpoint import load_model

        return load_model(directory)

    # --------------------------------------------------------------- helpers
    def _decode_tensor(self, codes: Any, width: int, name: str, n: int | None = None) -> Tensor:
        """``codes`` as a float32 ``(n, width)`` tensor, or a :class:`DataError`."""
        t = torch.as_tensor(np.asarray(codes), dtype=torch.float32)
        if t.dim() != 2 or t.shape[1] != width or (n is not None and t.shape[0] != n):
            rows = "n" if n is None else str(n)
            raise DataError(f"{name} must have shape ({rows}, {width}), got {tuple(t.shape)}")
        if not torch.isfinite(t).all():
            raise DataError(f"{name} has NaN or infinite values")
        return t

    def _check_obs_shape(self, obs_shape: tuple[int, ...]) -> None:
        """Raise :class:`DataError` if training observations of ``obs_shape`` do not fit."""
        if tuple(obs_shape) != tuple(self.config.obs_shape):
            raise DataError(
                f"the data's observations have shape {tuple(obs_shape)} but the model was "
                f"built for {self.config.obs_shape}; set obs_shape to match"
            )

    # ---------------------------------------------- evaluation interface (issue 20)
    # Public attributes groupvae.evaluation reads (groupvae.evaluation.protocols) in
    # every family, instead of the config's fields.
    @property
    def preset(self) -> str:
        """The preset's name, ``config.model`` (e.g. ``"mlvae"``, ``"cpvae"``)."""
        return self.config.model


__all__ = ["BaseModel", "BaseModule", "Posterior", "Schedule"]
