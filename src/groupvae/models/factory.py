"""Making and restoring models of any family: :func:`create`, :func:`build_config` and
:func:`load`, above both families.

``FAMILIES`` maps a family's name to its user-model class (each a
:class:`~groupvae.models.base.BaseModel`; a class joins when it is defined). A preset
names its family and a checkpoint records it, so creating and loading dispatch through
this map with no branch on a model's name.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from groupvae.config import split_overrides
from groupvae.data.grouped import GroupedDataset
from groupvae.models.base import FAMILIES, BaseModel
from groupvae.models.cpvae import CPVAE, CPVAE_PARTS
from groupvae.models.group_vae import PARTS, GroupVAE
from groupvae.models.presets import MODELS
from groupvae.models.resolve import resolve_model_config
from groupvae.registry import Registry

FAMILY_PARTS: Registry[dict[str, Registry[Any]]] = Registry("model family")
"""Family -> its parts: config field -> registry of the field's values."""
FAMILY_PARTS.add(GroupVAE.family, PARTS)
FAMILY_PARTS.add(CPVAE.family, CPVAE_PARTS)


def config_class(preset: str) -> type:
    """The config dataclass of ``preset``'s family (raises ``UnknownNameError``)."""
    return FAMILIES[MODELS[preset].family].config_class


def build_config(name: str, *, dataset: str | None = None, **overrides: Any) -> Any:
    """Resolve a preset into its family's config (:func:`groupvae.models.resolve.
    resolve_model_config`: defaults < the data set's < the preset's parts <
    ``overrides``), with every part name checked.

    Raises:
        UnknownNameError: for an unknown preset, data set or part name.
        ConfigError: for an unknown field or a bad value.
    """
    config = resolve_model_config(name, config_class(name), dataset=dataset, overrides=overrides)
    for part, registry in FAMILY_PARTS[MODELS[name].family].items():
        registry[getattr(config, part)]  # raises UnknownNameError with the known names
    return config


def data_settings(preset: str, data: GroupedDataset) -> dict[str, Any]:
    """The config fields of ``preset`` that ``data`` decides: ``obs_shape``, and for a
    mixed-type table (a reader's transform with a column that is not continuous) the
    mixed likelihood and its column layout (``likelihood="mixed"``, ``columns=
    data.transform.layout``), where the family's config has them.

    Raises:
        UnknownNameError: for an unknown preset.
    """
    fields: dict[str, Any] = {"obs_shape": data.obs_shape}
    names = {f.name for f in dataclasses.fields(config_class(preset))}
    transform = data.transform
    if getattr(transform, "is_mixed", False) and "columns" in names:
        fields.update(likelihood="mixed", columns=transform.layout)
    return fields


def create(
    name: str,
    *,
    seed: int = 0,
    dataset: str | None = None,
    data: GroupedDataset | None = None,
    **overrides: Any,
) -> BaseModel:
    """Create the model preset ``name`` (``vae``, ``beta-vae``, ``mlvae``, ``gvae``,
    ``gvae-adv``, ``cxvae``, ``gmvae``, ``ugvae``, ``cpvae``).

    Args:
        name: a key of :data:`MODELS`.
        seed: seed of the weight initialisation, and the default seed of ``fit``.
        dataset: a key of ``DATASETS`` whose defaults apply
            (:data:`groupvae.models.defaults.DEFAULTS`): model defaults (likelihood,
            decoder, latent sizes) here, training defaults in ``fit``.
        data: data the model is for: it sets the fields :func:`data_settings` names
            (the observations' shape; a mixed-type table's likelihood and column layout)
            unless ``overrides`` set them.
        **overrides: any field of the family's config, e.g. ``obs_shape=(1, 28, 28)``,
            ``group_encoder="poe"``, ``regulariser_weight=10.0``, ``objective="elbo"``.

    Raises:
        UnknownNameError: for an unknown model, data set or part name.
        ConfigError: for an unknown field, a bad value or parts that do not fit.
    """
    if data is not None:
        overrides = {**data_settings(name, data), **overrides}
    config = build_config(name, dataset=dataset, **overrides)
    return FAMILIES[MODELS[name].family](config, seed=seed, dataset=dataset)


def load(directory: str | Path) -> BaseModel:
    """Load a model saved with ``save`` (or by ``groupvae train``), of the family its
    checkpoint records: a :class:`GroupVAE` or a :class:`CPVAE`.

    Raises:
        CheckpointError: if the directory is missing, corrupt or does not match its config.
    """
    return BaseModel.load(directory)


def resolved_train_config(model: BaseModel, **options: Any) -> Any:
    """The :class:`~groupvae.config.TrainConfig` that ``model.fit(data, **options)`` would
    train with (:meth:`BaseModel.resolved_train_config`)."""
    return model.resolved_train_config(**options)


def split_settings(preset: str, overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``--set`` overrides into ``(model fields, training fields)`` of ``preset``'s
    family; unknown names raise :class:`~groupvae.errors.ConfigError` naming the known."""
    return split_overrides(overrides, config_class(preset))


__all__ = [
    "FAMILIES",
    "FAMILY_PARTS",
    "build_config",
    "config_class",
    "create",
    "data_settings",
    "load",
    "resolved_train_config",
    "split_settings",
]
