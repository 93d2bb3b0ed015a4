"""Batches of whole groups for a torch ``DataLoader``."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from groupvae.data.batch import GroupBatch
from groupvae.data.grouped import GroupedDataset
from groupvae.data.ondisk.dataset import OnDiskGroupedData
from groupvae.errors import DataError


def replicas(num_replicas: int | None = None, rank: int | None = None) -> tuple[int, int]:
    """``(world size, rank)``: the given values, else those of an initialised
    ``torch.distributed`` process group (Lightning DDP), else ``(1, 0)``."""
    if num_replicas is None or rank is None:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            world, me = dist.get_world_size(), dist.get_rank()
        else:
            world, me = 1, 0
        num_replicas = world if num_replicas is None else num_replicas
        rank = me if rank is None else rank
    if not 0 <= rank < num_replicas:
        raise DataError(f"rank must lie in [0, {num_replicas}), got {rank}")
    return num_replicas, rank


class EpochSeeded:
    """A sampler whose random choices are a function of ``(seed, epoch)`` alone.

    Lightning calls :meth:`set_epoch` before each epoch; iterating without it moves on to
    the next epoch. So an interrupted run that resumes at epoch ``e`` draws exactly the
    batches the uninterrupted run drew, and every DDP rank draws the same permutation.
    """

    seed: int
    epoch: int = 0

    @property
    def sampler(self) -> EpochSeeded:
        """Itself: Lightning calls ``set_epoch`` on ``loader.batch_sampler.sampler``."""
        return self

    def set_epoch(self, epoch: int) -> None:
        """Draw the batches of ``epoch`` (0-based) next."""
        self.epoch = int(epoch)

    def _epoch_rng(self) -> np.random.Generator:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        return rng


def balanced_split(sizes: np.ndarray, parts: int, min_groups: int = 1) -> list[np.ndarray]:
    """Split items (groups of ``sizes`` observations) into ``parts`` sets with about equal
    observation totals: the ``min_groups * parts`` largest items are dealt in snake order,
    then each remaining item goes to the lightest set (longest-processing-time first).

    Returns the item positions of each set, in their original order.
    """
    order = np.argsort(-sizes, kind="stable")
    load = np.zeros(parts, dtype=np.int64)
    owner = np.empty(len(sizes), dtype=np.int64)
    dealt = min(len(order), min_groups * parts)
    snake = np.tile(np.r_[np.arange(parts), np.arange(parts)[::-1]], dealt // (2 * parts) + 1)
    owner[order[:dealt]] = snake[:dealt]
    np.add.at(load, snake[:dealt], sizes[order[:dealt]])
    for i in order[dealt:]:  # sampler bookkeeping once per epoch, not the forward pass
        j = int(np.argmin(load))
        owner[i] = j
        load[j] += sizes[i]
    return [np.flatnonzero(owner == r) for r in range(parts)]


class GroupBatchSampler(EpochSeeded, Sampler[np.ndarray]):
    """Yields the observation indices (an int64 array) of ``groups_per_batch`` whole groups
    at a time.

    Groups are shuffled each epoch by a generator seeded with ``(seed, epoch)``. A group
    with more than ``max_group_size`` members is subsampled to that many, anew each epoch
    (ML-VAE section 3.2: a biased but cheaper estimate). Index computation is vectorised.

    **Several devices (DDP).** With ``num_replicas`` ranks (read from
    ``torch.distributed`` when not given), each step takes ``groups_per_batch *
    num_replicas`` groups of the shared permutation and gives each rank whole groups,
    disjoint across ranks and balanced by observations (:func:`balanced_split`). Every
    rank yields the same number of batches (no DDP hang) and every group is seen once per
    epoch across the ranks.

    Args:
        group: ``(n_obs,) int64 in [0, n_groups)``.
        groups_per_batch: groups in each batch of each rank (the last batch may differ).
        shuffle: shuffle groups (and subsamples) each epoch.
        max_group_size: subsample larger groups to this size; ``None`` keeps them whole.
        seed: seed of the generator.
        drop_last: drop a last batch with fewer than ``groups_per_batch`` groups.
        min_groups_per_batch: a last batch with fewer groups per rank than this is merged
            into the one before (a regulariser needs two groups per batch).
        num_replicas: DDP world size (``None``: from ``torch.distributed``).
        rank: this process's rank (``None``: from ``torch.distributed``).

    Raises:
        DataError: for ``groups_per_batch < 1``, ``max_group_size < 1``, or fewer groups
            than ranks need.
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
        min_groups_per_batch: int = 1,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        self.group = np.asarray(group, dtype=np.int64)
        self._batching(
            int(self.group.max()) + 1, groups_per_batch, shuffle, max_group_size, seed,
            drop_last, min_groups_per_batch, (num_replicas, rank),
        )  # fmt: skip
        self._order = np.argsort(self.group, kind="stable")  # rows sorted by group
        counts = np.bincount(self.group, minlength=self.n_groups)
        self._start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._count = counts

    def _batching(
        self,
        n_groups: int,
        groups_per_batch: int,
        shuffle: bool,
        max_group_size: int | None,
        seed: int,
        drop_last: bool,
        min_groups_per_batch: int,
        replicas: tuple[int | None, int | None],
    ) -> None:
        """Check and keep the batching settings (shared with
        :class:`ContiguousGroupBatchSampler`)."""
        if groups_per_batch < 1:
            raise DataError(f"groups_per_batch must be >= 1, got {groups_per_batch}")
        if max_group_size is not None and max_group_size < 1:
            raise DataError(f"max_group_size must be >= 1, got {max_group_size}")
        self.n_groups = n_groups
        self.groups_per_batch = groups_per_batch
        self.shuffle, self.drop_last = shuffle, drop_last
        self.min_groups_per_batch = min_groups_per_batch
        self.max_group_size = max_group_size
        self.seed, self.epoch = seed, 0
        self._replicas = replicas

    def _chunks(self, world: int) -> list[tuple[int, int]]:
        """``(first, stop)`` positions in the epoch's group order of each step's groups."""
        size = self.groups_per_batch * world
        full, rest = divmod(self.n_groups, size)
        bounds = [(b * size, (b + 1) * size) for b in range(full)]
        if rest and not self.drop_last:
            if bounds and rest < self.min_groups_per_batch * world:
                bounds[-1] = (bounds[-1][0], self.n_groups)  # merge a too-small last step
            else:
                bounds.append((full * size, self.n_groups))
        if world > 1 and self.n_groups < world * self.min_groups_per_batch:
            raise DataError(
                f"{self.n_groups} groups cannot give each of {world} devices "
                f"{self.min_groups_per_batch} group(s) per batch; use fewer devices"
            )
        return bounds

    def __len__(self) -> int:
        return len(self._chunks(replicas(*self._replicas)[0]))

    def _epoch_rows(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Rows sorted by group, subsampled; returns ``(rows, counts)`` per group."""
        if self.max_group_size is None:
            return self._order, self._count
        keys = rng.random(len(self._order)) if self.shuffle else np.arange(len(self._order))
        sorted_group = self.group[self._order]
        perm = np.lexsort((keys, sorted_group))  # random order within each group
        rank = np.arange(len(perm)) - self._start[sorted_group]
        keep = rank < self.max_group_size
        counts = np.minimum(self._count, self.max_group_size)
        return self._order[perm][keep], counts

    def __iter__(self) -> Iterator[np.ndarray]:
        world, me = replicas(*self._replicas)
        rng = self._epoch_rng()
        rows, counts = self._epoch_rows(rng)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        groups = rng.permutation(self.n_groups) if self.shuffle else np.arange(self.n_groups)
        for first, stop in self._chunks(world):
            chosen = groups[first:stop]
            if world > 1:
                share = balanced_split(counts[chosen], world, self.min_groups_per_batch)
                chosen = chosen[share[me]]
            sizes = counts[chosen]
            offsets = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            yield rows[np.repeat(starts[chosen], sizes) + offsets]


class ContiguousGroupBatchSampler(GroupBatchSampler):
    """The batches of :class:`GroupBatchSampler`, index for index and seed for seed, for
    data whose groups' rows are contiguous (data on disk, sorted by group), from the
    group sizes alone: no array with one entry per observation is kept, so a sampler
    over 100 million observations holds a few arrays of one entry per group.

    With ``max_group_size`` and ``shuffle``, :class:`GroupBatchSampler` orders each
    group's rows by one uniform key per observation, drawn for the whole epoch before
    the groups are shuffled; here the keys of a batch's groups are drawn when the batch
    is made, from the same stream (PCG64 advanced to each group's place in it), and the
    whole draw is skipped before the groups are shuffled.

    Args:
        sizes: ``(n_groups,)`` int64 observations of each group (by group number).
        starts: ``(n_groups,)`` int64 the first row of each group (its rows are
            ``starts[g]:starts[g] + sizes[g]``).
        groups_per_batch: as for :class:`GroupBatchSampler`, and so are the other
            arguments (``shuffle``, ``max_group_size``, ``seed``, ``drop_last``,
            ``min_groups_per_batch``, ``num_replicas``, ``rank``).

    Raises:
        DataError: as :class:`GroupBatchSampler`, or for ``sizes`` and ``starts`` of
            other shapes or a group without rows.
    """

    def __init__(
        self,
        sizes: np.ndarray,
        starts: np.ndarray,
        groups_per_batch: int,
        *,
        shuffle: bool = True,
        max_group_size: int | None = None,
        seed: int = 0,
        drop_last: bool = False,
        min_groups_per_batch: int = 1,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        sizes, starts = np.asarray(sizes, np.int64), np.asarray(starts, np.int64)
        if sizes.ndim != 1 or starts.shape != sizes.shape or not len(sizes) or sizes.min() < 1:
            raise DataError("sizes and starts must be (n_groups,) arrays of groups with rows")
        self._batching(
            len(sizes), groups_per_batch, shuffle, max_group_size, seed, drop_last,
            min_groups_per_batch, (num_replicas, rank),
        )  # fmt: skip
        self._count, self._first = sizes, starts
        self._start = np.concatenate([[0], np.cumsum(sizes)[:-1]])  # place in the key stream

    def _rows(self, chosen: np.ndarray, keys: dict | None) -> np.ndarray:
        """The rows of the groups ``chosen`` (each group's ordered as the in-memory
        sampler orders them)."""
        sizes = self._count[chosen]
        if keys is None:  # whole groups, or the first max_group_size rows of each
            kept = sizes if self.max_group_size is None else np.minimum(sizes, self.max_group_size)
            offsets = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
            return np.repeat(self._first[chosen], kept) + offsets
        parts = []
        for g in chosen.tolist():  # sampler bookkeeping for one batch's groups
            stream = np.random.PCG64()
            stream.state = keys
            stream.advance(int(self._start[g]))
            order = np.argsort(
                np.random.Generator(stream).random(int(self._count[g])), kind="stable"
            )
            parts.append(self._first[g] + order[: self.max_group_size])
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def __iter__(self) -> Iterator[np.ndarray]:
        world, me = replicas(*self._replicas)
        rng = self._epoch_rng()
        keys = None
        counts = self._count
        if self.max_group_size is not None:
            counts = np.minimum(self._count, self.max_group_size)
            if self.shuffle:  # the keys GroupBatchSampler draws, skipped until needed
                keys = rng.bit_generator.state
                rng.bit_generator.advance(int(self._count.sum()))
        groups = rng.permutation(self.n_groups) if self.shuffle else np.arange(self.n_groups)
        for first, stop in self._chunks(world):
            chosen = groups[first:stop]
            if world > 1:
                share = balanced_split(counts[chosen], world, self.min_groups_per_batch)
                chosen = chosen[share[me]]
            yield self._rows(chosen, keys)


class RandomGroupBatchSampler(EpochSeeded, Sampler[np.ndarray]):
    """Yields batches of *random* groups, ignoring the data's own groups.

    UG-VAE (Peis et al.) trains on groups that are random mini-batches of ``B`` observations
    (UG-VAE section 3.1). Each epoch the observations are shuffled and cut into groups of
    ``group_size`` (a last, smaller group keeps the remainder); consecutive runs of
    ``group_size`` indices in a yielded batch form one group. With ``strata`` (e.g. the
    domain of each observation) every group holds ``group_size / S`` observations of each of
    the ``S`` strata (UG-VAE section 4.2: 50% of each domain); an epoch then has as many
    groups as the smallest stratum fills, and the other strata's remaining rows wait for a
    later epoch.

    Args:
        n_obs: observations in the data set.
        group_size: ``B``, observations per random group.
        groups_per_batch: random groups in each batch.
        strata: ``(n_obs,)`` stratum of each observation, or ``None``.
        shuffle: draw new groups each epoch (otherwise one fixed, seeded partition).
        seed: seed of the generator (with the epoch: see :class:`EpochSeeded`).
        num_replicas: DDP world size (``None``: from ``torch.distributed``); rank ``r``
            takes every ``num_replicas``-th batch from the ``r``-th, and ranks short of a
            batch repeat the epoch's first ones, so all yield equally many.
        rank: this process's rank (``None``: from ``torch.distributed``).

    Raises:
        DataError: for ``group_size < 1``, strata of the wrong shape, or a group size
            that the strata do not divide, or a stratum too small for one group.
    """

    def __init__(
        self,
        n_obs: int,
        group_size: int,
        groups_per_batch: int,
        *,
        strata: np.ndarray | None = None,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        if group_size < 1 or groups_per_batch < 1:
            raise DataError("group_size and groups_per_batch must be >= 1")
        self.n_obs, self.group_size, self.groups_per_batch = n_obs, group_size, groups_per_batch
        self.shuffle = shuffle
        self.seed, self.epoch = seed, 0
        self._replicas = (num_replicas, rank)
        self.strata_rows: list[np.ndarray] | None = None
        if strata is not None:
            strata = np.asarray(strata)
            if strata.shape != (n_obs,):
                raise DataError(f"strata must have shape ({n_obs},), got {strata.shape}")
            values = np.unique(strata)
            if group_size % len(values):
                raise DataError(
                    f"random groups of {group_size} cannot hold equally many of "
                    f"{len(values)} strata; use a multiple of {len(values)}"
                )
            self.strata_rows = [np.flatnonzero(strata == v) for v in values]
            per = group_size // len(values)
            smallest = min(len(r) for r in self.strata_rows)
            if smallest < per:
                raise DataError(
                    f"a stratum has {smallest} observations, fewer than the {per} each random "
                    f"group of {group_size} needs"
                )

    def n_groups(self) -> int:
        """Random groups per epoch."""
        if self.strata_rows is None:
            return -(-self.n_obs // self.group_size)
        per = self.group_size // len(self.strata_rows)
        return min(len(r) for r in self.strata_rows) // per

    def _n_batches(self) -> int:
        return -(-self.n_groups() // self.groups_per_batch)

    def __len__(self) -> int:
        return -(-self._n_batches() // replicas(*self._replicas)[0])

    def _epoch_rows(self) -> np.ndarray:
        """All rows of this epoch's groups, group after group."""
        rng = self._epoch_rng() if self.shuffle else np.random.default_rng(self.seed)
        if self.strata_rows is None:
            return rng.permutation(self.n_obs)
        n_groups = self.n_groups()
        per = self.group_size // len(self.strata_rows)
        blocks = [
            rng.permutation(r)[: n_groups * per].reshape(n_groups, per) for r in self.strata_rows
        ]
        return np.concatenate(blocks, axis=1).reshape(-1)

    def __iter__(self) -> Iterator[np.ndarray]:
        world, me = replicas(*self._replicas)
        rows = self._epoch_rows()
        step = self.group_size * self.groups_per_batch
        total = self._n_batches()
        for b in range(me, len(self) * world, world):
            b %= total
            yield rows[b * step : (b + 1) * step]


class _GroupBatchDataset(Dataset[GroupBatch]):
    """Map-style view whose ``__getitems__`` builds a whole :class:`GroupBatch`.

    With ``random_group_size`` each run of that many indices is one group (batches of a
    :class:`RandomGroupBatchSampler`); ``group_index`` is then ``-1``: no stored group.
    """

    def __init__(self, data: GroupedDataset, random_group_size: int | None = None) -> None:
        self.x = torch.from_numpy(data.x)
        self.group = torch.from_numpy(data.group)
        self.random_group_size = random_group_size

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, i: int) -> GroupBatch:
        return self.__getitems__([i])

    def __getitems__(self, indices: np.ndarray | list[int]) -> GroupBatch:
        index = torch.as_tensor(indices, dtype=torch.int64)
        if self.random_group_size is not None:
            group = torch.arange(len(index)) // self.random_group_size
            n_groups = int(group[-1]) + 1
            return GroupBatch(self.x[index], group, n_groups, index, torch.full((n_groups,), -1))
        group_index, group = torch.unique(self.group[index], return_inverse=True)
        return GroupBatch(self.x[index], group, int(group_index.numel()), index, group_index)


class _OnDiskBatchDataset(Dataset[GroupBatch]):
    """Map-style view of an :class:`OnDiskGroupedData` whose ``__getitems__`` reads a
    batch's rows by a few coalesced range reads (in each ``DataLoader`` worker, which
    opens its own file handles) and builds the :class:`GroupBatch` the in-memory view
    builds of the same rows."""

    def __init__(self, data: OnDiskGroupedData) -> None:
        self.data = data

    def __len__(self) -> int:
        return self.data.n_obs

    def __getitem__(self, i: int) -> GroupBatch:
        return self.__getitems__([i])

    def __getitems__(self, indices: np.ndarray | list[int]) -> GroupBatch:
        index = np.asarray(indices, dtype=np.int64)
        x, number = self.data.read_rows(index)
        group_index, group = torch.unique(torch.from_numpy(number), return_inverse=True)
        return GroupBatch(
            torch.from_numpy(x), group, int(group_index.numel()), torch.from_numpy(index),
            group_index,
        )  # fmt: skip


def _identity(batch: GroupBatch) -> GroupBatch:
    return batch


def group_loader(
    data: GroupedDataset | OnDiskGroupedData,
    groups_per_batch: int,
    *,
    shuffle: bool = True,
    max_group_size: int | None = None,
    seed: int = 0,
    drop_last: bool = False,
    num_workers: int = 0,
    random_groups: int | None = None,
    balance_by: str | None = None,
    min_groups_per_batch: int = 1,
    pin_memory: bool = False,
    prefetch_factor: int | None = None,
    persistent_workers: bool = False,
) -> DataLoader:
    """A ``DataLoader`` of :class:`GroupBatch` es of whole groups from ``data``.

    See :class:`GroupBatchSampler` for the arguments. With ``random_groups`` the data's
    groups are ignored and each batch holds ``groups_per_batch`` random groups of that
    many observations, balanced over the values of ``data.aux[balance_by]`` if given
    (:class:`RandomGroupBatchSampler`; ``max_group_size`` and ``drop_last`` then do not
    apply). Every sampler here is seeded by ``(seed, epoch)`` and splits its batches over
    DDP ranks itself (Lightning must not inject a ``DistributedSampler``:
    ``use_distributed_sampler=False``). ``pin_memory`` builds the batches in page-locked
    memory, for asynchronous copies to a CUDA GPU.

    **Data on disk.** For an :class:`~groupvae.data.ondisk.OnDiskGroupedData` the same
    sampler (same seed: the same batches as the data read into memory) yields row
    indices that ``num_workers`` worker processes (at least the data's own
    ``num_workers``) read as coalesced ranges, ``prefetch_factor`` batches ahead each.

    Raises:
        DataError: if ``balance_by`` names no ``aux`` array of ``data``, or for random
            groups of data on disk.
    """
    sampler: Sampler[np.ndarray]
    dataset: Dataset[GroupBatch]
    workers = {"num_workers": num_workers, "prefetch_factor": prefetch_factor,
               "persistent_workers": persistent_workers}  # fmt: skip
    if isinstance(data, OnDiskGroupedData):
        if random_groups is not None:
            raise DataError("random groups (UG-VAE) are not streamed; read the data into memory")
        dataset = _OnDiskBatchDataset(data)
        workers["num_workers"] = max(num_workers, data.num_workers)
        workers["prefetch_factor"] = prefetch_factor or data.prefetch_factor
        workers["persistent_workers"] = persistent_workers or data.persistent_workers
    else:
        dataset = _GroupBatchDataset(data, random_groups)
    if not workers["num_workers"]:
        workers = {"num_workers": 0}
    if isinstance(data, OnDiskGroupedData):
        sampler = ContiguousGroupBatchSampler(
            data.group_sizes,
            data.group_starts,
            groups_per_batch,
            shuffle=shuffle,
            max_group_size=max_group_size,
            seed=seed,
            drop_last=drop_last,
            min_groups_per_batch=min_groups_per_batch,
        )
    elif random_groups is None:
        sampler = GroupBatchSampler(
            data.group,
            groups_per_batch,
            shuffle=shuffle,
            max_group_size=max_group_size,
            seed=seed,
            drop_last=drop_last,
            min_groups_per_batch=min_groups_per_batch,
        )
    else:
        strata = None
        if balance_by is not None:
            if balance_by not in data.aux:
                known = ", ".join(sorted(data.aux)) or "none"
                raise DataError(
                    f"balance_by={balance_by!r} is no aux array of {data.name!r}; known: {known}"
                )
            strata = np.asarray(data.aux[balance_by])
        sampler = RandomGroupBatchSampler(
            data.n_obs, random_groups, groups_per_batch, strata=strata, shuffle=shuffle, seed=seed
        )
    return DataLoader(
        dataset, batch_sampler=sampler, collate_fn=_identity, pin_memory=pin_memory, **workers
    )
