"""``MODELS``: each paper's model as a preset of parts."""

from __future__ import annotations

from typing import Any

from groupvae.registry import Registry

MODELS: Registry[dict[str, Any]] = Registry("model")

# A plain VAE (Kingma & Welling 2014): no group latent.
MODELS.add("vae", {"group_dim": 0, "group_encoder": "none", "instance_encoder": "independent"})
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
