"""Open a group-sorted data set on disk for streaming: its group index, its reader and
its feature transform (statistics from one streaming pass)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from groupvae.data.ondisk.anndata_store import AnnDataReader
from groupvae.data.ondisk.dataset import OnDiskGroupedData
from groupvae.data.ondisk.formats import detect_format
from groupvae.data.ondisk.index import group_index
from groupvae.data.ondisk.npy import NpyReader
from groupvae.data.ondisk.parquet import ParquetReader, parquet_schema
from groupvae.data.ondisk.row_cache import cached_rows
from groupvae.data.ondisk.statistics import streaming_moments
from groupvae.data.readers.common import names
from groupvae.data.readers.transform import FeatureTransform
from groupvae.errors import DataError, DiskError


def _parquet_features(path: Path, group: str, features: Any, skip: list[str]) -> list[str]:
    """The feature columns: those named, else every numeric column but the others.

    Raises:
        DataError: for a missing group or feature column, or one that is not numeric.
    """
    kinds = parquet_schema(path)
    have = ", ".join(kinds)
    if group not in kinds:
        raise DataError(f"{path} has no group column {group!r}; its columns are: {have}")
    chosen = [str(c) for c in names(features)] or [c for c in kinds if c not in (group, *skip)]
    missing = [c for c in chosen if c not in kinds]
    if missing:
        raise DataError(f"{path} has no column(s) {missing}; its columns are: {have}")
    other = [c for c in chosen if kinds[c] != "number"]
    if other:
        raise DataError(
            f"streaming reads numeric feature columns; {other} are not: read the table into "
            "memory (--data streaming=false) or encode them as numbers first"
        )
    if not chosen:
        raise DataError(f"{path} has no feature columns besides {group!r}")
    return chosen


def _transform(
    moments: Callable[[], tuple[np.ndarray, np.ndarray]],
    columns: list[str],
    kinds: list[str],
    standardise: bool,
) -> FeatureTransform:
    """The table reader's transform: continuous columns standardised (by ``moments()``,
    ``(mean, std)`` from one streaming pass), counts as they are."""
    d = len(columns)
    mean, scale = np.zeros(d), np.ones(d)
    if standardise and "continuous" in kinds:
        mean, std = moments()
        keep = np.asarray(kinds) == "continuous"
        constant = keep & ~(std > 0)
        if constant.any():
            col = columns[int(np.argmax(constant))]
            raise DataError(f"feature {col!r} is constant; leave it out of features")
        mean, scale = np.where(keep, mean, 0.0), np.where(keep, std, 1.0)
    return FeatureTransform(
        tuple(columns), tuple(map(float, mean)), tuple(map(float, scale)), tuple(columns),
        {}, tuple(kinds),
    )  # fmt: skip


def open_anndata(
    path: Path,
    fmt: str,
    *,
    group: str,
    layer: str | None = None,
    index: Any = None,
    fallback_index: Any = None,
    name: str | None = None,
    **loader: Any,
) -> Any:
    """An AnnData store on disk as :class:`~groupvae.data.ondisk.OnDiskGroupedData`:
    ``x`` the (dense) rows of ``X`` or ``layer``, as float32 and untransformed, as the
    in-memory ``anndata`` reader reads them.

    Raises:
        DataError: as :func:`~groupvae.data.ondisk.open_on_disk`.
    """
    store = AnnDataReader(path, fmt, layer)
    idx = group_index(path, group=group, fmt=fmt, index=index, fallback=fallback_index)
    record = {"name": "anndata", "group": group, "layer": layer}
    return OnDiskGroupedData(
        store, idx, store.row_shape, None, name or "anndata", record, store.var_names(), **loader
    )


def open_on_disk(
    path: str | os.PathLike[str],
    *,
    group: str,
    features: Any = None,
    counts: Any = None,
    standardise: bool | None = None,
    layer: str | None = None,
    transform: FeatureTransform | dict | None = None,
    row_cache: bool | str | os.PathLike[str] = True,
    fmt: str | None = None,
    index: str | os.PathLike[str] | None = None,
    fallback_index: str | os.PathLike[str] | None = None,
    name: str | None = None,
    num_workers: int = 0,
    prefetch_factor: int | None = None,
    persistent_workers: bool = False,
) -> OnDiskGroupedData:
    """A group-sorted data set on disk, ready to stream by whole groups.

    Args:
        path: a ``.parquet`` file or folder, a ``.npy`` of features ``(n_obs, ...)``, an
            ``.h5ad`` or a ``.zarr`` AnnData store.
        group: the group column; for ``.npy`` the path of a ``(n_obs,)`` ``.npy`` of ids.
        features: Parquet feature columns (default every numeric column but ``group``).
        counts: Parquet feature columns that are counts (kept as they are).
        standardise: standardise continuous features to mean 0, std 1 (statistics from
            one streaming pass; default on for Parquet, as the table reader, off for
            ``.npy``, as the npz reader, and off for AnnData counts).
        layer: an AnnData layer to read instead of ``X`` (e.g. ``counts``).
        transform: a recorded Parquet feature transform (a run's) to apply instead of
            fitting one: its features, kinds and statistics (no statistics pass).
        row_cache: for Parquet (default on), read rows from a row-major ``.npy`` copy of
            the feature columns (in the source's dtype), written beside the data (or in
            this folder) on first use, in the pass that computes the statistics: a batch
            of scattered groups is then a few ``pread`` calls instead of decoding every
            row group it touches (about 100 times faster with 64k-row row groups), at
            the cost of the features' size on disk. Where it cannot be written, row
            groups are decoded (a note says so); ``False`` always decodes them.
        fmt: the format (default by the path: :func:`detect_format`).
        index: where the group index is (default beside the data).
        fallback_index: where to keep the index when the data's folder is not writable.
        name: the data set's name (default the format's reader name).
        num_workers, prefetch_factor, persistent_workers: ``DataLoader`` settings of the
            loaders that stream it.

    Raises:
        DataError: for a missing file or column, rows not sorted by group (naming
            ``groupvae prepare``), a stale group index, non-numeric features, or
            feature values that are not finite.
    """
    path = Path(path).expanduser().resolve()
    fmt = fmt or detect_format(path)
    options = {"num_workers": num_workers, "prefetch_factor": prefetch_factor,
               "persistent_workers": persistent_workers}  # fmt: skip
    if isinstance(transform, dict):
        transform = FeatureTransform.from_dict(transform)
    if transform is not None and fmt != "parquet":
        raise DataError(f"a recorded feature transform applies to Parquet tables, not {fmt}")
    other = set() if transform is None else set(transform.kinds) - {"continuous", "counts"}
    if other:
        kinds = sorted(other)
        raise DataError(f"streaming reads numeric columns; the run's table has {kinds} ones")
    if fmt == "parquet":
        if transform is not None:
            features = list(transform.features)
        columns = _parquet_features(path, str(group), features, [])
        declared = {str(c) for c in names(counts, "counts")}
        unknown = sorted(declared - set(columns))
        if unknown:
            raise DataError(f"counts names {unknown}, which are not feature columns")
        kinds = ["counts" if c in declared else "continuous" for c in columns]
        store = ParquetReader(path, columns)
        idx = group_index(path, group=str(group), fmt=fmt, index=index, fallback=fallback_index)
        moments = lambda: streaming_moments(store.chunks(), columns)  # noqa: E731
        if row_cache:
            folder = None if row_cache is True else Path(row_cache)
            try:
                store, mean, std = cached_rows(path, store, folder)
                moments = lambda: (mean, std)  # noqa: E731
            except DiskError as err:  # a read-only or full disk: decode row groups instead
                print(f"note: no row-major copy of the table ({err}); reading row groups",
                      file=sys.stderr)  # fmt: skip
        if transform is None:
            transform = _transform(moments, columns, kinds, standardise is not False)
        # as the in-memory table reader: no reader record, the names in the transform
        return OnDiskGroupedData(store, idx, (len(columns),), transform, name or "table",
                                 None, None, **options)  # fmt: skip
    if fmt == "npy":
        group_path = str(Path(group).expanduser().resolve())
        store = NpyReader(path)
        idx = group_index(path, group=group_path, fmt=fmt, index=index, fallback=fallback_index)
        transform = None
        if standardise:
            if len(store.row_shape) != 1:
                raise DataError(f"standardise needs rows of shape (d,), got {store.row_shape}")
            columns = [f"x{j}" for j in range(store.row_shape[0])]
            mean, std = streaming_moments(store.chunks(), columns)
            transform = FeatureTransform(tuple(columns), tuple(map(float, mean)),
                                         tuple(float(s) if s > 0 else 1.0 for s in std),
                                         tuple(columns))  # fmt: skip
        shape = store.row_shape or (1,)
        return OnDiskGroupedData(store, idx, shape, transform, name or "npy", None, None,
                                 **options)  # fmt: skip
    if fmt in ("h5ad", "zarr"):
        return open_anndata(path, fmt, group=str(group), layer=layer, index=index,
                            fallback_index=fallback_index, name=name, **options)  # fmt: skip
    raise DataError(f"cannot stream {path} (format {fmt!r})")


__all__ = ["open_anndata", "open_on_disk"]
