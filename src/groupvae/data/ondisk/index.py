"""The group index of a data set on disk: where each group's rows start and stop.

A data set streamed by whole groups must hold each group's rows contiguously (sorted by
group: ``groupvae prepare`` writes such a copy). The index is built in one streaming pass
over the group column and kept beside the data (``<file>.groupindex.npz``, or
``<folder>/_groupindex.npz``), with a fingerprint of the data (size, modification time,
SHA-256 of its first and last MiB) so that an index of a changed file is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from groupvae.data.ondisk.formats import data_files, detect_format, group_chunks
from groupvae.errors import DataError, DiskError
from groupvae.store.atomic import write_with

MIB = 1 << 20
INDEX_SUFFIX = ".groupindex.npz"
FOLDER_INDEX = "_groupindex.npz"


def _edge_digest(path: Path, size: int, tail: bool) -> str:
    """SHA-256 of the first (or last) MiB of ``path``."""
    with open(path, "rb") as f:
        if tail:
            f.seek(max(0, size - MIB))
        return hashlib.sha256(f.read(MIB)).hexdigest()


def fingerprint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{path, size, mtime_ns, head, tail}`` of a data file, or of a folder's data files
    (sizes summed, the latest mtime, the head of the first file, the tail of the last, and
    ``files``: a digest of their names and sizes).

    Raises:
        DataError: if ``path`` does not exist or holds no data file.
    """
    path = Path(path).expanduser().resolve()
    files = data_files(path)
    stats = [f.stat() for f in files]
    record: dict[str, Any] = {
        "path": str(path),
        "size": int(sum(s.st_size for s in stats)),
        "mtime_ns": int(max(s.st_mtime_ns for s in stats)),
        "head": _edge_digest(files[0], stats[0].st_size, tail=False),
        "tail": _edge_digest(files[-1], stats[-1].st_size, tail=True),
    }
    if path.is_dir():
        listing = "\n".join(
            f"{f.relative_to(path)}:{s.st_size}" for f, s in zip(files, stats, strict=True)
        )
        record["files"] = hashlib.sha256(listing.encode()).hexdigest()
    return record


