"""CPVAE, the Cross-population VAE: shared and population-private latents.

Entry point: :func:`create_cpvae` (or :class:`CPVAE` with a :class:`CPVAEConfig`), and
:func:`groupvae.models.cpvae.runs.train_cpvae_run` for a run directory from a named data
set. CPVAE is not a :data:`groupvae.models.MODELS` preset (those are group-VAE
configurations of one module); its own data-set defaults are in :data:`CPVAE_DATASETS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from groupvae.config import replace
from groupvae.models.backbones import BACKBONES
from groupvae.models.cpvae.config import CPVAEConfig, CPVAETrainConfig
from groupvae.models.cpvae.model import CPVAE, CPVAECodes
from groupvae.models.cpvae.module import AGGREGATIONS, CPVAEModule
from groupvae.models.likelihoods import LIKELIHOODS
from groupvae.objectives.cpvae import ALPHA_SCHEDULES
from groupvae.registry import Registry


@dataclass(frozen=True)
class CPVAEDataDefaults:
    """How a registered data set (``DATASETS``) is fed to a CPVAE.

    Attributes:
        population: the population key (``"labels"``, ``"group"`` or an ``aux`` name).
        model: :class:`CPVAEConfig` overrides (``n_populations``, ``obs_shape``, ...).
        train: :class:`CPVAETrainConfig` overrides.
    """

    population: str = "population"
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)


CPVAE_DATASETS: Registry[CPVAEDataDefaults] = Registry("CPVAE data set")
_IMAGE = {"obs_shape": (1, 28, 28), "likelihood": "gaussian", "hidden": 256, "n_hidden": 1}
_TRAIN = {"epochs": 50, "batch_per_population": 64, "lr": 1e-3}
# Section 4.1: two populations, shared latent 100, private latent 25.
CPVAE_DATASETS.add(
    "grassy-mnist",
    CPVAEDataDefaults(
        "population", {**_IMAGE, "n_populations": 2, "shared_dim": 100, "private_dim": 25}, _TRAIN
    ),
)
# Section 4.3: one population per class.
for _name in ("grassy-mnist-classes", "mnist-classes"):
    CPVAE_DATASETS.add(
        _name,
        CPVAEDataDefaults(
            "population",
            {**_IMAGE, "n_populations": 10, "shared_dim": 100, "private_dim": 25},
            {**_TRAIN, "batch_per_population": 16},
        ),
    )
for _name in ("mnist", "mnist-full", "uci-digits"):
    CPVAE_DATASETS.add(
        _name,
        CPVAEDataDefaults(
            "labels",
            {**_IMAGE, "n_populations": 10, "shared_dim": 100, "private_dim": 25},
            {**_TRAIN, "batch_per_population": 16},
        ),
    )


def build_cpvae_config(*, dataset: str | None = None, **overrides: Any) -> CPVAEConfig:
    """A :class:`CPVAEConfig`: defaults, then ``CPVAE_DATASETS[dataset].model``, then
    ``overrides`` (strings are coerced, as for ``--set key=value``).

    Raises:
        UnknownNameError: for an unknown data set, backbone, likelihood, aggregation or
            alpha schedule.
        ConfigError: for an unknown field or a bad value.
    """
    fields: dict[str, Any] = {}
    if dataset is not None:
        fields.update(CPVAE_DATASETS[dataset].model)
    fields.update(overrides)
    config = replace(CPVAEConfig(), **fields)
    BACKBONES[config.backbone]
    LIKELIHOODS[config.likelihood]
    AGGREGATIONS[config.aggregation]
    ALPHA_SCHEDULES[config.alpha_schedule]
    return config


def create_cpvae(*, seed: int = 0, dataset: str | None = None, **overrides: Any) -> CPVAE:
    """Create a CPVAE.

    Args:
        seed: seed of the weight initialisation.
        dataset: a key of :data:`CPVAE_DATASETS` whose defaults apply (``n_populations``,
            latent sizes, likelihood).
        **overrides: :class:`CPVAEConfig` fields, e.g. ``objective="elbo"``,
            ``alpha_schedule="linear"``, ``alpha_end=10``.

    Raises:
        UnknownNameError, ConfigError: as :func:`build_cpvae_config`.
    """
    return CPVAE(build_cpvae_config(dataset=dataset, **overrides), seed=seed)


__all__ = [
    "AGGREGATIONS",
    "CPVAE",
    "CPVAE_DATASETS",
    "CPVAECodes",
    "CPVAEConfig",
    "CPVAEDataDefaults",
    "CPVAEModule",
    "CPVAETrainConfig",
    "build_cpvae_config",
    "create_cpvae",
]
