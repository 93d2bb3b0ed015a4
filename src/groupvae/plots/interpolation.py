"""The interpolation grid of ML-VAE (Bouchacourt et al. 2018, Fig. 5b).

Two held-out groups give the content endpoints (their group codes ``u``, accumulated over
each whole group: the paper's "strategy 2") and two held-out images give the style
endpoints (their instance codes ``v``). Along a row the content moves linearly from the
first group's code to the second's with the style fixed; down a column the style moves
from the first image's code to the second's with the content fixed. Codes are posterior
means (the paper draws one sample of each).

Pure functions compute the grid (:func:`pick_interpolation_endpoints`,
:func:`interpolation_codes`, :func:`lerp`, :func:`interpolation_grid`,
:func:`interpolation_mosaic`); :func:`save_interpolation` draws it and
:func:`draw_interpolation` does all of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError
from groupvae.plots.tiles import (
    DECODED_RGB,
    ORIGINAL_RGB,
    Cells,
    as_rgb,
    channel_last,
    group_labels,
    require_group_latent,
    save_mosaic,
)

if TYPE_CHECKING:
    from groupvae.models.group_vae import GroupVAE


class InterpolationGrid(NamedTuple):
    """The images and codes of an interpolation grid.

    Attributes:
        content_images: ``(2, H, W)`` or ``(2, H, W, 3)`` one test image of each endpoint
            group (the content codes come from the whole groups).
        style_images: ``(2, ...)`` the two test images whose styles are the endpoints.
        u: ``(n_steps, group_dim)`` content codes, ``u[0]`` and ``u[-1]`` the endpoints.
        v: ``(n_steps, instance_dim)`` style codes, ``v[0]`` and ``v[-1]`` the endpoints.
        decoded: ``(n_steps, n_steps, ...)``: cell ``(i, j)`` decodes ``(u[j], v[i])``, so
            each row keeps a style and each column keeps a content.
    """

    content_images: np.ndarray
    style_images: np.ndarray
    u: np.ndarray
    v: np.ndarray
    decoded: np.ndarray


def _two_different(order: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """The first of ``order`` and the next one with another label (or just the next)."""
    if labels is not None:
        other = order[labels[order] != labels[order[0]]]
        if len(other):
            return np.array([order[0], other[0]])
    return order[:2]


def pick_interpolation_endpoints(
    data: GroupedDataset, *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Choose the two content groups and the two style images of an interpolation grid.

    With labels the two content groups have different labels, and so do the groups of
    the two style images where possible; style images come from other groups than the
    content groups when there are enough groups.

    Args:
        data: the test groups (at least 2).
        rng: chooses the groups and the images.

    Returns:
        ``(groups, images)``: ``(2,)`` group indices and ``(2,)`` observation indices.

    Raises:
        DataError: for fewer than 2 groups.
    """
    if data.n_groups < 2:
        raise DataError(f"an interpolation needs at least 2 test groups, got {data.n_groups}")
    labels = group_labels(data)
    order = rng.permutation(data.n_groups)
    groups = _two_different(order, labels)
    rest = order[~np.isin(order, groups)]
    style_groups = _two_different(rest if len(rest) >= 2 else order, labels)
    images = np.array([rng.choice(np.flatnonzero(data.group == g)) for g in style_groups])
    return groups.astype(np.int64), images.astype(np.int64)


