"""The user-facing models: the two families, their presets, the data sets' defaults and
the factory (:func:`create`, :func:`load`).

Every preset of :data:`MODELS` belongs to a family of :data:`FAMILIES`: the group VAEs
(:class:`GroupVAE`: ``vae``, ``beta-vae``, ``mlvae``, ``gvae``, ``gvae-adv``, ``cxvae``,
``gmvae``, ``ugvae``) and CPVAE (:class:`CPVAE`: ``cpvae``). Each family meets one
contract (:class:`~groupvae.models.base.BaseModel`); its mathematics is a module of
:mod:`groupvae.modules`. The settings a data set gives a model are one table,
:data:`~groupvae.models.defaults.DEFAULTS`.
"""

from __future__ import annotations

from groupvae.models.base import FAMILIES, BaseModel, Posterior
from groupvae.models.cpvae import CPVAE, CPVAE_PARTS, CPVAECodes
from groupvae.models.defaults import DEFAULTS
from groupvae.models.factory import (
    FAMILY_PARTS,
    build_config,
    create,
    data_settings,
    load,
    resolved_train_config,
    split_settings,
)
from groupvae.models.group_vae import PARTS, GroupVAE
from groupvae.models.presets import MODELS, Preset
from groupvae.modules.backbones import BACKBONES
from groupvae.modules.base import BaseModule
from groupvae.modules.cpvae import AGGREGATIONS, CPVAEConfig, CPVAEModule
from groupvae.modules.group_vae import (
    DECODERS,
    GROUP_ENCODERS,
    INSTANCE_ENCODERS,
    PRIORS,
    GroupVAEModule,
)
from groupvae.modules.likelihoods import LIKELIHOODS
from groupvae.objectives.regularisers import REGULARISERS

__all__ = [
    "AGGREGATIONS",
    "BACKBONES",
    "CPVAE",
    "CPVAE_PARTS",
    "DECODERS",
    "DEFAULTS",
    "FAMILIES",
    "FAMILY_PARTS",
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
    "data_settings",
    "load",
    "resolved_train_config",
    "split_settings",
]
