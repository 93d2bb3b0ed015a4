"""Which reader reads a data set on disk, by its path: ``.npy``, Parquet (a file or a
folder), ``.h5ad`` or ``.zarr`` AnnData."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from groupvae.data.ondisk.npy import NpyReader
from groupvae.data.ondisk.parquet import PARQUET_SUFFIXES, ParquetReader, parquet_files
from groupvae.errors import DataError

FORMATS = ("npy", "parquet", "h5ad", "zarr")


def detect_format(path: Path) -> str:
    """``"npy"``, ``"parquet"``, ``"h5ad"`` or ``"zarr"``, by the path's suffix (a folder
    without one: Parquet).

    Raises:
        DataError: for a missing path or another suffix.
    """
    suffix = path.suffix.lower()
    if suffix == ".zarr" and path.exists():
        return "zarr"
    if not path.exists():
        raise DataError(f"{path} does not exist")
    if suffix == ".npy":
        return "npy"
    if suffix == ".h5ad":
        return "h5ad"
    if suffix in PARQUET_SUFFIXES or path.is_dir():
        return "parquet"
    raise DataError(
        f"{path} has suffix {suffix!r}; data on disk is read from .npy, .parquet (a file or "
        "a folder), .h5ad or .zarr; convert a CSV with `groupvae prepare`"
    )


def data_files(path: Path) -> list[Path]:
    """The files whose bytes are the data (one, or a Parquet folder's; for a Zarr store
    every file in it, in sorted order).

    Raises:
        DataError: for a missing path or a folder without data files.
    """
    if path.suffix.lower() == ".zarr" and path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        if not files:
            raise DataError(f"{path} is an empty Zarr store")
        return files
    return parquet_files(path) if path.is_dir() else [_existing(path)]


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file")
    return path


def group_chunks(path: Path, fmt: str, group: str) -> Iterator[np.ndarray]:
    """The group column of the data at ``path``, in chunks of rows, in order.

    Raises:
        DataError: for a missing column (naming those there are), a group file of
            another length than the data, or an unreadable file.
    """
    if fmt == "npy":
        data, ids = NpyReader(path), NpyReader(Path(group).expanduser())
        if ids.shape != (data.n_rows,):
            raise DataError(
                f"the group file {group} must hold one id per row of {path}: shape "
                f"({data.n_rows},), got {ids.shape}"
            )
        return (chunk for chunk in ids.chunks())
    if fmt == "parquet":
        return ParquetReader(path, []).column_chunks(group)
    if fmt in ("h5ad", "zarr"):
        from groupvae.data.ondisk.anndata_store import AnnDataReader

        return AnnDataReader(path, fmt).obs_chunks(group)
    raise DataError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")


__all__ = ["FORMATS", "data_files", "detect_format", "group_chunks"]
