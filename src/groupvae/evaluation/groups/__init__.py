"""Analyses of groups, over the groups' codes and posteriors: one concept per module.

* :mod:`~groupvae.evaluation.groups.distances`: 2-Wasserstein and Euclidean distances
  between groups' posteriors, the full matrix or the k nearest groups (chunked), and a
  clustering of the groups;
* :mod:`~groupvae.evaluation.groups.outliers`: groups the model explains badly
  (importance-sampled log-likelihood per observation, robust z-score);
* :mod:`~groupvae.evaluation.groups.new_groups`: codes of groups training never saw and
  their nearest known groups, without retraining;
* :mod:`~groupvae.evaluation.groups.covariates`: group-level columns predicted from the
  codes, cross-validated, against the pseudobulk baseline;
* :mod:`~groupvae.evaluation.groups.differential`: two sets of groups compared feature by
  feature (scVI's "change" mode);
* :mod:`~groupvae.evaluation.groups.pseudobulk`: the same questions answered from the
  groups' mean profiles, the baseline of the field;
* :mod:`~groupvae.evaluation.groups.scores`: scores against known answers (adjusted Rand
  index, recall at k, AUROC), for ``groupvae benchmark group-analyses``.

The functions of arrays are pure; those that take a model call only its public verbs
(``encode_groups``, ``encode_instances``, ``decode_user_units``,
``group_log_marginal_likelihood``). ``groupvae analyse KIND RUN`` runs each on a saved
run and draws its figure (:mod:`groupvae.runs.analyses`).
"""

from groupvae.evaluation.groups.covariates import covariate_kind, covariate_scores
from groupvae.evaluation.groups.differential import differential_groups, resolve_groups
from groupvae.evaluation.groups.distances import (
    MAX_FULL,
    METRICS,
    Clustering,
    Neighbours,
    cluster_groups,
    nearest_groups,
    pairwise_distances,
    posterior_points,
    wasserstein2,
)
from groupvae.evaluation.groups.new_groups import code_columns, new_group_codes
from groupvae.evaluation.groups.outliers import group_outliers, outlier_table, robust_z
from groupvae.evaluation.groups.pseudobulk import (
    pseudobulk_clusters,
    pseudobulk_differential,
    pseudobulk_isolation,
)
from groupvae.evaluation.groups.scores import adjusted_rand, auroc, recall_at_k

__all__ = [
    "MAX_FULL",
    "adjusted_rand",
    "auroc",
    "METRICS",
    "Clustering",
    "Neighbours",
    "cluster_groups",
    "code_columns",
    "covariate_kind",
    "covariate_scores",
    "differential_groups",
    "group_outliers",
    "nearest_groups",
    "new_group_codes",
    "outlier_table",
    "pairwise_distances",
    "posterior_points",
    "pseudobulk_clusters",
    "pseudobulk_differential",
    "pseudobulk_isolation",
    "recall_at_k",
    "resolve_groups",
    "robust_z",
    "wasserstein2",
]
