"""``DEFAULTS``: the model and training settings each data set gives each kind of model.

One table, keyed by data set, family and presets. The settings resolver
(:mod:`groupvae.models.resolve`) applies the rows that match a model in table order, so
a later row wins over an earlier one: a data set's row for every preset of a family
first, then rows for the presets with (or without) a group latent, then rows for named
presets (UG-VAE's architecture). A preset's own parts and training settings, and the
user's, win over every row.

``presets`` of a row is ``"*"`` (every preset of the family), ``"group-latent"`` or
``"no-group-latent"`` (by :attr:`ModelConfig.has_group_latent` of the preset's parts),
or a tuple of preset names. A data set of ``"*"`` holds the family's own defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from groupvae.data.datasets import DATASETS
from groupvae.models.presets import UGVAE_FAMILY

GROUP_LATENT = "group-latent"
NO_GROUP_LATENT = "no-group-latent"
EVERY = "*"


@dataclass(frozen=True)
class Defaults:
    """One row of :data:`DEFAULTS`.

    Attributes:
        dataset: a key of ``DATASETS``, or ``"*"`` for every data set.
        family: the model family (``"group-vae"`` or ``"cpvae"``).
        presets: which presets of the family the row is for (see the module docstring).
        model: fields of the family's config.
        training: :class:`~groupvae.config.TrainConfig` fields.
    """

    dataset: str
    family: str
    presets: str | tuple[str, ...] = EVERY
    model: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, dataset: str, family: str, preset: str, group_latent: bool) -> bool:
        """Whether the row applies to ``preset`` of ``family`` on ``dataset``."""
        if self.dataset not in (EVERY, dataset) or self.family != family:
            return False
        if self.presets == EVERY:
            return True
        if self.presets == GROUP_LATENT:
            return group_latent
        if self.presets == NO_GROUP_LATENT:
            return not group_latent
        return preset in self.presets


def ugvae_model_defaults(
    obs_shape: tuple[int, ...],
    *,
    backbone: str = "dense",
    decoder: str = "mlp",
    instance_dim: int = 10,
    group_dim: int = 20,
    n_components: int = 10,
) -> dict[str, Any]:
    """UG-VAE's architecture (appendix B, Table 2) for images in ``[0, 1]``.

    MNIST: a shared pre-encoder ``h`` (784 -> 256, ReLU; ``backbone="dense"``) with
    linear heads for ``q(z | x)`` and ``q(beta | X, Z)``; ``q(d | z)``: ``d -> 256 -> K``;
    each mixture component ``g -> 256 -> 2d``; decoder ``d + g -> 256 -> 784``, sigmoid
    output, Gaussian likelihood with ``sigma_x = 0.2``; ``d = 10``, ``g = 20``, ``K = 10``.
    For 64x64 images pass ``backbone="conv"``, ``decoder="conv"``. Presets without a
    global latent (GMVAE, beta-VAE) take the same local part.
    """
    return {
        "obs_shape": obs_shape,
        "backbone": backbone,
        "decoder": decoder,
        "hidden": 256,
        "n_hidden": 1,
        "encoder_n_hidden": 0,
        "group_dim": group_dim,
        "instance_dim": instance_dim,
        "n_components": n_components,
        "likelihood": "gaussian-sigmoid",
        "obs_std": 0.2,
    }


CPVAE_OBS_STD = 0.05
"""The CPVAE data sets' fixed observation scale ``Psi^(1/2)``. With a learned ``Psi`` (it
grows to about 0.1) or a fixed 0.1, the shared latent of Grassy-MNIST has no active unit
and the private latent explains the grass; with 0.05 it has 33-48 (docs/benchmarks/cpvae.md)."""


def cpvae_model_defaults(n_populations: int) -> dict[str, Any]:
    """CPVAE's MNIST set-up (CPVAE section 4.1): shared latent 100, private latent 25,
    one hidden layer of 256, a Gaussian likelihood with the fixed standard deviation
    :data:`CPVAE_OBS_STD` (the paper does not give ``Psi``), for 28x28 images."""
    return {
        "obs_shape": (1, 28, 28),
        "likelihood": "gaussian",
        "obs_std": CPVAE_OBS_STD,
        "learn_obs_std": False,
        "hidden": 256,
        "n_hidden": 1,
        "n_populations": n_populations,
        "shared_dim": 100,
        "private_dim": 25,
    }


def image_rows(
    dataset: str,
    obs_shape: tuple[int, ...],
    *,
    training: Mapping[str, Any],
    backbone: str = "mlp",
    decoder: str = "mlp",
    group_dim: int = 10,
    instance_dim: int = 10,
    hidden: int = 256,
    n_hidden: int = 1,
    likelihood: str = "bernoulli",
) -> list[Defaults]:
    """The group-VAE rows of an image data set of pixels in ``[0, 1]``.

    The presets without a group latent get ``group_dim + instance_dim`` instance latents,
    so every preset has the same total latent size; UG-VAE's presets get its
    architecture (:func:`ugvae_model_defaults`, convolutional for ``backbone="conv"``).
    ``backbone`` and ``decoder`` name entries of ``BACKBONES`` and ``DECODERS``.
    """
    model = {
        "obs_shape": obs_shape,
        "likelihood": likelihood,
        "backbone": backbone,
        "decoder": decoder,
        "group_dim": group_dim,
        "instance_dim": instance_dim,
        "hidden": hidden,
        "n_hidden": n_hidden,
    }
    conv = {"backbone": "conv", "decoder": "conv"} if backbone == "conv" else {}
    return [
        Defaults(dataset, "group-vae", model=model, training=training),
        Defaults(dataset, "group-vae", NO_GROUP_LATENT, {"instance_dim": group_dim + instance_dim}),
        Defaults(dataset, "group-vae", UGVAE_FAMILY, ugvae_model_defaults(obs_shape, **conv)),
    ]


def cpvae_rows(
    dataset: str, n_populations: int | None, training: Mapping[str, Any]
) -> list[Defaults]:
    """CPVAE's row of a data set with populations: its MNIST set-up for
    ``n_populations`` (none for ``None``) and ``training``."""
    model = {} if n_populations is None else cpvae_model_defaults(n_populations)
    return [Defaults(dataset, "cpvae", model=model, training=training)]


# ``num_threads`` in the training rows: MLPs this small train as fast on one torch thread
# as on two, and extra threads spin and slow training many-fold when other processes share
# the cores (see docs/performance.md). Convolutions use two.
CPVAE_TRAIN = {"epochs": 50, "batch_per_population": 64, "lr": 1e-3}
CPVAE_CLASS_TRAIN = {**CPVAE_TRAIN, "batch_per_population": 16}

# Readers of your own data (``groupvae.data.readers``). Their training defaults suit any
# grouping: a budget in optimiser steps (the epochs adapt to few groups), sized from the
# data's shape by ``own_data_training``; early stopping on a fixed-noise holdout ELBO
# estimate with the best weights restored; groups above 128 members subsampled per step
# (ML-VAE section 3.2). These are the values without a data shape.
OWN_DATA_TRAIN = {
    "groups_per_batch": 16,
    "lr": 1e-3,
    "epochs": None,
    "max_steps": 3000,
    "validation_every": 50,
    "validation_samples": 4,
    "early_stopping_patience": 10,
    "max_group_size": 128,
    "num_threads": 1,
}
OWN_DATA = ("table", "npz", "anndata", "image-folder")
"""The data sets read from the user's files, whose training adapts to the data's shape."""


@dataclass(frozen=True)
class DataShape:
    """What the own-data training defaults look at.

    Attributes:
        n_groups: groups in the training data.
        n_obs: observations in the training data.
        median_group_size: the median group's members.
    """

    n_groups: int
    n_obs: int
    median_group_size: float

    @classmethod
    def of(cls, data: Any) -> DataShape:
        """The shape of a :class:`~groupvae.data.grouped.GroupedDataset`."""
        sizes = np.asarray(data.group_sizes)
        median = float(np.median(sizes)) if len(sizes) else 0.0
        return cls(len(sizes), int(sizes.sum()), median)


KL_WARMUP_EPOCHS = 10
"""Own data's KL warm-up: the KL weight rises from 0 to 1 over the first 10 epochs. On
Chem97 (2,410 schools of 1-188 students, split 0) it takes ML-VAE from 0.014 nats per
student below the random-intercept model to 0.012 above, and GVAE from 0.018 below to
0.016 above (``perf/own_data_defaults.py`` on commit ef2043a;
docs/benchmarks/multilevel.md)."""

OBS_PER_BATCH = 256
"""Observations a batch aims at: ``groups_per_batch ~ OBS_PER_BATCH / median group size``."""


def own_data_training(dataset: str | None, shape: DataShape) -> dict[str, Any]:
    """Training settings sized from the data's shape, for the user's own data sets
    (:data:`OWN_DATA`; ``{}`` for every other data set).

    - ``groups_per_batch``: about :data:`OBS_PER_BATCH` observations a step (groups
      above ``max_group_size`` count as that many), between 4 and 64 groups, and at
      most a quarter of the groups (so an epoch has at least 4 steps where it can), but
      at least 2 (a regulariser compares groups within a batch);
    - ``max_steps``: 200 epochs, between 3,000 and 10,000 optimiser steps (early
      stopping usually ends the run well before);
    - ``validation_every``: 100 checks over the budget, at most one per epoch;
    - ``kl_warmup_epochs``: :data:`KL_WARMUP_EPOCHS`, at most a tenth of the budget's
      epochs (a user's ``epochs`` caps it at a tenth of theirs:
      :func:`groupvae.models.resolve.apply_layer`).
    """
    if dataset not in OWN_DATA or shape.n_groups < 1:
        return {}
    cap = int(OWN_DATA_TRAIN["max_group_size"])
    per_group = min(max(shape.median_group_size, 1.0), cap)
    groups = int(np.clip(round(OBS_PER_BATCH / per_group), 4, 64))
    groups = max(min(groups, shape.n_groups // 4), min(2, shape.n_groups))
    steps_per_epoch = -(-shape.n_groups // groups)
    max_steps = int(np.clip(200 * steps_per_epoch, 3000, 10000))
    budget_epochs = -(-max_steps // steps_per_epoch)
    return {
        "groups_per_batch": groups,
        "max_steps": max_steps,
        "kl_warmup_epochs": min(KL_WARMUP_EPOCHS, max(1, budget_epochs // 10)),
        "validation_every": max(steps_per_epoch, max_steps // 100),
    }


TABLE_MODEL = {
    "likelihood": "gaussian",
    "learn_obs_std": True,
    "decoder": "mlp",
    "hidden": 64,
    "group_dim": 2,
    "instance_dim": 2,
}
"""Standardised features: a Gaussian with a learned noise scale, 2-d codes."""
TABLE_TRAIN = {"lr": 3e-3}
"""Tables' small MLPs converge about twice as fast at 3e-3 as at 1e-3 with early stopping
on (ScotsSec, split 0: ML-VAE +0.16 nats per student over the random-intercept model
at 3e-3 against +0.08 at 1e-3 in the same budget; Chem97: -0.014 against -0.011, in half
the time; ``perf/own_data_defaults.py`` on commit 0f0a7a1; docs/benchmarks/multilevel.md)."""
COUNTS_MODEL = {
    "likelihood": "negative-binomial",
    "decoder": "mlp",
    "hidden": 128,
    "group_dim": 10,
    "instance_dim": 10,
}
"""Counts (cells x genes): scVI's negative binomial with the observed library size."""
IMAGE_FOLDER_MODEL = {
    "likelihood": "bernoulli",
    "decoder": "mlp",
    "hidden": 256,
    "n_hidden": 1,
    "group_dim": 10,
    "instance_dim": 10,
}


