"""CPVAE evaluation (CPVAE paper, section 4): pure functions of arrays.

* :func:`population_ari`: Table 1, k-means on a latent inside each population, scored
  against the true digits by the adjusted Rand index;
* :func:`classification_accuracy`: Table 2, maximum-marginal-likelihood classification
  from the ``(n, K)`` log-likelihoods of eq. 7-8;
* :func:`denoising_errors`: Fig. 2 made quantitative, the error of the private-only
  reconstruction against the clean digit (and of the shared-only one against the
  background).

The supervised reference of Table 2 is in :mod:`groupvae.evaluation.cnn`.
"""

from __future__ import annotations

import numpy as np

from groupvae.errors import DataError


def kmeans_ari(codes: np.ndarray, labels: np.ndarray, *, seed: int = 0) -> float:
    """Adjusted Rand index of k-means clusters of ``codes`` against ``labels``.

    k-means (scikit-learn, ``n_init=10``) uses as many clusters as ``labels`` has
    distinct values.

    Args:
        codes: ``(n, d)`` representations.
        labels: ``(n,)`` true classes.
        seed: seed of k-means.

    Returns:
        ARI in ``[-0.5, 1]``: 1 for a perfect clustering, about 0 for a random one.

    Raises:
        DataError: for mismatched lengths or fewer than two classes.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    codes, labels = np.asarray(codes, dtype=np.float64), np.asarray(labels)
    if codes.ndim != 2 or codes.shape[0] != labels.shape[0]:
        raise DataError(f"codes (n, d) and labels (n,) disagree: {codes.shape}, {labels.shape}")
    k = len(np.unique(labels))
    if k < 2:
        raise DataError("the adjusted Rand index needs at least two classes")
    clusters = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(codes)
    return float(adjusted_rand_score(labels, clusters))


def population_ari(
    codes: np.ndarray, labels: np.ndarray, population: np.ndarray, *, seed: int = 0
) -> dict[str, float]:
    """Table 1: :func:`kmeans_ari` inside each population, and their mean.

    Args:
        codes: ``(n, d)`` representations (shared or private latent means, or a VAE's).
        labels: ``(n,)`` true digits.
        population: ``(n,)`` population ids.
        seed: seed of k-means.

    Returns:
        ``{"population_<k>": ari_k, ..., "mean": mean over populations}``.
    """
    population = np.asarray(population)
    out = {
        f"population_{int(k)}": kmeans_ari(
            codes[population == k], labels[population == k], seed=seed
        )
        for k in np.unique(population)
    }
    out["mean"] = float(np.mean(list(out.values())))
    return out


def classification_accuracy(log_likelihoods: np.ndarray, truth: np.ndarray) -> float:
    """Table 2: the fraction of rows whose most likely population is the true one.

    Args:
        log_likelihoods: ``(n, K)`` ``log p(x | theta_k, theta_s)`` (eq. 7-8).
        truth: ``(n,)`` true populations.

    Returns:
        Accuracy in ``[0, 1]``.
    """
    log_likelihoods = np.asarray(log_likelihoods)
    if log_likelihoods.ndim != 2 or log_likelihoods.shape[0] != len(truth):
        raise DataError("log_likelihoods must have shape (n, K) with one row per truth label")
    return float(np.mean(log_likelihoods.argmax(1) == np.asarray(truth)))


def image_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(n,)`` Pearson correlation between the pixels of ``a[i]`` and ``b[i]`` (0 where an
    image is constant). Invariant to each image's brightness offset and contrast."""
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    denom = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return np.where(denom > 0, (a * b).sum(1) / np.where(denom > 0, denom, 1.0), 0.0)


def denoising_errors(
    noisy: np.ndarray,
    private_only: np.ndarray,
    shared_only: np.ndarray,
    clean: np.ndarray,
    background: np.ndarray,
) -> dict[str, float]:
    """Fig. 2 made quantitative (all arrays ``(n, ...)`` in ``[0, 1]``).

    The additive model splits constant offsets between its decoders arbitrarily, so the
    main score is the per-image pixel correlation (mean over images), which ignores
    brightness and contrast; mean squared errors per pixel are given too.

    Returns:
        ``private_vs_clean_corr``: private-only reconstruction against the clean digit
        (the denoising score; 1 is perfect); ``noisy_vs_clean_corr``: the input against
        the clean digit (doing nothing); ``shared_vs_background_corr``: shared-only
        reconstruction against the background crop; and the ``*_mse`` counterparts.
    """

    def mse(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))

    pairs = {
        "private_vs_clean": (private_only, clean),
        "noisy_vs_clean": (noisy, clean),
        "shared_vs_background": (shared_only, background),
    }
    out = {f"{k}_corr": float(image_correlation(a, b).mean()) for k, (a, b) in pairs.items()}
    out.update({f"{k}_mse": mse(a, b) for k, (a, b) in pairs.items()})
    return out


__all__ = [
    "classification_accuracy",
    "denoising_errors",
    "image_correlation",
    "kmeans_ari",
    "population_ari",
]
