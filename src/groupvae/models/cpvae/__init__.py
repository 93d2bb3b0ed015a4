"""CPVAE, the Cross-population VAE: shared and population-private latents.

Create one with ``groupvae.models.create("cpvae", dataset=...)``: it is the ``cpvae``
preset of :data:`groupvae.models.MODELS`, a family of its own
(:class:`~groupvae.models.cpvae.model.CPVAE`, config :class:`CPVAEConfig`). Its data-set
defaults live with the data sets (``DATASETS[name].model_defaults``).
"""

from __future__ import annotations

from groupvae.models.cpvae.config import CPVAEConfig
from groupvae.models.cpvae.model import CPVAE, CPVAECodes
from groupvae.models.cpvae.module import AGGREGATIONS, CPVAEInference, CPVAEModule

__all__ = ["AGGREGATIONS", "CPVAE", "CPVAECodes", "CPVAEConfig", "CPVAEInference", "CPVAEModule"]
