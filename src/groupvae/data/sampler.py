"""Batches of whole groups for a torch ``DataLoader``."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from groupvae.data.batch import GroupBatch
from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError


class GroupBatchSampler(Sampler[list[int]]):
    """Yields the observation indices of ``groups_per_batch`` whole groups at a time.

    Groups are shuffled each epoch with a seeded ``numpy.random.Generator``. A group with
    more than ``max_group_size`` members is subsampled to that many, anew each epoch
    (ML-VAE section 3.2: a biased but cheaper estimate). Index computation is vectorised.

    Args:
        group: ``(n_obs,) int64 in [0, n_groups)``.
        groups_per_batch: groups in each batch (the last batch may have fewer).
        shuffle: shuffle groups (and subsamples) each epoch.
        max_group_size: subsample larger groups to this size; ``None`` keeps them whole.
        seed: seed of the generator.
        drop_last: drop a last batch with fewer than ``groups_per_batch`` groups.
    """

    def __init__(
        self,
        group: np.ndarray,
        groups_per_batch: int,
        *,
        shuffle: bool = True,
        max_group_size: int | None = None,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if groups_per_batch < 1:
            raise DataError(f"groups_per_batch must be >= 1, got {groups_per_batch}")
        if max_group_size is not None and max_group_size < 1:
            raise DataError(f"max_group_size must be >= 1, got {max_group_size}")
        self.group = np.asarray(group, dtype=np.int64)
        self.n_groups = int(self.group.max()) + 1
        self.groups_per_batch = groups_per_batch
        self.shuffle, self.drop_last = shuffle, drop_last
        self.max_group_size = max_group_size
        self.rng = np.random.default_rng(seed)
        self._order = np.argsort(self.group, kind="stable")  # rows sorted by group
        counts = np.bincount(self.group, minlength=self.n_groups)
        self._start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._count = counts

    def __len__(self) -> int:
        full, rest = divmod(self.n_groups, self.groups_per_batch)
        return full + (rest > 0 and not self.drop_last)

    def _epoch_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows sorted by group, subsampled; returns ``(rows, counts)`` per group."""
        if self.max_group_size is None:
            return self._order, self._count
        keys = self.rng.random(len(self._order)) if self.shuffle else np.arange(len(self._order))
        sorted_group = self.group[self._order]
        perm = np.lexsort((keys, sorted_group))  # random order within each group
        rank = np.arange(len(perm)) - self._start[sorted_group]
        keep = rank < self.max_group_size
        counts = np.minimum(self._count, self.max_group_size)
        return self._order[perm][keep], counts

    def __iter__(self) -> Iterator[list[int]]:
        rows, counts = self._epoch_rows()
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        groups = self.rng.permutation(self.n_groups) if self.shuffle else np.arange(self.n_groups)
        for b in range(len(self)):
            chosen = groups[b * self.groups_per_batch : (b + 1) * self.groups_per_batch]
            sizes = counts[chosen]
            offsets = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            yield rows[np.repeat(starts[chosen], sizes) + offsets].tolist()


class _GroupBatchDataset(Dataset[GroupBatch]):
    """Map-style view whose ``__getitems__`` builds a whole :class:`GroupBatch`."""

    def __init__(self, data: GroupedDataset) -> None:
        self.x = torch.from_numpy(data.x)
        self.group = torch.from_numpy(data.group)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, i: int) -> GroupBatch:
        return self.__getitems__([i])

    def __getitems__(self, indices: list[int]) -> GroupBatch:
        index = torch.as_tensor(indices, dtype=torch.int64)
        group_index, group = torch.unique(self.group[index], return_inverse=True)
        return GroupBatch(self.x[index], group, int(group_index.numel()), index, group_index)


def _identity(batch: GroupBatch) -> GroupBatch:
    return batch


def group_loader(
    data: GroupedDataset,
    groups_per_batch: int,
    *,
    shuffle: bool = True,
    max_group_size: int | None = None,
    seed: int = 0,
    drop_last: bool = False,
    num_workers: int = 0,
) -> DataLoader:
    """A ``DataLoader`` of :class:`GroupBatch` es of whole groups from ``data``.

    See :class:`GroupBatchSampler` for the arguments.
    """
    sampler = GroupBatchSampler(
        data.group,
        groups_per_batch,
        shuffle=shuffle,
        max_group_size=max_group_size,
        seed=seed,
        drop_last=drop_last,
    )
    return DataLoader(
        _GroupBatchDataset(data),
        batch_sampler=sampler,
        collate_fn=_identity,
        num_workers=num_workers,
    )