def _changed(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two fingerprints that tells of other content: ``size``,
    ``hash`` (of the first or last MiB), ``files`` (a folder's names and sizes). The
    modification time alone does not (a copy, or the same bytes written again)."""
    what = []
    if old.get("size") != new.get("size"):
        what.append("size")
    if (old.get("head"), old.get("tail")) != (new.get("head"), new.get("tail")):
        what.append("hash")
    if old.get("files") != new.get("files"):
        what.append("files")
    return what


def _check_missing(values: np.ndarray, first_row: int, group: str) -> None:
    missing = pd.isna(values)
    if np.any(missing):
        rows = first_row + np.flatnonzero(missing)[:5]
        raise DataError(
            f"the group column {group!r} is missing for rows {', '.join(map(str, rows))}; "
            "give every row a group or remove those rows"
        )


def _runs(chunks: Iterable[np.ndarray], group: str) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, sizes)`` of the runs of equal values over the chunks of a column, a run
    that spans chunks counted once."""
    ids: list[np.ndarray] = []
    sizes: list[np.ndarray] = []
    seen = 0
    for values in chunks:
        values = np.asarray(values)
        if values.ndim != 1:
            raise DataError(f"the group column {group!r} must be one value per row")
        if not len(values):
            continue
        _check_missing(values, seen, group)
        starts = np.r_[0, np.flatnonzero(values[1:] != values[:-1]) + 1]
        lengths = np.diff(np.r_[starts, len(values)]).astype(np.int64)
        run_ids = values[starts]
        if ids and ids[-1][-1] == run_ids[0]:  # the last run goes on in this chunk
            sizes[-1][-1] += lengths[0]
            run_ids, lengths = run_ids[1:], lengths[1:]
        if len(run_ids):
            ids.append(run_ids)
            sizes.append(lengths)
        seen += len(values)
    if not ids:
        raise DataError("the data has no rows")
    return np.concatenate(ids), np.concatenate(sizes)


def _storable(ids: np.ndarray) -> np.ndarray:
    """Ids as an array ``np.savez`` keeps without pickling: numbers as they are, text
    as unicode."""
    if ids.dtype != object:
        return ids
    if all(isinstance(v, str) for v in ids):
        return ids.astype(str)
    raise DataError("group ids must be all numbers or all text to be indexed")


@dataclass(frozen=True, eq=False)
class GroupIndex:
    """Where each group's rows lie in a group-sorted data set on disk.

    Attributes:
        group_ids: ``(n_groups,)`` the original group ids, in file order.
        offsets: ``(n_groups + 1,)`` int64; group ``g`` (in file order) is rows
            ``offsets[g]:offsets[g + 1]``.
        n_rows: rows of the data set (``offsets[-1]``).
        source: the data's fingerprint (:func:`fingerprint`).
        group: the group column (a column name, or the path of a group ``.npy``).
        group_source: the fingerprint of a separate group file, else ``None``.
    """

    group_ids: np.ndarray
    offsets: np.ndarray
    n_rows: int
    source: dict[str, Any]
    group: str
    group_source: dict[str, Any] | None = None

    @property
    def n_groups(self) -> int:
        return len(self.group_ids)

    @property
    def sizes(self) -> np.ndarray:
        """``(n_groups,)`` int64 rows of each group, in file order."""
        return np.diff(self.offsets)

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the index atomically to ``path`` (default :func:`default_index_path`
        beside the data); returns where it went.

        Raises:
            DiskError: if it cannot be written (a read-only folder: give a path in the
                run's folder instead).
        """
        path = Path(path) if path is not None else default_index_path(self.source["path"])
        meta = {"source": self.source, "group": self.group, "group_source": self.group_source}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(
                    f,
                    group_ids=_storable(self.group_ids),
                    offsets=self.offsets,
                    meta=np.asarray(json.dumps(meta)),
                )

        write_with(path, write, size=self.offsets.nbytes + self.group_ids.nbytes)
        return path


def default_index_path(data: str | os.PathLike[str]) -> Path:
    """``<folder>/_groupindex.npz`` in a Parquet folder, else ``<path>.groupindex.npz``
    beside the file (or the ``.zarr`` store)."""
    data = Path(data)
    if data.is_dir() and data.suffix.lower() != ".zarr":
        return data / FOLDER_INDEX
    return data.with_name(data.name + INDEX_SUFFIX)


def build_group_index(
    path: str | os.PathLike[str], *, group: str, fmt: str | None = None
) -> GroupIndex:
    """Index the groups of a group-sorted data set in one streaming pass over its group
    column.

    Args:
        path: a ``.parquet`` file or a folder of them, a ``.npy`` of features, an
            ``.h5ad`` or a ``.zarr`` AnnData store.
        group: the group column (an ``.obs`` column of AnnData), or for ``.npy`` the path
            of a 1-d ``.npy`` of group ids, one per row.
        fmt: ``"parquet"``, ``"npy"``, ``"h5ad"`` or ``"zarr"``; default by the path.

    Returns:
        The :class:`GroupIndex` (not saved: :meth:`GroupIndex.save`).

    Raises:
        DataError: for a missing file or column, a missing group id, a group column of
            another length than the data, or rows not sorted by group (naming
            ``groupvae prepare``).
    """
    path = Path(path).expanduser().resolve()
    fmt = fmt or detect_format(path)
    source = fingerprint(path)
    group_source = fingerprint(group) if fmt == "npy" else None
    ids, sizes = _runs(group_chunks(path, fmt, group), str(group))
    duplicated = pd.Index(ids).duplicated()
    if duplicated.any():
        again = ids[int(np.argmax(duplicated))]
        raise DataError(
            f"{path} is not sorted by {group!r}: the rows of group {again!r} are not "
            f"contiguous; write a group-sorted copy once with `groupvae prepare` and train "
            "on that"
        )
    offsets = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    return GroupIndex(ids, offsets, int(offsets[-1]), source, str(group), group_source)


def load_group_index(
    path: str | os.PathLike[str], *, group: str, index: str | os.PathLike[str] | None = None
) -> GroupIndex | None:
    """The saved index of the data at ``path`` for ``group``, checked against the data;
    ``None`` if there is none (or it indexes another group column).

    Args:
        path: the data (as for :func:`build_group_index`).
        group: the group column.
        index: where the index was saved (default :func:`default_index_path`).

    Raises:
        DataError: if the data (or the group file) changed since the index was built, or
            the index file is unreadable.
    """
    path = Path(path).expanduser().resolve()
    index = Path(index) if index is not None else default_index_path(path)
    if not index.is_file():
        return None
    try:
        with np.load(index, allow_pickle=False) as saved:
            ids, offsets = saved["group_ids"], saved["offsets"].astype(np.int64)
            meta = json.loads(str(saved["meta"]))
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"{index} is not a readable group index ({err}); delete it") from None
    if meta["group"] != str(group):
        return None
    pairs = [(meta["source"], path)]
    if meta.get("group_source") is not None:
        pairs.append((meta["group_source"], Path(str(group))))
    for old, where in pairs:
        changed = _changed(old, fingerprint(where))
        if changed:
            raise DataError(
                f"the data file changed since its group index was built "
                f"({'/'.join(changed)} of {where}); rebuild with `groupvae prepare`, or "
                f"delete {index} to index it anew"
            )
    return GroupIndex(ids, offsets, int(offsets[-1]), meta["source"], meta["group"],
                      meta.get("group_source"))  # fmt: skip


def group_index(
    path: str | os.PathLike[str],
    *,
    group: str,
    fmt: str | None = None,
    index: str | os.PathLike[str] | None = None,
    fallback: str | os.PathLike[str] | None = None,
) -> GroupIndex:
    """The index of ``path``'s groups: loaded where saved (and checked), else built and
    saved beside the data, or at ``fallback`` (e.g. in the run) where the data's folder
    is not writable; kept in memory only when neither is.

    Raises:
        DataError: as :func:`load_group_index` and :func:`build_group_index`.
    """
    candidates = [Path(index) if index is not None else default_index_path(path)]
    candidates += [Path(fallback)] if fallback is not None else []
    for where in candidates:
        loaded = load_group_index(path, group=group, index=where)
        if loaded is not None:
            return loaded
    built = build_group_index(path, group=group, fmt=fmt)
    for where in candidates:
        try:
            built.save(where)
            break
        except DiskError:
            continue
    return built


__all__ = [
    "GroupIndex",
    "build_group_index",
    "default_index_path",
    "fingerprint",
    "group_index",
    "load_group_index",
]
