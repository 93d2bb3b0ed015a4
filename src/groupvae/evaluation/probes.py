"""Linear probes: how much a representation says about a label (ML-VAE section 4).

ML-VAE's quantitative evaluation classifies the digit from the content code ``C`` and
from the style code ``S``: a good disentanglement makes ``C`` informative and ``S`` not.
We use a standardised logistic regression (scikit-learn) in place of the paper's
two-layer network, and split **by group** so no group is in both the fit and the score.
"""

from __future__ import annotations

import numpy as np

from groupvae.errors import DataError


def split_groups_in_half(groups: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """A boolean mask that puts a random half of the groups on the fitting side.

    Args:
        groups: ``(n_obs,)`` integer group ids.
        seed: seed of the ``numpy.random.Generator`` that picks the groups.

    Returns:
        ``(n_obs,) bool``: ``True`` for observations of the fitting groups; every group is
        wholly on one side.

    Raises:
        DataError: for fewer than two groups.
    """
    ids, inverse = np.unique(np.asarray(groups), return_inverse=True)
    if len(ids) < 2:
        raise DataError(f"a group split needs at least 2 groups, got {len(ids)}")
    chosen = np.random.default_rng(seed).permutation(len(ids))[: len(ids) // 2]
    fit_group = np.zeros(len(ids), dtype=bool)
    fit_group[chosen] = True
    return fit_group[inverse.reshape(-1)]


def _fit_score(
    features: np.ndarray, labels: np.ndarray, fit: np.ndarray, max_iter: int
) -> tuple[int, int]:
    """``(correct, scored)`` of a probe fitted on ``fit`` rows and scored on the others."""
    if len(np.unique(labels[fit])) < 2:
        raise DataError("a half of the groups holds a single class; use more groups")
    # deferred: scikit-learn is slow to import
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    probe.fit(features[fit], labels[fit])
    predicted = probe.predict(features[~fit])
    return int((predicted == labels[~fit]).sum()), int((~fit).sum())


def probe_accuracy(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    seed: int = 0,
    max_iter: int = 2000,
) -> float:
    """Held-out accuracy of a logistic-regression probe from ``features`` to ``labels``.

    The groups are split at random into two halves (:func:`split_groups_in_half`). A
    probe (``StandardScaler`` then ``LogisticRegression``) is fitted on one half and
    scored on the other, and then the other way round; the result pools both scorings
    (two-fold cross-validation by group), so every observation is scored once, by a
    probe that never saw its group. Pooling halves the variance of a single split.

    Args:
        features: ``(n_obs, d)`` representations, e.g. posterior means.
        labels: ``(n_obs,)`` integer class labels.
        groups: ``(n_obs,)`` integer group ids.
        seed: seed of the group split.
        max_iter: iterations of the L-BFGS solver.

    Returns:
        The fraction of observations classified correctly, in ``[0, 1]``.

    Raises:
        DataError: for mismatched shapes, fewer than two groups, or a half of the groups
            with a single class.
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2 or labels.shape != (features.shape[0],):
        raise DataError(
            f"need features (n_obs, d) and labels (n_obs,), got {features.shape}, {labels.shape}"
        )
    if np.shape(groups) != labels.shape:
        raise DataError(f"groups must have shape {labels.shape}, got {np.shape(groups)}")
    half = split_groups_in_half(groups, seed=seed)
    (right_a, n_a), (right_b, n_b) = (
        _fit_score(features, labels, fit, max_iter) for fit in (half, ~half)
    )
    return (right_a + right_b) / (n_a + n_b)


def chance_accuracy(labels: np.ndarray) -> float:
    """Accuracy of always guessing the most frequent class: ``max_c n_c / n``.

    Args:
        labels: ``(n_obs,)`` integer class labels.
    """
    counts = np.unique(np.asarray(labels), return_counts=True)[1]
    return float(counts.max() / counts.sum())
