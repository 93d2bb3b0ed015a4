"""The contract every model family's user-facing class meets (its module, the
mathematics, meets :class:`groupvae.modules.base.BaseModule`).

:class:`BaseModel` is what users touch, with the same verbs in every family: ``fit``,
``encode_*`` returning :class:`Posterior`, ``decode``, ``save``, ``load`` and
``history``. A fit resolves its settings once into a
:class:`~groupvae.training.fit.FitPlan` (:meth:`BaseModel.plan_fit`: the family's checks,
loaders and weight schedules: KL warm-up, CPVAE's alpha), which the training layer
consumes without calling back into the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from groupvae.config import TrainConfig, fits_type, replace, to_dict
from groupvae.data.datasets import DatasetSpec
from groupvae.data.grouped import GroupedDataset
from groupvae.data.ondisk import OnDiskGroupedData
from groupvae.data.readers.h5ad import READER, is_anndata, read_h5ad
from groupvae.data.subsample import subsample_size
from groupvae.errors import CheckpointError, ConfigError, DataError, GroupVAEError
from groupvae.models.defaults import OWN_DATA, DataShape
from groupvae.models.resolve import resolve_train_config
from groupvae.modules.base import BaseModule, seeded_module
from groupvae.registry import Registry
from groupvae.store.checkpoint_files import (
    load_state,
    read_checkpoint,
    read_history,
    save_checkpoint,
)
from groupvae.training.accelerators import check_accelerator
from groupvae.training.fit_plan import FitPlan
from groupvae.training.holdout import elbo_estimate, estimator_name
from groupvae.training.steps import describe, size_budget, validation_epochs


def restored_estimate(
    history: pd.DataFrame, summary: dict[str, Any], n_samples: int
) -> dict[str, Any]:
    """The holdout estimate of the weights a fit ends with, as ``history`` has it: the
    best check's row when early stopping restored it, else the last check's.

    Returns:
        ``elbo_per_observation`` (nats, or ``None`` without a check), ``step``,
        ``epoch`` and ``estimator`` (its label).
    """
    checked = history.dropna(subset=["val_elbo_per_obs"]) if "val_elbo_per_obs" in history else None
    if checked is None or checked.empty:
        return {"elbo_per_observation": None, "estimator": estimator_name(n_samples)}
    if summary.get("restored") == "best" and summary.get("best_step") is not None:
        row = checked[checked["step"] == summary["best_step"]].iloc[-1]
    else:
        row = checked.iloc[-1]
    return {
        "elbo_per_observation": float(row["val_elbo_per_obs"]),
        "step": int(row["step"]),
        "epoch": int(row["epoch"]),
        "estimator": estimator_name(n_samples),
    }


RETIRED_TRAIN_FIELDS = ("min_steps",)
"""``TrainConfig`` fields of older runs, ignored on loading (``min_steps`` became the
``max_steps`` budget)."""

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


FAMILIES: Registry[type[BaseModel]] = Registry("model family")
"""Family name -> its user-model class; a class joins when it is defined with a ``family``
(:meth:`BaseModel.__init_subclass__`). A checkpoint records its family, so
:meth:`BaseModel.load` dispatches through this map with no branch on a model's name."""

MAX_PARAMETER_BYTES = 16 * 2**30
"""The most memory a model's parameters may take (16 GiB as float32, 4.3 billion
parameters): a larger config is refused before anything is allocated (training needs
about 4 times this: weights, gradients and Adam's two moments)."""


def check_model_size(build: Callable[[], torch.nn.Module], limit: int = MAX_PARAMETER_BYTES) -> int:
    """The parameter count of the module ``build()`` makes, counted on the ``meta``
    device (shapes only, no memory).

    Raises:
        ConfigError: if the parameters would take more than ``limit`` bytes as float32,
            naming the count and the memory.
    """
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        module = build()
    count = sum(p.numel() for p in module.parameters())
    if 4 * count > limit:
        raise ConfigError(
            f"this config has {count:,} parameters ({4 * count / 2**30:,.1f} GiB as float32), "
            f"over the limit of {limit / 2**30:g} GiB; make hidden, group_dim or the other "
            "sizes smaller"
        )
    return count


OWN_METADATA = (
    "seed", "train_config", "schema_version", "versions", "family", "model_class", "dataset",
    "sha256", "manifest",
)  # fmt: skip
"""Metadata fields :meth:`BaseModel.save` writes itself (the rest is ``extra_metadata``)."""


