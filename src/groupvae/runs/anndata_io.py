"""Codes out as AnnData, the scverse way: instance codes in ``adata.obsm["X_groupvae"]``
(their standard deviations in ``adata.obsm["X_groupvae_std"]``), and a group-level
AnnData with one row per group (``obs``: the columns constant within groups and the
group's size; ``obsm["X_groupvae"]``: the group codes). ``groupvae encode RUN --out
codes.h5ad`` writes both (:func:`write_codes_h5ad`).

anndata is imported when an AnnData object is made (it is optional, and slow to import).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from groupvae.data.group_level import group_level_columns
from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers.h5ad import write_h5ad
from groupvae.errors import DataError

OBSM_KEY = "X_groupvae"
"""The ``.obsm`` key of the codes (scverse's ``X_<method>`` convention, as ``X_scVI``)."""
GROUP_SIZE = "group_size"
"""The column of the group-level ``.obs`` that counts each group's observations."""


def _anndata() -> Any:
    try:
        # deferred: anndata is optional (the io extra) and slow to import
        import anndata
    except ImportError:  # pragma: no cover - anndata is in the test extra
        raise DataError("AnnData output needs anndata: pip install anndata") from None
    return anndata


def _record(model: Any, data: GroupedDataset, key: str) -> dict[str, Any]:
    """What ``.uns[key]`` records: the model and the group key."""
    reader = data.reader or {}
    return {
        "model": str(getattr(model, "preset", type(model).__name__)),
        "group_key": str(reader.get("group") or "group"),
        "mean": key,
        "std": f"{key}_std",
    }


def group_anndata(
    model: Any, data: GroupedDataset, obs: pd.DataFrame | None = None, *, key: str = OBSM_KEY
) -> Any:
    """A group-level AnnData: one row per group of ``data``, in sorted-id order.

    Args:
        model: a fitted model (``encode_groups``).
        data: the observations.
        obs: ``(n_obs, ...)`` per-observation columns in ``data``'s row order (an
            AnnData's ``.obs``), or ``None``.
        key: the ``.obsm`` key of the codes.

    Returns:
        ``anndata.AnnData`` with ``obs_names`` the group ids (as text), ``obs`` the
        columns of ``obs`` that are constant within groups plus :data:`GROUP_SIZE`, no
        ``X``, ``obsm[key]`` the group posterior means ``(n_groups, group_dim)`` and
        ``obsm[key + "_std"]`` their standard deviations.

    Raises:
        DataError: for an ``obs`` with another number of rows.
    """
    anndata = _anndata()
    post = model.encode_groups(data)
    if obs is not None and len(obs) != data.n_obs:
        raise DataError(f"obs has {len(obs)} rows, the data {data.n_obs}")
    columns = (
        group_level_columns(obs, data.group, data.n_groups)
        if obs is not None
        else pd.DataFrame(index=pd.RangeIndex(data.n_groups))
    )
    columns[GROUP_SIZE] = data.group_sizes
    columns.index = pd.Index(np.asarray(data.group_ids).astype(str), dtype=object)
    groups = anndata.AnnData(obs=columns)
    groups.obsm[key] = np.asarray(post.mean, dtype=np.float32)
    groups.obsm[f"{key}_std"] = np.exp(0.5 * np.asarray(post.logvar)).astype(np.float32)
    groups.uns[key] = _record(model, data, key)
    return groups


def add_codes(
    model: Any,
    adata: Any,
    *,
    key: str = OBSM_KEY,
    group: str | None = None,
    layer: str | None = None,
) -> Any:
    """Write a model's instance codes into ``adata`` and return the group-level AnnData.

    ``adata`` is read with the model's reader options (``model.as_dataset``; ``group``
    and ``layer`` override them) and gains ``obsm[key]``, the instance posterior means
    ``(n_obs, instance_dim)``, ``obsm[key + "_std"]`` their standard deviations, and
    ``uns[key]`` (the model and the group key). Its ``X`` and ``obs`` are left as they
    are.

    Args:
        model: a fitted group VAE.
        adata: an ``anndata.AnnData`` object of the model's features.
        key: the ``.obsm`` key (scverse's ``X_<method>`` convention).
        group, layer: the ``.obs`` column of the groups and the layer, where they differ
            from those the model records.

    Returns:
        :func:`group_anndata` of ``adata``'s groups.

    Raises:
        DataError: for an AnnData the model cannot read (no group key, a missing layer,
            features of another shape).
    """
    data = model.as_dataset(adata, group=group, layer=layer)
    inst = model.encode_instances(data)
    adata.obsm[key] = np.asarray(inst.mean, dtype=np.float32)
    adata.obsm[f"{key}_std"] = np.exp(0.5 * np.asarray(inst.logvar)).astype(np.float32)
    adata.uns[key] = _record(model, data, key)
    return group_anndata(model, data, adata.obs, key=key)


def codes_anndata(
    model: Any, data: GroupedDataset, obs: pd.DataFrame | None = None, *, key: str = OBSM_KEY
) -> tuple[Any, Any]:
    """``(cells, groups)``: an observation-level AnnData without ``X`` (``obs`` the
    given columns, or the group ids; ``obsm[key]`` and ``obsm[key + "_std"]`` the
    instance codes) and :func:`group_anndata`.

    Args:
        model: a fitted group VAE.
        data: the observations.
        obs: ``(n_obs, ...)`` per-observation columns in ``data``'s order, or ``None``.
        key: the ``.obsm`` key.
    """
    anndata = _anndata()
    rows = np.asarray(data.aux.get("row_id", np.arange(data.n_obs))).astype(str)
    if obs is None:
        obs = pd.DataFrame({"group": np.asarray(data.group_ids, dtype=object)[data.group]})
    frame = obs.copy()
    frame.index = pd.Index(rows, dtype=object)
    cells = anndata.AnnData(obs=frame)
    inst = model.encode_instances(data)
    cells.obsm[key] = np.asarray(inst.mean, dtype=np.float32)
    cells.obsm[f"{key}_std"] = np.exp(0.5 * np.asarray(inst.logvar)).astype(np.float32)
    cells.uns[key] = _record(model, data, key)
    return cells, group_anndata(model, data, obs, key=key)


def groups_path(path: str | Path) -> Path:
    """Where ``encode --out codes.h5ad`` writes the group-level AnnData:
    ``codes.groups.h5ad`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.groups.h5ad")


def write_codes_h5ad(
    model: Any,
    data: GroupedDataset,
    path: str | Path,
    *,
    obs: pd.DataFrame | None = None,
    key: str = OBSM_KEY,
) -> tuple[Path, Path]:
    """Write :func:`codes_anndata` to ``path`` (the observations) and
    :func:`groups_path` (the groups), each atomically
    (:func:`groupvae.data.readers.h5ad.write_h5ad`). The caller checks both paths first
    (the ``--overwrite`` policy).

    Returns:
        The two paths written.
    """
    cells, groups = codes_anndata(model, data, obs, key=key)
    other = groups_path(path)
    return write_h5ad(cells, path), write_h5ad(groups, other)


__all__ = [
    "GROUP_SIZE",
    "OBSM_KEY",
    "add_codes",
    "codes_anndata",
    "group_anndata",
    "groups_path",
    "write_codes_h5ad",
]
