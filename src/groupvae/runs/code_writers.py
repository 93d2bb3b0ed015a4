"""Writers of codes chunk by chunk (``groupvae encode --out codes.parquet|codes.zarr``):
memory holds one chunk, never the whole table.

Both write to a temporary name in the output's folder and rename it onto the output when
closed without an error; on an exception they remove only their temporary file or
folder, and the output (a file the user already had) is left as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from groupvae.errors import ConfigError, GroupVAEError
from groupvae.store.atomic import default_permissions, disk_error
from groupvae.store.outputs import check_output, run_owning


def _temporary_file(path: Path) -> Path:
    """An empty ``.<name>.<random>.tmp`` file beside ``path`` (the atomic-write pattern)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _temporary_folder(path: Path, suffix: str) -> Path:
    """An empty ``.<name>.<random><suffix>`` folder beside ``path``."""
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent))


class _ChunkWriter:
    """The context-manager protocol of both writers: :meth:`_close` on success,
    :meth:`_abort` on an exception; a failed write of the machine (a full disk) becomes
    one :class:`~groupvae.errors.DiskError`."""

    path: Path
    tmp: Path | None = None

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if err is None:
            try:
                self._close()
            except BaseException as failure:
                self._abort()
                if isinstance(failure, OSError) and not isinstance(failure, GroupVAEError):
                    raise disk_error(self.path, failure) from None
                raise
            return
        self._abort()
        if isinstance(err, OSError) and not isinstance(err, GroupVAEError):
            raise disk_error(self.path, err) from None

    def _close(self) -> None:
        raise NotImplementedError

    def _abort(self) -> None:
        raise NotImplementedError


class ParquetCodeWriter(_ChunkWriter):
    """Append tables with the same columns to one Parquet file, one row group (or more)
    per :meth:`write`.

    Use as a context manager::

        with ParquetCodeWriter("codes.parquet") as writer:
            for frame in frames:
                writer.write(frame)

    Args:
        path: the ``.parquet`` file.
        overwrite: replace a file already at ``path`` (when the writer closes).
        schema: the ``pyarrow.Schema`` of every chunk; default: the first chunk's.

    Raises:
        ConfigError: for an existing ``path`` without ``overwrite``, a folder, or one of a
            run directory's own files (:func:`groupvae.store.outputs.check_output`).
        DiskError: when a write fails (a full disk); the temporary file is removed.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, overwrite: bool = False, schema: Any = None
    ) -> None:
        self.path = check_output(path, overwrite=overwrite)
        self.schema = schema
        self.rows = 0
        self._writer: Any = None

    def __enter__(self) -> ParquetCodeWriter:
        try:
            self.tmp = _temporary_file(self.path)
        except OSError as err:  # a read-only folder
            raise disk_error(self.path, err) from None
        return self

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame``'s rows (its index is not written).

        Raises:
            ValueError: (pyarrow's) for columns that do not match the first chunk's.
        """
        import pyarrow as pa  # deferred: an optional dependency (the io extra)
        import pyarrow.parquet as pq

        if self.tmp is None:
            raise RuntimeError("use ParquetCodeWriter as a context manager (with ...)")
        if self.schema is None:
            self.schema = pa.Schema.from_pandas(frame, preserve_index=False)
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.tmp, self.schema, compression="zstd")
        self._writer.write_table(table)
        self.rows += len(frame)

    def _close(self) -> None:
        if self._writer is None:  # no chunk: an empty table with the schema, if any
            import pyarrow as pa
            import pyarrow.parquet as pq

            empty = pa.table({}) if self.schema is None else self.schema.empty_table()
            pq.write_table(empty, self.tmp)
        else:
            self._writer.close()
        assert self.tmp is not None
        default_permissions(self.tmp)
        os.replace(self.tmp, self.path)
        self.tmp = None

    def _abort(self) -> None:
        if self._writer is not None:
            with suppress(Exception):
                self._writer.close()
        if self.tmp is not None:
            with suppress(OSError):
                self.tmp.unlink(missing_ok=True)
            self.tmp = None


