"""Grouping policies: groups of one label, group sizes, and holdouts of unseen classes."""

from __future__ import annotations

import numpy as np
import pytest

import groupvae.data.mnist
from groupvae.data import (
    GroupedDataset,
    draw_group_sizes,
    group_by_label,
    make_label_groups,
    split_by_label,
)
from groupvae.errors import DataError


@pytest.fixture(scope="module")
def digits() -> GroupedDataset:
    """400 labelled 2-d observations (labels 0..9, 40 each) in groups of 3-5 of one label."""
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.repeat(np.arange(10), 40))
    x = rng.standard_normal((400, 2)) + labels[:, None]
    return make_label_groups(x, labels, min_size=3, max_size=5, seed=0, name="toy")


def test_group_by_label_is_still_importable_from_mnist():
    assert groupvae.data.mnist.group_by_label is group_by_label


def test_group_by_label_takes_a_seed_or_a_generator():
    labels = np.repeat(np.arange(4), 9)
    by_int = group_by_label(labels, seed=5)
    np.testing.assert_array_equal(group_by_label(labels, seed=np.random.default_rng(5)), by_int)


def test_fixed_group_size_k():
    labels = np.repeat(np.arange(3), [12, 13, 2])  # 12 = 4 * 3; 13 = 4 * 3 + 1; 2 < 3
    group = group_by_label(labels, min_size=3, max_size=3, seed=0)
    sizes = [sorted(np.unique(group[labels == label], return_counts=True)[1]) for label in range(3)]
    assert sizes[0] == [3, 3, 3, 3]
    assert sizes[1] == [3, 3, 3, 4]  # the short tail joins a group
    assert sizes[2] == [2]  # a rare label forms one smaller group
    assert len(np.unique(group)) == 9


def test_make_label_groups(digits):
    assert digits.name == "toy" and digits.n_obs == 400
    sizes = digits.group_sizes
    assert sizes.min() >= 3 and sizes.max() <= 7
    for g in range(digits.n_groups):
        assert len(np.unique(digits.labels[digits.group == g])) == 1


def test_draw_group_sizes():
    sizes = draw_group_sizes(500, min_size=2, max_size=4, rng=np.random.default_rng(0))
    assert sizes.dtype == np.int64 and set(sizes) == {2, 3, 4}
    with pytest.raises(DataError, match="n_groups must be >= 1"):
        draw_group_sizes(0, rng=np.random.default_rng(0))
    with pytest.raises(DataError, match="min_size <= max_size"):
        draw_group_sizes(3, min_size=0, max_size=2, rng=np.random.default_rng(0))


def test_split_by_label_holds_out_unseen_classes_in_whole_groups(digits):
    train, hold = split_by_label(digits, [8, 9])
    assert set(np.unique(hold.labels)) == {8, 9}
    assert not np.isin(train.labels, [8, 9]).any()
    assert (train.n_obs, hold.n_obs) == (320, 80)
    assert not set(train.group_ids) & set(hold.group_ids)  # no group crosses the split
    assert train.n_groups + hold.n_groups == digits.n_groups
    for part in (train, hold):  # every group keeps all of its rows
        np.testing.assert_array_equal(part.group_sizes, digits.group_sizes[part.group_ids])
        rows = np.isin(digits.group, part.group_ids)
        np.testing.assert_array_equal(part.x, digits.x[rows])


def test_split_by_label_on_an_aux_factor(digits):
    data = GroupedDataset(
        x=digits.x, group=digits.group, aux={"digit": digits.labels}, name=digits.name
    )
    train, hold = split_by_label(data, np.array([0]), key="digit")
    assert set(hold.aux["digit"]) == {0} and 0 not in train.aux["digit"]


@pytest.mark.parametrize(
    ("holdout", "kwargs", "message"),
    [
        ([], {}, "holdout_labels is empty"),
        ([10], {}, r"holdout labels \[10\] do not occur"),
        (list(range(10)), {}, "leaves no training group"),
        ([1], {"key": "colour"}, "has no aux array 'colour'; known: none"),
    ],
)
def test_split_by_label_rejects_bad_holdouts(digits, holdout, kwargs, message):
    with pytest.raises(DataError, match=message):
        split_by_label(digits, holdout, **kwargs)


def test_split_by_label_needs_single_label_groups(digits):
    unlabelled = GroupedDataset(x=digits.x, group=digits.group)
    with pytest.raises(DataError, match="has no labels"):
        split_by_label(unlabelled, [1])
    mixed = GroupedDataset(x=digits.x, group=digits.group // 2, labels=digits.labels)
    with pytest.raises(DataError, match="groups mix several labels"):
        split_by_label(mixed, [1])
