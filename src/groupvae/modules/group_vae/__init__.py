"""The group-VAE module (ML-VAE, GVAE, CxVAE, UG-VAE and their baselines) and its parts."""

from groupvae.modules.group_vae.decoders import DECODERS
from groupvae.modules.group_vae.group_encoders import GROUP_ENCODERS
from groupvae.modules.group_vae.instance_encoders import INSTANCE_ENCODERS
from groupvae.modules.group_vae.module import GroupVAEModule
from groupvae.modules.group_vae.priors import PRIORS

__all__ = ["DECODERS", "GROUP_ENCODERS", "INSTANCE_ENCODERS", "PRIORS", "GroupVAEModule"]