def _is_zarr_store(path: Path) -> bool:
    """Whether the folder ``path`` is a Zarr store (v3 ``zarr.json`` or v2 ``.zgroup``)."""
    return (path / "zarr.json").is_file() or (path / ".zgroup").is_file()


def check_store(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check that a Zarr store may be written at ``path`` (before anything is computed).

    Raises:
        ConfigError: for an existing ``path`` without ``overwrite``; with it, for a folder
            that is not a Zarr store (groupvae never deletes a folder it did not write) or
            a run directory's own file.
    """
    path = Path(path)
    run = run_owning(path)
    if run is not None:
        raise ConfigError(f"--out {path} is a file of the run {run}; choose another --out")
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise ConfigError(f"--out {path} already exists; add --overwrite to replace it")
        if path.is_dir() and not _is_zarr_store(path):
            raise ConfigError(
                f"--out {path} is a folder that is not a Zarr store; groupvae replaces only "
                "a Zarr store: choose another --out"
            )
    return path


def _zarr_dtype(values: np.ndarray) -> Any:
    """The Zarr dtype of ``values``: text as variable-length strings."""
    return str if values.dtype.kind in "OUST" else values.dtype


class ZarrCodeWriter(_ChunkWriter):
    """Append arrays chunk by chunk to a Zarr store (a folder of arrays), built in a
    temporary folder beside ``path`` and renamed onto it when closed.

    Each :meth:`write` appends, along their first axis, arrays to the store's arrays
    ``<part>/<name>`` (made by the first write of that name): e.g. ``instance/v`` of
    shape ``(n_obs, d)``. Text arrays (ids) are stored as variable-length strings.

    Args:
        path: the store's folder, e.g. ``codes.zarr``.
        overwrite: replace the Zarr store (or file) already at ``path``.
        chunk_rows: rows per Zarr chunk.
        attrs: attributes of the store's root group (JSON values).

    Raises:
        ConfigError: see :func:`check_store`.
        DiskError: when a write fails (a full disk); the temporary folder is removed.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        chunk_rows: int = 65_536,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = check_store(path, overwrite=overwrite)
        self.chunk_rows = chunk_rows
        self.attrs = dict(attrs or {})
        self._root: Any = None

    def __enter__(self) -> ZarrCodeWriter:
        try:
            import zarr  # deferred: an optional dependency (the io extra, with anndata)
        except ImportError:
            raise ConfigError('--out .zarr needs zarr: pip install "groupvae[io]"') from None

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = _temporary_folder(self.path, ".tmp")
            self._root = zarr.open_group(self.tmp, mode="w")
            self._root.attrs.update(self.attrs)
        except OSError as err:  # a read-only folder, a full disk
            self._abort()
            raise disk_error(self.path, err) from None
        return self

    def write(self, part: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Append each of ``arrays`` (``(n, ...)``) to the store's ``<part>/<name>``."""
        if self._root is None:
            raise RuntimeError("use ZarrCodeWriter as a context manager (with ...)")
        for name, values in arrays.items():
            values = np.asarray(values)
            key = f"{part}/{name}"
            if values.dtype.kind == "O":
                values = values.astype(str)
            if key not in self._root:
                self._root.create_array(
                    key, shape=(0, *values.shape[1:]), dtype=_zarr_dtype(values),
                    chunks=(self.chunk_rows, *values.shape[1:]),
                )  # fmt: skip
            array = self._root[key]
            array.append(values.astype(object) if values.dtype.kind in "US" else values)

    def _close(self) -> None:
        assert self.tmp is not None
        default_permissions(self.tmp)
        if self.path.exists() or self.path.is_symlink():  # --overwrite (check_store)
            old = _temporary_folder(self.path, ".old")
            os.replace(self.path, old / self.path.name)
            os.replace(self.tmp, self.path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.path)
        self.tmp = None

    def _abort(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


__all__ = ["ParquetCodeWriter", "ZarrCodeWriter", "check_store"]
