"""Global posteriors of structured batches, classified by SVMs (UG-VAE Table 1, A.3, 4.2).

After training on random batches, UG-VAE's global posterior ``q(beta | X, Z)`` of a
batch should tell what kind of batch it is: even or odd digits, Fibonacci or prime
digits (UG-VAE appendix A.3), one data domain or the other (UG-VAE section 4.2). The
protocol of UG-VAE Table 1: draw batches of each kind, take a sample of ``beta`` from each
batch's posterior, and train linear and RBF SVMs to tell the kinds apart, with and without
a class of random batches.

* :func:`draw_batches` picks the rows of structured batches (vectorised over batches);
* :func:`global_samples` gives one posterior sample of the global latent per batch;
* :func:`classify_batches` is a pure function of arrays: SVM train and test accuracy.

Models without a global latent (VAE, beta-VAE, GMVAE) are scored on the product of
Normals of their members' posteriors (:meth:`GroupVAE.encode_groups`), the same
accumulation the ML-VAE paper uses for its VAE baseline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from groupvae.errors import ConfigError, DataError
from groupvae.evaluation.protocols import GroupEncoder, GroupEncoderModel

DIGIT_SETS: dict[str, tuple[int, ...]] = {
    "even": (0, 2, 4, 6, 8),
    "odd": (1, 3, 5, 7, 9),
    "fibonacci": (0, 1, 2, 3, 5, 8),
    "prime": (2, 3, 5, 7),
    "random": tuple(range(10)),
}
"""UG-VAE appendix A.3's structured MNIST batches, and random ones."""

TASKS: dict[str, tuple[str, ...]] = {
    "even/odd": ("even", "odd"),
    "even/odd/random": ("even", "odd", "random"),
    "fibonacci/prime": ("fibonacci", "prime"),
    "fibonacci/prime/random": ("fibonacci", "prime", "random"),
    "even/odd/fibonacci/prime": ("even", "odd", "fibonacci", "prime"),
}
"""Batch-classification problems: which kinds of batch an SVM tells apart."""

CLASSIFIERS = ("linear", "rbf")


