"""The ``image-folder`` reader: ``ROOT/<group>/*.png|jpg``, one sub-folder per group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers.common import category_codes, encode_groups, require_columns
from groupvae.data.readers.table import load_frame
from groupvae.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MODES = {"grey": "L", "rgb": "RGB"}


def _image_files(root: Path) -> list[Path]:
    files = sorted(
        p
        for p in root.glob("*/*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise DataError(
            f"{root} holds no images: put them in one folder per group, "
            f"ROOT/<group>/*{'|'.join(IMAGE_SUFFIXES)}"
        )
    return files


def _load(path: Path, size: int, mode: str) -> np.ndarray:
    # deferred: only to read image files
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            pixels = image.convert(MODES[mode]).resize((size, size), Image.BILINEAR)
            array = np.asarray(pixels, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(f"cannot read image {path}: {err}; remove or replace it") from None
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _labels(files: list[Path], root: Path, labels: str | Path) -> np.ndarray:
    """Label codes of ``files`` from a CSV with columns ``path`` (relative to ``root``,
    e.g. ``alice/1.png``) and ``label``."""

    table = load_frame(labels)
    require_columns(table, ["path", "label"], str(labels))
    by_path = dict(zip(table["path"].astype(str), table["label"], strict=True))
    keys = [f.relative_to(root).as_posix() for f in files]
    missing = [k for k in keys if k not in by_path]
    if missing:
        raise DataError(f"{labels} has no label for {len(missing)} images, e.g. {missing[0]!r}")
    return category_codes(pd.Series([by_path[k] for k in keys]).astype(str))


def read_image_folder(
    root: str | Path | None = None,
    *,
    size: int = 28,
    mode: str = "grey",
    labels: str | Path | None = None,
    name: str = "image-folder",
) -> GroupedDataset:
    """A grouped data set of images, one sub-folder of ``root`` per group (Pillow).

    Args:
        root: the folder of group folders.
        size: images are resized to ``size x size`` (bilinear).
        mode: ``"grey"`` (1 channel) or ``"rgb"`` (3 channels).
        labels: a CSV with columns ``path`` (relative to ``root``) and ``label``.
        name: the data set's name, for records.

    Returns:
        ``x: (n_images, C, size, size)`` float32 in ``[0, 1]``; ``group_ids`` the folder
        names; ``aux["row_id"]`` each image's path relative to ``root``.

    Raises:
        DataError: for a missing folder, no images, an unreadable image, a bad mode or
            size, or labels that miss an image.
    """
    if root is None:
        raise DataError("the image-folder reader needs --data path=FOLDER")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; pass ROOT with one sub-folder per group")
    if mode not in MODES:
        raise DataError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if int(size) < 1:
        raise DataError(f"size must be >= 1, got {size}")
    files = _image_files(root)
    x = np.stack([_load(f, int(size), mode) for f in files])
    codes, ids = encode_groups(np.asarray([f.parent.name for f in files], dtype=object))
    return GroupedDataset(
        x=x,
        group=codes,
        labels=None if labels is None else _labels(files, root, labels),
        aux={"row_id": np.asarray([f.relative_to(root).as_posix() for f in files])},
        group_ids=ids,
        name=name,
    )


__all__ = ["IMAGE_SUFFIXES", "read_image_folder"]
