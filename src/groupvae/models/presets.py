"""``MODELS``: each paper's model as a preset of parts; ``PRESET_TRAINING``: the training
settings a preset's paper prescribes (they win over a data set's defaults)."""

from __future__ import annotations

from typing import Any

from groupvae.registry import Registry

MODELS: Registry[dict[str, Any]] = Registry("model")

# A plain VAE (Kingma & Welling 2014): no group latent.
MODELS.add("vae", {"group_dim": 0, "group_encoder": "none", "instance_encoder": "independent"})
# beta-VAE (Higgins et al. 2017): the VAE with the KL weighted by beta; 10 as in UG-VAE's
# Fig. 9 baseline.
MODELS.add(
    "beta-vae",
    {"group_dim": 0, "group_encoder": "none", "instance_encoder": "independent", "beta": 10.0},
)
# ML-VAE (Bouchacourt et al. 2018): product-of-Normals group encoder, eq. 6-7.
MODELS.add(
    "mlvae", {"group_encoder": "poe", "instance_encoder": "independent", "regulariser": "none"}
)
# GVAE (Hosoya 2019): averaging group encoder.
MODELS.add(
    "gvae", {"group_encoder": "mean", "instance_encoder": "independent", "regulariser": "none"}
)
# GVAE + adversarial regulariser (Nemeth 2020), as in the CxVAE paper's Table 1. Its
# weight is 100, not the CxVAE authors' 1e3: at 1e3 the pairwise critic drives the
# instance code to a constant on Exam-Scores (reconstruction error x100 of ~500 instead of
# the paper's 70); see the README's Exam-Scores section for the sweep.
MODELS.add(
    "gvae-adv",
    {
        "group_encoder": "mean",
        "instance_encoder": "independent",
        "regulariser": "pairwise-adversarial",
        "regulariser_weight": 100.0,
    },
)
# CxVAE: Deep Sets group encoder, conditional instance encoder, group-level MINE (eq. 3).
MODELS.add(
    "cxvae",
    {
        "group_encoder": "deepsets",
        "instance_encoder": "conditional",
        "regulariser": "group-adversarial",
    },
)
# GMVAE-style baseline of UG-VAE (Dilokthanakul et al. 2016; Johnson et al. 2016): a
# Gaussian-mixture prior with learned components, q(d | z), no global latent.
MODELS.add(
    "gmvae",
    {
        "group_dim": 0,
        "group_encoder": "none",
        "instance_encoder": "independent",
        "prior": "mixture",
    },
)
# UG-VAE (Peis et al.): global beta from a product of Gaussians of [h(x_i), q(d_i | z_i)]
# (eq. 8-9), local Gaussian-mixture prior whose components are networks of beta (eq. 3).
# As the authors' code: one beta sample per batch, shared by its images.
MODELS.add(
    "ugvae",
    {
        "group_encoder": "poe-clusters",
        "instance_encoder": "independent",
        "regulariser": "none",
        "prior": "mixture",
        "group_sample": "group",
    },
)

# UG-VAE's reference settings (the authors' code: Adam, lr 5e-3, batches of 128, 50
# epochs); groups are random mini-batches of 128, drawn anew each epoch. Its baselines
# train the same way.
UGVAE_TRAINING: dict[str, Any] = {
    "random_groups": 128,
    "groups_per_batch": 1,
    "lr": 5e-3,
    "epochs": 50,
}
PRESET_TRAINING: dict[str, dict[str, Any]] = {
    "ugvae": UGVAE_TRAINING,
    "gmvae": UGVAE_TRAINING,
    "beta-vae": UGVAE_TRAINING,
}
UGVAE_FAMILY = ("ugvae", "gmvae", "beta-vae")
"""Presets that take UG-VAE's architecture (appendix B, Table 2) on image data sets."""
