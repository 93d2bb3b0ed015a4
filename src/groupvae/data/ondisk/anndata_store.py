"""Row ranges of an AnnData store on disk, ``.h5ad`` (h5py) or ``.zarr`` (zarr): dense
``X`` (or a layer) sliced, or CSR ``data`` / ``indices`` / ``indptr`` sliced and made
dense float32 rows; the ``.obs`` group column read in chunks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from groupvae.errors import DataError

CHUNK_ROWS = 1 << 16
"""Rows of the ``.obs`` column read at a time."""


def _open_root(path: Path, fmt: str) -> Any:
    try:
        if fmt == "h5ad":
            import h5py

            return h5py.File(path, "r")
        import zarr

        return zarr.open_group(str(path), mode="r")
    except (OSError, ValueError, KeyError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise DataError(f"{path} is not a readable {fmt} AnnData store: {first}") from None


def _text(values: np.ndarray) -> np.ndarray:
    """Bytes (HDF5 strings) as text; other values as they are."""
    if values.dtype.kind in "SO" and len(values) and isinstance(values[0], bytes):
        return np.asarray([v.decode() for v in values], dtype=object)
    return values


class AnnDataReader:
    """Contiguous row ranges of ``X`` (or ``layers[layer]``) of an AnnData store.

    Args:
        path: the ``.h5ad`` file or ``.zarr`` folder.
        fmt: ``"h5ad"`` or ``"zarr"``.
        layer: a layer to read instead of ``X``.

    Raises:
        DataError: for an unreadable store, or a missing layer (naming those there are).
    """

    def __init__(self, path: str | os.PathLike[str], fmt: str, layer: str | None = None) -> None:
        self.path, self.fmt, self.layer = Path(path), fmt, layer
        self._root: Any = None
        self._pid = -1
        matrix = self._matrix()
        if self._sparse(matrix):
            shape = tuple(int(s) for s in matrix.attrs["shape"])
        else:
            shape = tuple(int(s) for s in matrix.shape)
        self.n_rows, self.row_shape = shape[0], shape[1:]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_root": None, "_pid": -1}

    def root(self) -> Any:
        """The store, opened once in each process."""
        if self._root is None or self._pid != os.getpid():
            self._root, self._pid = _open_root(self.path, self.fmt), os.getpid()
        return self._root

    def _matrix(self) -> Any:
        root = self.root()
        if self.layer is None:
            if "X" not in root:
                raise DataError(f"{self.path} has no X; name a layer with --data layer=KEY")
            return root["X"]
        layers = root.get("layers", {})
        if self.layer not in layers:
            have = ", ".join(layers) or "none"
            raise DataError(f"{self.path} has no layer {self.layer!r}; its layers are: {have}")
        return layers[self.layer]

    @staticmethod
    def _sparse(matrix: Any) -> bool:
        kind = matrix.attrs.get("encoding-type", "")
        if kind == "csc_matrix":
            raise DataError("a CSC matrix cannot be read by rows; store X as CSR or dense")
        return kind == "csr_matrix"

    def read(self, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """``(sum(stops - starts), n_vars)`` float32 the rows of the ranges, dense."""
        matrix = self._matrix()
        if not self._sparse(matrix):
            parts = [
                np.asarray(matrix[a:b])
                for a, b in zip(starts.tolist(), stops.tolist(), strict=True)
            ]
            return np.concatenate(parts).astype(np.float32, copy=False)
        total = int(np.sum(stops - starts))
        out = np.zeros((total, *self.row_shape), dtype=np.float32)
        at = 0
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            ptr = np.asarray(matrix["indptr"][a : b + 1], dtype=np.int64)
            data = np.asarray(matrix["data"][ptr[0] : ptr[-1]], dtype=np.float32)
            cols = np.asarray(matrix["indices"][ptr[0] : ptr[-1]], dtype=np.int64)
            rows = np.repeat(np.arange(b - a), np.diff(ptr)) + at
            out[rows, cols] = data
            at += b - a
        return out

    def chunks(self, rows_per_chunk: int = CHUNK_ROWS) -> Iterator[np.ndarray]:
        """The rows in chunks, in order."""
        for a in range(0, self.n_rows, rows_per_chunk):
            yield self.read(np.array([a]), np.array([min(a + rows_per_chunk, self.n_rows)]))

    def obs_chunks(self, column: str, rows_per_chunk: int = CHUNK_ROWS) -> Iterator[np.ndarray]:
        """The values of an ``.obs`` column in chunks, in order (a categorical one as its
        categories).

        Raises:
            DataError: for a missing column, naming those there are.
        """
        obs = self.root()["obs"]
        if column not in obs:
            have = ", ".join(k for k in obs if not k.startswith("_")) or "none"
            raise DataError(f"{self.path} .obs has no {column!r}; its .obs columns are: {have}")
        item = obs[column]
        if "codes" in getattr(item, "keys", lambda: ())():
            categories = _text(np.asarray(item["categories"][...]))
            codes = item["codes"]
            for a in range(0, self.n_rows, rows_per_chunk):
                c = np.asarray(codes[a : a + rows_per_chunk])
                values = np.asarray(categories, dtype=object)[np.maximum(c, 0)]
                values[c < 0] = None
                yield values
            return
        for a in range(0, self.n_rows, rows_per_chunk):
            yield _text(np.asarray(item[a : a + rows_per_chunk]))

    def var_names(self) -> tuple[str, ...] | None:
        """The ``.var`` index, where the store has one."""
        var = self.root().get("var")
        if var is None:
            return None
        key = var.attrs.get("_index", "_index")
        if key not in var:
            return None
        return tuple(str(v) for v in _text(np.asarray(var[key][...])))


__all__ = ["AnnDataReader"]
