"""The ``npz`` reader: a NumPy ``.npz`` archive with arrays ``x`` and ``group``, and
optionally ``labels``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers.common import encode_groups, existing_file
from groupvae.data.readers.transform import FeatureTransform, check_finite, column_statistics
from groupvae.errors import DataError


def read_npz(
    path: str | Path | None = None, /, *, standardise: bool = False, name: str = "npz"
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
            array (naming the arrays there are), shapes that disagree, a missing (NaN)
            group id, or a value of ``x`` that is not finite (as float32) or too large
            to standardise (naming the rows, by number).
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
        columns = tuple(f"x{j}" for j in range(x.shape[1]))
        stats = [column_statistics(x[:, j], c) for j, c in enumerate(columns)]
        mean = tuple(m for m, _ in stats)
        std = tuple(s if s > 0 else 1.0 for _, s in stats)
        transform = FeatureTransform(columns, mean, std, columns)
        x = transform.forward(x)
    columns = transform.columns if transform else tuple(f"x{j}" for j in range(x[0].size))
    with np.errstate(over="ignore"):
        check_finite(np.asarray(x, dtype=np.float32), columns)
    group = arrays["group"]
    if group.shape != (len(x),):
        raise DataError(f"{path}: group must have shape ({len(x)},), got {group.shape}")
    codes, ids = encode_groups(group, what=f"{path}: group")
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
