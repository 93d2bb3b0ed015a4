"""``MODELS``: each paper's model as a :class:`Preset`: its family, its parts and the
training settings its paper prescribes (they win over a data set's defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from groupvae.registry import Registry


@dataclass(frozen=True)
class Preset:
    """One paper's model.

    Attributes:
        parts: config fields of the family's config (``ModelConfig`` for group VAEs).
        family: the model family (``"group-vae"`` or ``"cpvae"``, see ``FAMILIES``).
        training: ``TrainConfig`` fields the paper prescribes.
        architecture: ``"ugvae"`` where data sets give UG-VAE's architecture (its
            appendix B, Table 2) rather than their own; ``None`` otherwise.
    """

    parts: dict[str, Any] = field(default_factory=dict)
    family: str = "group-vae"
    training: dict[str, Any] = field(default_factory=dict)
    architecture: str | None = None


MODELS: Registry[Preset] = Registry("model")

# UG-VAE's reference settings (the authors' code: Adam, lr 5e-3, batches of 128, 50
# epochs); groups are random mini-batches of 128, drawn anew each epoch. Its baselines
# train the same way.
UGVAE_TRAINING: dict[str, Any] = {
    "random_groups": 128,
    "groups_per_batch": 1,
    "lr": 5e-3,
    "epochs": 50,
}


# A plain VAE (Kingma & Welling 2014): no group latent.
MODELS.add(
    "vae", Preset({"group_dim": 0, "group_encoder": "none", "instance_encoder": "independent"})
)
# beta-VAE (Higgins et al. 2017): the VAE with the KL weighted by beta; 10 as in UG-VAE's
# Fig. 9 baseline.
MODELS.add(
    "beta-vae",
    Preset(
        {"group_dim": 0, "group_encoder": "none", "instance_encoder": "independent", "beta": 10.0},
        training=UGVAE_TRAINING,
        architecture="ugvae",
    ),
)
# ML-VAE (Bouchacourt et al. 2018): product-of-Normals group encoder, eq. 6-7.
MODELS.add(
    "mlvae",
    Preset({"group_encoder": "poe", "instance_encoder": "independent", "regulariser": "none"}),
)
# GVAE (Hosoya 2019): averaging group encoder.
MODELS.add(
    "gvae",
    Preset({"group_encoder": "mean", "instance_encoder": "independent", "regulariser": "none"}),
)
# GVAE + adversarial regulariser (Nemeth 2020), as in the CxVAE paper's Table 1. Its
# weight is 100, not the CxVAE authors' 1e3: at 1e3 the pairwise critic drives the
# instance code to a constant on Exam-Scores (reconstruction error x100 of ~500 instead of
# the paper's 70); see docs/benchmarks/exam-scores.md for the sweep.
MODELS.add(
    "gvae-adv",
    Preset(
        {
            "group_encoder": "mean",
            "instance_encoder": "independent",
            "regulariser": "pairwise-adversarial",
            "regulariser_weight": 100.0,
        }
    ),
)
# CxVAE: Deep Sets group encoder, conditional instance encoder, group-level MINE (eq. 3).
MODELS.add(
    "cxvae",
    Preset(
        {
            "group_encoder": "deepsets",
            "instance_encoder": "conditional",
            "regulariser": "group-adversarial",
        }
    ),
)
# GMVAE-style baseline of UG-VAE (Dilokthanakul et al. 2016; Johnson et al. 2016): a
# Gaussian-mixture prior with learned components, q(d | z), no global latent.
MODELS.add(
    "gmvae",
    Preset(
        {
            "group_dim": 0,
            "group_encoder": "none",
            "instance_encoder": "independent",
            "prior": "mixture",
        },
        training=UGVAE_TRAINING,
        architecture="ugvae",
    ),
)
# UG-VAE (Peis et al.): global beta from a product of Gaussians of [h(x_i), q(d_i | z_i)]
# (eq. 8-9), local Gaussian-mixture prior whose components are networks of beta (eq. 3).
# As the authors' code: one beta sample per batch, shared by its images.
MODELS.add(
    "ugvae",
    Preset(
        {
            "group_encoder": "poe-clusters",
            "instance_encoder": "independent",
            "regulariser": "none",
            "prior": "mixture",
            "group_sample": "group",
        },
        training=UGVAE_TRAINING,
        architecture="ugvae",
    ),
)
# CPVAE (Cross-population VAE): shared and per-population private latents, the mutual-
# information regularised objective (CPVAE eq. 4); a family of its own.
MODELS.add("cpvae", Preset(family="cpvae"))

UGVAE_FAMILY = tuple(name for name, p in MODELS.items() if p.architecture == "ugvae")
"""Presets that take UG-VAE's architecture (appendix B, Table 2) on image data sets."""
