"""Row ranges of a Parquet file or folder, read by whole row groups (only the row groups
and columns a range needs, a few decoded ones kept in a small cache)."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from groupvae.errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq")
CACHE_BYTES = 64 << 20
"""Decoded row groups kept per process, in bytes."""


def parquet_files(path: Path) -> list[Path]:
    """The Parquet file, or a folder's Parquet files (recursively, in sorted order).

    Raises:
        DataError: for a missing path or a folder without Parquet files.
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path} does not exist")
    files = sorted(
        p for p in path.rglob("*") if p.suffix.lower() in PARQUET_SUFFIXES and p.is_file()
    )
    if not files:
        raise DataError(f"{path} holds no .parquet files")
    return files


def _unreadable(path: Path, err: BaseException) -> DataError:
    first = (str(err).splitlines() or [type(err).__name__])[0]
    return DataError(
        f"a chunk of the data is missing or unreadable: {path} ({first}); restore it, or "
        "rewrite the data with `groupvae prepare`"
    )


class ParquetReader:
    """Contiguous row ranges of ``columns`` of a Parquet data set (a file or a folder).

    Args:
        path: the file or folder.
        columns: the columns to read, in order.

    Raises:
        DataError: for an unreadable file or a missing column (naming those there are).
    """

    def __init__(self, path: str | os.PathLike[str], columns: list[str]) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.files = parquet_files(self.path)
        self.columns = list(columns)
        rows, file_of, group_of = [], [], []
        for i, f in enumerate(self.files):
            try:
                meta = pq.ParquetFile(f).metadata
            except (OSError, ValueError) as err:
                raise _unreadable(f, err) from None
            names = meta.schema.names
            missing = [c for c in self.columns if c not in names]
            if missing:
                raise DataError(
                    f"{f} has no column(s) {missing}; its columns are: {', '.join(names)}"
                )
            for g in range(meta.num_row_groups):
                rows.append(meta.row_group(g).num_rows)
                file_of.append(i)
                group_of.append(g)
        self.bounds = np.r_[0, np.cumsum(rows)].astype(np.int64)
        self.n_rows = int(self.bounds[-1])
        self.file_of, self.group_of = np.asarray(file_of), np.asarray(group_of)
        self._open: dict = {}
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._pid = os.getpid()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_open": {}, "_cache": OrderedDict(), "_pid": -1}

    def _decode(self, k: int, handle: object) -> np.ndarray:
        """``(rows, len(columns))`` row group ``k`` (global numbering) read by ``handle``."""
        table = handle.read_row_group(int(self.group_of[k]), columns=self.columns)
        columns = [table.column(c).to_numpy(zero_copy_only=False) for c in self.columns]
        return np.column_stack(columns)

    def _row_group(self, k: int) -> np.ndarray:
        """Row group ``k``, from the cache or decoded (and cached)."""
        import pyarrow.parquet as pq

        if self._pid != os.getpid():
            self._open, self._cache, self._pid = {}, OrderedDict(), os.getpid()
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        f = self.files[int(self.file_of[k])]
        try:
            handle = self._open.get(f) or self._open.setdefault(f, pq.ParquetFile(f))
            block = self._decode(k, handle)
        except (OSError, ValueError) as err:
            self._open.pop(f, None)
            raise _unreadable(f, err) from None
        self._cache[k] = block
        while sum(b.nbytes for b in self._cache.values()) > CACHE_BYTES and len(self._cache) > 1:
            self._cache.popitem(last=False)
        return block

    def read(self, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """``(sum(stops - starts), len(columns))`` the rows of the ranges, concatenated."""
        parts = []
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            first = int(np.searchsorted(self.bounds, a, side="right")) - 1
            last = int(np.searchsorted(self.bounds, b, side="left"))
            for k in range(first, last):  # the row groups the range overlaps
                lo, hi = self.bounds[k], self.bounds[k + 1]
                parts.append(self._row_group(k)[max(a, lo) - lo : min(b, hi) - lo])
        return np.concatenate(parts) if parts else np.empty((0, len(self.columns)))

    def chunks(self):
        """The rows a row group at a time, in order (neither cached nor kept open)."""
        import pyarrow.parquet as pq

        for i, f in enumerate(self.files):
            try:
                handle = pq.ParquetFile(f)
                for k in np.flatnonzero(self.file_of == i):
                    yield self._decode(int(k), handle)
            except (OSError, ValueError) as err:
                raise _unreadable(f, err) from None

    def column_chunks(self, column: str):
        """The values of one column (any dtype), a row group at a time, in order."""
        import pyarrow.parquet as pq

        for f in self.files:
            try:
                handle = pq.ParquetFile(f)
                names = handle.metadata.schema.names
                if column not in names:
                    raise DataError(
                        f"{f} has no column {column!r}; its columns are: {', '.join(names)}"
                    )
                for g in range(handle.metadata.num_row_groups):
                    yield (
                        handle.read_row_group(g, columns=[column])
                        .column(0)
                        .to_numpy(zero_copy_only=False)
                    )
            except (OSError, ValueError) as err:
                if isinstance(err, DataError):
                    raise
                raise _unreadable(f, err) from None


def parquet_schema(path: Path) -> dict[str, str]:
    """``column -> kind`` (``"number"``, ``"bool"`` or ``"other"``) of the first file's
    schema.

    Raises:
        DataError: for an unreadable file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = parquet_files(path)[0]
    try:
        schema = pq.read_schema(first)
    except (OSError, ValueError) as err:
        raise _unreadable(first, err) from None
    kinds = {}
    for f in schema:
        number = pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
        kinds[f.name] = "number" if number else "bool" if pa.types.is_boolean(f.type) else "other"
    return kinds


__all__ = ["PARQUET_SUFFIXES", "ParquetReader", "parquet_files", "parquet_schema"]
