"""Grouping policies: group labelled observations, and hold out unseen classes.

* :func:`group_by_label` cuts the observations of each label into groups of a fixed size
  ``k`` (``min_size == max_size == k``) or of sizes drawn from a range.
* :func:`draw_group_sizes` draws group sizes for synthetic data sets.
* :func:`make_label_groups` builds a :class:`GroupedDataset` from labelled observations.
* :func:`regroup_at_random` replaces the groups by a seeded partition into random
  groups of a fixed size (how a model trained on random batches, UG-VAE, is scored).
* :func:`split_by_label` holds out whole classes (or values of a grouping factor): the
  holdout groups contain only classes never seen in training, which measures
  generalisation to unseen groups (ML-VAE's held-out MS-Celeb identities).

A ``seed`` argument is an ``int`` or a ``numpy.random.Generator`` (used as is).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError

Seed = int | np.random.Generator


def _check_size_range(min_size: int, max_size: int) -> None:
    if not 1 <= min_size <= max_size:
        raise DataError(f"need 1 <= min_size <= max_size, got {min_size}, {max_size}")


def group_by_label(
    labels: np.ndarray, *, min_size: int = 2, max_size: int = 10, seed: Seed = 0
) -> np.ndarray:
    """Partition observations into groups of one label each, of ``min_size..max_size``.

    Observations of each label are shuffled and cut into consecutive chunks whose sizes
    are drawn uniformly from ``[min_size, max_size]``; a last chunk smaller than
    ``min_size`` is merged into the one before it (so it may reach
    ``max_size + min_size - 1``), and a label with fewer than ``min_size`` members
    forms one smaller group. ``min_size == max_size == k`` gives groups of ``k``.

    Args:
        labels: ``(n_obs,)`` integer labels.
        min_size, max_size: group size range, ``1 <= min_size <= max_size``.
        seed: seed of the ``numpy.random.Generator``, or the generator itself.

    Returns:
        ``(n_obs,) int64`` group ids; every group holds a single label.

    Raises:
        DataError: for a bad size range.
    """
    _check_size_range(min_size, max_size)
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


def draw_group_sizes(
    n_groups: int, *, min_size: int = 2, max_size: int = 10, rng: np.random.Generator
) -> np.ndarray:
    """``(n_groups,) int64`` sizes drawn uniformly from ``[min_size, max_size]``.

    Raises:
        DataError: for ``n_groups < 1`` or a bad size range.
    """
    if n_groups < 1:
        raise DataError(f"n_groups must be >= 1, got {n_groups}")
    _check_size_range(min_size, max_size)
    return rng.integers(min_size, max_size + 1, size=n_groups).astype(np.int64)


def make_label_groups(
    x: np.ndarray,
    labels: np.ndarray,
    *,
    min_size: int = 2,
    max_size: int = 10,
    seed: Seed = 0,
    name: str = "custom",
) -> GroupedDataset:
    """Group labelled observations by label (see :func:`group_by_label`).

    Args:
        x: ``(n_obs, *obs_shape)`` observations.
        labels: ``(n_obs,)`` integer labels.
        min_size, max_size: group size range.
        seed: seed of the grouping, or a ``numpy.random.Generator``.
        name: the data set's name.

    Returns:
        A :class:`GroupedDataset` with ``labels``; every group holds a single label.
    """
    group = group_by_label(labels, min_size=min_size, max_size=max_size, seed=seed)
    return GroupedDataset(x=x, group=group, labels=labels, name=name)


def regroup_at_random(data: GroupedDataset, size: int, *, seed: Seed = 0) -> GroupedDataset:
    """The same observations in random groups of ``size`` (a last group keeps the rest).

    Args:
        data: any data set; its own groups (and group factors ``u``) are dropped.
        size: observations per random group, ``>= 1``.
        seed: seed of the partition, or a ``numpy.random.Generator``.

    Returns:
        A :class:`GroupedDataset` with ``x``, ``v``, ``labels`` and ``aux`` of ``data``.

    Raises:
        DataError: for ``size < 1``.
    """
    if size < 1:
        raise DataError(f"random groups need size >= 1, got {size}")
    group = np.empty(data.n_obs, dtype=np.int64)
    group[np.random.default_rng(seed).permutation(data.n_obs)] = np.arange(data.n_obs) // size
    return GroupedDataset(
        x=data.x, group=group, v=data.v, labels=data.labels, aux=dict(data.aux), name=data.name
    )


def _split_key(data: GroupedDataset, key: str | None) -> np.ndarray:
    """``(n_obs,)`` the per-observation values that :func:`split_by_label` splits on."""
    if key is None:
        if data.labels is None:
            raise DataError(f"data set {data.name!r} has no labels to split by")
        return data.labels
    if key not in data.aux:
        known = ", ".join(sorted(data.aux)) or "none"
        raise DataError(f"data set {data.name!r} has no aux array {key!r}; known: {known}")
    values = np.asarray(data.aux[key])
    if values.ndim != 1:
        raise DataError(f"aux[{key!r}] must have shape (n_obs,) to split by, got {values.shape}")
    return values


def split_by_label(
    data: GroupedDataset, holdout_labels: Sequence[int] | np.ndarray, *, key: str | None = None
) -> tuple[GroupedDataset, GroupedDataset]:
    """Split **by class** into ``(train, holdout)``: the holdout has only unseen classes.

    Groups whose label is in ``holdout_labels`` form the holdout, all others the training
    set, so no group crosses the split and no holdout class is seen in training.

    Args:
        data: a data set whose groups each hold a single label (as made by
            :func:`group_by_label`).
        holdout_labels: the classes to hold out, e.g. ``[8, 9]``.
        key: split on ``data.aux[key]`` (e.g. a ``shapes`` factor such as ``"shape"``)
            instead of ``data.labels``.

    Returns:
        ``(train, holdout)`` :class:`GroupedDataset` s (see
        :meth:`GroupedDataset.subset_groups`).

    Raises:
        DataError: if there are no labels, a group mixes labels, a holdout label does
            not occur, or either side would be empty.
    """
    values = _split_key(data, key)
    what = "labels" if key is None else f"aux[{key!r}]"
    holdout_labels = np.unique(np.asarray(holdout_labels))
    if holdout_labels.size == 0:
        raise DataError("holdout_labels is empty; name at least one class to hold out")
    _, first = np.unique(data.group, return_index=True)  # first row of each group
    group_value = values[first]
    mixed = int(np.unique(data.group[values != group_value[data.group]]).size)
    if mixed:
        raise DataError(
            f"{mixed} groups mix several {what}; split_by_label needs groups of a single "
            "value (group by it first)"
        )
    missing = np.setdiff1d(holdout_labels, values)
    if missing.size:
        raise DataError(f"holdout {what} {missing.tolist()} do not occur in the data")
    held = np.isin(group_value, holdout_labels)
    if held.all():
        raise DataError(f"holding out {holdout_labels.tolist()} leaves no training group")
    return data.subset_groups(np.flatnonzero(~held)), data.subset_groups(np.flatnonzero(held))
