"""The grouped data set on disk: the streaming counterpart of
:class:`~groupvae.data.grouped.GroupedDataset`, read by whole groups."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from groupvae.data.grouped import GroupedDataset, group_ranges, split_group_numbers
from groupvae.data.ondisk.index import GroupIndex
from groupvae.data.ondisk.ranges import coalesce
from groupvae.errors import DataError


class RangeReader(Protocol):
    """Reads contiguous row ranges of one data set on disk."""

    n_rows: int

    def read(self, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """``(sum(stops - starts), *row_shape)`` the ranges' rows, concatenated."""
        ...


def _sorted_rank(ids: np.ndarray) -> np.ndarray:
    """``(n,)`` the rank of each (unique) id in sorted order, as ``GroupedDataset``
    numbers groups (in order of appearance where ids do not sort)."""
    try:
        order = np.argsort(ids, kind="stable")
    except TypeError:  # ids of mixed types that do not sort
        order = np.arange(len(ids))
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return rank


@dataclass(frozen=True, eq=False)
class OnDiskGroupedData:
    """Whole groups of a group-sorted data set on disk, read on demand.

    Groups are numbered ``0..n_groups-1`` in sorted order of their ids, as
    :class:`GroupedDataset` numbers them, and observations in file order, so that the
    same sampler seed gives the same batches as the data read into memory. A view
    (:meth:`subset_groups`, :meth:`split`) holds some of the groups without reading them.

    Attributes:
        store: reads row ranges of the file (:class:`RangeReader`).
        index: the file's :class:`GroupIndex`.
        obs_shape: the shape of one observation.
        transform: the :class:`~groupvae.data.readers.FeatureTransform` applied to each
            row read (user units -> model units), or ``None``: rows as float32.
        name: the data set's name, for records.
        reader: how a reader made it (``GroupedDataset.reader``), or ``None``.
        feature_names: the features' names, or ``None``.
        num_workers, prefetch_factor, persistent_workers: the ``DataLoader`` settings
            of the loaders that stream it (:func:`groupvae.data.group_loader`).
        groups: ``(n_groups,)`` the file-order positions of the view's groups, ascending;
            ``None``: all of them.
    """

    store: Any
    index: GroupIndex
    obs_shape: tuple[int, ...]
    transform: Any = None
    name: str = "on-disk"
    reader: dict[str, Any] | None = None
    feature_names: tuple[str, ...] | None = None
    num_workers: int = 0
    prefetch_factor: int | None = None
    persistent_workers: bool = False
    groups: np.ndarray | None = None
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.index.n_rows != self.store.n_rows:
            raise DataError(
                f"the group index has {self.index.n_rows} rows but the data has "
                f"{self.store.n_rows}; the group column and the data disagree"
            )
        if self.groups is None:
            object.__setattr__(self, "groups", np.arange(self.index.n_groups))
        rank = _sorted_rank(self.index.group_ids)[self.groups]
        number = np.empty(len(rank), dtype=np.int64)
        number[np.argsort(rank, kind="stable")] = np.arange(len(rank))
        sizes = self.index.sizes[self.groups]
        self._cache.update(
            number=number,  # the view's number of each of its groups, in file order
            first=self.index.offsets[self.groups],  # their first file rows
            view_start=np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64),
            file_sizes=sizes,
        )

    # ----------------------------------------------------------------- the shape
    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def group_sizes(self) -> np.ndarray:
        """``(n_groups,)`` int64 observations of each group (by group number)."""
        sizes = np.empty(self.n_groups, dtype=np.int64)
        sizes[self._cache["number"]] = self._cache["file_sizes"]
        return sizes

    @property
    def group_starts(self) -> np.ndarray:
        """``(n_groups,)`` int64 the first observation of each group (by group number):
        its observations are ``group_starts[g]:group_starts[g] + group_sizes[g]``."""
        starts = np.empty(self.n_groups, dtype=np.int64)
        starts[self._cache["number"]] = self._cache["view_start"]
        return starts

    @property
    def n_obs(self) -> int:
        return int(self._cache["file_sizes"].sum())

    def __len__(self) -> int:
        return self.n_obs

    @property
    def group_ids(self) -> np.ndarray:
        """``(n_groups,)`` the original ids, by group number."""
        ids = np.empty(self.n_groups, dtype=self.index.group_ids.dtype)
        ids[self._cache["number"]] = self.index.group_ids[self.groups]
        return ids

    @property
    def group(self) -> np.ndarray:
        """``(n_obs,)`` int64 group number of each observation (built on demand: 8 bytes
        an observation)."""
        return np.repeat(self._cache["number"], self._cache["file_sizes"])

    # ----------------------------------------------------------------- reading
    def file_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(file rows, group numbers)`` of the view's observations ``rows`` (``(k,)``
        int64 in ``[0, n_obs)``)."""
        rows = np.asarray(rows, dtype=np.int64)
        k = np.searchsorted(self._cache["view_start"], rows, side="right") - 1
        file = self._cache["first"][k] + rows - self._cache["view_start"][k]
        return file, self._cache["number"][k]

    def read_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(x, group)``: ``x: (k, *obs_shape)`` float32 the observations ``rows`` in
        model units, in the order asked, by a few coalesced range reads; ``group: (k,)``
        int64 their group numbers.

        Raises:
            DataError: for a missing or unreadable chunk of the data, or values that are
                not finite in model units.
        """
        file, number = self.file_rows(rows)
        if not len(file):
            return np.empty((0, *self.obs_shape), np.float32), number
        starts, stops, take = coalesce(file)
        raw = self.store.read(starts, stops)[take]
        if self.transform is not None:
            x = self.transform.forward(raw.reshape(len(raw), -1))
        else:
            x = np.asarray(raw, dtype=np.float32)
        x = x.reshape(len(x), *self.obs_shape)
        if not np.isfinite(x).all():
            bad = file[~np.isfinite(x.reshape(len(x), -1)).all(1)][:5].tolist()
            raise DataError(
                f"{self.name}: rows {bad} have NaN or infinite values (in model units); "
                "clean them first"
            )
        return x, number

    def to_memory(self) -> GroupedDataset:
        """The view read into memory: the :class:`GroupedDataset` the in-memory reader
        gives for these groups (``aux["row_id"]`` the file rows)."""
        rows = np.arange(self.n_obs)
        x, number = self.read_rows(rows)
        return GroupedDataset(
            x=x,
            group=number,
            aux={"row_id": self.file_rows(rows)[0]},
            group_ids=self.group_ids,
            name=self.name,
            transform=self.transform,
            reader=self.reader,
            feature_names=self.feature_names,
        )

    def read_groups(self, groups: np.ndarray) -> GroupedDataset:
        """Those whole groups (numbers in ``[0, n_groups)``), read and transformed, as
        ``GroupedDataset.subset_groups`` gives them."""
        return self.subset_groups(groups).to_memory()

    def subset_groups(self, groups: np.ndarray) -> OnDiskGroupedData:
        """A view of the given groups (numbers in ``[0, n_groups)``), renumbered
        ``0..len(groups)-1`` in their order; nothing is read.

        Raises:
            DataError: for a group number out of range, or no group.
        """
        groups = np.unique(np.asarray(groups, dtype=np.int64))
        if not len(groups) or groups[0] < 0 or groups[-1] >= self.n_groups:
            raise DataError(f"groups must be numbers in [0, {self.n_groups}), at least one")
        by_number = np.empty(self.n_groups, dtype=np.int64)
        by_number[self._cache["number"]] = self.groups
        return replace(self, groups=np.sort(by_number[groups]), _cache={})

    def split(
        self, holdout: float = 0.2, *, seed: int = 0
    ) -> tuple[OnDiskGroupedData, OnDiskGroupedData]:
        """Split by group into ``(train, holdout)`` views, the groups that
        ``GroupedDataset.split`` chooses.

        Raises:
            DataError: if either side would have no group.
        """
        train, held = split_group_numbers(self.n_groups, holdout, seed=seed)
        return self.subset_groups(train), self.subset_groups(held)

    def iter_group_chunks(self, rows_per_chunk: int) -> Iterator[GroupedDataset]:
        """Whole groups in file order, about ``rows_per_chunk`` observations at a time (a
        group larger than that alone), each a :class:`GroupedDataset` whose
        ``group_ids`` are its groups' original ids.

        Raises:
            DataError: for ``rows_per_chunk < 1``.
        """
        for first, stop in group_ranges(self._cache["file_sizes"], rows_per_chunk):
            yield self.read_groups(self._cache["number"][first:stop])

    def sample(self, rows: int = 4096) -> np.ndarray:
        """``(k, *obs_shape)`` float32: the first ``rows`` observations (or fewer), in
        model units, for checks of the value range."""
        return self.read_rows(np.arange(min(rows, self.n_obs)))[0]


__all__ = ["OnDiskGroupedData", "RangeReader"]
