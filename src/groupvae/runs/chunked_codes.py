"""Codes of data in chunks of whole groups (``groupvae encode --out codes.parquet`` or
``codes.zarr``): memory holds one chunk's rows and codes, and one row of codes per group.

The chunks are whole groups: an in-memory :class:`~groupvae.data.grouped.GroupedDataset`
is cut into consecutive ranges of groups (:meth:`GroupedDataset.subset_groups`); data on
disk that has ``iter_group_chunks(rows)`` (:mod:`groupvae.data.ondisk`) is read by it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from groupvae.data.grouped import GroupedDataset, group_ranges
from groupvae.errors import DataError
from groupvae.runs.code_writers import ParquetCodeWriter, ZarrCodeWriter, check_store
from groupvae.store.outputs import check_output

ROWS_PER_CHUNK = 65_536
"""Default rows per chunk (a chunk may hold more: one group is never split)."""

CHUNKED_SUFFIXES = (".parquet", ".zarr")


@dataclass(frozen=True)
class CodesWritten:
    """What :func:`write_codes` wrote: the output, its observations, groups and chunks."""

    path: Path
    n_obs: int
    n_groups: int
    chunks: int


def group_chunks(data: Any, rows: int = ROWS_PER_CHUNK) -> Iterator[GroupedDataset]:
    """``data`` as chunks of whole groups of about ``rows`` rows each, in group order.

    Args:
        data: a :class:`GroupedDataset`, or data on disk with ``iter_group_chunks(rows)``.
        rows: rows per chunk (a group larger than that is a chunk of its own).
    """
    if hasattr(data, "iter_group_chunks"):
        yield from data.iter_group_chunks(rows)
        return
    for start, stop in group_ranges(data.group_sizes, rows):
        yield data.subset_groups(np.arange(start, stop))


def chunk_codes(model: Any, chunk: GroupedDataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The codes of one chunk: its instance rows and its group rows, in the columns of
    :func:`groupvae.runs.export.latent_table` (``level``, ``row_id``, ``group``, posterior
    means and ``_std`` columns)."""
    inst = model.get_latent_representation(chunk, level="instance", with_std=True).reset_index()
    group = model.get_latent_representation(chunk, level="group", with_std=True).reset_index()
    inst.insert(0, "level", "instance")
    group.insert(0, "level", "group")
    return inst, group


def _table_columns(inst: pd.DataFrame, group: pd.DataFrame) -> list[str]:
    """The columns of the one table of instance and group rows, as ``latent_table``'s."""
    return [*inst.columns, *(c for c in group.columns if c not in inst.columns)]


def _as_table(frame: pd.DataFrame, columns: list[str], row_id: Any) -> pd.DataFrame:
    """``frame`` with every column of the table (missing ones empty), ``row_id`` typed
    like the data's ids (nullable integers for group rows)."""
    frame = frame.reindex(columns=columns)
    for col in columns:
        if col not in ("level", "row_id", "group"):
            frame[col] = frame[col].astype(np.float64)
    frame["row_id"] = frame["row_id"].astype(row_id)
    return frame


def _row_id_dtype(inst: pd.DataFrame) -> Any:
    """The dtype of ``row_id``: nullable integers for integer ids, else text."""
    return "Int64" if pd.api.types.is_integer_dtype(inst["row_id"]) else object


def _write_parquet(model: Any, data: Any, path: Path, overwrite: bool, rows: int) -> CodesWritten:
    """The observations' codes chunk by chunk, then the groups' (one row each, kept in
    memory until the end) in the same table: the rows of ``latent_table``."""
    groups: list[pd.DataFrame] = []
    n_obs = chunks = 0
    columns: list[str] | None = None
    row_id: Any = None
    with ParquetCodeWriter(path, overwrite=overwrite) as writer:
        for chunk in group_chunks(data, rows):
            inst, group = chunk_codes(model, chunk)
            if columns is None:
                columns, row_id = _table_columns(inst, group), _row_id_dtype(inst)
            writer.write(_as_table(inst, columns, row_id))
            groups.append(group)
            n_obs, chunks = n_obs + len(inst), chunks + 1
        if columns is not None:
            for start in range(0, len(groups), 64):
                frame = pd.concat(groups[start : start + 64], ignore_index=True)
                writer.write(_as_table(frame, columns, row_id))
    n_groups = sum(len(g) for g in groups)
    return CodesWritten(path, n_obs, n_groups, chunks)


