"""Distances between groups' Gaussian posteriors, their nearest groups and a clustering.

Each group ``g`` has a diagonal Normal posterior ``q(u | x_g) = N(m_g, diag(s_g^2))``
(``m_g, s_g: (group_dim,)``). Two distances between groups are offered (``metric``):

* ``"w2"``: the 2-Wasserstein distance between the two Normals. For Gaussians it has the
  closed form ``W2^2 = ||m_1 - m_2||^2 + tr(S_1 + S_2 - 2 (S_2^1/2 S_1 S_2^1/2)^1/2)``
  (Dowson & Landau 1982, *J. Multivar. Anal.* 12:450; Givens & Shortt 1984, *Michigan
  Math. J.* 31:231), which for diagonal covariances is
  ``W2^2 = ||m_1 - m_2||^2 + ||s_1 - s_2||^2``: the Euclidean distance between the
  points ``[m, s]`` of ``2 * group_dim`` coordinates. It sees the posteriors'
  uncertainty: two small groups with the same mean but wide posteriors are as far apart
  as their standard deviations differ.
* ``"euclidean"``: the Euclidean distance between the posterior means.

Both are Euclidean distances between points (:func:`posterior_points`), so exact
nearest-neighbour search (scikit-learn's ``NearestNeighbors``) and k-means apply, and no
``(n_groups, n_groups)`` matrix is needed beyond :data:`MAX_FULL` groups. Nothing here
is ever of size ``n_obs x n_groups``.

Distances are in the units of the group latent (nats^0: the prior ``N(0, I)``'s standard
deviation is 1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from groupvae.errors import DataError

METRICS = ("w2", "euclidean")
LINKAGES = ("average", "ward", "complete")
"""The hierarchical clusterings offered (scipy's ``linkage`` methods)."""
"""The distances between groups: 2-Wasserstein between posteriors, Euclidean between means."""

MAX_FULL = 2000
"""Up to this many groups a full distance matrix (``MAX_FULL**2`` float64 values, 32 MB)
and a hierarchical clustering are computed; beyond it, only k nearest groups (chunked)
and k-means."""

CHUNK_ROWS = 4096
"""Query groups per chunk of a nearest-neighbour search: memory is bounded by
``CHUNK_ROWS x k`` results at a time, whatever the number of groups."""


class Neighbours(NamedTuple):
    """The ``k`` nearest groups of each query group, nearest first.

    Attributes:
        index: ``(n_queries, k)`` int64 indices of the neighbours among the reference
            groups.
        distance: ``(n_queries, k)`` float64 distances to them (latent units).
    """

    index: np.ndarray
    distance: np.ndarray


class Clustering(NamedTuple):
    """A clustering of groups.

    Attributes:
        labels: ``(n_groups,)`` int64 cluster of each group in ``[0, n_clusters)``,
            numbered by decreasing size (cluster 0 is the largest).
        linkage: the ``(n_groups - 1, 4)`` scipy linkage matrix of a hierarchical
            clustering (up to :data:`MAX_FULL` groups), else ``None`` (k-means).
        method: the linkage of a hierarchical clustering (``"average"``, ``"ward"``,
            ``"complete"``), or ``"kmeans"``.
    """

    labels: np.ndarray
    linkage: np.ndarray | None
    method: str


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise DataError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")


def posterior_points(mean: np.ndarray, std: np.ndarray, metric: str = "w2") -> np.ndarray:
    """The points whose Euclidean distances are ``metric``'s distances between groups.

    Args:
        mean: ``(n_groups, group_dim)`` posterior means.
        std: ``(n_groups, group_dim)`` posterior standard deviations (positive).
        metric: ``"w2"``: the points ``[mean, std]``, ``(n_groups, 2 * group_dim)``
            (``W2^2 = ||m_1 - m_2||^2 + ||s_1 - s_2||^2`` for diagonal Normals, see the
            module docstring); ``"euclidean"``: the means.

    Returns:
        ``(n_groups, 2 * group_dim)`` or ``(n_groups, group_dim)`` float64 points.

    Raises:
        DataError: for an unknown metric, shapes that differ, values that are not
            finite or negative standard deviations.
    """
    _check_metric(metric)
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    if mean.ndim != 2 or mean.shape != std.shape:
        raise DataError(
            f"mean and std must both have shape (n_groups, group_dim), got {mean.shape} "
            f"and {std.shape}"
        )
    if not (np.isfinite(mean).all() and np.isfinite(std).all()) or (std < 0).any():
        raise DataError("posterior means and standard deviations must be finite, stds >= 0")
    return np.concatenate([mean, std], axis=1) if metric == "w2" else mean


def wasserstein2(
    mean_1: np.ndarray, std_1: np.ndarray, mean_2: np.ndarray, std_2: np.ndarray
) -> np.ndarray:
    """The 2-Wasserstein distance between diagonal Normals ``N(mean_1, diag(std_1^2))``
    and ``N(mean_2, diag(std_2^2))``, broadcast over leading dimensions:
    ``sqrt(||mean_1 - mean_2||^2 + ||std_1 - std_2||^2)`` (Dowson & Landau 1982; Givens &
    Shortt 1984; the closed form for commuting covariances).

    Args:
        mean_1, std_1, mean_2, std_2: ``(..., dim)`` arrays that broadcast together.

    Returns:
        ``(...)`` float64 distances (latent units).
    """
    d_mean = np.asarray(mean_1, dtype=np.float64) - np.asarray(mean_2, dtype=np.float64)
    d_std = np.asarray(std_1, dtype=np.float64) - np.asarray(std_2, dtype=np.float64)
    return np.sqrt((d_mean**2).sum(-1) + (d_std**2).sum(-1))


def pairwise_distances(
    mean: np.ndarray, std: np.ndarray, *, metric: str = "w2", max_full: int = MAX_FULL
) -> np.ndarray:
    """The full ``(n_groups, n_groups)`` matrix of distances between groups' posteriors.

    Args:
        mean, std: ``(n_groups, group_dim)`` posterior means and standard deviations.
        metric: ``"w2"`` or ``"euclidean"`` (see the module docstring).
        max_full: the most groups a full matrix is computed for.

    Returns:
        ``(n_groups, n_groups)`` float64 distances, symmetric with a zero diagonal.

    Raises:
        DataError: for more than ``max_full`` groups (use :func:`nearest_groups`), or
            bad posteriors (:func:`posterior_points`).
    """
    # deferred: scipy.spatial is only needed here
    from scipy.spatial.distance import pdist, squareform

    points = posterior_points(mean, std, metric)
    if len(points) > max_full:
        raise DataError(
            f"a full distance matrix of {len(points):,} groups is over the limit of "
            f"{max_full:,}; ask for the k nearest groups instead (nearest_groups)"
        )
    return squareform(pdist(points, metric="euclidean"))


def _check_k(k: int, n_reference: int, self_query: bool) -> None:
    limit = n_reference - 1 if self_query else n_reference
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise DataError(f"k must be a whole number >= 1, got {k!r}")
    if k > limit:
        others = "other groups" if self_query else "reference groups"
        raise DataError(f"k = {k} is larger than the number of {others} ({limit})")


def nearest_groups(
    mean: np.ndarray,
    std: np.ndarray,
    *,
    k: int,
    metric: str = "w2",
    query_mean: np.ndarray | None = None,
    query_std: np.ndarray | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Neighbours:
    """The ``k`` nearest reference groups of each query group, exact, in chunks.

    Without a query, each reference group's ``k`` nearest *other* groups. The search runs
    on the points of :func:`posterior_points` (``W2`` between diagonal Normals is the
    Euclidean distance between ``[mean, std]`` points) with scikit-learn's exact
    ``NearestNeighbors``; queries go ``chunk_rows`` at a time, so memory is bounded by
    the reference points plus ``chunk_rows x k`` results whatever the number of groups
    (no ``n_groups x n_groups`` matrix). The distances returned are recomputed exactly
    from the points (:func:`wasserstein2`).

    Args:
        mean, std: ``(n_groups, group_dim)`` the reference groups' posteriors.
        k: neighbours per query, at most ``n_groups - 1`` (no query) or ``n_groups``.
        metric: ``"w2"`` or ``"euclidean"``.
        query_mean, query_std: ``(n_queries, group_dim)`` other groups' posteriors (new
            groups), or ``None``.
        chunk_rows: queries per chunk.

    Returns:
        :class:`Neighbours` with ``(n_queries, k)`` arrays, nearest first.

    Raises:
        DataError: for ``k`` below 1 or larger than the number of (other) reference
            groups, or bad posteriors.
    """
    # deferred: scikit-learn is slow to import and only this search needs it here
    from sklearn.neighbors import NearestNeighbors

    points = posterior_points(mean, std, metric)
    self_query = query_mean is None
    _check_k(k, len(points), self_query)
    queries = points if self_query else posterior_points(query_mean, query_std, metric)
    if queries.shape[1] != points.shape[1]:
        raise DataError(
            f"query posteriors have {queries.shape[1]} coordinates, the reference "
            f"{points.shape[1]}: encode both with the same model"
        )
    wanted = k + 1 if self_query else k
    search = NearestNeighbors(n_neighbors=wanted, algorithm="auto").fit(points)
    index = np.empty((len(queries), k), dtype=np.int64)
    distance = np.empty((len(queries), k), dtype=np.float64)
    for start in range(0, len(queries), max(1, chunk_rows)):  # chunks, not groups
        rows = np.arange(start, min(start + chunk_rows, len(queries)))
        found = search.kneighbors(queries[rows], return_distance=False)
        if self_query:  # drop the query itself (or, among duplicates, the farthest)
            own = found == rows[:, None]
            own[~own.any(axis=1), -1] = True
            own &= np.cumsum(own, axis=1) == 1
            found = found[~own].reshape(len(rows), k)
        exact = np.sqrt(((queries[rows, None, :] - points[found]) ** 2).sum(-1))
        order = np.argsort(exact, axis=1, kind="stable")
        index[rows] = np.take_along_axis(found, order, axis=1)
        distance[rows] = np.take_along_axis(exact, order, axis=1)
    return Neighbours(index, distance)


def _by_size(labels: np.ndarray) -> np.ndarray:
    """``labels`` renumbered so that cluster 0 is the largest (ties: the lower label)."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    rank = np.empty_like(counts)
    rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    return rank[inverse].astype(np.int64)


def cluster_groups(
    mean: np.ndarray,
    std: np.ndarray,
    *,
    n_clusters: int,
    metric: str = "w2",
    method: str = "average",
    max_full: int = MAX_FULL,
    seed: int = 0,
) -> Clustering:
    """Cluster the groups by the distances between their posteriors.

    Up to ``max_full`` groups: hierarchical clustering (scipy's ``linkage``), cut into at
    most ``n_clusters`` clusters (``fcluster``, ``maxclust``); its dendrogram orders the
    heatmap. ``method="average"`` (UPGMA, the usual order of a clustered heatmap) merges
    by the mean distance between two clusters' groups and leaves a far-off group a
    cluster of its own; ``"ward"`` merges by the increase of the within-cluster sum of
    squared distances, exact here because both distances are Euclidean between the
    points of :func:`posterior_points`, and absorbs far-off groups into large clusters;
    ``"complete"`` by the largest distance. Beyond ``max_full`` groups: k-means on the
    same points (``n_init=4``, seeded), which minimises Ward's sum of squares without an
    ``O(n_groups^2)`` tree (``method`` is then ``"kmeans"``).

    With ``metric="w2"`` a group's posterior spread counts: a small group (a wide
    posterior) is far from a large group with the same mean. To cluster by the codes
    alone, use ``metric="euclidean"``.

    Args:
        mean, std: ``(n_groups, group_dim)`` posterior means and standard deviations.
        n_clusters: the number of clusters, from 1 to ``n_groups``.
        metric: ``"w2"`` or ``"euclidean"``.
        method: the hierarchical linkage, one of :data:`LINKAGES`.
        max_full: the most groups clustered hierarchically.
        seed: seed of k-means.

    Returns:
        :class:`Clustering` (labels numbered by decreasing cluster size).

    Raises:
        DataError: for ``n_clusters`` out of range, an unknown ``method``, or bad
            posteriors.
    """
    if method not in LINKAGES:
        raise DataError(f"method must be one of {', '.join(LINKAGES)}, got {method!r}")
    points = posterior_points(mean, std, metric)
    n = len(points)
    if not isinstance(n_clusters, (int, np.integer)) or not 1 <= n_clusters <= n:
        raise DataError(
            f"n_clusters must be from 1 to the number of groups ({n}), got {n_clusters!r}"
        )
    if n < 2:
        return Clustering(np.zeros(n, dtype=np.int64), None, method)
    if n <= max_full:
        # deferred: scipy's clustering is only needed here
        from scipy.cluster.hierarchy import fcluster, linkage

        tree = linkage(points, method=method, metric="euclidean")
        labels = fcluster(tree, t=n_clusters, criterion="maxclust")
        return Clustering(_by_size(labels), tree, method)
    # deferred: scikit-learn is slow to import
    from sklearn.cluster import KMeans

    labels = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit_predict(points)
    return Clustering(_by_size(labels), None, "kmeans")


__all__ = [
    "CHUNK_ROWS",
    "LINKAGES",
    "METRICS",
    "MAX_FULL",
    "Clustering",
    "Neighbours",
    "cluster_groups",
    "nearest_groups",
    "pairwise_distances",
    "posterior_points",
    "wasserstein2",
]
