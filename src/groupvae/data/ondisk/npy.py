"""Rows of a ``.npy`` file read at their byte offsets with ``os.preadv`` (no memory map:
pages a memory map touches count in the process's resident memory)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from groupvae.errors import DataError


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, data offset)`` of a C-ordered ``.npy`` file.

    Raises:
        DataError: for a file that is not a ``.npy`` array, or a Fortran-ordered or
            object array.
    """
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)  # fmt: skip
            shape, fortran, dtype = read(f)
            offset = f.tell()
    except (OSError, ValueError) as err:
        raise DataError(f"{path} is not a readable .npy file: {err}") from None
    if fortran or dtype.hasobject:
        raise DataError(
            f"{path} must be a C-ordered numeric array (np.save of np.ascontiguousarray)"
        )
    if len(shape) == 0:
        raise DataError(f"{path} holds a scalar, not one row per observation")
    return tuple(int(s) for s in shape), dtype, offset


class NpyReader:
    """Contiguous row ranges of a ``.npy`` array ``(n_rows, *row_shape)``.

    The file is opened lazily in each process (DataLoader workers open their own).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.shape, self.dtype, self.offset = npy_header(self.path)
        self.n_rows = self.shape[0]
        self.row_shape = self.shape[1:]
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self._fd: int | None = None
        self._pid = -1

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fd": None, "_pid": -1}

    def _handle(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except OSError as err:
                raise DataError(f"cannot read {self.path}: {err.strerror}") from None
            self._pid = os.getpid()
        return self._fd

    def read(self, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """``(sum(stops - starts), *row_shape)`` the rows of the ranges, concatenated.

        Raises:
            DataError: if the file is shorter than its header says (truncated).
        """
        total = int(np.sum(stops - starts))
        out = np.empty((total, *self.row_shape), dtype=self.dtype)
        flat = out.reshape(-1).view(np.uint8)
        fd, at = self._handle(), 0
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            want = (b - a) * self.row_bytes
            got = 0
            while got < want:
                n = os.preadv(
                    fd, [flat[at + got : at + want]], self.offset + a * self.row_bytes + got
                )
                if n == 0:
                    raise DataError(f"{self.path} is truncated: rows {a}-{b} are missing")
                got += n
            at += want
        return out

    def chunks(self, rows_per_chunk: int | None = None):
        """The rows in chunks of ``rows_per_chunk`` (default 16 MiB of rows), in order."""
        rows_per_chunk = rows_per_chunk or max(1, (16 << 20) // max(1, self.row_bytes))
        for a in range(0, self.n_rows, rows_per_chunk):
            b = min(a + rows_per_chunk, self.n_rows)
            yield self.read(np.array([a]), np.array([b]))


__all__ = ["NpyReader", "npy_header"]
