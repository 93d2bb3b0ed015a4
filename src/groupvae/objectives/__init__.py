"""Objectives: the group ELBO, KL terms, MINE and the adversarial regularisers."""

from groupvae.objectives.elbo import group_elbo
from groupvae.objectives.kl import kl_normal_normal, kl_normal_standard, normal_log_prob
from groupvae.objectives.loss_output import LossOutput
from groupvae.objectives.mine import donsker_varadhan
from groupvae.objectives.regularisers import REGULARISERS

__all__ = [
    "REGULARISERS",
    "LossOutput",
    "donsker_varadhan",
    "group_elbo",
    "kl_normal_normal",
    "kl_normal_standard",
    "normal_log_prob",
]
