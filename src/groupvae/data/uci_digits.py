"""The UCI handwritten digits shipped with scikit-learn (1,797 images of 8x8 pixels).

Pixels are counts ``0..16`` in the original; they are scaled to ``[0, 1]`` and may be
resized (bilinear) to MNIST's 28x28, so that models set up for MNIST run unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from groupvae.data.grouped import GroupedDataset
from groupvae.data.grouping import make_label_groups
from groupvae.errors import DataError

UCI_DIGITS_SIZE = 8  # the original images are 8x8
UCI_DIGITS_MAX = 16.0  # the original pixel values are 0..16


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resize square images bilinearly (``torch.nn.functional.interpolate``).

    Args:
        images: ``(n, c, h, w)`` float images in ``[0, 1]``.
        size: the new height and width in pixels, ``>= 1``.

    Returns:
        ``(n, c, size, size)`` float32 in ``[0, 1]``.

    Raises:
        DataError: for ``size < 1`` or images that are not 4-d.
    """
    if size < 1:
        raise DataError(f"size must be >= 1 pixel, got {size}")
    if images.ndim != 4:
        raise DataError(f"images must have shape (n, c, h, w), got {images.shape}")
    if images.shape[2:] == (size, size):
        return images.astype(np.float32)
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    out = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return out.clamp_(0.0, 1.0).numpy()


def load_uci_digits(*, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """The UCI digits (``sklearn.datasets.load_digits``), scaled to ``[0, 1]``.

    Args:
        size: image height and width in pixels: 8 keeps the originals, 28 matches MNIST.

    Returns:
        ``(images, labels)``: ``(1797, 1, size, size)`` float32 in ``[0, 1]`` and
        ``(1797,)`` int64 digits ``0..9``.

    Raises:
        DataError: for ``size < 1``.
    """
    # deferred: scikit-learn is slow to import
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.asarray(digits.images, dtype=np.float32)[:, None] / UCI_DIGITS_MAX
    return resize_images(images, size), np.asarray(digits.target, dtype=np.int64)


def make_uci_digits_groups(
    *, size: int = 28, min_size: int = 2, max_size: int = 10, seed: int = 0
) -> GroupedDataset:
    """The UCI digits grouped by digit into groups of ``min_size..max_size`` images.

    Args:
        size: image height and width in pixels (8: the originals; 28: MNIST's size).
        min_size, max_size: group size range (see :func:`group_by_label`).
        seed: seed of the grouping.

    Returns:
        A :class:`GroupedDataset` with ``x: (1797, 1, size, size)`` in ``[0, 1]`` and labels.
    """
    images, labels = load_uci_digits(size=size)
    return make_label_groups(
        images, labels, min_size=min_size, max_size=max_size, seed=seed, name="uci-digits"
    )
