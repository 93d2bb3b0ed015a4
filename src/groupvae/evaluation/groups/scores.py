"""Scores of analyses of groups against known answers (``groupvae benchmark
group-analyses``): how well a clustering of groups, a ranking of outlier groups and a
ranking of features by a differential comparison recover what was planted.

* :func:`adjusted_rand`: the adjusted Rand index of a clustering (Hubert & Arabie 1985,
  *Comparing partitions*, J. Classification 2:193): 1 for the true partition up to the
  clusters' names, 0 in expectation for a random one;
* :func:`recall_at_k`: the share of the planted outliers among the ``k`` groups ranked
  most unusual (``k`` = the number planted: then recall and precision are equal);
* :func:`auroc`: the area under the ROC curve of a score that should rank the truly
  differential features first (the Mann-Whitney statistic: the probability that a
  random differential feature scores above a random other one, ties counting half).

Pure functions of arrays, vectorised.
"""

from __future__ import annotations

import numpy as np

from groupvae.errors import DataError


def adjusted_rand(truth: np.ndarray, labels: np.ndarray) -> float:
    """The adjusted Rand index between a true partition and a clustering (Hubert &
    Arabie 1985; scikit-learn's ``adjusted_rand_score``).

    Args:
        truth: ``(n,)`` true cluster of each group.
        labels: ``(n,)`` found cluster of each group (any names).

    Returns:
        A float in ``[-0.5, 1]``: 1 for the same partition, about 0 for chance.

    Raises:
        DataError: for arrays of different lengths or empty ones.
    """
    # deferred: scikit-learn is slow to import
    from sklearn.metrics import adjusted_rand_score

    truth, labels = np.asarray(truth).ravel(), np.asarray(labels).ravel()
    if len(truth) != len(labels) or len(truth) == 0:
        raise DataError(f"truth and labels must have the same length > 0, got {len(truth)}, "
                        f"{len(labels)}")  # fmt: skip
    return float(adjusted_rand_score(truth, labels))


def recall_at_k(scores: np.ndarray, planted: np.ndarray, k: int | None = None) -> float:
    """The share of the planted outliers among the ``k`` highest-scoring groups.

    Ties at the ``k``-th score are broken by the group's index (a stable sort), so the
    result is deterministic.

    Args:
        scores: ``(n_groups,)`` finite outlier scores, higher = more unusual.
        planted: int indices of the planted outliers (at least one).
        k: groups taken from the top; ``None``: ``len(planted)``.

    Returns:
        A float in ``[0, 1]``.

    Raises:
        DataError: for no planted outlier, an index out of range, ``k`` out of
            ``[1, n_groups]`` or scores that are not finite.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    planted = np.unique(np.asarray(planted, dtype=np.int64))
    if len(planted) == 0 or planted.min() < 0 or planted.max() >= len(scores):
        raise DataError(f"planted must name at least one of the {len(scores)} groups")
    if not np.isfinite(scores).all():
        raise DataError("outlier scores must be finite")
    k = len(planted) if k is None else k
    if not 1 <= k <= len(scores):
        raise DataError(f"k must be from 1 to the number of groups ({len(scores)}), got {k}")
    top = np.argsort(-scores, kind="stable")[:k]
    return float(np.isin(planted, top).sum() / len(planted))


def auroc(scores: np.ndarray, truth: np.ndarray) -> float:
    """The area under the ROC curve of ``scores`` for the positives of ``truth``: the
    probability that a random positive scores above a random negative, ties counting
    one half (the Mann-Whitney U statistic over ``n_pos n_neg``; scikit-learn's
    ``roc_auc_score``).

    Args:
        scores: ``(n,)`` finite scores, higher = more likely positive (e.g. a feature's
            ``|t|``, ``|effect|`` or ``P(|effect| > delta)``).
        truth: ``(n,)`` bool, the true positives (e.g. the differential features).

    Returns:
        A float in ``[0, 1]``: 1 ranks every positive first, 0.5 is chance.

    Raises:
        DataError: for arrays of different lengths, scores that are not finite, or a
            ``truth`` without both classes.
    """
    # deferred: scikit-learn is slow to import
    from sklearn.metrics import roc_auc_score

    scores = np.asarray(scores, dtype=np.float64).ravel()
    truth = np.asarray(truth, dtype=bool).ravel()
    if len(scores) != len(truth) or not np.isfinite(scores).all():
        raise DataError("scores must be finite, one per truth value")
    if truth.all() or not truth.any():
        raise DataError("truth needs positives and negatives")
    return float(roc_auc_score(truth, scores))


__all__ = ["adjusted_rand", "auroc", "recall_at_k"]