def own_data_rows(
    dataset: str, model: Mapping[str, Any], training: Mapping[str, Any] | None = None
) -> list[Defaults]:
    """The group-VAE rows of a reader of the user's files: ``model`` (twice the instance
    latent without a group latent) and :data:`OWN_DATA_TRAIN` with ``training`` on top."""
    return [
        Defaults(
            dataset, "group-vae", model=model, training={**OWN_DATA_TRAIN, **(training or {})}
        ),
        Defaults(dataset, "group-vae", NO_GROUP_LATENT, {"instance_dim": 2 * model["group_dim"]}),
    ]


DEFAULTS: tuple[Defaults, ...] = (
    # The families' own training defaults, on every data set.
    Defaults(EVERY, "cpvae", training=CPVAE_TRAIN),
    # CxVAE section 3.1: a Gaussian likelihood with unit noise and the known decoder,
    # which needs a group latent (the VAE gets an MLP).
    Defaults(
        "exam-scores",
        "group-vae",
        model={"likelihood": "gaussian", "obs_std": 1.0, "hidden": 32},
        training={"groups_per_batch": 64, "lr": 1e-3, "num_threads": 1},
    ),
    Defaults(
        "exam-scores",
        "group-vae",
        GROUP_LATENT,
        {"group_dim": 2, "instance_dim": 1, "decoder": "exam-scores"},
    ),
    Defaults("exam-scores", "group-vae", NO_GROUP_LATENT, {"instance_dim": 3, "decoder": "mlp"}),
    # The bundled MNIST digits: ML-VAE's MNIST set-up (two linear layers of 512), a 3-d
    # style code (larger ones let the digit leak into the style; see docs/benchmarks/mlvae.md,
    # the demo section; the VAE gets the same total latent size).
    *image_rows(
        "mnist",
        (1, 28, 28),
        group_dim=10,
        instance_dim=3,
        hidden=512,
        training={"groups_per_batch": 32, "lr": 1e-3, "epochs": 80, "num_threads": 1},
    ),
    *cpvae_rows("mnist", 10, CPVAE_CLASS_TRAIN),
    *image_rows(
        "mnist-full",
        (1, 28, 28),
        training={"groups_per_batch": 64, "lr": 1e-3, "epochs": 20, "num_threads": 1},
    ),
    *cpvae_rows("mnist-full", 10, CPVAE_CLASS_TRAIN),
    *image_rows(
        "uci-digits",
        (1, 28, 28),
        training={"groups_per_batch": 32, "lr": 1e-3, "epochs": 100, "num_threads": 1},
    ),
    *cpvae_rows("uci-digits", 10, CPVAE_CLASS_TRAIN),
    *image_rows(
        "shapes",
        (3, 64, 64),
        backbone="conv",
        decoder="conv",
        hidden=512,
        n_hidden=2,
        training={"groups_per_batch": 32, "lr": 1e-3, "epochs": 20, "num_threads": 2},
    ),
    # UG-VAE section 4.2; with random groups (UG-VAE's presets), half of each group from
    # each domain.
    *image_rows(
        "digit-domains",
        (1, 28, 28),
        training={
            "groups_per_batch": 32,
            "lr": 1e-3,
            "epochs": 60,
            "num_threads": 1,
            "balance_by": "domain",
        },
    ),
    # CPVAE's data sets (group VAEs run on them too).
    *image_rows(
        "grassy-mnist", (1, 28, 28), training={"groups_per_batch": 32, "lr": 1e-3, "epochs": 60}
    ),
    *cpvae_rows("grassy-mnist", 2, CPVAE_TRAIN),
    *image_rows(
        "grassy-mnist-classes",
        (1, 28, 28),
        training={"groups_per_batch": 32, "lr": 1e-3, "epochs": 60},
    ),
    *cpvae_rows("grassy-mnist-classes", 10, CPVAE_CLASS_TRAIN),
    *image_rows(
        "mnist-classes", (1, 28, 28), training={"groups_per_batch": 32, "lr": 1e-3, "epochs": 60}
    ),
    *cpvae_rows("mnist-classes", 10, CPVAE_CLASS_TRAIN),
    # Readers of the user's files.
    *own_data_rows("table", TABLE_MODEL, TABLE_TRAIN),
    *own_data_rows("npz", TABLE_MODEL, TABLE_TRAIN),
    *own_data_rows("anndata", COUNTS_MODEL),
    *own_data_rows("image-folder", IMAGE_FOLDER_MODEL),
)


def lookup(
    dataset: str | None, family: str, preset: str, group_latent: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model fields, training fields)`` of the rows of :data:`DEFAULTS` that match,
    later rows winning; the family's rows only when ``dataset`` is ``None``.

    Raises:
        UnknownNameError: for a data set that is not in ``DATASETS``.
    """
    if dataset is not None:
        DATASETS[dataset]  # raises UnknownNameError with the known names
    model: dict[str, Any] = {}
    training: dict[str, Any] = {}
    for row in DEFAULTS:
        if dataset is None and row.dataset != EVERY:
            continue
        if row.matches(dataset or EVERY, family, preset, group_latent):
            model.update(row.model)
            training.update(row.training)
    return model, training


__all__ = [
    "CPVAE_OBS_STD",
    "DEFAULTS",
    "OWN_DATA",
    "OWN_DATA_TRAIN",
    "DataShape",
    "Defaults",
    "cpvae_model_defaults",
    "lookup",
    "own_data_training",
    "ugvae_model_defaults",
]
