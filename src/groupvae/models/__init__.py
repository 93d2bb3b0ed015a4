"""The group-VAE family: presets, parts and :func:`create`."""

from __future__ import annotations

from typing import Any

from groupvae.config import ModelConfig, replace
from groupvae.models.backbones import BACKBONES
from groupvae.models.cpvae import (  # a model class of its own, not a MODELS preset
    CPVAE,
    CPVAE_DATASETS,
    CPVAEConfig,
    CPVAETrainConfig,
    create_cpvae,
)
from groupvae.models.decoders import DECODERS
from groupvae.models.group_encoders import GROUP_ENCODERS
from groupvae.models.instance_encoders import INSTANCE_ENCODERS
from groupvae.models.likelihoods import LIKELIHOODS
from groupvae.models.model import GroupVAE, Posterior
from groupvae.models.module import GroupVAEModule
from groupvae.models.presets import MODELS, PRESET_TRAINING
from groupvae.models.priors import PRIORS
from groupvae.objectives.regularisers import REGULARISERS

PARTS = {
    "backbone": BACKBONES,
    "group_encoder": GROUP_ENCODERS,
    "instance_encoder": INSTANCE_ENCODERS,
    "regulariser": REGULARISERS,
    "prior": PRIORS,
    "decoder": DECODERS,
    "likelihood": LIKELIHOODS,
}


def build_config(name: str, *, dataset: str | None = None, **overrides: Any) -> ModelConfig:
    """Resolve a preset into a :class:`ModelConfig`.

    Precedence, lowest first: ``ModelConfig`` defaults, the data set's defaults for this
    preset (``DATASETS[dataset].model_defaults``), the preset's parts, ``overrides``.

    Raises:
        UnknownNameError: for an unknown preset, data set or part name.
        ConfigError: for an unknown field or a bad value.
    """
    preset = MODELS[name]
    fields: dict[str, Any] = {}
    if dataset is not None:
        from groupvae.data.registry import DATASETS

        fields.update(DATASETS[dataset].model_defaults(name))
    fields.update(preset)
    fields.update(overrides)
    config = replace(ModelConfig(model=name), **fields)
    for part, registry in PARTS.items():
        registry[getattr(config, part)]  # raises UnknownNameError with the known names
    return config


def create(name: str, *, seed: int = 0, dataset: str | None = None, **overrides: Any) -> GroupVAE:
    """Create the model preset ``name`` (``vae``, ``beta-vae``, ``mlvae``, ``gvae``,
    ``gvae-adv``, ``cxvae``, ``gmvae``, ``ugvae``).

    Args:
        name: a key of :data:`MODELS`.
        seed: seed of the weight initialisation.
        dataset: a key of ``DATASETS`` whose model defaults apply (likelihood, decoder,
            latent sizes); optional.
        **overrides: any :class:`ModelConfig` field, e.g. ``obs_shape=(1, 28, 28)``,
            ``group_encoder="poe"``, ``regulariser_weight=10.0``.

    Raises:
        UnknownNameError: for an unknown model, data set or part name.
        ConfigError: for an unknown field, a bad value or parts that do not fit.
    """
    return GroupVAE(build_config(name, dataset=dataset, **overrides), seed=seed)


__all__ = [
    "BACKBONES",
    "CPVAE",
    "CPVAE_DATASETS",
    "CPVAEConfig",
    "CPVAETrainConfig",
    "DECODERS",
    "GROUP_ENCODERS",
    "INSTANCE_ENCODERS",
    "LIKELIHOODS",
    "MODELS",
    "PARTS",
    "PRESET_TRAINING",
    "PRIORS",
    "REGULARISERS",
    "GroupVAE",
    "GroupVAEModule",
    "ModelConfig",
    "Posterior",
    "build_config",
    "create",
    "create_cpvae",
]
