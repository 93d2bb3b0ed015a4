"""The model families, their presets and parts, and :func:`create`.

Every preset of :data:`MODELS` belongs to a family of :data:`FAMILIES`: the group VAEs
(:class:`GroupVAE`: ``vae``, ``beta-vae``, ``mlvae``, ``gvae``, ``gvae-adv``, ``cxvae``,
``gmvae``, ``ugvae``) and CPVAE (:class:`CPVAE`: ``cpvae``). Each family meets one
contract (:mod:`groupvae.models.base`).
"""

from __future__ import annotations

from typing import Any

from groupvae.models.backbones import BACKBONES
from groupvae.models.base import BaseModel, BaseModule, Posterior
from groupvae.models.cpvae import AGGREGATIONS, CPVAE, CPVAECodes, CPVAEConfig, CPVAEModule
from groupvae.models.decoders import DECODERS
from groupvae.models.families import FAMILIES
from groupvae.models.group_encoders import GROUP_ENCODERS
from groupvae.models.instance_encoders import INSTANCE_ENCODERS
from groupvae.models.likelihoods import LIKELIHOODS
from groupvae.models.model import GroupVAE
from groupvae.models.module import GroupVAEModule
from groupvae.models.presets import MODELS, Preset
from groupvae.models.priors import PRIORS
from groupvae.objectives.cpvae import ALPHA_SCHEDULES
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
"""The group-VAE parts: config field -> registry of its values."""

CPVAE_PARTS = {
    "backbone": BACKBONES,
    "likelihood": LIKELIHOODS,
    "aggregation": AGGREGATIONS,
    "alpha_schedule": ALPHA_SCHEDULES,
}
"""The CPVAE parts: config field -> registry of its values."""

FAMILY_PARTS = {"group-vae": PARTS, "cpvae": CPVAE_PARTS}


def build_config(name: str, *, dataset: str | None = None, **overrides: Any) -> Any:
    """Resolve a preset into its family's config (:func:`groupvae.settings.resolve_model_config`:
    defaults < the data set's < the preset's parts < ``overrides``), with every part
    name checked.

    Raises:
        UnknownNameError: for an unknown preset, data set or part name.
        ConfigError: for an unknown field or a bad value.
    """
    from groupvae.settings import resolve_model_config

    config = resolve_model_config(name, dataset=dataset, overrides=overrides)
    for part, registry in FAMILY_PARTS[MODELS[name].family].items():
        registry[getattr(config, part)]  # raises UnknownNameError with the known names
    return config


def create(name: str, *, seed: int = 0, dataset: str | None = None, **overrides: Any) -> BaseModel:
    """Create the model preset ``name`` (``vae``, ``beta-vae``, ``mlvae``, ``gvae``,
    ``gvae-adv``, ``cxvae``, ``gmvae``, ``ugvae``, ``cpvae``).

    Args:
        name: a key of :data:`MODELS`.
        seed: seed of the weight initialisation, and the default seed of ``fit``.
        dataset: a key of ``DATASETS`` whose defaults apply: model defaults (likelihood,
            decoder, latent sizes) here, training defaults in ``fit``.
        **overrides: any field of the family's config, e.g. ``obs_shape=(1, 28, 28)``,
            ``group_encoder="poe"``, ``regulariser_weight=10.0``, ``objective="elbo"``.

    Raises:
        UnknownNameError: for an unknown model, data set or part name.
        ConfigError: for an unknown field, a bad value or parts that do not fit.
    """
    config = build_config(name, dataset=dataset, **overrides)
    return FAMILIES[MODELS[name].family](config, seed=seed, dataset=dataset)


def resolved_train_config(model: BaseModel, **options: Any) -> Any:
    """The :class:`~groupvae.config.TrainConfig` that ``model.fit(data, **options)`` would
    train with (before ``min_steps`` sizes the epochs)."""
    from groupvae.settings import resolve_train_config

    return resolve_train_config(model, {"seed": model.seed, **options})


__all__ = [
    "BACKBONES",
    "CPVAE",
    "CPVAE_PARTS",
    "DECODERS",
    "FAMILIES",
    "GROUP_ENCODERS",
    "INSTANCE_ENCODERS",
    "LIKELIHOODS",
    "MODELS",
    "PARTS",
    "PRIORS",
    "REGULARISERS",
    "BaseModel",
    "BaseModule",
    "CPVAECodes",
    "CPVAEConfig",
    "CPVAEModule",
    "GroupVAE",
    "GroupVAEModule",
    "Posterior",
    "Preset",
    "build_config",
    "create",
    "resolved_train_config",
]