def interpolation_codes(
    model: GroupVAE, data: GroupedDataset, groups: np.ndarray, images: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The endpoint codes: posterior means of the groups' content and the images' style.

    Args:
        model: a fitted model with a group latent.
        data: the test groups.
        groups: ``(2,)`` group indices; each content code accumulates its whole group.
        images: ``(2,)`` observation indices; each style code is inferred within the
            image's own group (which matters only for a conditional instance encoder).

    Returns:
        ``(u, v)``: ``(2, group_dim)`` and ``(2, instance_dim)``.

    Raises:
        ConfigError: for a model without a group latent.
    """
    require_group_latent(model, "content to interpolate")
    u = model.encode_groups(data).mean[groups]
    v = model.encode_instances(data).mean[images]
    return u, v


def lerp(start: np.ndarray, end: np.ndarray, n_steps: int) -> np.ndarray:
    """``n_steps`` evenly spaced points from ``start`` to ``end`` (both included, exactly).

    Args:
        start, end: ``(d,)`` codes.
        n_steps: at least 2.

    Returns:
        ``(n_steps, d)``: row ``k`` is ``(1 - t) * start + t * end`` with ``t = k / (n_steps - 1)``.
    """
    if n_steps < 2:
        raise DataError(f"an interpolation needs n_steps >= 2, got {n_steps}")
    t = np.linspace(0.0, 1.0, n_steps, dtype=np.float64)[:, None]
    return ((1.0 - t) * start[None].astype(np.float64) + t * end[None]).astype(np.float32)


def interpolation_grid(
    model: GroupVAE,
    data: GroupedDataset,
    groups: np.ndarray,
    images: np.ndarray,
    *,
    n_steps: int = 8,
) -> InterpolationGrid:
    """Decode every (interpolated style, interpolated content) pair.

    Args:
        model, data, groups, images: as :func:`interpolation_codes`.
        n_steps: points on each axis, endpoints included.

    Returns:
        An :class:`InterpolationGrid`; decodes are likelihood means (pixel probabilities
        for a Bernoulli likelihood).
    """
    u_ends, v_ends = interpolation_codes(model, data, groups, images)
    u, v = lerp(u_ends[0], u_ends[1], n_steps), lerp(v_ends[0], v_ends[1], n_steps)
    decoded = channel_last(model.decode(np.tile(u, (n_steps, 1)), np.repeat(v, n_steps, axis=0)))
    shown = [np.flatnonzero(data.group == g)[0] for g in groups]
    return InterpolationGrid(
        content_images=channel_last(data.x[shown]),
        style_images=channel_last(data.x[images]),
        u=u,
        v=v,
        decoded=decoded.reshape(n_steps, n_steps, *decoded.shape[1:]),
    )


def interpolation_mosaic(
    grid: InterpolationGrid, *, border: int | None = None, gap: int | None = None
) -> np.ndarray:
    """Tile an interpolation grid into one RGB image, with its test images in the margins.

    The top margin shows a content group's image above the first and the last column,
    the left margin the style images beside the first and the last row (green frames);
    the decodes have red frames.

    Args:
        grid: from :func:`interpolation_grid`, values in ``[0, 1]``.
        border, gap: frame width and white space in pixels (default: as
            :meth:`~groupvae.plots.tiles.Cells.tile`).

    Returns:
        ``((n_steps + 1) * c, (n_steps + 1) * c', 3)`` float RGB in ``[0, 1]``, with
        ``c = H + 2 * border + gap`` (and likewise with ``W`` across).
    """
    n, rgb = grid.u.shape[0], grid.decoded.ndim == 5
    ends = [1, n]
    cells = Cells(n + 1, n + 1, *grid.decoded.shape[2:4])
    cells.put(np.s_[1:, 1:], as_rgb(grid.decoded, rgb=rgb), DECODED_RGB)
    cells.put((0, ends), as_rgb(grid.content_images, rgb=rgb), ORIGINAL_RGB)
    cells.put((ends, 0), as_rgb(grid.style_images, rgb=rgb), ORIGINAL_RGB)
    return cells.tile(border=border, gap=gap)


def save_interpolation(
    grid: InterpolationGrid,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    dpi: int = 150,
) -> Path:
    """Draw an interpolation grid with matplotlib (no pyplot) and write a PNG atomically.

    Args:
        grid: from :func:`interpolation_grid`.
        path: the PNG to write.
        title: an optional figure title.
        dpi: resolution.

    Returns:
        ``path`` as a :class:`Path`.
    """
    n = grid.u.shape[0] + 1
    return save_mosaic(
        interpolation_mosaic(grid),
        path,
        n_rows=n,
        n_cols=n,
        top="content: from the top-left group's code to the top-right group's (fixed per column)",
        left="style: from the upper image's code to the lower's (fixed per row)",
        title=title,
        dpi=dpi,
    )


def draw_interpolation(
    model: GroupVAE,
    data: GroupedDataset,
    path: str | os.PathLike[str],
    *,
    n_steps: int = 8,
    seed: int = 0,
    title: str | None = None,
) -> InterpolationGrid:
    """Pick endpoints, compute the interpolation grid and save it as a PNG (ML-VAE Fig. 5b).

    Args:
        model: a fitted model with a group latent.
        data: the test groups.
        path: the PNG to write.
        n_steps: points on each axis.
        seed: seed of the ``numpy.random.Generator`` that picks the endpoints.
        title: an optional figure title.

    Returns:
        The :class:`InterpolationGrid` drawn.
    """
    groups, images = pick_interpolation_endpoints(data, rng=np.random.default_rng(seed))
    grid = interpolation_grid(model, data, groups, images, n_steps=n_steps)
    save_interpolation(grid, path, title=title)
    return grid