def family_of(metadata: dict[str, Any]) -> str:
    """The family a checkpoint's metadata records. Checkpoints written before families
    were recorded name the model's class (``model_class``), and those written before
    that were all ``GroupVAE``'s."""
    if "family" in metadata:
        return str(metadata["family"])
    by_class = {cls.__name__: name for name, cls in FAMILIES.items()}
    model_class = str(metadata.get("model_class", "GroupVAE"))
    return by_class.get(model_class, model_class)  # an unknown class: named in the error


def _check_resume(resume: bool, checkpoint_dir: str | Path | None) -> None:
    """Raise :class:`ConfigError` for ``resume`` without the interrupted fit's folder."""
    if resume and checkpoint_dir is None:
        raise ConfigError("resume=True needs the checkpoint_dir of the interrupted fit")


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A class that names its ``family`` joins :data:`FAMILIES`."""
        super().__init_subclass__(**kwargs)
        if "family" in cls.__dict__:
            FAMILIES.add(cls.family, cls)

    def __init__(self, config: Any, *, seed: int = 0, dataset: str | None = None) -> None:
        if not fits_type(seed, int) or seed < 0:
            raise ConfigError(f"seed must be a whole number >= 0, got {seed!r}")
        self.config = config
        self.seed = seed
        self.dataset = dataset
        check_model_size(lambda: self._build_module(config))
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

    def elbo_groups(self, data: GroupedDataset, config: TrainConfig) -> GroupedDataset:
        """``data`` grouped as the holdout ELBO estimate sees it (as is here; a model
        trained on random groups regroups it)."""
        return data

    def train_loader(self, train: GroupedDataset, config: TrainConfig) -> Any:
        """The training batches of one epoch (reshuffled each epoch)."""
        raise NotImplementedError

    def eval_loader(self, data: GroupedDataset, batch_size: int = 1024) -> Any:
        """Batches of the module's kind over ``data`` in order, for evaluation."""
        raise NotImplementedError

    def _schedules(self, config: TrainConfig) -> dict[str, Schedule]:
        """Loss weights by training progress (keyword -> schedule), for the plan."""
        return {}

    def adapt_data(self, data: GroupedDataset, spec: DatasetSpec) -> GroupedDataset:
        """``data``, a build of the registered data set ``spec``, as this family trains
        on it (a population-based family records each row's population)."""
        return data

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
        """Train on ``data`` with Lightning: :meth:`plan_fit`, then :meth:`fit_planned`.

        The settings are resolved once, for the API, ``groupvae train``, the demo and the
        benchmarks alike (:func:`groupvae.models.resolve.resolve_train_config`):
        ``TrainConfig`` defaults < the family's < the data set's (``self.dataset``) < the
        preset's < ``train_options``; the training seed defaults to ``self.seed``.

        Args:
            data: training data (a :class:`GroupedDataset`).
            holdout: data whose holdout ELBO estimate (``val_*`` terms) is checked
                every ``validation_every`` steps, for early stopping.
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
            KeyboardInterrupt: (:class:`~groupvae.errors.TrainingInterrupted`)
                on SIGINT or SIGTERM; the last epoch checkpoint is kept.
        """
        _check_resume(resume, checkpoint_dir)  # before planning prints the settings
        plan = self.plan_fit(data, holdout=holdout, callbacks=callbacks, **train_options)
        return self.fit_planned(plan, log_dir=log_dir, checkpoint_dir=checkpoint_dir, resume=resume)

    def fit_planned(
        self,
        plan: FitPlan,
        *,
        log_dir: str | Path | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
    ) -> BaseModel:
        """Train as ``plan`` (from :meth:`plan_fit`) says; see :meth:`fit`.

        With holdout data, ``extra_metadata["holdout_elbo"]`` records the estimate of the
        weights the model ends with (the best check's when it stopped early, else the
        last check's), which is the number in ``history`` at ``step``, and
        ``extra_metadata["early_stopping"]`` what validation did.

        Returns:
            ``self``; ``self.history`` holds one row per epoch.
        """
        # deferred: Lightning takes about a second to import; only training needs it
        from groupvae.training.fit import fit

        _check_resume(resume, checkpoint_dir)
        self.history = fit(
            self.module, plan, log_dir=log_dir, checkpoint_dir=checkpoint_dir, resume=resume
        )
        self.train_config = plan.config
        if plan.validation is not None:
            self.extra_metadata["early_stopping"] = summary = plan.validation.summary()
            self.extra_metadata["holdout_elbo"] = restored_estimate(
                self.history, summary, plan.config.validation_samples
            )
        return self

    def plan_fit(
        self,
        data: GroupedDataset,
        *,
        holdout: GroupedDataset | None = None,
        callbacks: list[Any] | None = None,
        **train_options: Any,
    ) -> FitPlan:
        """Resolve the training settings once, check ``data`` and ``holdout``, and build
        what a fit consumes (:class:`~groupvae.training.fit.FitPlan`): the training
        loader, the budget (``epochs`` sized by ``max_steps``), the loss-weight schedules
        and, with holdout data, the validation callback (the holdout ELBO estimate of
        :meth:`get_elbo` every ``validation_every`` steps; early stopping with
        ``early_stopping_patience``). Prints the chosen settings, and where the budget
        came from, with ``progress``. Nothing is trained.

        Raises:
            DataError: if the data or the holdout does not fit the model (shape, value
                range, groups too small for the regulariser in some batch).
            ConfigError: for an unknown or bad training setting.
        """
        config = self.preflight(data, holdout=holdout, **train_options)
        loader = self.train_loader(data, config)
        steps = len(loader)
        config = size_budget(config, steps)
        validation = None if holdout is None else self._validation(holdout, config, steps)
        if config.progress:
            line = describe(
                config, steps, subsample_size(data.group_sizes, config),
                budget_source=self._budget_source(train_options, data),
                validation_groups=None if holdout is None else holdout.n_groups,
            )  # fmt: skip
            print(line, flush=True)
        return FitPlan(
            config=config,
            loader=loader,
            schedules=self._schedules(config),
            callbacks=(*(callbacks or []), *([validation] if validation else [])),
            validation=validation,
        )

    def _validation(self, holdout: GroupedDataset, config: TrainConfig, steps: int) -> Any:
        """The validation callback: :meth:`get_elbo`'s estimate on ``holdout``."""
        # deferred: Lightning takes about a second to import; only training needs it
        from groupvae.training.validation import HoldoutValidation

        groups = self.elbo_groups(holdout, config)

        def estimate(module: torch.nn.Module) -> dict[str, float]:
            batches = self.eval_loader(groups)
            return elbo_estimate(module, batches, n_samples=config.validation_samples)

        return HoldoutValidation(
            estimate,
            every=validation_epochs(config, steps),
            patience=config.early_stopping_patience,
            min_delta=config.early_stopping_min_delta,
        )

    def _budget_source(self, train_options: dict[str, Any], data: GroupedDataset) -> str:
        """Who set the budget, for the settings line."""
        mine = [k for k in ("epochs", "max_steps") if train_options.get(k) is not None]
        if mine:
            return "yours: " + ", ".join(mine)
        if self.dataset in OWN_DATA:
            shape = DataShape.of(data)
            return (
                f"the {self.dataset} defaults for {shape.n_groups} groups of median size "
                f"{shape.median_group_size:g}"
            )
        return f"the {self.dataset or self.family} defaults"

    def resolved_train_config(
        self, data: GroupedDataset | None = None, **train_options: Any
    ) -> TrainConfig:
        """The :class:`TrainConfig` that ``fit(data, **train_options)`` would train with
        (:func:`~groupvae.models.resolve.resolve_train_config`; the seed defaults to
        :attr:`seed`; on the user's own data sets ``data``'s shape sizes the budget),
        before ``max_steps`` sizes the epochs.

        Raises:
            ConfigError: for an unknown or bad training setting.
        """
        return resolve_train_config(self, {"seed": self.seed, **train_options}, data)

    def preflight(
        self, data: GroupedDataset, *, holdout: GroupedDataset | None = None, **train_options: Any
    ) -> TrainConfig:
        """Resolve the training settings and check ``data`` and ``holdout`` as :meth:`fit`
        would, without building loaders or training; returns the resolved
        :class:`TrainConfig` (before ``max_steps`` sizes the epochs).

        Raises:
            DataError: if the data or the holdout does not fit the model (shape, value
                range, groups too small for the regulariser in some batch).
            ConfigError: for an unknown or bad training setting.
        """
        for name, part in (("data", data), ("holdout", holdout)):
            if part is not None and not isinstance(part, (GroupedDataset, OnDiskGroupedData)):
                raise DataError(f"fit needs a GroupedDataset (or data on disk) as {name}")
        config = self.resolved_train_config(data, **train_options)
        check_accelerator(config)
        self._prepare(data, config)
        if holdout is not None:
            self._check_holdout(holdout, config)
        return config

    # ----------------------------------------------------------------- data in
    def reader_options(self) -> dict[str, Any]:
        """The ``anndata`` reader's options (``group``, ``layer``) that read more cells
        the way this model's training data was read: recorded when it was fitted
        (``reader`` in ``metadata.json``), else from a run's data record; ``{}`` for a
        model trained on other data."""
        recorded = self.extra_metadata.get("reader")
        if isinstance(recorded, dict) and recorded.get("name") == READER:
            options = recorded
        else:
            record = self.extra_metadata.get("data")
            named = isinstance(record, dict) and record.get("name") == READER
            options = record.get("options", {}) if named else {}
        return {k: options[k] for k in ("group", "layer") if options.get(k) is not None}

    def as_dataset(
        self, data: Any, *, group: str | None = None, layer: str | None = None
    ) -> GroupedDataset | Any:
        """``data`` as the verbs take it: an ``anndata.AnnData`` object read into a
        :class:`GroupedDataset` with the reader options the model records
        (:meth:`reader_options`; ``group`` and ``layer`` override them, as
        :func:`groupvae.data.readers.read_h5ad` takes them); anything else as it is.

        Raises:
            DataError: for an AnnData object without a group key (none recorded, none
                given) or without that ``.obs`` column or layer, naming the fix.
        """
        if not is_anndata(data):
            return data
        if group is not None and not isinstance(group, str):
            raise DataError(
                "with an AnnData object, group names the .obs column of the groups "
                f'(group="donor"), got {type(group).__name__}'
            )
        options = self.reader_options()
        options.update({k: v for k, v in (("group", group), ("layer", layer)) if v is not None})
        if "group" not in options:
            raise DataError(
                "this model records no .obs column of the groups it was trained on; name it: "
                'group="KEY"'
            )
        return read_h5ad(data, **options)

    # ----------------------------------------------------------------- latents
    def get_latent_representation(
        self,
        data: GroupedDataset | Any,
        *,
        level: str = "group",
        give_mean: bool = True,
        with_std: bool = False,
        seed: int = 0,
        group: str | None = None,
        layer: str | None = None,
    ) -> pd.DataFrame:
        """The codes of ``data`` as a DataFrame indexed by the user's ids (scvi-tools'
        naming).

        Args:
            data: a :class:`GroupedDataset` (a reader's keeps the user's row ids in
                ``aux["row_id"]`` and group ids in ``group_ids``), or an
                ``anndata.AnnData`` object (read with the model's reader options,
                :meth:`as_dataset`; rows indexed by ``obs_names``).
            level: ``"group"``: one row per group, the group posterior ``q(u | x_G)``
                (without a group latent, the product of the members' posteriors);
                ``"instance"``: one row per observation, ``q(v_k | x_k[, u])``.
            give_mean: the posterior means; otherwise one sample each (seeded).
            with_std: add the posterior standard deviations as ``<col>_std`` columns.
            seed: seed of the samples (``give_mean=False``).
            group, layer: for an AnnData object, the ``.obs`` column of the groups and
                the layer to read, where they differ from those the model records.

        Returns:
            ``level="group"``: index ``group`` (the original ids), columns ``u_0 ..
            u_{d-1}``; ``level="instance"``: index ``row_id``, a ``group`` column and
            ``v_0 .. v_{d-1}``.

        Raises:
            ConfigError: for another ``level``, or a family without these encoders.
            DataError: for an AnnData object the model cannot read (see
                :meth:`as_dataset`).
        """
        data = self.as_dataset(data, group=group, layer=layer)
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

    def get_elbo(self, data: GroupedDataset | Any, n_samples: int | None = None) -> dict[str, Any]:
        """The holdout ELBO estimate that validation, early stopping, ``groupvae train``,
        ``metadata.json`` and ``groupvae evaluate`` report
        (:func:`groupvae.training.holdout.elbo_estimate`): the mean ELBO over
        ``n_samples`` draws of fixed noise per observation, so the same weights and data
        always give the same number (on the same device).

        Args:
            data: whole groups (the model's ``eval_loader`` batches them in order); an
                AnnData object is read as :meth:`as_dataset` says.
            n_samples: draws per observation; default: the ``validation_samples`` the
                model was trained with (1 before training).

        Returns:
            ``elbo_per_observation`` (nats), ``elbo_per_group`` where groups have a
            latent of their own (group VAEs), ``n_samples`` and ``estimator`` (its
            label).
        """
        data = self.as_dataset(data)
        config = self.train_config or TrainConfig()
        if n_samples is None:
            n_samples = config.validation_samples
        batches = self.eval_loader(self.elbo_groups(data, config))
        terms = elbo_estimate(self.module, batches, n_samples=n_samples)
        metrics: dict[str, Any] = {"elbo_per_observation": terms["elbo_per_obs"]}
        if "elbo_per_group" in terms:
            metrics["elbo_per_group"] = terms["elbo_per_group"]
        return {**metrics, "n_samples": n_samples, "estimator": estimator_name(n_samples)}

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
        SHA-256) and ``history.csv`` when fitted, each recorded with its SHA-256 in the
        directory's manifest, under the directory's lock
        (:func:`groupvae.store.checkpoint_files.save_checkpoint`).

        Raises:
            CheckpointError: if ``directory`` is a file, holds files groupvae did not
                write, or already holds a model and ``overwrite`` is false.
            ConfigError: if another process is writing ``directory`` (naming its pid).
        """
        train = self.train_config
        meta = {
            "family": self.family,
            "seed": self.seed,
            "dataset": self.dataset,
            "train_config": None if train is None else dataclasses.asdict(train),
            **self.extra_metadata,
            **(metadata or {}),
        }
        return save_checkpoint(
            directory,
            config=to_dict(self.config),
            state_dict=self.module.state_dict(),
            metadata=meta,
            history=self.history,
            overwrite=overwrite,
        )

    @classmethod
    def load(cls, directory: str | Path) -> BaseModel:
        """Restore a model saved by :meth:`save`, of whichever family it records
        (:data:`FAMILIES`; ``GroupVAE.load`` of a CPVAE's directory gives a CPVAE).

        Raises:
            CheckpointError: if the directory is missing, corrupt or mismatched (a file
                whose SHA-256 differs from the one ``metadata.json`` or the manifest
                records, ``metadata.json`` itself included).
        """
        config_dict, state, metadata = read_checkpoint(directory)
        try:
            family = FAMILIES[family_of(metadata)]
        except GroupVAEError as err:
            raise CheckpointError(f"{directory}/metadata.json: {err}") from None
        return family._restore(directory, config_dict, state, metadata)

    @classmethod
    def _restore(
        cls,
        directory: str | Path,
        config_dict: dict[str, Any],
        state: dict[str, Tensor],
        metadata: dict[str, Any],
    ) -> BaseModel:
        """Rebuild a model of this family from a checkpoint's files.

        Raises:
            CheckpointError: if the config, the weights or the metadata do not fit.
        """
        try:
            config = replace(cls.config_class(), **config_dict)
        except GroupVAEError as err:
            raise CheckpointError(
                f"{directory}/config.json does not describe a model: {err}"
            ) from None
        seed = metadata.get("seed", 0)
        if not isinstance(seed, int):
            raise CheckpointError(f"{directory}/metadata.json is corrupt: seed {seed!r}")
        try:
            model = cls(config, seed=seed, dataset=metadata.get("dataset"))
        except Exception as err:  # an unknown part name, say
            raise CheckpointError(f"cannot rebuild the model of {directory}: {err}") from None
        load_state(model.module, state, str(directory))
        train = metadata.get("train_config")
        if isinstance(train, dict):  # runs saved before a field was retired still load
            train = {k: v for k, v in train.items() if k not in RETIRED_TRAIN_FIELDS}
        try:
            model.train_config = None if train is None else replace(TrainConfig(), **train)
        except GroupVAEError as err:
            raise CheckpointError(f"{directory}/metadata.json train_config: {err}") from None
        model.history = read_history(directory)
        model.extra_metadata = {k: v for k, v in metadata.items() if k not in OWN_METADATA}
        return model

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


__all__ = [
    "FAMILIES",
    "MAX_PARAMETER_BYTES",
    "BaseModel",
    "Posterior",
    "Schedule",
    "check_model_size",
    "family_of",
]
