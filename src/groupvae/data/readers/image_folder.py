"""The ``image-folder`` reader: ``ROOT/<group>/*.png|jpg``, one sub-folder per group.

Each pixel format is converted explicitly to grey or RGB in ``[0, 1]``: 8-bit values
over 255, 16-bit (``I;16``, ``I``) over 65535, bilevel (``1``) as 0 or 1, a palette by
its colours; transparency (``LA``, ``RGBA``, a palette's) is composited on white. Grey is
ITU-R 601 luma (``0.299 R + 0.587 G + 0.114 B``, as Pillow's). An image over
:data:`MAX_PIXELS` (a decompression bomb) and a link that leaves ``ROOT`` are refused.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers.common import category_codes, encode_groups, require_columns
from groupvae.data.readers.table import load_frame
from groupvae.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MODES = ("grey", "rgb")
MAX_PIXELS = 50_000_000
"""The most pixels (width x height) an image may have: 50 megapixels, checked from its
header before it is decoded."""
LUMA = np.array([0.299, 0.587, 0.114])
"""ITU-R 601 weights of R, G, B in grey (those of Pillow's ``convert("L")``)."""


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
    inside = root.resolve()
    outside = [p for p in files if not p.resolve().is_relative_to(inside)]
    if outside:
        shown = ", ".join(p.relative_to(root).as_posix() for p in outside[:3])
        more = f" and {len(outside) - 3} more" if len(outside) > 3 else ""
        raise DataError(
            f"{len(outside)} images in {root} are links that leave it ({shown}{more}); "
            "copy the images in or remove the links"
        )
    return files


def _pixels(image: object) -> np.ndarray:
    """``(h, w, 3)`` float64 RGB in ``[0, 1]`` of a Pillow image of any mode, alpha
    composited on white.

    Raises:
        DataError: for 32-bit values outside the 16-bit range ``[0, 65535]``.
    """
    mode = image.mode
    if mode.startswith("I"):  # 16-bit grey: I;16, I;16B, ...; I (32-bit) from a 16-bit PNG
        values = np.asarray(image, dtype=np.float64)
        if values.min() < 0 or values.max() > 65535:
            raise DataError(
                f"{mode} pixels range over [{values.min():g}, {values.max():g}], "
                "beyond 16 bits [0, 65535]"
            )
        return np.repeat((values / 65535.0)[..., None], 3, axis=2)
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1):
            raise DataError("floating-point (F) pixels must lie in [0, 1]")
        return np.repeat(values[..., None], 3, axis=2)
    if mode in ("1", "L"):
        grey = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "RGB":
        return np.asarray(image, dtype=np.float64) / 255.0
    if mode == "LA":
        grey, alpha = (np.asarray(image, dtype=np.float64) / 255.0).transpose(2, 0, 1)
        return np.repeat((grey * alpha + (1.0 - alpha))[..., None], 3, axis=2)
    # RGBA, P (with or without transparency), PA, CMYK, YCbCr, ...: through RGBA
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255.0
    alpha = rgba[..., 3:]
    return rgba[..., :3] * alpha + (1.0 - alpha)


def _resize(channels: np.ndarray, size: int) -> np.ndarray:
    """``(C, h, w)`` float -> ``(C, size, size)`` float32, bilinear per channel."""
    # deferred: only to read image files
    from PIL import Image

    return np.stack(
        [
            np.asarray(
                Image.fromarray(c.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR)
            )
            for c in channels
        ]
    ).clip(0.0, 1.0)


def _load(path: Path, size: int, mode: str) -> np.ndarray:
    # deferred: only to read image files
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise DataError(
                        f"image {path} is {width} x {height} pixels, over the limit of "
                        f"{MAX_PIXELS:,}; shrink it or remove it"
                    )
                rgb = _pixels(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise DataError(f"image {path} is too large to decode ({err}); remove it") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DataError(f"cannot read image {path}: {err}; remove or replace it") from None
    except DataError as err:
        if str(err).startswith("image "):
            raise
        raise DataError(f"cannot read image {path}: {err}") from None
    channels = (rgb @ LUMA)[None] if mode == "grey" else rgb.transpose(2, 0, 1)
    return _resize(channels, size)


def _labels(files: list[Path], root: Path, labels: str | Path) -> np.ndarray:
    """Label codes of ``files`` from a CSV with columns ``path`` (relative to ``root``,
    e.g. ``alice/1.png``) and ``label``."""

    table = load_frame(labels, text=("path", "label"))
    require_columns(table, ["path", "label"], str(labels))
    by_path = dict(zip(table["path"].astype(str), table["label"], strict=True))
    keys = [f.relative_to(root).as_posix() for f in files]
    missing = [k for k in keys if k not in by_path]
    if missing:
        raise DataError(f"{labels} has no label for {len(missing)} images, e.g. {missing[0]!r}")
    return category_codes(pd.Series([by_path[k] for k in keys]).astype(str))


def read_image_folder(
    root: str | Path | None = None,
    /,
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
        mode: ``"grey"`` (1 channel) or ``"rgb"`` (3 channels), from any pixel format
            (see the module's notes: 16-bit over 65535, alpha composited on white).
        labels: a CSV with columns ``path`` (relative to ``root``) and ``label``.
        name: the data set's name, for records.

    Returns:
        ``x: (n_images, C, size, size)`` float32 in ``[0, 1]``; ``group_ids`` the folder
        names; ``aux["row_id"]`` each image's path relative to ``root``.

    Raises:
        DataError: for a missing folder, no images, an unreadable image, one over
            :data:`MAX_PIXELS`, a link that leaves ``root``, a bad mode or size, or labels
            that miss an image.
    """
    if root is None:
        raise DataError("the image-folder reader needs --data path=FOLDER")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; pass ROOT with one sub-folder per group")
    if mode not in MODES:
        raise DataError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise DataError(f"size must be a whole number >= 1, got {size!r}")
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


__all__ = ["IMAGE_SUFFIXES", "MAX_PIXELS", "read_image_folder"]
