"""CPVAE's module (shared and population-private latents) and its config."""

from groupvae.modules.cpvae.config import AGGREGATION_NAMES, CPVAEConfig
from groupvae.modules.cpvae.module import AGGREGATIONS, CPVAEInference, CPVAEModule

__all__ = ["AGGREGATIONS", "AGGREGATION_NAMES", "CPVAEConfig", "CPVAEInference", "CPVAEModule"]
