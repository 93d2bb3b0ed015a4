"""Latents and translations out of a run, as CSV or Parquet files (``groupvae encode``,
``groupvae translate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError
from groupvae.models.base import BaseModel
from groupvae.store.atomic import write_with
from groupvae.store.outputs import check_output

FRAME_SUFFIXES = (".csv", ".parquet")


def frame_path(path: str | Path, *, overwrite: bool = False) -> Path:
    """Check ``path`` for :func:`write_frame` before anything is computed.

    Raises:
        DataError: for a suffix other than ``.csv`` or ``.parquet``.
        ConfigError: for an existing file without ``overwrite``, a folder, or one of a
            run directory's own files (:func:`groupvae.store.outputs.check_output`).
    """
    path = Path(path)
    if path.suffix.lower() not in FRAME_SUFFIXES:
        raise DataError(f"--out {path} must end in {' or '.join(FRAME_SUFFIXES)}")
    return check_output(path, overwrite=overwrite)


def write_frame(frame: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``frame`` atomically as CSV or Parquet, by ``path``'s suffix.

    An existing file at ``path`` is replaced only with ``overwrite``; a run directory's
    own files (``history.csv``, ...) never are.

    Raises:
        DataError: for another suffix.
        ConfigError: for an existing ``path`` without ``overwrite``, a folder, or a run's
            own file (see :func:`frame_path`).
    """
    path = frame_path(path, overwrite=overwrite)
    if path.suffix.lower() == ".csv":
        write_with(path, lambda tmp: frame.to_csv(tmp, index=False))
    else:
        write_with(path, lambda tmp: frame.to_parquet(tmp, index=False))
    return path


def latent_table(model: BaseModel, data: GroupedDataset) -> pd.DataFrame:
    """One row per observation (``level="instance"``: row id, group id, the instance
    posterior's mean and std) and one per group (``level="group"``: the group
    posterior's mean and std), in one frame."""
    inst = model.get_latent_representation(data, level="instance", with_std=True).reset_index()
    group = model.get_latent_representation(data, level="group", with_std=True).reset_index()
    if pd.api.types.is_integer_dtype(inst["row_id"]):  # stays integer beside group rows
        inst["row_id"] = inst["row_id"].astype("Int64")
    inst.insert(0, "level", "instance")
    group.insert(0, "level", "group")
    return pd.concat([inst, group], ignore_index=True, sort=False)


def _group_index(data: GroupedDataset, name: str, which: str) -> int:
    ids = [str(g) for g in data.group_ids]
    if str(name) not in ids:
        shown = ", ".join(ids[:10]) + (", ..." if len(ids) > 10 else "")
        raise DataError(f"--{which} {name!r} is not a group of the data; its groups are: {shown}")
    return ids.index(str(name))


def translated_rows(model: Any, data: GroupedDataset, source: str, target: str) -> pd.DataFrame:
    """The source group's rows decoded with the target group's code (CxVAE section 5.1),
    in the user's columns and units where the run records a feature transform
    (:meth:`GroupVAE.translate <groupvae.models.GroupVAE.translate>`: a categorical
    column's level probabilities, a binary column's probability, a count column's
    expected count).

    Returns:
        One row per observation of ``source``: ``row_id``, then the user's columns (or
        ``x_0, x_1, ...`` without a transform).

    Raises:
        DataError: for a group that is not in the data.
        ConfigError: for a model without a group latent.
    """
    src, tgt = _group_index(data, source, "source"), _group_index(data, target, "target")
    rows = data.subset_groups(np.array([src]))
    u = model.encode_groups(data.subset_groups(np.array([tgt]))).mean
    out = model.translate(rows, np.repeat(u, rows.n_obs, axis=0))
    if isinstance(out, pd.DataFrame):
        return out.reset_index()
    x = np.asarray(out).reshape(rows.n_obs, -1)
    frame = pd.DataFrame(x, columns=[f"x_{j}" for j in range(x.shape[1])])
    frame.insert(0, "row_id", rows.aux.get("row_id", np.flatnonzero(data.group == src)))
    return frame


__all__ = ["frame_path", "latent_table", "translated_rows", "write_frame"]