def draw_batches(
    pools: Sequence[np.ndarray], *, n_batches: int, batch_size: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``n_batches`` batches of each kind, without repeats inside a batch.

    Args:
        pools: per kind, the ``(n_k,)`` row indices it may draw from (e.g. the rows of
            even digits).
        n_batches: batches of each kind.
        batch_size: ``B``, rows per batch.
        seed: seed of the ``numpy.random.Generator``.

    Returns:
        ``(rows, group, kind)``: ``rows: (n_kinds * n_batches * B,)`` row indices,
        ``group: (same,) int64`` the batch of each row, batch after batch, and
        ``kind: (n_kinds * n_batches,) int64`` the kind of each batch.

    Raises:
        DataError: if a pool has fewer than ``batch_size`` rows.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for pool in pools:
        pool = np.asarray(pool)
        if len(pool) < batch_size:
            raise DataError(f"a pool of {len(pool)} rows cannot fill batches of {batch_size}")
        # Each batch: the first B of a random permutation of the pool (all batches at once).
        picks = np.argsort(rng.random((n_batches, len(pool))), axis=1)[:, :batch_size]
        rows.append(pool[picks].reshape(-1))
    n_total = len(pools) * n_batches
    group = np.repeat(np.arange(n_total, dtype=np.int64), batch_size)
    kind = np.repeat(np.arange(len(pools), dtype=np.int64), n_batches)
    return np.concatenate(rows), group, kind


def label_pools(labels: np.ndarray, kinds: Sequence[str]) -> list[np.ndarray]:
    """The rows whose label is in each kind's digit set (:data:`DIGIT_SETS`)."""
    labels = np.asarray(labels)
    return [np.flatnonzero(np.isin(labels, DIGIT_SETS[k])) for k in kinds]


def global_samples(
    model: GroupEncoder,
    x: np.ndarray,
    rows: np.ndarray,
    group: np.ndarray,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """One sample of each batch's global posterior, and its mean.

    Args:
        model: a fitted :class:`~groupvae.models.GroupVAE`.
        x: ``(n_obs, *obs_shape)`` observations.
        rows, group: from :func:`draw_batches`.
        seed: seed of the samples.

    Returns:
        ``(samples, means)``, each ``(n_batches, group_dim)`` (``instance_dim`` for a
        model without a global latent: the product of its members' posteriors).
    """
    posterior = model.encode_groups(x[rows], group)
    std = np.exp(0.5 * posterior.logvar)
    noise = np.random.default_rng(seed).standard_normal(posterior.mean.shape)
    return (posterior.mean + std * noise).astype(np.float32), posterior.mean


def _svm(kind: str) -> Any:
    # deferred: scikit-learn is slow to import
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return make_pipeline(StandardScaler(), SVC(kernel=kind, C=1.0, gamma="scale"))


def classify_batches(
    codes: np.ndarray, kind: np.ndarray, *, test_fraction: float = 0.5, seed: int = 0
) -> dict[str, float]:
    """Train and test accuracy of linear and RBF SVMs that predict a batch's kind.

    The batches are split, stratified by kind, into a training and a test part; codes
    are standardised on the training part.

    Args:
        codes: ``(n_batches, d)`` one code per batch (e.g. a posterior sample).
        kind: ``(n_batches,)`` integer kinds.
        test_fraction: share of the batches held out for the test accuracy.
        seed: seed of the split.

    Returns:
        ``{"linear_train": ..., "linear_test": ..., "rbf_train": ..., "rbf_test": ...}``,
        accuracies in ``[0, 1]``, and ``"chance"``: the largest kind's share.

    Raises:
        DataError: for fewer than two kinds or mismatched lengths.
    """
    # deferred: scikit-learn is slow to import
    from sklearn.model_selection import train_test_split

    codes, kind = np.asarray(codes), np.asarray(kind)
    if codes.shape[0] != kind.shape[0]:
        raise DataError(f"codes and kind disagree: {codes.shape[0]} and {kind.shape[0]} rows")
    if len(np.unique(kind)) < 2:
        raise DataError("batch classification needs at least two kinds of batch")
    split = train_test_split(codes, kind, test_size=test_fraction, stratify=kind, random_state=seed)
    c_train, c_test, k_train, k_test = split
    out = {"chance": float(np.bincount(kind).max() / len(kind))}
    for name in CLASSIFIERS:
        svm = _svm(name).fit(c_train, k_train)
        out[f"{name}_train"] = float(svm.score(c_train, k_train))
        out[f"{name}_test"] = float(svm.score(c_test, k_test))
    return out


def structured_batch_classification(
    model: GroupEncoder,
    x: np.ndarray,
    labels: np.ndarray,
    *,
    tasks: Mapping[str, Sequence[str]] = TASKS,
    n_batches: int = 100,
    batch_size: int = 128,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """UG-VAE appendix A.3 and Table 1's protocol on MNIST digits.

    Draws ``n_batches`` batches of every kind used by ``tasks`` from ``x`` (e.g. a
    run's held-out images), one global posterior sample per batch, and scores each task.

    Args:
        model: a fitted :class:`~groupvae.models.GroupVAE`.
        x: ``(n_obs, *obs_shape)``; labels: ``(n_obs,)`` digits.
        tasks: task name -> the kinds (:data:`DIGIT_SETS` keys) it tells apart.
        n_batches, batch_size: batches per kind and their size ``B``.
        seed: seeds the batches, the samples and the SVM splits.

    Returns:
        ``(metrics, codes)``: ``metrics["{task}_{linear|rbf}_{train|test}"]`` accuracies
        and ``"{task}_chance"``; ``codes`` holds ``kinds`` (names), ``kind`` and the
        posterior ``means`` and ``samples`` of every batch, for figures.
    """
    kinds = list(dict.fromkeys(k for names in tasks.values() for k in names))
    rows, group, kind = draw_batches(
        label_pools(labels, kinds), n_batches=n_batches, batch_size=batch_size, seed=seed
    )
    samples, means = global_samples(model, x, rows, group, seed=seed)
    metrics: dict[str, float] = {}
    for task, names in tasks.items():
        keep = np.isin(kind, [kinds.index(n) for n in names])
        scores = classify_batches(samples[keep], kind[keep], seed=seed)
        metrics.update({f"{task}_{k}": v for k, v in scores.items()})
    codes = {"kinds": np.array(kinds), "kind": kind, "means": means, "samples": samples}
    return metrics, codes


def mixed_batches(
    pools: Sequence[np.ndarray], *, n_batches: int, batch_size: int, seed: int = 0
) -> np.ndarray:
    """Rows of ``n_batches`` batches that take ``batch_size / len(pools)`` rows from each
    pool (UG-VAE section 4.2's training batches: half of each domain).

    Returns:
        ``(n_batches * batch_size,)`` row indices, batch after batch.

    Raises:
        DataError: if ``batch_size`` is no multiple of the number of pools.
    """
    if batch_size % len(pools):
        raise DataError(f"batches of {batch_size} cannot split evenly over {len(pools)} pools")
    share = batch_size // len(pools)
    rows, _, _ = draw_batches(pools, n_batches=n_batches, batch_size=share, seed=seed)
    return rows.reshape(len(pools), n_batches, share).transpose(1, 0, 2).reshape(-1)


def domain_batch_classification(
    model: GroupEncoder,
    x: np.ndarray,
    domain: np.ndarray,
    *,
    domain_names: Sequence[str],
    n_batches: int = 100,
    batch_size: int = 128,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """How well the global posterior separates single-domain batches (UG-VAE section 4.2).

    Draws ``n_batches`` batches of each single domain and as many mixed ones (an equal
    share of every domain, like the training batches), takes one posterior sample of
    each, and scores SVMs on ``"{a}/{b}"`` (single domains only) and ``"{a}/{b}/mixed"``.

    Args:
        model: a fitted :class:`~groupvae.models.GroupVAE`.
        x: ``(n_obs, *obs_shape)``; domain: ``(n_obs,)`` ints indexing ``domain_names``.
        domain_names: the name of each domain.
        n_batches, batch_size, seed: as :func:`structured_batch_classification`.

    Returns:
        ``(metrics, codes)`` as :func:`structured_batch_classification`; the kinds are
        the domain names and ``"mixed"``.
    """
    pools = [np.flatnonzero(np.asarray(domain) == i) for i in range(len(domain_names))]
    pure, _, kind = draw_batches(pools, n_batches=n_batches, batch_size=batch_size, seed=seed)
    mixed = mixed_batches(pools, n_batches=n_batches, batch_size=batch_size, seed=seed + 1)
    rows = np.concatenate([pure, mixed])
    n_total = len(rows) // batch_size
    group = np.repeat(np.arange(n_total, dtype=np.int64), batch_size)
    kind = np.concatenate([kind, np.full(n_batches, len(pools), dtype=np.int64)])
    samples, means = global_samples(model, x, rows, group, seed=seed)
    single = "/".join(domain_names)
    metrics: dict[str, float] = {}
    for task, keep in ((single, kind < len(pools)), (f"{single}/mixed", kind >= 0)):
        scores = classify_batches(samples[keep], kind[keep], seed=seed)
        metrics.update({f"{task}_{k}": v for k, v in scores.items()})
    kinds = np.array([*domain_names, "mixed"])
    return metrics, {"kinds": kinds, "kind": kind, "means": means, "samples": samples}


def domain_transfer(
    model: GroupEncoderModel,
    x: np.ndarray,
    domain: np.ndarray,
    *,
    n_batches: int = 20,
    batch_size: int = 128,
    seed: int = 0,
) -> dict[str, float]:
    """Does the global latent carry the domain? Swap it and ask a domain classifier.

    UG-VAE section 4.2 shows it qualitatively (Fig. 5a: moving beta from a CelebA batch's
    to a 3D FACES batch's turns a face into a 3D face; A.2: ML-VAE trained on random
    batches leaves the domain to the local space). Here, for two domains:

    1. draw ``n_batches`` single-domain batches of each domain; encode every image's
       local code ``z`` (posterior mean) and every batch's ``beta`` (posterior mean);
    2. reconstruct each image from ``(beta of its batch, z)``, and *translate* it with the
       ``beta`` of a batch of the other domain, keeping ``z``;
    3. fit a logistic-regression domain classifier on the reconstructions of half of the
       batches (the model's own rendering of each domain), and score the other half:
       ``reconstruction_domain_accuracy`` (reconstructions classified as their domain)
       and ``transfer_rate`` (translations classified as the *target* domain; 0 when
       ``beta`` carries nothing of the domain, 1 when it decides it).

    Args:
        model: a fitted :class:`~groupvae.models.GroupVAE` with a group latent.
        x: ``(n_obs, *obs_shape)``; domain: ``(n_obs,)`` in ``{0, 1}``.
        n_batches, batch_size, seed: batches per domain, their size, the seed.

    Returns:
        ``{"transfer_rate", "reconstruction_domain_accuracy"}`` in ``[0, 1]``.

    Raises:
        ConfigError: for a model without a group latent.
        DataError: for other than two domains.
    """
    # deferred: scikit-learn is slow to import
    from sklearn.linear_model import LogisticRegression

    if not model.has_group_latent:
        raise ConfigError(f"{model.preset} has no group latent to swap")
    domain = np.asarray(domain)
    if set(np.unique(domain).tolist()) != {0, 1}:
        raise DataError("domain_transfer needs exactly two domains, 0 and 1")
    pools = [np.flatnonzero(domain == i) for i in (0, 1)]
    rows, group, kind = draw_batches(pools, n_batches=n_batches, batch_size=batch_size, seed=seed)
    beta = model.encode_groups(x[rows], group).mean
    z = model.encode_instances(x[rows], group).mean
    partner = (group + n_batches) % (2 * n_batches)  # batch j of the other domain
    recon = model.decode(beta[group], z).reshape(len(rows), -1)
    moved = model.decode(beta[partner], z).reshape(len(rows), -1)
    source = kind[group]
    fit = (group % n_batches) < n_batches // 2  # half of each domain's batches
    clf = LogisticRegression(max_iter=500).fit(recon[fit], source[fit])
    return {
        "reconstruction_domain_accuracy": float(clf.score(recon[~fit], source[~fit])),
        "transfer_rate": float((clf.predict(moved[~fit]) != source[~fit]).mean()),
    }


__all__ = [
    "CLASSIFIERS",
    "DIGIT_SETS",
    "TASKS",
    "classify_batches",
    "domain_batch_classification",
    "domain_transfer",
    "draw_batches",
    "global_samples",
    "label_pools",
    "mixed_batches",
    "structured_batch_classification",
]
