"""A row-major copy of a Parquet table's feature columns (a ``.npy`` beside it), written
in the pass that computes the standardisation statistics: a batch of scattered groups is
then a few ``pread`` calls instead of the decoding of every row group it touches."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from groupvae.data.ondisk.index import fingerprint
from groupvae.data.ondisk.npy import NpyReader
from groupvae.data.ondisk.parquet import ParquetReader
from groupvae.data.ondisk.statistics import streaming_moments
from groupvae.errors import DataError
from groupvae.store.atomic import write_json, write_with


def row_cache_path(path: Path, columns: list[str], folder: Path | None = None) -> Path:
    """``<data>.rows-<key>.npy`` beside the data (or in ``folder``); ``key`` hashes the
    data's fingerprint and the columns, so a changed file or other columns get another
    copy."""
    key = hashlib.sha256(json.dumps([fingerprint(path), columns]).encode()).hexdigest()[:12]
    return (folder or path.parent) / f"{path.name}.rows-{key}.npy"


def _write(store: ParquetReader, target: Path, columns: list[str]) -> tuple[list, list]:
    """Write the rows to ``target`` atomically; returns the columns' ``(mean, std)``."""
    first = next(store.chunks(), None)
    if first is None:
        raise DataError(f"{store.path} has no rows")
    dtype = first.dtype
    moments: list = []

    def writer(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                      "shape": (store.n_rows, len(columns))}  # fmt: skip
            np.lib.format.write_array_header_2_0(f, header)

            def chunks() -> Iterator[np.ndarray]:
                for chunk in store.chunks():
                    f.write(np.ascontiguousarray(chunk, dtype=dtype).tobytes())
                    yield chunk

            moments.extend(streaming_moments(chunks(), columns))

    size = store.n_rows * len(columns) * dtype.itemsize
    write_with(target, writer, size=size)
    return [float(m) for m in moments[0]], [float(s) for s in moments[1]]


def _remove_stale(target: Path, columns: list[str]) -> None:
    """Delete the copies of the same columns of an earlier version of the data."""
    stem = target.name.rsplit(".rows-", 1)[0]
    for old in target.parent.glob(f"{stem}.rows-*.npy"):
        record = old.with_name(old.name + ".json")
        if old == target or not record.is_file():
            continue
        try:
            same = json.loads(record.read_text()).get("columns") == columns
        except (OSError, ValueError):
            continue
        if same:
            old.unlink(missing_ok=True)
            record.unlink(missing_ok=True)


def cached_rows(
    path: Path, store: ParquetReader, folder: Path | None = None
) -> tuple[NpyReader, np.ndarray, np.ndarray]:
    """The row-major copy of ``store``'s columns (made on first use) and the columns'
    ``(mean, std)`` (float64, from the pass that made it).

    Raises:
        DiskError: if the copy cannot be written (a full disk: nothing half-written is
            left).
        DataError: for an unreadable chunk of the data, or features that are not finite.
    """
    columns = list(store.columns)
    target = row_cache_path(path, columns, folder)
    stats = target.with_name(target.name + ".json")
    if not (target.is_file() and stats.is_file()):
        mean, std = _write(store, target, columns)
        write_json(stats, {"columns": columns, "mean": mean, "std": std})
        _remove_stale(target, columns)
    record = json.loads(stats.read_text())
    reader = NpyReader(target)
    if reader.shape != (store.n_rows, len(columns)):
        raise DataError(f"{target} does not hold the table's rows; delete it to write it again")
    return reader, np.asarray(record["mean"]), np.asarray(record["std"])


__all__ = ["cached_rows", "row_cache_path"]
