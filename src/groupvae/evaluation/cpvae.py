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

from typing import Any

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError
from groupvae.evaluation.active_units import latent_summary
from groupvae.evaluation.protocols import CPVAEModel


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
    # deferred: scikit-learn is slow to import
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


KMEANS_RESTARTS = 5
"""k-means seeds of :func:`population_ari` in :func:`cpvae_metrics` (the ARI's own noise)."""


def population_ari(
    codes: np.ndarray,
    labels: np.ndarray,
    population: np.ndarray,
    *,
    seed: int = 0,
    restarts: int = 1,
) -> dict[str, float]:
    """Table 1: :func:`kmeans_ari` inside each population, and their mean, over
    ``restarts`` k-means seeds ``seed, seed + 1, ...``.

    Args:
        codes: ``(n, d)`` representations (shared or private latent means, or a VAE's).
        labels: ``(n,)`` true digits.
        population: ``(n,)`` population ids.
        seed: first seed of k-means.
        restarts: k-means seeds; each runs scikit-learn's ``n_init=10``.

    Returns:
        ``{"population_<k>": ari_k (mean over seeds), ..., "mean": mean over populations
        and seeds, "std": standard deviation over seeds (n - 1) of the mean over
        populations (0 for one seed), "min"/"max": its range}``.

    Raises:
        DataError: for ``restarts < 1`` (and see :func:`kmeans_ari`).
    """
    if restarts < 1:
        raise DataError(f"restarts must be >= 1, got {restarts}")
    population = np.asarray(population)
    pops = np.unique(population)
    aris = np.array(
        [
            [
                kmeans_ari(codes[population == k], labels[population == k], seed=seed + r)
                for k in pops
            ]
            for r in range(restarts)
        ]
    )  # (restarts, populations)
    out = {f"population_{int(k)}": float(a) for k, a in zip(pops, aris.mean(0), strict=True)}
    per_seed = aris.mean(1)
    out["mean"] = float(per_seed.mean())
    out["std"] = float(per_seed.std(ddof=1)) if restarts > 1 else 0.0
    out["min"], out["max"] = float(per_seed.min()), float(per_seed.max())
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
    "IS_SAMPLES",
    "KMEANS_RESTARTS",
    "classification_accuracy",
    "cpvae_metrics",
    "denoising_errors",
    "image_correlation",
    "kmeans_ari",
    "population_ari",
]


IS_SAMPLES = 32
"""Importance samples ``S`` of CPVAE eq. 7-8 in :func:`cpvae_metrics`."""


def cpvae_metrics(
    model: CPVAEModel,
    hold: GroupedDataset,
    *,
    seed: int = 0,
    is_samples: int = IS_SAMPLES,
    n_classify: int | None = None,
    restarts: int = KMEANS_RESTARTS,
) -> dict[str, Any]:
    """Holdout metrics of a CPVAE (CPVAE section 4) on ``hold`` (a ``GroupedDataset``
    with ``aux["population"]``):

    * ``active_units_shared`` / ``active_units_private``, ``collapsed_*``, ``kl_*`` and
      ``kl_per_dim_*`` (nats per image): see
      :func:`groupvae.evaluation.active_units.latent_summary`;
    * ``shared_ari`` / ``private_ari`` (CPVAE Table 1; with labels): k-means ARI of the
      latent means against the labels inside each population, averaged over populations
      and ``restarts`` k-means seeds, with ``*_ari_std`` over those seeds
      (:func:`population_ari`);
    * ``accuracy`` (CPVAE Table 2): maximum-marginal-likelihood classification (CPVAE
      eq. 7-8, ``is_samples`` samples) of ``n_classify`` random holdout rows (all if
      ``None``), ``n_classified`` of them;
    * ``private_vs_clean_corr`` etc. (CPVAE Fig. 2, with ``aux["clean"]``): see
      :func:`denoising_errors`.
    """

    pop = np.asarray(hold.aux["population"])
    out: dict[str, Any] = {}
    posteriors = {"shared": model.encode_shared(hold), "private": model.encode_private(hold)}
    for name, post in posteriors.items():
        out.update(latent_summary(name, post.mean, post.logvar))
    if hold.labels is not None and all(
        len(np.unique(hold.labels[pop == k])) > 1 for k in np.unique(pop)
    ):
        for name, post in posteriors.items():
            ari = population_ari(post.mean, hold.labels, pop, seed=seed, restarts=restarts)
            out[f"{name}_ari"] = ari.pop("mean")
            out.update({f"{name}_ari_{k}": v for k, v in ari.items()})
    rows = np.arange(hold.n_obs)
    if n_classify is not None and n_classify < hold.n_obs:
        rows = np.sort(np.random.default_rng(seed).choice(hold.n_obs, n_classify, replace=False))
    ll = model.log_marginal_likelihoods(hold.x[rows], n_samples=is_samples, seed=seed)
    out["accuracy"] = classification_accuracy(ll, pop[rows])
    out["n_classified"] = len(rows)
    if "clean" in hold.aux and "background" in hold.aux:
        out.update(
            denoising_errors(
                hold.x,
                model.reconstruct(hold, part="private"),
                model.reconstruct(hold, part="shared"),
                hold.aux["clean"],
                hold.aux["background"],
            )
        )
    return out
