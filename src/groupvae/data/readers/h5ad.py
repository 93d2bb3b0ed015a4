"""The ``anndata`` reader: an ``.h5ad`` file (the scverse convention), cells as rows.

``X`` (dense or sparse) or a named layer are the observations; the group (a sample, a
donor, a patient) is a column of ``.obs``. Counts go unchanged to the model, for the
``negative-binomial`` likelihood.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers.common import (
    category_codes,
    check_unique,
    encode_groups,
    existing_file,
)
from groupvae.errors import DataError


def _read(path: Path):
    try:
        import anndata
    except ImportError:  # pragma: no cover - anndata is in the test extra
        raise DataError("reading .h5ad files needs anndata: pip install anndata") from None
    try:
        return anndata.read_h5ad(path)
    except (OSError, KeyError, ValueError, TypeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"{path} is not a readable .h5ad file: {first}") from None


def read_h5ad(
    path: str | Path | None = None,
    /,
    *,
    group: str | None = None,
    layer: str | None = None,
    labels: str | None = None,
    population: str | None = None,
    name: str = "anndata",
) -> GroupedDataset:
    """A grouped data set from an AnnData file.

    Args:
        path: the ``.h5ad`` file.
        group: the ``.obs`` column of each cell's group (any dtype).
        layer: a key of ``.layers`` to read instead of ``X`` (e.g. ``counts``).
        labels: an ``.obs`` column kept as ``labels`` (int codes, e.g. cell types).
        population: an ``.obs`` column kept as ``aux["population"]``.
        name: the data set's name, for records.

    Returns:
        ``x: (n_cells, n_genes)`` float32; ``aux["row_id"]`` the ``obs_names``.

    Raises:
        DataError: for a missing or unreadable file, a missing ``.obs`` key or layer
            (naming those there are), a missing (NaN) group id or duplicate
            ``obs_names`` (naming the cells).
    """
    path = existing_file(path, "anndata", (".h5ad",))
    adata = _read(path)
    obs = adata.obs
    if group is None or group not in obs.columns:
        what = "needs the group key: --data group=KEY" if group is None else f"has no {group!r}"
        raise DataError(
            f"{path} .obs {what}; its .obs columns are: {', '.join(obs.columns) or 'none'}"
        )
    for key in (labels, population):
        if key is not None and key not in obs.columns:
            raise DataError(
                f"{path} .obs has no {key!r}; its .obs columns are: {', '.join(obs.columns)}"
            )
    if layer is not None and layer not in adata.layers:
        raise DataError(
            f"{path} has no layer {layer!r}; its layers are: {', '.join(adata.layers) or 'none'}"
        )
    matrix = adata.X if layer is None else adata.layers[layer]
    x = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    row_id = np.asarray(adata.obs_names)
    check_unique(row_id, f"{path} .obs_names")
    codes, ids = encode_groups(obs[group].astype(object), row_id, f"{path} .obs {group!r}")
    aux = {"row_id": row_id}
    if population is not None:
        aux["population"] = category_codes(obs[population].astype(str))
    return GroupedDataset(
        x=np.asarray(x, dtype=np.float32),
        group=codes,
        labels=None if labels is None else category_codes(obs[labels].astype(str)),
        aux=aux,
        group_ids=ids,
        name=name,
    )


__all__ = ["read_h5ad"]
