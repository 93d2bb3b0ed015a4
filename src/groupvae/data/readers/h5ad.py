"""The ``anndata`` reader: an ``.h5ad`` file or an ``AnnData`` object (the scverse
convention), cells as rows; and the writer of ``.h5ad`` files.

``X`` (dense or sparse) or a named layer are the observations; the group (a sample, a
donor, a patient) is a column of ``.obs``. Counts go unchanged to the model, for the
``negative-binomial`` likelihood.

anndata is imported only when a file is read or written (it is an optional dependency,
the ``io`` extra, and slow to import): :func:`is_anndata` tells an ``AnnData`` object
without importing it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers.common import (
    category_codes,
    check_unique,
    encode_groups,
    existing_file,
)
from groupvae.errors import DataError
from groupvae.store.atomic import write_with

READER = "anndata"
"""The reader's name (a ``DATASETS`` entry), as :attr:`GroupedDataset.reader` records it."""


def is_anndata(obj: object) -> bool:
    """Whether ``obj`` is an ``anndata.AnnData`` object (or a view of one), without
    importing anndata: if it is not imported, no object can be one."""
    module = sys.modules.get("anndata")
    return module is not None and isinstance(obj, module.AnnData)


def _anndata() -> Any:
    try:
        # deferred: anndata is optional (the io extra) and slow to import
        import anndata
    except ImportError:  # pragma: no cover - anndata is in the test extra
        raise DataError(
            "reading and writing .h5ad files needs anndata: pip install anndata"
        ) from None
    return anndata


def _read(path: Path, *, backed: bool = False) -> Any:
    anndata = _anndata()
    try:
        return anndata.read_h5ad(path, backed="r" if backed else None)
    except (OSError, KeyError, ValueError, TypeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"{path} is not a readable .h5ad file: {first}") from None


def read_h5ad_obs(path: str | Path) -> pd.DataFrame:
    """The ``.obs`` table of an ``.h5ad`` file, read in backed mode (``X`` stays on
    disk), indexed by ``obs_names``.

    Raises:
        DataError: for a missing or unreadable file.
    """
    path = existing_file(path, "anndata", (".h5ad",))
    adata = _read(path, backed=True)
    try:
        return adata.obs.copy()
    finally:
        adata.file.close()


def _dense(matrix: Any) -> np.ndarray:
    """``X`` or a layer as a dense float32 array: in memory, backed (an HDF5 dataset or a
    backed sparse matrix) or sparse."""
    if hasattr(matrix, "to_memory"):  # a backed sparse matrix
        matrix = matrix.to_memory()
    dense = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    return np.asarray(dense, dtype=np.float32)


def read_h5ad(
    path: Any = None,
    /,
    *,
    group: str | None = None,
    layer: str | None = None,
    labels: str | None = None,
    population: str | None = None,
    name: str = "anndata",
) -> GroupedDataset:
    """A grouped data set from an AnnData file or object.

    A file read for a ``layer`` is opened in backed mode, so that ``X`` is never loaded.

    Args:
        path: the ``.h5ad`` file, or an ``anndata.AnnData`` object (in memory, backed or
            a view).
        group: the ``.obs`` column of each cell's group (any dtype).
        layer: a key of ``.layers`` to read instead of ``X`` (e.g. ``counts``).
        labels: an ``.obs`` column kept as ``labels`` (int codes, e.g. cell types).
        population: an ``.obs`` column kept as ``aux["population"]``.
        name: the data set's name, for records.

    Returns:
        ``x: (n_cells, n_genes)`` float32; ``aux["row_id"]`` the ``obs_names``;
        ``feature_names`` the ``var_names``; ``reader`` the options (``group``,
        ``layer``) that read more cells the same way.

    Raises:
        DataError: for a missing or unreadable file, a missing ``.obs`` key or layer
            (naming those there are), a missing (NaN) group id or duplicate
            ``obs_names`` (naming the cells).
    """
    if is_anndata(path):
        adata, where = path, "the AnnData object"
        return _grouped(adata, where, group, layer, labels, population, name)
    path = existing_file(path, "anndata", (".h5ad",))
    adata = _read(path, backed=layer is not None)
    try:
        return _grouped(adata, str(path), group, layer, labels, population, name)
    finally:
        if adata.isbacked:
            adata.file.close()


