"""Typed configurations of models and training, with ``key=value`` overrides."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from groupvae.errors import ConfigError

OBS_SCALES = ("std", "variance")
"""How ``ModelConfig.obs_std`` is read: a standard deviation, or a variance."""

COLUMN_KINDS = ("continuous", "categorical", "binary", "counts")
"""The kinds of a table's columns (``ModelConfig.columns``, the table reader's options)."""


def parse_columns(columns: str) -> tuple[tuple[str, int], ...]:
    """The blocks of a column layout: ``(kind, width)`` per source column, in ``x``'s order.

    A layout is comma-separated tokens, one per source column: ``continuous``, ``binary``
    and ``counts`` take one model column each, ``categorical:K`` takes ``K`` (the one-hot
    codes of its ``K`` levels). ``"continuous,categorical:3,binary"`` is 5 model columns.

    Raises:
        ConfigError: for an unknown kind or a categorical token without ``K >= 1``.
    """
    blocks = []
    for token in columns.split(","):
        kind, _, levels = token.strip().partition(":")
        if kind == "categorical" and levels.isdigit() and int(levels) >= 1:
            blocks.append((kind, int(levels)))
        elif kind in COLUMN_KINDS and kind != "categorical" and not levels:
            blocks.append((kind, 1))
        else:
            raise ConfigError(
                f"columns: {token.strip()!r} is not a column kind; use continuous, binary, "
                "counts or categorical:K (K levels), comma-separated"
            )
    return tuple(blocks)


def shape_tuple(shape: Any) -> tuple[int, ...]:
    """``shape`` as a tuple of ints, or :class:`ConfigError`."""
    try:
        values = tuple(shape)
    except TypeError:
        raise ConfigError(f"obs_shape must be a tuple of sizes, got {shape!r}") from None
    if not values or not all(isinstance(v, int | float) and float(v).is_integer() for v in values):
        raise ConfigError(f"obs_shape must be a tuple of whole sizes >= 1, got {shape!r}")
    out = tuple(int(v) for v in values)
    if min(out) < 1:
        raise ConfigError(f"obs_shape must be a tuple of whole sizes >= 1, got {shape!r}")
    return out


@dataclass(frozen=True)
class ModelConfig:
    """Every choice that defines a group VAE. A preset is a set of these values.

    Attributes:
        model: name of the preset this config came from (``"custom"`` otherwise).
        obs_shape: shape of one observation, e.g. ``(1,)`` or ``(1, 28, 28)``.
        group_dim: size of the group latent ``u`` (content); 0 for no group latent.
        instance_dim: size of the instance latent ``v`` (style).
        hidden: width of the hidden layers of every network.
        n_hidden: number of hidden layers of each MLP.
        backbone: feature extractor shared by the encoders: ``mlp`` (flatten) or
            ``conv`` (strided convolutions, images ``(C, H, H)``) (``BACKBONES``).
        channels: channels of the first convolution of ``conv`` backbones and decoders.
        encoder_n_hidden: hidden layers of the encoder heads after the backbone (``None``:
            ``n_hidden``); UG-VAE's heads are single linear layers on a shared ``dense``
            pre-encoder (its appendix B, Table 2), i.e. ``0``.
        group_encoder: ``poe``, ``mean``, ``deepsets``, ``poe-clusters`` or ``none``
            (``GROUP_ENCODERS``).
        instance_encoder: ``independent`` or ``conditional`` (``INSTANCE_ENCODERS``).
        prior: prior of the instance latent: ``normal`` (``N(0, I)``) or ``mixture`` (a
            Gaussian mixture whose components are networks of the group latent, UG-VAE
            eq. 3, or learned constants without one, GMVAE) (``PRIORS``).
        n_components: mixture components ``K`` of the ``mixture`` prior.
        mixture_logvar_bound: bound ``b`` on the log-variances of the mixture components,
            ``b tanh(raw / b)``; 1 is ``exp(tanh(.))`` of the UG-VAE authors' code (the
            paper does not say); ``None`` leaves them unbounded.
        group_sample: ``observation``: each member decodes its own sample of the group
            posterior (ML-VAE Algorithm 1, step 9); ``group``: one sample per group,
            shared by its members (UG-VAE eq. 10, as the authors' code does).
        regulariser: ``none``, ``pairwise-adversarial`` or ``group-adversarial``.
        regulariser_weight: weight of the mutual-information estimate in the loss.
        critic_hidden: width of the regulariser's critic network.
        decoder: ``mlp``, ``conv`` or ``exam-scores`` (``DECODERS``).
        likelihood: ``gaussian``, ``bernoulli``, ``gaussian-sigmoid``,
            ``negative-binomial`` or ``mixed`` (a likelihood per table column, laid out by
            ``columns``) (``LIKELIHOODS``).
        columns: the column layout of a mixed-type table (:func:`parse_columns`), e.g.
            ``"continuous,categorical:3,binary,counts"``: which model columns of ``x``
            belong to which source column, and of what kind. ``""`` (default) for data
            that is not a mixed-type table. The table reader writes it
            (``FeatureTransform.layout``); ``create(..., data=data)`` sets it.
        obs_std: standard deviation of the Gaussian likelihood (initial value if learned),
            or its variance with ``obs_scale="variance"``.
        obs_scale: how ``obs_std`` is read: ``"std"`` (a standard deviation) or
            ``"variance"`` (UG-VAE's ``sigma_x`` as the authors' ``train.py --var_x``
            passes it: 0.2 is a standard deviation of 0.447).
        learn_obs_std: learn one shared log standard deviation of the Gaussian likelihood.
        beta: weight of the KL terms in the training loss (1 is the ELBO; beta-VAE > 1).
    """

    model: str = "custom"
    obs_shape: tuple[int, ...] = (1,)
    group_dim: int = 2
    instance_dim: int = 1
    hidden: int = 32
    n_hidden: int = 2
    backbone: str = "mlp"
    channels: int = 32
    encoder_n_hidden: int | None = None
    group_encoder: str = "mean"
    instance_encoder: str = "independent"
    prior: str = "normal"
    n_components: int = 10
    mixture_logvar_bound: float | None = 1.0
    group_sample: str = "observation"
    regulariser: str = "none"
    regulariser_weight: float = 1000.0
    critic_hidden: int = 32
    decoder: str = "mlp"
    likelihood: str = "gaussian"
    columns: str = ""
    obs_std: float = 1.0
    obs_scale: str = "std"
    learn_obs_std: bool = False
    beta: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "obs_shape", shape_tuple(self.obs_shape))
        check_field_types(self)
        if self.group_dim < 0 or self.instance_dim < 1:
            raise ConfigError("group_dim must be >= 0 and instance_dim >= 1")
        if (self.group_dim == 0) != (self.group_encoder == "none"):
            raise ConfigError("group_encoder 'none' goes with group_dim 0, and only with it")
        if self.hidden < 1 or self.n_hidden < 0 or self.obs_std <= 0 or self.beta < 0:
            raise ConfigError("hidden >= 1, n_hidden >= 0, obs_std > 0 and beta >= 0 needed")
        if self.obs_scale not in OBS_SCALES:
            raise ConfigError(f"obs_scale must be one of {OBS_SCALES}, got {self.obs_scale!r}")
        if self.encoder_n_hidden is not None and self.encoder_n_hidden < 0:
            raise ConfigError("encoder_n_hidden must be >= 0 (or None for n_hidden)")
        if self.n_components < 1:
            raise ConfigError(f"n_components must be >= 1, got {self.n_components}")
        if self.mixture_logvar_bound is not None and self.mixture_logvar_bound <= 0:
            raise ConfigError("mixture_logvar_bound must be > 0 (or None for no bound)")
        if self.group_sample not in ("observation", "group"):
            raise ConfigError(
                f"group_sample must be 'observation' or 'group', got {self.group_sample!r}"
            )
        if self.columns:
            self._check_columns()

    def _check_columns(self) -> None:
        """Raise :class:`ConfigError` unless ``columns`` parses and covers ``obs_shape``."""
        width = sum(w for _, w in parse_columns(self.columns))
        if self.obs_shape != (width,):
            raise ConfigError(
                f"columns describe {width} model columns, so obs_shape must be ({width},); "
                f"got {self.obs_shape}"
            )

    @property
    def has_group_latent(self) -> bool:
        """Whether the model has a group latent ``u`` (``group_dim`` > 0): the one place
        this is decided (data-set defaults, encoders, figures and metrics ask it)."""
        return self.group_dim > 0

    @property
    def encoder_layers(self) -> int:
        """Hidden layers of each encoder head: ``encoder_n_hidden``, else ``n_hidden``."""
        return self.n_hidden if self.encoder_n_hidden is None else self.encoder_n_hidden


LR_SCHEDULES = ("constant", "cosine")
"""Learning-rate schedules of :class:`TrainConfig` (``groupvae.training.plan`` applies them)."""


@dataclass(frozen=True)
class TrainConfig:
    """How a model of any family is fitted.

    Attributes:
        epochs: passes over the training data (for CPVAE one epoch is
            ``ceil(N / (K * batch_per_population))`` mini-batches); an upper bound, with
            ``max_steps``. ``None``: as many as ``max_steps`` needs (then required).
        max_steps: the budget in model optimiser steps: training stops after exactly
            this many (or ``epochs``, whichever comes first). ``None``: ``epochs`` alone.
            The own-data readers' defaults size it from the data
            (:func:`groupvae.models.defaults.own_data_training`); a user's ``epochs``
            without ``max_steps`` replaces that budget (what the user sets is what
            runs).
        groups_per_batch: whole groups in each mini-batch (group VAEs).
        batch_per_population: ``M``, observations of *each* population in every
            mini-batch (CPVAE Algorithm 1).
        lr: Adam learning rate of the model.
        critic_lr: Adam learning rate of a regulariser's critic (``lr`` if ``None``).
        max_group_size: subsample larger groups to this size each epoch.
        seed: seeds weight initialisation noise, batch order and sampling.
        accelerator: Lightning accelerator: ``"cpu"`` (default), ``"gpu"`` or ``"auto"``.
        devices: Lightning devices per node (``2`` with ``strategy="ddp"``: two processes,
            each with whole groups of its own; see
            :class:`~groupvae.data.sampler.GroupBatchSampler`).
        strategy: Lightning strategy: ``"auto"``, ``"ddp"`` (the script is re-run per
            device), ``"ddp_spawn"``, ... On CPU, DDP uses the gloo backend.
        num_nodes: machines taking part (Lightning ``num_nodes``).
        progress: show a progress bar.
        kl_warmup_epochs: linearly raise the KL weight from 0 to ``beta`` over this many
            epochs (0: no warm-up).
        num_threads: CPU threads for torch (``torch.set_num_threads``, process-wide);
            ``None`` keeps torch's default. Tiny models train fastest with 1.
        random_groups: ignore the data's groups and train on random groups of this many
            observations, drawn anew each epoch (UG-VAE: groups are random mini-batches,
            B = 128); ``None`` trains on the data's own groups.
        balance_by: with ``random_groups``, the ``aux`` array (e.g. ``"domain"``) whose
            values each random group holds equally many of (UG-VAE section 4.2: 50% of
            each domain in every batch).
        validation_every: with holdout data, estimate the holdout ELBO about every this
            many model optimiser steps, rounded up to whole epochs (``None``: every epoch),
            and after the last epoch (:mod:`groupvae.training.validation`).
        validation_samples: posterior samples per observation of that estimate: the
            mean ELBO over ``validation_samples`` draws of fixed noise (torch seeded by
            0 for each estimate), so the same weights always give the same number
            (:func:`groupvae.training.holdout.elbo_estimate`).
        early_stopping_patience: with holdout data, stop once the holdout ELBO estimate
            has not improved for this many validation checks, and restore the weights
            of the best check. ``None``: off (the last weights are kept).
        early_stopping_min_delta: the smallest rise of the holdout ELBO per observation
            (nats) that counts as an improvement.
        lr_schedule: ``"constant"``, or ``"cosine"``: every optimiser's learning rate
            (the model's and a critic's) follows ``lr * (1 + cos(pi t / T)) / 2`` over
            the ``T`` model updates of ``epochs`` (cosine annealing, Loshchilov & Hutter
            2017, without restarts); ``t`` counts model updates, so a resumed run
            continues the same curve.
    """

    epochs: int | None = 64
    max_steps: int | None = None
    groups_per_batch: int = 64
    batch_per_population: int = 64
    lr: float = 1e-4
    critic_lr: float | None = None
    max_group_size: int | None = None
    seed: int = 0
    accelerator: str = "cpu"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    progress: bool = True
    kl_warmup_epochs: int = 0
    num_threads: int | None = None
    random_groups: int | None = None
    balance_by: str | None = None
    validation_every: int | None = None
    validation_samples: int = 1
    early_stopping_patience: int | None = None
    early_stopping_min_delta: float = 0.0
    lr_schedule: str = "constant"

    def __post_init__(self) -> None:
        check_field_types(self)
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(
                f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}"
            )
        at_least(self, groups_per_batch=1, batch_per_population=1, num_nodes=1)
        at_least(self, epochs=1, max_steps=1, validation_every=1, validation_samples=1)
        if self.epochs is None and self.max_steps is None:
            raise ConfigError("set epochs or max_steps (the training budget); both are None")
        at_least(self, seed=0, kl_warmup_epochs=0)
        at_least(self, random_groups=1, max_group_size=1, num_threads=1)  # or None
        if not self.lr > 0:
            raise ConfigError(f"lr must be a number > 0, got {self.lr}")
        if self.critic_lr is not None and not self.critic_lr > 0:
            raise ConfigError(f"critic_lr must be a number > 0 (or None), got {self.critic_lr}")
        if isinstance(self.devices, int) and self.devices < 1:
            raise ConfigError(f"devices must be >= 1 or 'auto', got {self.devices}")
        at_least(self, early_stopping_min_delta=0.0, early_stopping_patience=1)  # or None

    @property
    def pins_memory(self) -> bool:
        """Whether the loaders build batches in page-locked memory, for asynchronous
        copies: when training on a CUDA GPU (``accelerator`` ``"gpu"`` or ``"cuda"``, or
        ``"auto"`` where torch sees one)."""
        if self.accelerator not in ("gpu", "cuda", "auto"):
            return False

        return torch.cuda.is_available()


C = TypeVar("C")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def fits_type(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of type ``hint`` (``int``, ``float`` finite, ``str``, ``bool``,
    ``tuple[int, ...]`` of positive sizes, ``None`` where optional, or a union)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(fits_type(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return _is_int(value)
    if hint is float:
        return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        return isinstance(value, tuple) and all(_is_int(v) and v > 0 for v in value)
    return True


def type_name(hint: Any) -> str:
    """``int``, ``float or None``, ``tuple of sizes``, ... for a type hint."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(type_name(h) for h in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return "a tuple of sizes"
    return "None" if hint is type(None) else getattr(hint, "__name__", str(hint))


def check_field_types(config: Any) -> None:
    """Raise :class:`ConfigError` for a field whose value is not of its declared type:
    an ``int`` field given 2.5, a float field given NaN or infinity, a shape with a size
    below 1, ..."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if not fits_type(value, hints[field.name]):
            wanted = type_name(hints[field.name])
            if "float" in wanted:
                wanted += " (finite)"
            raise ConfigError(f"{field.name} must be {wanted}, got {value!r}")


def at_least(config: Any, **bounds: float) -> None:
    """Raise :class:`ConfigError` for a field (not ``None``) below its bound."""
    for name, bound in bounds.items():
        value = getattr(config, name)
        if value is not None and value < bound:
            raise ConfigError(f"{name} must be >= {bound}, got {value}")


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Turn a ``--set`` string into the field's type; other values pass through."""
    if not isinstance(value, str):
        return tuple(value) if isinstance(value, list) else value
    text = value.strip()
    options = typing.get_args(hint) if typing.get_origin(hint) is not tuple else (hint,)
    options = options or (hint,)
    if type(None) in options and text.lower() in ("none", "null"):
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        parsed = text
    is_number = isinstance(parsed, int | float) and not isinstance(parsed, bool)
    for option in options:
        if option is bool and isinstance(parsed, bool):
            return parsed
        if option is int and is_number and float(parsed).is_integer():
            return int(parsed)
        if option is float and is_number:
            return float(parsed)
        if typing.get_origin(option) is tuple and isinstance(parsed, int | list):
            return tuple(parsed) if isinstance(parsed, list) else (parsed,)
        if option is str:
            return text
    raise ConfigError(f"{key} needs a value of type {type_name(hint)}, got {value!r}")


def replace(config: C, **overrides: Any) -> C:
    """``dataclasses.replace`` that names unknown fields and coerces string values.

    Raises:
        ConfigError: for an unknown field or a value of the wrong type.
    """
    coerced = coerce(type(config), overrides)
    try:
        return dataclasses.replace(config, **coerced)  # type: ignore[type-var]
    except TypeError as err:
        raise ConfigError(str(err)) from None


def coerce(config_class: type, fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with string values turned into their field's type (``--set`` values).

    Raises:
        ConfigError: for an unknown field or a value of the wrong type.
    """
    hints = typing.get_type_hints(config_class)
    unknown = sorted(set(fields) - set(hints))
    if unknown:
        known = ", ".join(f.name for f in dataclasses.fields(config_class))
        raise ConfigError(f"unknown {config_class.__name__} field(s) {unknown}; known: {known}")
    return {k: _coerce(v, hints[k], k) for k, v in fields.items()}


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """Parse ``["key=value", ...]`` into a dict (values stay strings)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set needs key=value, got {pair!r}")
        out[key.strip()] = value
    return out


def split_overrides(
    overrides: dict[str, Any], model_config: type = ModelConfig
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split overrides into ``(model_fields, train_fields)`` of ``model_config`` (a
    family's config class) and :class:`TrainConfig`; unknown keys raise
    :class:`ConfigError` naming the known ones."""
    model_keys = {f.name for f in dataclasses.fields(model_config)}
    train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - model_keys - train_keys)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {unknown}; model fields: {sorted(model_keys)}; "
            f"training fields: {sorted(train_keys)}"
        )
    model = {k: v for k, v in overrides.items() if k in model_keys}
    train = {k: v for k, v in overrides.items() if k in train_keys}
    return model, train


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }
