"""The pseudobulk baselines of the analyses of groups: the same questions answered from
each group's mean observation (:func:`groupvae.data.group_level.pseudobulk`; for counts
the summed, normalised and log-transformed profile), the simple baseline of the field
(e.g. Squair et al. 2021, *Nat. Commun.* 12:5692).

* :func:`pseudobulk_clusters`: the profiles clustered with the group analyses' own
  function (:func:`~groupvae.evaluation.groups.distances.cluster_groups`, Euclidean
  distance), so that a comparison with the codes differs only in the points;
* :func:`pseudobulk_isolation`: each group's isolation, the mean Euclidean distance from
  its profile to its ``k`` nearest other groups', as a robust z-score (high = isolated;
  the same score as the codes' ``isolation_z`` of
  :func:`~groupvae.evaluation.groups.outliers.outlier_table`);
* :func:`pseudobulk_differential`: per feature, the difference of the two sets' mean
  profiles and Welch's t statistic between the sets' groups (groups are the units, as
  a pseudobulk test of conditions is).

Pure functions of ``(n_groups, n_features)`` profiles, vectorised over groups and
features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from groupvae.errors import DataError
from groupvae.evaluation.groups.distances import MAX_FULL, cluster_groups, nearest_groups
from groupvae.evaluation.groups.outliers import robust_z


def _profiles(profiles: np.ndarray) -> np.ndarray:
    p = np.asarray(profiles, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0 or not np.isfinite(p).all():
        raise DataError(f"profiles must be finite, (n_groups, n_features), got {p.shape}")
    return p


def pseudobulk_clusters(
    profiles: np.ndarray,
    *,
    n_clusters: int,
    method: str = "ward",
    max_full: int = MAX_FULL,
    seed: int = 0,
) -> np.ndarray:
    """Cluster the groups by the Euclidean distances between their profiles.

    Args:
        profiles: ``(n_groups, n_features)`` pseudobulk profiles.
        n_clusters: the number of clusters.
        method: a hierarchical linkage of ``cluster_groups`` (``ward`` by default: it
            absorbs far-off groups into the clusters, as k-means does).
        max_full: beyond this many groups, k-means.
        seed: seed of k-means.

    Returns:
        ``(n_groups,)`` int64 cluster labels (cluster 0 the largest).
    """
    p = _profiles(profiles)
    found = cluster_groups(
        p, np.zeros_like(p), n_clusters=n_clusters, metric="euclidean", method=method,
        max_full=max_full, seed=seed,
    )  # fmt: skip
    return found.labels


def pseudobulk_isolation(profiles: np.ndarray, *, k: int = 5) -> np.ndarray:
    """Each group's isolation among the profiles: the robust z-score
    (:func:`~groupvae.evaluation.groups.outliers.robust_z`) of its mean Euclidean
    distance to its ``k`` nearest other groups (an exact search in chunks, never an
    ``n_groups x n_groups`` matrix beyond one chunk).

    Args:
        profiles: ``(n_groups, n_features)`` pseudobulk profiles.
        k: nearest other groups, at most ``n_groups - 1``.

    Returns:
        ``(n_groups,)`` float64 robust z-scores, high = isolated.
    """
    p = _profiles(profiles)
    near = nearest_groups(p, np.zeros_like(p), k=k, metric="euclidean")
    return robust_z(near.distance.mean(axis=1))


def pseudobulk_differential(
    profiles: np.ndarray, set_a: np.ndarray, set_b: np.ndarray
) -> pd.DataFrame:
    """Two sets of groups compared feature by feature on their profiles.

    Welch's t statistic ``t = (mean_A - mean_B) / sqrt(var_A / n_A + var_B / n_B)`` with
    the sets' sample variances (``ddof = 1``) over their groups; a feature constant in
    both sets gets ``t = 0``.

    Args:
        profiles: ``(n_groups, n_features)`` pseudobulk profiles.
        set_a, set_b: int indices of the two sets' groups, at least 2 each, disjoint.

    Returns:
        One row per feature, in feature order: ``difference`` (``mean_A - mean_B``, the
        profiles' units) and ``t``.

    Raises:
        DataError: for sets of fewer than 2 groups, overlapping sets or indices out of
            range.
    """
    p = _profiles(profiles)
    a, b = np.asarray(set_a, dtype=np.int64), np.asarray(set_b, dtype=np.int64)
    if len(np.unique(a)) < 2 or len(np.unique(b)) < 2:
        raise DataError("each set needs at least 2 groups")
    if np.intersect1d(a, b).size:
        raise DataError("a group cannot be in both sets")
    if min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= len(p):
        raise DataError(f"group indices must lie in [0, {len(p)})")
    pa, pb = p[a], p[b]
    difference = pa.mean(axis=0) - pb.mean(axis=0)
    se = np.sqrt(pa.var(axis=0, ddof=1) / len(a) + pb.var(axis=0, ddof=1) / len(b))
    t = np.divide(difference, se, out=np.zeros_like(difference), where=se > 0)
    return pd.DataFrame({"difference": difference, "t": t})


__all__ = ["pseudobulk_clusters", "pseudobulk_differential", "pseudobulk_isolation"]
