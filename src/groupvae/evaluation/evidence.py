"""Accumulating evidence: classify the class from content codes of k images (ML-VAE Fig. 6c).

ML-VAE section 4, "Quantitative Evaluation": the content code ``C`` and the style code
``S`` are used as features of a classifier with two hidden layers of 256 units. A good
disentanglement makes ``C`` informative about the class and ``S`` not. The content
posterior of a test image is built from ``k`` images of its class (``k = 1``: no group
information); as ``k`` grows the content code should become more informative, the style
code should not. For a plain VAE the per-image posteriors of the ``k`` images are
accumulated by a product of Normals, as the paper does for its VAE baseline
(:meth:`~groupvae.models.GroupVAE.encode_groups` does this for a model without a group
latent).

Protocol here (the paper leaves the details to its supplement, which we do not have):

1. the holdout groups are split **by group** into a classifier-training and a
   classifier-test half (:func:`~groupvae.evaluation.probes.split_groups_in_half`), and
   a fifth of the training half's groups of each class is set aside to stop the
   classifier's training (:data:`VALIDATION_FRACTION`), so no image is in two parts;
2. within each part, every image anchors one new group of exactly ``k`` images of its
   class (:func:`k_groups_by_label`); groups of one part overlap (each image is in ``k``
   of them), which is why the early-stopping rows come from groups of their own;
3. the content feature of an anchor is the posterior mean of ``q(u | x_{k-group})``, its
   style feature the posterior mean of its own ``q(v | x[, u])``;
4. a ``StandardScaler`` + ``MLPClassifier(hidden_layer_sizes=(256, 256))`` is fitted on
   the training part, stopped on the validation part's cross-entropy and scored on the
   test half (:func:`classifier_scores`): accuracy and the mean cross-entropy
   ``-log q(y | code)`` in **nats**, an upper bound of the conditional entropy
   ``H(class | code)`` that is tight when the classifier is calibrated.

By default the classifier is trained on codes of the same ``k`` as it is tested on. The
paper instead trains on codes accumulated from a fixed ``K`` images and tests with
``k <= K``: pass ``train_k=K`` for that protocol. (With CxVAE's Deep Sets encoder, whose
sum pooling changes the scale of the code with ``k``, that protocol also measures how the
encoder extrapolates.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError
from groupvae.evaluation.probes import chance_accuracy, split_groups_in_half
from groupvae.evaluation.protocols import GroupEncoder

KS = (1, 2, 5, 10)
"""The numbers of accumulated images of ML-VAE's Fig. 6c."""
HIDDEN = (256, 256)
"""ML-VAE section 4: "two linear layers of 256 hidden units each"."""
PATIENCE = 10
"""Epochs without a better validation cross-entropy before the classifier stops."""
VALIDATION_FRACTION = 0.2
"""Share of the classifier-training groups kept to stop the classifier's training."""


def k_groups_by_label(labels: np.ndarray, k: int, *, rng: np.random.Generator) -> np.ndarray:
    """One group of exactly ``k`` same-class observations anchored at each observation.

    The observations of each class are put in a random cyclic order; the group of an
    observation is itself followed by the next ``k - 1`` of its class in that order. The
    members of a group are distinct and share the anchor's label; each observation is a
    member of exactly ``k`` groups. Classes with fewer than ``k`` observations form no
    group. Vectorised: one ``lexsort`` and index arithmetic, no loop over observations.

    Args:
        labels: ``(n_obs,)`` integer class labels.
        k: group size, ``>= 1``.
        rng: the generator of the random order.

    Returns:
        ``members: (n_groups, k) int64`` row indices into ``labels``; ``members[:, 0]``
        are the anchors, in increasing order (every observation of a class with at least
        ``k`` members, once).

    Raises:
        DataError: for ``k < 1``, labels that are not ``(n_obs,)``, or no class with
            ``k`` observations.
    """
    labels = np.asarray(labels)
    if k < 1:
        raise DataError(f"k must be >= 1, got {k}")
    if labels.ndim != 1:
        raise DataError(f"labels must have shape (n_obs,), got {labels.shape}")
    n = len(labels)
    order = np.lexsort((rng.random(n), labels))  # classes in turn, random order within
    sorted_labels = labels[order]
    starts = np.r_[True, sorted_labels[1:] != sorted_labels[:-1]] if n else np.zeros(0, bool)
    cls = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    count = np.bincount(cls, minlength=len(first))[cls]  # (n,) size of each row's class
    rank = np.arange(n) - first[cls]
    offsets = (rank[:, None] + np.arange(k)) % np.maximum(count, 1)[:, None]
    members = order[first[cls][:, None] + offsets][count >= k]
    if len(members) == 0:
        raise DataError(f"no class has {k} observations to form groups of {k}")
    return members[np.argsort(members[:, 0])]


