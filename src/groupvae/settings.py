"""The one settings resolver: what config a model gets and how it trains.

Used by :func:`groupvae.models.create` and ``BaseModel.fit`` and so by ``groupvae train``,
the demo and the benchmarks alike. Precedence, lowest first:

1. the config dataclasses' defaults (``ModelConfig`` / ``CPVAEConfig``, ``TrainConfig``)
   and the family's training defaults (``BaseModel.train_defaults``);
2. the data set's defaults for this kind of model (``DATASETS[name].model_defaults`` and
   ``.training``), given the model's :class:`~groupvae.data.registry.ModelTraits`;
3. the preset's parts and training settings (``MODELS[name]``);
4. the user's options (``--set key=value``, keyword arguments).
"""

from __future__ import annotations

from typing import Any

from groupvae.config import TrainConfig, replace, split_overrides
from groupvae.data.registry import DATASETS, ModelTraits
from groupvae.models.presets import MODELS


def traits(preset: str, model: Any = None) -> ModelTraits:
    """The :class:`ModelTraits` of preset ``preset`` (or, for a custom config, of
    ``model``, a ``BaseModel``), which a data set's defaults may depend on."""
    if preset in MODELS:
        p = MODELS[preset]
        return ModelTraits(p.family, p.group_latent, p.architecture)
    if model is None:
        return ModelTraits()
    return ModelTraits(model.family, getattr(model.config, "group_dim", 1) != 0, None)


def config_class(preset: str) -> type:
    """The config dataclass of ``preset``'s family (raises ``UnknownNameError``)."""
    from groupvae.models.families import FAMILIES

    return FAMILIES[MODELS[preset].family].config_class


def resolve_model_config(
    preset: str, *, dataset: str | None = None, overrides: dict[str, Any] | None = None
) -> Any:
    """The config of preset ``preset`` on ``dataset``, with ``overrides`` on top.

    Raises:
        UnknownNameError: for an unknown preset or data set.
        ConfigError: for an unknown field or a bad value.
    """
    spec = MODELS[preset]
    fields: dict[str, Any] = {}
    if dataset is not None:
        fields.update(DATASETS[dataset].model_defaults(traits(preset)))
    fields.update(spec.parts)
    fields.update(overrides or {})
    cls = config_class(preset)
    return replace(cls(model=preset), **fields)


def resolve_train_config(model: Any, options: dict[str, Any] | None = None) -> TrainConfig:
    """The :class:`TrainConfig` of ``model`` (a ``BaseModel``) for ``fit(**options)``.

    Raises:
        UnknownNameError: for an unknown data set recorded on the model.
        ConfigError: for an unknown field or a bad value.
    """
    preset = model.config.model
    fields: dict[str, Any] = dict(type(model).train_defaults)
    if model.dataset is not None:
        fields.update(DATASETS[model.dataset].training(traits(preset, model)))
    if preset in MODELS:
        fields.update(MODELS[preset].training)
    fields.update(options or {})
    return replace(TrainConfig(), **fields)


def split_settings(preset: str, overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``--set`` overrides into ``(model fields, training fields)`` of ``preset``'s
    family; unknown names raise :class:`~groupvae.errors.ConfigError` naming the known."""
    return split_overrides(overrides, config_class(preset))


__all__ = [
    "config_class",
    "resolve_model_config",
    "resolve_train_config",
    "split_settings",
    "traits",
]
