"""The one settings resolver: what config a model gets and how it trains.

Used by :func:`groupvae.models.create` and ``BaseModel.fit``, and so by ``groupvae
train``, the demo and the benchmarks alike. Precedence, lowest first:

1. the config dataclasses' defaults (``ModelConfig`` / ``CPVAEConfig``, ``TrainConfig``);
2. the rows of :data:`groupvae.models.defaults.DEFAULTS` that match the model: its
   family's own, then its data set's;
3. the preset's parts and training settings (``MODELS[name]``);
4. the user's options (``--set key=value``, keyword arguments).

Training settings of the user's own data sets also depend on the data's shape
(:func:`groupvae.models.defaults.own_data_training`, between 2 and 3). A layer that sets
the budget in one unit replaces the budget of the layers below it: ``epochs`` without
``max_steps`` clears ``max_steps``, and ``max_steps`` without ``epochs`` leaves the
epochs to ``max_steps``; so ``--epochs 7`` trains exactly 7 epochs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from groupvae.config import TrainConfig, coerce, replace
from groupvae.data.grouped import GroupedDataset
from groupvae.models.defaults import DataShape, lookup, own_data_training
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


def resolve_train_config(
    model: Any, options: dict[str, Any] | None = None, data: GroupedDataset | None = None
) -> TrainConfig:
    """The :class:`TrainConfig` of ``model`` (a ``BaseModel``: its ``family``, ``config``
    and ``dataset``) for ``fit(data, **options)``.

    Args:
        model: the user-facing model.
        options: the user's training options.
        data: the training data; on the user's own data sets its shape sizes the
            budget, the groups per batch and the validation interval.

    Raises:
        ConfigError: for an unknown field or a bad value.
    """
    preset = model.config.model
    _, fields = lookup(model.dataset, model.family, preset, model.config.has_group_latent)
    layers: list[Mapping[str, Any]] = []
    if data is not None:
        layers.append(own_data_training(model.dataset, DataShape.of(data)))
    if preset in MODELS:
        layers.append(MODELS[preset].training)
    layers.append(options or {})
    for layer in layers:
        apply_layer(fields, coerce(TrainConfig, layer))
    return replace(TrainConfig(), **fields)


def apply_layer(fields: dict[str, Any], layer: Mapping[str, Any]) -> None:
    """Update ``fields`` with ``layer``; a budget in one unit replaces the other's, and a
    budget in epochs caps a lower layer's KL warm-up at a tenth of it."""
    epochs = layer.get("epochs")
    if epochs is not None and "max_steps" not in layer:
        fields["max_steps"] = None
    if epochs is not None and "kl_warmup_epochs" not in layer and "kl_warmup_epochs" in fields:
        fields["kl_warmup_epochs"] = min(fields["kl_warmup_epochs"], epochs // 10)
    if layer.get("max_steps") is not None and "epochs" not in layer:
        fields["epochs"] = None
    fields.update(layer)


__all__ = ["resolve_model_config", "resolve_train_config"]
