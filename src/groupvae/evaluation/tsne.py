"""t-SNE embeddings of latent codes, for figures."""

from __future__ import annotations

import numpy as np


def tsne_embedding(codes: np.ndarray, *, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """``(n, 2)`` t-SNE embedding of ``codes: (n, d)`` (scikit-learn, PCA initialisation).

    The perplexity is capped at ``(n - 1) / 3`` (at least 2) so that small sets embed.
    """
    # deferred: scikit-learn is slow to import
    from sklearn.manifold import TSNE

    perplexity = min(perplexity, max(2.0, (len(codes) - 1) / 3))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        np.asarray(codes, dtype=np.float64)
    )


__all__ = ["tsne_embedding"]