def _arrays(frame: pd.DataFrame, prefix: str) -> dict[str, np.ndarray]:
    """A level's codes as arrays: ids, means ``(n, d)`` and standard deviations."""
    means = [c for c in frame.columns if c.startswith(f"{prefix}_") and not c.endswith("_std")]
    arrays = {prefix: frame[means].to_numpy(np.float32)}
    arrays[f"{prefix}_std"] = frame[[f"{c}_std" for c in means]].to_numpy(np.float32)
    for col in ("row_id", "group"):
        if col in frame:
            values = frame[col].to_numpy()
            arrays[col] = values if values.dtype.kind in "iuf" else values.astype(str)
    return arrays


def _write_zarr(model: Any, data: Any, path: Path, overwrite: bool, rows: int) -> CodesWritten:
    """The codes in a Zarr store: ``instance/{row_id, group, v, v_std}`` and
    ``group/{group, u, u_std}``, appended chunk by chunk."""
    n_obs = n_groups = chunks = 0
    attrs = {
        "groupvae": "codes",
        "layout": "instance/{row_id,group,v,v_std}, group/{group,u,u_std}",
    }
    with ZarrCodeWriter(path, overwrite=overwrite, chunk_rows=rows, attrs=attrs) as writer:
        for chunk in group_chunks(data, rows):
            inst, group = chunk_codes(model, chunk)
            writer.write("instance", _arrays(inst, "v"))
            writer.write("group", _arrays(group, "u"))
            n_obs, n_groups, chunks = n_obs + len(inst), n_groups + len(group), chunks + 1
    return CodesWritten(path, n_obs, n_groups, chunks)


def check_codes_path(path: str | Path, *, overwrite: bool = False) -> Path:
    """Check ``path`` for :func:`write_codes` before the run is loaded.

    Raises:
        DataError: for a suffix other than ``.parquet`` or ``.zarr``.
        ConfigError: for an existing output without ``overwrite`` (see
            :func:`groupvae.store.outputs.check_output`, :func:`check_store`).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CHUNKED_SUFFIXES:
        raise DataError(f"--out {path} must end in {' or '.join(CHUNKED_SUFFIXES)}")
    if suffix == ".zarr":
        return check_store(path, overwrite=overwrite)
    return check_output(path, overwrite=overwrite)


def write_codes(
    model: Any,
    data: Any,
    path: str | Path,
    *,
    overwrite: bool = False,
    rows_per_chunk: int = ROWS_PER_CHUNK,
) -> CodesWritten:
    """Write the codes of ``data`` chunk by chunk of whole groups to ``path``.

    ``.parquet``: one table, the observations' rows (``level="instance"``) then the
    groups' (``level="group"``), the columns of :func:`groupvae.runs.export.latent_table`;
    observations come chunk by chunk in group order. ``.zarr``: a store of arrays,
    ``instance/row_id`` ``(n_obs,)``, ``instance/group`` ``(n_obs,)``, ``instance/v``
    and ``instance/v_std`` ``(n_obs, d_v)``, ``group/group`` ``(n_groups,)``,
    ``group/u`` and ``group/u_std`` ``(n_groups, d_u)``.

    Args:
        model: a fitted model with ``get_latent_representation``.
        data: a :class:`GroupedDataset` or data on disk with ``iter_group_chunks``.
        path: the ``.parquet`` file or ``.zarr`` store.
        overwrite: replace an existing output.
        rows_per_chunk: rows encoded at a time (whole groups).

    Raises:
        DataError, ConfigError: see :func:`check_codes_path`.
        DiskError: when the disk fills; nothing is left at ``path`` but what was there.
    """
    path = check_codes_path(path, overwrite=overwrite)
    write = _write_zarr if path.suffix.lower() == ".zarr" else _write_parquet
    return write(model, data, path, overwrite, rows_per_chunk)


__all__ = [
    "CodesWritten",
    "check_codes_path",
    "chunk_codes",
    "group_chunks",
    "write_codes",
]
