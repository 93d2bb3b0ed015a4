"""Evaluation metrics: pure functions of arrays."""

from groupvae.evaluation.disentanglement import (
    Factors,
    disentanglement_scores,
    factor_score,
    shapes_disentanglement,
    shapes_factors,
)
from groupvae.evaluation.evidence import (
    accumulating_evidence,
    classifier_scores,
    encode_k_groups,
    k_groups_by_label,
    label_entropy,
)
from groupvae.evaluation.likelihood import (
    conditional_log_likelihoods,
    group_log_likelihoods,
    held_out_members,
    holdout_log_likelihood,
)
from groupvae.evaluation.probes import chance_accuracy, probe_accuracy, split_groups_in_half
from groupvae.evaluation.protocols import (
    CPVAEModel,
    DiagonalNormal,
    GroupEncoder,
    GroupEncoderModel,
    LikelihoodModel,
    LikelihoodModule,
)

__all__ = [
    "CPVAEModel",
    "DiagonalNormal",
    "Factors",
    "GroupEncoder",
    "GroupEncoderModel",
    "LikelihoodModel",
    "LikelihoodModule",
    "accumulating_evidence",
    "chance_accuracy",
    "classifier_scores",
    "conditional_log_likelihoods",
    "disentanglement_scores",
    "encode_k_groups",
    "factor_score",
    "group_log_likelihoods",
    "held_out_members",
    "holdout_log_likelihood",
    "k_groups_by_label",
    "label_entropy",
    "probe_accuracy",
    "shapes_disentanglement",
    "shapes_factors",
    "split_groups_in_half",
]
