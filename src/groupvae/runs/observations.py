"""The per-observation columns of a run's data file, row by row beside its
:class:`~groupvae.data.grouped.GroupedDataset`: an AnnData file's ``.obs``, a table's
columns, an ``.npz`` file's 1-d arrays. ``groupvae encode --out codes.h5ad`` writes them
as the cells' ``.obs`` (and their group-level columns as the groups' ``.obs``), and
``groupvae analyse covariates`` predicts the group-level ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers import load_frame, read_h5ad_obs
from groupvae.data.readers.common import names
from groupvae.errors import DataError

GROUP_COLUMN = "group"
"""The column of group ids given to data without per-observation columns of its own."""


def _by_row_id(frame: pd.DataFrame, row_id: np.ndarray, where: str) -> pd.DataFrame:
    """``frame``'s rows in the order of ``row_id`` (its index values)."""
    position = frame.index.get_indexer(pd.Index(row_id))
    if (position < 0).any():
        raise DataError(f"{where} no longer holds every row of the data; was it changed?")
    return frame.iloc[position]


def observation_table(name: str, options: dict[str, Any], data: GroupedDataset) -> pd.DataFrame:
    """The per-observation columns of a run's data, one row per observation of ``data``
    in its order, indexed by the row ids (``data.aux["row_id"]``).

    Args:
        name: the run's data set (``anndata``, ``table``, ``npz``, or another).
        options: the options ``data`` was read with (``path``, ``group``, ``id``, ...;
            :func:`groupvae.models.saved.run_options`).
        data: the data read from them.

    Returns:
        An AnnData file's ``.obs``; a table's columns (read as the reader reads them:
        ids and categories as text); an ``.npz`` file's 1-d arrays; for other data a
        single ``group`` column of the group ids.

    Raises:
        DataError: for a file that no longer holds the data's rows, or cannot be read.
    """
    rows = np.asarray(data.aux.get("row_id", np.arange(data.n_obs)), dtype=object)
    path = options.get("path")
    if name == "anndata" and path is not None and not hasattr(path, "obs"):
        obs = read_h5ad_obs(path)
        frame = _by_row_id(obs, rows, str(path))
    elif name == "anndata" and hasattr(path, "obs"):  # an AnnData object
        frame = _by_row_id(path.obs, rows, "the AnnData object")
    elif name == "table" and path is not None and not isinstance(path, pd.DataFrame):
        keys = [options.get(k) for k in ("group", "labels", "population", "id")]
        text = [*[k for k in keys if k is not None], *names(options.get("categorical"))]
        frame = load_frame(path, text)
        if options.get("id") is not None:
            frame = frame.set_index(options["id"], drop=False)
        frame = _by_row_id(frame, rows, str(path))
    elif name == "npz" and path is not None:
        with np.load(path, allow_pickle=False) as archive:
            n = len(archive["group"])
            frame = pd.DataFrame({k: archive[k] for k in archive.files if archive[k].shape == (n,)})
        if len(frame) != data.n_obs:
            raise DataError(f"{path} no longer holds the data's {data.n_obs} rows")
    else:
        frame = pd.DataFrame({GROUP_COLUMN: np.asarray(data.group_ids, dtype=object)[data.group]})
    frame = frame.copy()
    frame.index = pd.Index(rows, name="row_id")
    return frame


def group_column(name: str, options: dict[str, Any]) -> str:
    """The column of :func:`observation_table` that holds the group ids."""
    if name in ("anndata", "table") and options.get("group") is not None:
        return str(options["group"])
    return GROUP_COLUMN


__all__ = ["GROUP_COLUMN", "group_column", "observation_table"]