def encode_k_groups(
    model: GroupEncoder, x: np.ndarray, members: np.ndarray, *, batch_groups: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Content and style codes of the anchors of groups given by ``members``.

    Args:
        model: a :class:`~groupvae.models.GroupVAE`.
        x: ``(n_obs, *obs_shape)`` observations.
        members: ``(n_groups, k)`` row indices into ``x``, the anchor first (as from
            :func:`k_groups_by_label`).
        batch_groups: groups encoded per forward pass.

    Returns:
        ``(content, style)``: ``(n_groups, group_dim)`` posterior means of
        ``q(u | x_group)`` (for a VAE: the product of Normals of the members' posteriors,
        ``(n_groups, instance_dim)``), and ``(n_groups, instance_dim)`` posterior means of
        each anchor's instance code (given its group's content for a conditional encoder).
    """
    n_groups, k = members.shape
    data = GroupedDataset(
        x=x[members.ravel()], group=np.repeat(np.arange(n_groups), k), name="k-groups"
    )
    content = model.encode_groups(data, batch_groups=batch_groups).mean
    style = model.encode_instances(data, batch_groups=batch_groups).mean
    return content, style.reshape(n_groups, k, -1)[:, 0]


def classifier_scores(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    *,
    seed: int = 0,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    hidden: tuple[int, ...] = HIDDEN,
    max_iter: int = 200,
) -> dict[str, float]:
    """Fit an MLP classifier on one set of codes and score it on another.

    The classifier standardises the codes, then is an ``MLPClassifier(hidden)`` (ReLU,
    Adam, L2 penalty 1e-4) trained epoch by epoch until the cross-entropy of the
    validation rows has not improved for :data:`PATIENCE` epochs; it keeps the best
    weights. (scikit-learn's own early stopping watches the accuracy, which stops as soon
    as every validation row is right and leaves the probabilities, hence the entropy,
    far from calibrated.) BLAS runs on one thread meanwhile: for these small matrices
    more threads only add overhead.

    Args:
        train_features, test_features: ``(n_train, d)`` and ``(n_test, d)`` codes.
        train_labels, test_labels: ``(n_train,)`` and ``(n_test,)`` integer classes.
        validation: ``(features, labels)`` to stop on; by default a random tenth of the
            training rows when there are at least 100 (rows must then be independent),
            else none (``max_iter`` epochs).
        seed: seed of the validation rows, the initialisation and the batches.
        hidden: hidden layer sizes (ML-VAE: two of 256).
        max_iter: cap on the training epochs.

    Returns:
        ``accuracy`` in ``[0, 1]`` and ``entropy``: the mean cross-entropy
        ``-log q(y | code)`` over the test rows, in nats (a class never seen in training
        has probability 0, clipped to the float64 machine epsilon).

    Raises:
        DataError: for mismatched shapes or fewer than two training classes.
    """
    train_features, test_features = _as_features(train_features), _as_features(test_features)
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    if train_labels.shape != (len(train_features),) or test_labels.shape != (len(test_features),):
        raise DataError("need one label per row of the training and of the test features")
    if len(np.unique(train_labels)) < 2:
        raise DataError("the classifier's training half holds a single class; use more groups")
    x, y, is_val = _with_validation(train_features, train_labels, validation, seed=seed)
    with threadpool_limits(limits=1, user_api="blas"):  # small matrices: threads only cost
        scaler, classifier = _fit_classifier(
            x, y, is_val, hidden=hidden, max_iter=max_iter, seed=seed
        )
        proba = classifier.predict_proba(scaler.transform(test_features))
    classes = classifier.classes_
    return {
        "accuracy": float(np.mean(classes[proba.argmax(1)] == test_labels)),
        "entropy": float(np.mean(-np.log(_true_class_probability(proba, classes, test_labels)))),
    }


def _true_class_probability(
    proba: np.ndarray, classes: np.ndarray, labels: np.ndarray
) -> np.ndarray:
    """``(n,)`` the probability of each row's class, 0 (clipped to eps) for unseen ones."""
    column = np.clip(np.searchsorted(classes, labels), 0, len(classes) - 1)
    seen = classes[column] == labels
    p_true = np.where(seen, proba[np.arange(len(labels)), column], 0.0)
    return np.maximum(p_true, np.finfo(np.float64).eps)


