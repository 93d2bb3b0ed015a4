"""The one settings resolver: what config a model gets and how it trains.

Used by :func:`groupvae.models.create` and ``BaseModel.fit``, and so by ``groupvae
train``, the demo and the benchmarks alike. Precedence, lowest first:

1. the config dataclasses' defaults (``ModelConfig`` / ``CPVAEConfig``, ``TrainConfig``);
2. the rows of :data:`groupvae.models.defaults.DEFAULTS` that match the model: its
   family's own, then its data set's;
3. the preset's parts and training settings (``MODELS[name]``);
4. the user's options (``--set key=value``, keyword arguments).
"""

from __future__ import annotations

from typing import Any

from groupvae.config import TrainConfig, replace
from groupvae.models.defaults import lookup
from groupvae.models.presets import MODELS


def resolve_model_config(
    preset: str,
    config_class: type,
    *,
    dataset: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Any:
    """The config (a ``config_class``, the family's) of preset ``preset`` on ``dataset``,
    with ``overrides`` on top.

    Raises:
        UnknownNameError: for an unknown preset.
        ConfigError: for an unknown field or a bad value.
    """
    spec = MODELS[preset]
    parts_only = replace(config_class(model=preset), **spec.parts)
    fields, _ = lookup(dataset, spec.family, preset, parts_only.has_group_latent)
    fields.update(spec.parts)
    fields.update(overrides or {})
    return replace(config_class(model=preset), **fields)


def resolve_train_config(model: Any, options: dict[str, Any] | None = None) -> TrainConfig:
    """The :class:`TrainConfig` of ``model`` (a ``BaseModel``: its ``family``, ``config``
    and ``dataset``) for ``fit(**options)``.

    Raises:
        ConfigError: for an unknown field or a bad value.
    """
    preset = model.config.model
    _, fields = lookup(model.dataset, model.family, preset, model.config.has_group_latent)
    if preset in MODELS:
        fields.update(MODELS[preset].training)
    fields.update(options or {})
    return replace(TrainConfig(), **fields)


__all__ = ["resolve_model_config", "resolve_train_config"]