def _grouped(
    adata: Any,
    path: str,
    group: str | None,
    layer: str | None,
    labels: str | None,
    population: str | None,
    name: str,
) -> GroupedDataset:
    obs = adata.obs
    if group is None or group not in obs.columns:
        what = (
            'needs the group key (--data group=KEY; in Python group="KEY")'
            if group is None
            else f"has no {group!r}"
        )
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
    if layer is None and adata.X is None:
        raise DataError(f"{path} has no X; name a layer with --data layer=KEY")
    x = _dense(adata.X if layer is None else adata.layers[layer])
    row_id = np.asarray(adata.obs_names, dtype=object)
    check_unique(row_id, f"{path} .obs_names")
    codes, ids = encode_groups(obs[group].astype(object), row_id, f"{path} .obs {group!r}")
    aux = {"row_id": row_id}
    if population is not None:
        aux["population"] = category_codes(obs[population].astype(str))
    return GroupedDataset(
        x=x,
        group=codes,
        labels=None if labels is None else category_codes(obs[labels].astype(str)),
        aux=aux,
        group_ids=ids,
        name=name,
        reader={"name": READER, "group": group, "layer": layer},
        feature_names=tuple(str(v) for v in adata.var_names),
    )


# ------------------------------------------------------------------------- writing
def _is_text(series: pd.Series) -> bool:
    """Whether a column holds text: a string dtype, or objects that are all strings."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return False
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        return True
    if series.dtype != object:
        return False
    values = series.dropna()
    return bool(len(values)) and bool(values.map(lambda v: isinstance(v, str)).all())


def h5ad_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` that anndata writes with any pandas: text as categoricals of
    object (Python) strings, the index and the column names as object strings.

    anndata 0.12 has no writer for pandas 3's default string arrays (``ArrowStringArray``:
    ``IORegistryError``), nor for text columns of other objects; categories of object
    strings it writes and reads back with every pandas. Missing text stays missing
    (category code ``-1``); a column of mixed objects is written as their text.

    Args:
        frame: an ``.obs`` or ``.var`` table (or any table anndata writes).
    """
    out = pd.DataFrame(index=pd.Index(np.asarray(frame.index.astype(str), dtype=object),
                                      dtype=object, name=frame.index.name))  # fmt: skip
    for name, series in frame.items():
        key = str(name)
        if isinstance(series.dtype, pd.CategoricalDtype):
            categories = series.cat.categories
            if categories.dtype != object and pd.api.types.is_string_dtype(categories.dtype):
                categories = pd.Index(np.asarray(categories, dtype=object), dtype=object)
            values = pd.Categorical.from_codes(
                series.cat.codes.to_numpy(), categories=categories, ordered=series.cat.ordered
            )
        elif _is_text(series) or series.dtype == object:
            text = series.to_numpy(dtype=object)
            missing = pd.isna(text)
            text = np.where(missing, None, text.astype(str)).astype(object)
            kept = sorted({str(v) for v in text[~missing]})
            categories = pd.Index(np.asarray(kept, dtype=object), dtype=object)
            values = pd.Categorical(text, categories=categories)
        else:
            values = series.to_numpy()
        out[key] = values
    out.index.name = None if frame.index.name is None else str(frame.index.name)
    return out


def h5ad_ready(adata: Any) -> Any:
    """A shallow copy of ``adata`` (the matrices are shared, not copied) whose ``.obs``,
    ``.var`` and the tables in ``.obsm``, ``.varm`` and ``.uns`` anndata can write
    (:func:`h5ad_frame`)."""
    anndata = _anndata()

    def frames(mapping: Any) -> dict[str, Any]:
        return {
            str(k): h5ad_frame(v) if isinstance(v, pd.DataFrame) else v for k, v in mapping.items()
        }

    return anndata.AnnData(
        X=adata.X,
        obs=h5ad_frame(adata.obs),
        var=h5ad_frame(adata.var),
        obsm=frames(adata.obsm),
        varm=frames(adata.varm),
        layers=dict(adata.layers),
        uns=frames(adata.uns),
    )


def write_h5ad(adata: Any, path: str | Path) -> Path:
    """Write ``adata`` to ``path`` as ``.h5ad`` atomically (a temporary file beside it,
    renamed onto it: :func:`groupvae.store.atomic.write_with`), with its text columns in a
    form anndata writes under any pandas (:func:`h5ad_ready`). ``adata`` itself is left
    as it was.

    Callers check ``path`` first (an existing file is replaced only when the user says
    so: :func:`groupvae.store.outputs.check_output`).

    Raises:
        DataError: for a path that does not end in ``.h5ad``, or an object anndata cannot
            write (naming the reason).
        DiskError: if the disk is full or the folder not writable; ``path`` is left as
            it was.
    """
    path = Path(path)
    if path.suffix.lower() != ".h5ad":
        raise DataError(f"{path} must end in .h5ad")
    ready = h5ad_ready(adata)
    try:
        write_with(path, lambda tmp: ready.write_h5ad(tmp))
    except (TypeError, ValueError, KeyError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"cannot write {path}: {first}") from None
    return path


__all__ = [
    "READER",
    "h5ad_frame",
    "h5ad_ready",
    "is_anndata",
    "read_h5ad",
    "read_h5ad_obs",
    "write_h5ad",
]