def _with_validation(
    x: np.ndarray,
    y: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None,
    *,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, is_val)``: training and validation rows stacked, and which are which."""
    if validation is None:
        is_val = np.zeros(len(y), dtype=bool)
        if len(y) >= 100:
            is_val[np.random.default_rng(seed).permutation(len(y))[: len(y) // 10]] = True
        return x, y, is_val
    val_x, val_y = _as_features(validation[0]), np.asarray(validation[1])
    if val_y.shape != (len(val_x),) or val_x.shape[1:] != x.shape[1:]:
        raise DataError("validation needs (n_val, d) features like the training ones and labels")
    is_val = np.r_[np.zeros(len(y), dtype=bool), np.ones(len(val_y), dtype=bool)]
    return np.r_[x, val_x], np.r_[y, val_y], is_val


def _fit_classifier(
    x: np.ndarray,
    y: np.ndarray,
    is_val: np.ndarray,
    *,
    hidden: tuple[int, ...],
    max_iter: int,
    seed: int,
) -> tuple[StandardScaler, MLPClassifier]:
    """Standardise and fit on ``~is_val``, stopping on the cross-entropy of ``is_val``."""
    train = ~is_val
    scaler = StandardScaler().fit(x[train])
    xs = scaler.transform(x)
    classifier = MLPClassifier(hidden_layer_sizes=hidden, random_state=seed)
    classes = np.unique(y[train])
    best: tuple[list[np.ndarray], list[np.ndarray]] | None = None
    best_loss, waited = np.inf, 0
    for _ in range(max_iter):  # epochs
        classifier.partial_fit(xs[train], y[train], classes=classes)
        if not is_val.any():
            continue
        proba = classifier.predict_proba(xs[is_val])
        loss = float(np.mean(-np.log(_true_class_probability(proba, classes, y[is_val]))))
        if loss < best_loss - 1e-4:
            best_loss, waited = loss, 0
            best = (
                [w.copy() for w in classifier.coefs_],
                [b.copy() for b in classifier.intercepts_],
            )
        else:
            waited += 1
            if waited >= PATIENCE:
                break
    if best is not None:
        classifier.coefs_, classifier.intercepts_ = best
    return scaler, classifier


def _as_features(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise DataError(f"features must have shape (n, d), got {a.shape}")
    return a


def _digest(arrays: Sequence[np.ndarray]) -> bytes:
    """A fingerprint of the shapes and contents of ``arrays``."""
    h = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.digest()


def label_entropy(labels: np.ndarray) -> float:
    """Entropy of the empirical class distribution, in nats: the cross-entropy of a
    classifier that knows only the class frequencies."""
    p = np.unique(np.asarray(labels), return_counts=True)[1] / len(labels)
    return float(-(p * np.log(p)).sum())


def _classifier_parts(
    group: np.ndarray, labels: np.ndarray, rng: np.random.Generator, *, seed: int
) -> dict[str, np.ndarray]:
    """Row indices of the ``fit``, ``validation`` and ``test`` parts, split by group.

    ``test`` is one half of the groups (:func:`split_groups_in_half` with ``seed``);
    ``validation`` a random :data:`VALIDATION_FRACTION` of the other half's groups of
    each class (the class of a group's first row), so that every class with a few
    groups is in it.
    """
    in_train = split_groups_in_half(group, seed=seed)
    ids, first = np.unique(group[in_train], return_index=True)
    group_label = labels[in_train][first]
    order = np.lexsort((rng.random(len(ids)), group_label))  # random order within class
    sorted_label = group_label[order]
    new_class = np.r_[True, sorted_label[1:] != sorted_label[:-1]]
    cls, starts = np.cumsum(new_class) - 1, np.flatnonzero(new_class)
    count = np.diff(np.r_[starts, len(ids)])  # groups of each class
    rank = np.arange(len(ids)) - starts[cls]
    n_val = np.round(VALIDATION_FRACTION * count)[cls]
    is_val = np.isin(group, ids[order][rank < n_val])
    return {
        "fit": np.flatnonzero(in_train & ~is_val),
        "validation": np.flatnonzero(is_val),
        "test": np.flatnonzero(~in_train),
    }


def _k_group_codes(
    model: GroupEncoder,
    data: GroupedDataset,
    rows: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    optional: bool = False,
) -> dict[str, np.ndarray] | None:
    """Content and style codes and labels of the ``k``-groups anchored at ``rows``.

    Returns ``None`` when ``optional`` and no class of ``rows`` has ``k`` images.
    """
    assert data.labels is not None
    try:
        members = rows[k_groups_by_label(data.labels[rows], k, rng=rng)]
    except DataError:
        if optional:
            return None
        raise DataError(
            f"no class has {k} images in a half of the {data.n_groups} holdout groups; "
            "hold out more groups or use smaller k"
        ) from None
    content, style = encode_k_groups(model, data.x, members)
    return {"content": content, "style": style, "labels": data.labels[members[:, 0]]}


def accumulating_evidence(
    model: GroupEncoder,
    data: GroupedDataset,
    *,
    ks: Sequence[int] = KS,
    seed: int = 0,
    train_k: int | None = None,
    hidden: tuple[int, ...] = HIDDEN,
    max_iter: int = 200,
) -> dict[str, float]:
    """ML-VAE's accumulating-evidence evaluation (section 4, Fig. 6c) on labelled groups.

    See the module docstring for the protocol.

    Args:
        model: a fitted :class:`~groupvae.models.GroupVAE` (any preset, the VAE included).
        data: labelled holdout groups, e.g. MNIST digits grouped by class.
        ks: numbers of images accumulated into the content code.
        seed: seeds the group halves, the k-groups and the classifiers.
        train_k: ``None`` trains each classifier on codes of the same ``k`` as the test
            codes; an integer ``K`` trains on codes of ``K`` images (the paper's protocol).
        hidden: the classifier's hidden layer sizes.
        max_iter: cap on the classifier's training epochs.

    Returns:
        A flat dict: for each ``k``, ``content_accuracy_k{k}``, ``content_entropy_k{k}``,
        ``style_accuracy_k{k}``, ``style_entropy_k{k}`` (entropies in nats); and
        ``chance_accuracy`` (the most frequent class's share of the test half) and
        ``label_entropy`` (nats), what a code without information scores.

    Raises:
        DataError: without labels, with fewer than two groups, or with a half in which no
            class has ``k`` images.
    """
    if data.labels is None:
        raise DataError(f"accumulating evidence needs class labels; {data.name!r} has none")
    if not ks or min(ks) < 1:
        raise DataError(f"ks must be positive numbers of images, got {list(ks)}")
    rng = np.random.default_rng(seed)
    parts = _classifier_parts(data.group, data.labels, rng, seed=seed)
    needed = {(train_k or k, p) for k in ks for p in ("fit", "validation")}
    needed |= {(k, "test") for k in ks}
    codes: dict[tuple[int, str], dict[str, np.ndarray] | None] = {}
    for k, part in sorted(needed):  # a few values of k, three parts: no loop over data
        codes[k, part] = _k_group_codes(
            model, data, parts[part], k, rng, optional=part == "validation"
        )
    metrics: dict[str, float] = {}
    done: dict[bytes, dict[str, float]] = {}  # an independent style code is the same for all k
    for k in ks:
        fit, val, test = (
            codes[train_k or k, "fit"],
            codes[train_k or k, "validation"],
            codes[k, "test"],
        )
        assert fit is not None and test is not None
        for code in ("content", "style"):
            arrays = (fit[code], fit["labels"], test[code], test["labels"])
            validation = None if val is None else (val[code], val["labels"])
            key = _digest(arrays + (() if validation is None else validation))
            if key not in done:
                done[key] = classifier_scores(
                    *arrays, validation=validation, seed=seed, hidden=hidden, max_iter=max_iter
                )
            metrics[f"{code}_accuracy_k{k}"] = done[key]["accuracy"]
            metrics[f"{code}_entropy_k{k}"] = done[key]["entropy"]
    test_labels = data.labels[parts["test"]]
    metrics["chance_accuracy"] = chance_accuracy(test_labels)
    metrics["label_entropy"] = label_entropy(test_labels)
    return metrics


__all__ = [
    "HIDDEN",
    "KS",
    "PATIENCE",
    "VALIDATION_FRACTION",
    "accumulating_evidence",
    "classifier_scores",
    "encode_k_groups",
    "k_groups_by_label",
    "label_entropy",
]
