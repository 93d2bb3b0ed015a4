"""The ``npz`` reader: a NumPy ``.npz`` archive with arrays ``x`` and ``group``, and
optionally ``labels``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers.common import encode_groups, existing_file
from groupvae.data.readers.transform import FeatureTransform
from groupvae.errors import DataError


def read_npz(
    path: str | Path | None = None, *, standardise: bool = False, name: str = "npz"
) -> GroupedDataset:
    """A grouped data set from ``np.savez(path, x=..., group=..., [labels=...])``.

    Args:
        path: the ``.npz`` file.
        standardise: standardise each feature of a 2-d ``x: (n_obs, d)`` to mean 0,
            std 1 (the transform is ``data.transform``; a run records it).
        name: the data set's name, for records.

    Returns:
        ``x: (n_obs, *obs_shape)`` float32, ``group`` of any dtype renumbered (``group_ids``
        keeps the originals), ``aux["row_id"]`` the row number.

    Raises:
        DataError: for a missing file, a file that is not an ``.npz`` archive, a missing
            array (naming the arrays there are) or shapes that disagree.
    """
    path = existing_file(path, "npz", (".npz",))
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise DataError(f"{path} is not a readable .npz archive: {err}") from None
    missing = [k for k in ("x", "group") if k not in arrays]
    if missing:
        raise DataError(
            f"{path} has no array(s) {missing}; its arrays are: {', '.join(arrays) or 'none'}; "
            "save it with np.savez(path, x=x, group=group[, labels=labels])"
        )
    x = np.asarray(arrays["x"])
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{path}: x must be numeric, got dtype {x.dtype}")
    x = x.reshape(len(x), 1) if x.ndim == 1 else x
    transform = None
    if standardise:
        if x.ndim != 2:
            raise DataError(f"standardise needs x of shape (n_obs, d), got {x.shape}")
        std = x.std(axis=0)
        std[std == 0] = 1.0
        columns = tuple(f"x{j}" for j in range(x.shape[1]))
        transform = FeatureTransform(columns, tuple(x.mean(axis=0)), tuple(std), columns)
        x = transform.forward(x)
    group = arrays["group"]
    if group.shape != (len(x),):
        raise DataError(f"{path}: group must have shape ({len(x)},), got {group.shape}")
    codes, ids = encode_groups(group)
    return GroupedDataset(
        x=x,
        group=codes,
        labels=arrays.get("labels"),
        aux={"row_id": np.arange(len(x))},
        group_ids=ids,
        name=name,
        transform=transform,
    )


__all__ = ["read_npz"]
