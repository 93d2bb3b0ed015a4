"""Grouped data sets, whole-group batches, and the shipped data sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from groupvae.data import (
    DATASETS,
    GroupBatchSampler,
    GroupedDataset,
    group_by_label,
    group_loader,
    load_dataset,
    make_exam_scores,
    make_mnist_groups,
)
from groupvae.errors import DataError, UnknownNameError

GOOD = {"x": np.zeros((4, 2)), "group": np.array([0, 0, 1, 1])}


# ----------------------------------------------------------- GroupedDataset
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x": np.zeros(4)}, "x must have shape"),
        ({"x": np.zeros((0, 2)), "group": np.zeros(0, dtype=int)}, "n_obs > 0"),
        ({"group": np.array([0, 0, 1])}, "group must have shape"),
        ({"group": np.array([0.0, 0.0, 1.0, 1.0])}, "must be integers"),
        ({"x": np.array([[0, 0], [np.nan, 0], [0, 0], [0, 0]])}, "x has 1 NaN or infinite"),
        ({"x": np.array([[0, 0], [np.inf, -np.inf], [0, 0], [0, 0]])}, "x has 2 NaN"),
        ({"u": np.zeros((3, 2))}, r"u must have one row per group \(2\)"),
        ({"u": np.array([[0.0], [np.nan]])}, "u has 1 NaN"),
        ({"v": np.zeros((3, 1))}, r"v must have one row per observation \(4\)"),
        ({"v": np.array([0.0, np.inf, 0, 0])}, "v has 1 NaN"),
        ({"labels": np.zeros(3)}, "labels must have shape"),
        ({"aux": {"eps": np.zeros(5)}}, r"aux\['eps'\] must be an array with one row"),
    ],
    ids=lambda p: p if isinstance(p, str) else None,
)
def test_grouped_dataset_rejects_bad_input(change, message):
    with pytest.raises(DataError, match=message):
        GroupedDataset(**{**GOOD, **change})


def test_grouped_dataset_renumbers_groups_and_converts_types():
    data = GroupedDataset(
        x=np.arange(5, dtype=np.int64)[:, None],
        group=np.array([10, 3, 3, 10, 7]),
        u=np.array([0.1, 0.2, 0.3]),
        labels=np.array([1, 0, 0, 1, 2], dtype=np.int32),
    )
    assert data.group.tolist() == [2, 0, 0, 2, 1] and data.group.dtype == np.int64
    assert data.group_ids.tolist() == [3, 7, 10]
    assert data.x.dtype == np.float32 and data.obs_shape == (1,)
    assert data.u.shape == (3, 1) and data.labels.dtype == np.int64
    assert (data.n_obs, data.n_groups, len(data)) == (5, 3, 5)
    assert data.group_sizes.tolist() == [2, 1, 2]


def test_subset_groups_keeps_original_ids_and_rows(exam):
    sub = exam.subset_groups(np.array([5, 2, 9]))
    assert sub.n_groups == 3 and sub.group_ids.tolist() == [2, 5, 9]
    rows = np.isin(exam.group, [2, 5, 9])
    np.testing.assert_array_equal(sub.x, exam.x[rows])
    np.testing.assert_array_equal(sub.v, exam.v[rows])
    np.testing.assert_array_equal(sub.aux["eps"], exam.aux["eps"][rows])
    np.testing.assert_array_equal(sub.u, exam.u[[2, 5, 9]])
    np.testing.assert_array_equal(sub.group_ids[sub.group], exam.group[rows])


def test_split_by_group_is_disjoint_complete_and_seeded(exam):
    train, hold = exam.split(0.25, seed=3)
    assert hold.n_groups == 16 and train.n_groups == 48
    assert not set(train.group_ids) & set(hold.group_ids)
    assert set(train.group_ids) | set(hold.group_ids) == set(range(exam.n_groups))
    assert train.n_obs + hold.n_obs == exam.n_obs
    for part in (train, hold):  # every group keeps all of its rows, u and v
        np.testing.assert_array_equal(part.group_sizes, exam.group_sizes[part.group_ids])
        np.testing.assert_array_equal(part.u, exam.u[part.group_ids])
    again, _ = exam.split(0.25, seed=3)
    other, _ = exam.split(0.25, seed=4)
    np.testing.assert_array_equal(again.group_ids, train.group_ids)
    np.testing.assert_array_equal(again.x, train.x)
    assert not np.array_equal(other.group_ids, train.group_ids)


@pytest.mark.parametrize("holdout", [0.0, 1.0, 0.005, 0.995])  # 64 groups
def test_split_rejects_empty_sides(exam, holdout):
    with pytest.raises(DataError, match="holdout"):
        exam.split(holdout)


# ------------------------------------------------------------ batch sampler
@pytest.fixture
def uneven():
    """11 groups of 1-6 members, their rows interleaved."""
    rng = np.random.default_rng(0)
    group = np.repeat(np.arange(11), rng.integers(1, 7, size=11))
    return group[rng.permutation(len(group))]


def epoch(sampler) -> list[list[int]]:
    return [list(batch) for batch in sampler]


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_yields_each_whole_group_once_per_epoch(uneven, shuffle, drop_last):
    sampler = GroupBatchSampler(uneven, 4, shuffle=shuffle, drop_last=drop_last, seed=1)
    for _ in range(2):
        batches = epoch(sampler)
        assert len(batches) == len(sampler) == (2 if drop_last else 3)
        seen = []
        for batch in batches:
            groups = uneven[batch]
            starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
            order = groups[starts]  # each group's rows are contiguous: one run per group
            assert len(set(order)) == len(order)
            for g in order:  # whole groups
                assert sorted(np.array(batch)[groups == g]) == np.flatnonzero(uneven == g).tolist()
            seen += order.tolist()
        assert [len(set(uneven[b])) for b in batches] == [4, 4] + ([] if drop_last else [3])
        assert len(seen) == len(set(seen)) == (8 if drop_last else 11)
    if not shuffle:
        assert seen == list(range(len(seen)))


def test_sampler_is_reproducible_and_reshuffles_each_epoch(uneven):
    a, b = GroupBatchSampler(uneven, 3, seed=7), GroupBatchSampler(uneven, 3, seed=7)
    first, second = epoch(a), epoch(a)
    assert first == epoch(b) and second == epoch(b)
    assert first != second
    assert epoch(GroupBatchSampler(uneven, 3, seed=8)) != first


@pytest.mark.parametrize("shuffle", [True, False])
def test_sampler_subsamples_large_groups(uneven, shuffle):
    sampler = GroupBatchSampler(uneven, 20, shuffle=shuffle, max_group_size=3, seed=0)
    subsets = []
    for _ in range(4):
        (batch,) = epoch(sampler)
        assert len(batch) == len(set(batch))
        sizes = np.bincount(uneven[batch], minlength=11)
        np.testing.assert_array_equal(sizes, np.minimum(np.bincount(uneven), 3))
        subsets.append(sorted(batch))
    assert (len({tuple(s) for s in subsets}) > 1) == shuffle  # new subsamples each epoch


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"groups_per_batch": 0}, "groups_per_batch"), ({"max_group_size": 0}, "max_group_size")],
)
def test_sampler_rejects_bad_settings(uneven, kwargs, message):
    with pytest.raises(DataError, match=message):
        GroupBatchSampler(uneven, **{"groups_per_batch": 2, **kwargs})


def test_group_loader_builds_renumbered_group_batches(exam):
    loader = group_loader(exam, 10, seed=0)
    assert isinstance(loader, torch.utils.data.DataLoader) and len(loader) == 7
    n_rows, seen = 0, []
    for batch in loader:
        assert batch.x.dtype == torch.float32 and batch.group.dtype == torch.int64
        assert len(batch) == len(batch.index) == len(batch.group)
        torch.testing.assert_close(batch.x, torch.from_numpy(exam.x[batch.index.numpy()]))
        # renumbered 0..G-1, each group's rows contiguous, mapped back by group_index
        assert torch.equal(torch.unique(batch.group), torch.arange(batch.n_groups))
        assert int((torch.diff(batch.group) != 0).sum()) == batch.n_groups - 1
        source = exam.group[batch.index.numpy()]
        np.testing.assert_array_equal(batch.group_index[batch.group].numpy(), source)
        n_rows += len(batch)
        seen += batch.group_index.tolist()
    assert n_rows == exam.n_obs and sorted(seen) == list(range(exam.n_groups))


# --------------------------------------------------------------- exam scores
def test_exam_scores_follow_the_generative_model():
    data = make_exam_scores(64, seed=0)
    assert data.x.shape == (data.n_obs, 1) and data.u.shape == (64, 2)
    assert data.v.shape == (data.n_obs, 1) and data.aux["eps"].shape == (data.n_obs, 1)
    assert data.group_sizes.min() >= 8 and data.name == "exam-scores"
    u, v, eps = (np.float64(a) for a in (data.u[data.group], data.v, data.aux["eps"]))
    mu, sigma = u[:, :1], u[:, 1:]
    np.testing.assert_allclose(data.x, 2 * mu + (sigma**2 + 1) * v + eps, rtol=1e-5, atol=1e-5)


def test_exam_scores_options_and_seed():
    quiet = make_exam_scores(20, noise_std=0.0, min_size=3, mean_extra=1.0, seed=5)
    assert quiet.group_sizes.min() >= 3 and np.all(quiet.aux["eps"] == 0)
    again = make_exam_scores(20, noise_std=0.0, min_size=3, mean_extra=1.0, seed=5)
    np.testing.assert_array_equal(again.x, quiet.x)
    other = make_exam_scores(20, noise_std=0.0, min_size=3, mean_extra=1.0, seed=6)
    assert not np.array_equal(other.u, quiet.u)


@pytest.mark.parametrize("kwargs", [{"n_groups": 1}, {"noise_std": -1.0}, {"min_size": 0}])
def test_exam_scores_rejects_bad_options(kwargs):
    with pytest.raises(DataError):
        make_exam_scores(**{"n_groups": 8, **kwargs})


# ----------------------------------------------------------- group by label
@pytest.mark.parametrize(("min_size", "max_size"), [(2, 10), (3, 3), (1, 1), (4, 6)])
@pytest.mark.parametrize("seed", [0, 1])
def test_group_by_label_makes_single_label_groups_of_the_right_size(min_size, max_size, seed):
    rng = np.random.default_rng(seed)
    counts = [1, 2, 7, 13, 40, 3]  # labels with too few, barely enough and many members
    labels = rng.permutation(np.repeat(np.arange(len(counts)), counts) * 3 + 1)
    group = group_by_label(labels, min_size=min_size, max_size=max_size, seed=seed)
    assert group.shape == labels.shape and group.dtype == np.int64
    sizes = np.bincount(group)
    assert sizes.min() >= 1 and len(sizes) == group.max() + 1  # ids 0..G-1, none empty
    for g in range(len(sizes)):
        (label,) = np.unique(labels[group == g])  # a single label per group
        n_label = int((labels == label).sum())
        if n_label < min_size:
            assert sizes[g] == n_label  # one smaller group for a rare label
        else:
            assert min_size <= sizes[g] <= max_size + min_size - 1
    np.testing.assert_array_equal(
        group, group_by_label(labels, min_size=min_size, max_size=max_size, seed=seed)
    )


def test_group_by_label_rejects_bad_sizes():
    with pytest.raises(DataError, match="min_size <= max_size"):
        group_by_label(np.zeros(5, dtype=int), min_size=4, max_size=3)


def test_mnist_groups_from_the_bundled_digits():
    data = make_mnist_groups(seed=0)
    assert data.x.shape == (5000, 1, 28, 28) and data.x.dtype == np.float32
    assert data.x.min() >= 0 and data.x.max() <= 1
    sizes = data.group_sizes
    assert sizes.min() >= 2 and sizes.max() <= 11
    same_label = [len(np.unique(data.labels[data.group == g])) == 1 for g in range(data.n_groups)]
    assert all(same_label)


# ------------------------------------------------------------------ registry
def test_dataset_registry():
    assert {"exam-scores", "mnist"} <= set(DATASETS)
    data = load_dataset("exam-scores", n_groups=8, seed=2)
    assert data.n_groups == 8
    np.testing.assert_array_equal(data.x, make_exam_scores(8, seed=2).x)
    with pytest.raises(UnknownNameError, match=r"unknown dataset 'nope'; known: .*exam-scores"):
        load_dataset("nope")
