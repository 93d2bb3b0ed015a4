"""Generation from a test group's content (ML-VAE, Bouchacourt et al. 2018, Fig. 5a).

For each chosen held-out group, the content code is the mean of the group posterior
accumulated over all its images (the paper's "strategy 2"), and new images are decoded
from it with styles drawn from the prior ``N(0, I)``. Each row of the figure shows the
group's test images (green) and then its generated images (red); by default every row
uses the same style draws, so each generated column also keeps a style.

Pure functions compute the grid (:func:`pick_generation_groups`, :func:`sample_styles`,
:func:`generation_grid`, :func:`generation_mosaic`); :func:`save_generation` draws it and
:func:`draw_generation` does all of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from groupvae.data.grouped import GroupedDataset
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


class GenerationGrid(NamedTuple):
    """The images and codes of a generation figure.

    Attributes:
        members: ``(n_rows, n_max, H, W)`` or ``(n_rows, n_max, H, W, 3)`` each group's
            test images, padded with ones (white) after its ``n_members``.
        n_members: ``(n_rows,)`` int64, the number of test images of each group shown.
        u: ``(n_rows, group_dim)`` each group's content code (posterior mean).
        v: ``(n_rows, n_samples, instance_dim)`` the styles drawn from the prior.
        generated: ``(n_rows, n_samples, ...)``: cell ``(i, j)`` decodes ``(u[i], v[i, j])``.
    """

    members: np.ndarray
    n_members: np.ndarray
    u: np.ndarray
    v: np.ndarray
    generated: np.ndarray


def pick_generation_groups(
    data: GroupedDataset, *, n_rows: int = 6, rng: np.random.Generator
) -> np.ndarray:
    """Choose the test groups of a generation figure.

    With labels, one group of each label comes first (in random order), then others.

    Args:
        data: the test groups.
        n_rows: the number of groups wanted.
        rng: chooses the groups.

    Returns:
        ``(n_rows',)`` int64 group indices, fewer than ``n_rows`` when ``data`` has fewer
        groups.
    """
    order = rng.permutation(data.n_groups)
    labels = group_labels(data)
    if labels is not None:
        first = np.sort(np.unique(labels[order], return_index=True)[1])
        order = np.concatenate([order[first], np.delete(order, first)])
    return order[:n_rows].astype(np.int64)


def sample_styles(
    rng: np.random.Generator,
    n_rows: int,
    n_samples: int,
    instance_dim: int,
    *,
    shared: bool = True,
) -> np.ndarray:
    """Style codes drawn from the prior ``N(0, I)``.

    Args:
        rng: the generator to draw from.
        n_rows, n_samples: one draw per generated image.
        instance_dim: the size of the instance latent.
        shared: give every row the same ``n_samples`` draws (so that the columns of
            the figure keep a style); otherwise draw every image's style afresh.

    Returns:
        ``(n_rows, n_samples, instance_dim)`` float32.
    """
    if shared:
        draws = rng.standard_normal((1, n_samples, instance_dim))
        return np.repeat(draws, n_rows, axis=0).astype(np.float32)
    return rng.standard_normal((n_rows, n_samples, instance_dim)).astype(np.float32)


def _members(data: GroupedDataset, groups: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n_max`` test images of each group, white-padded, and how many there are."""
    rows = [np.flatnonzero(data.group == g)[:n_max] for g in groups]
    n_members = np.array([len(r) for r in rows], dtype=np.int64)
    image_shape = channel_last(data.x[:1]).shape[1:]
    members = np.ones((len(groups), int(n_members.max()), *image_shape), dtype=data.x.dtype)
    for i, r in enumerate(rows):
        members[i, : len(r)] = channel_last(data.x[r])
    return members, n_members


def generation_grid(
    model: GroupVAE,
    data: GroupedDataset,
    groups: np.ndarray,
    styles: np.ndarray,
    *,
    max_members: int = 10,
) -> GenerationGrid:
    """Decode each group's content with every style drawn for its row.

    Args:
        model: a fitted model with a group latent.
        data: the test groups.
        groups: ``(n_rows,)`` group indices; each content code accumulates its group.
        styles: ``(n_rows, n_samples, instance_dim)`` from :func:`sample_styles`.
        max_members: at most this many test images of each group are shown.

    Returns:
        A :class:`GenerationGrid`; decodes are likelihood means (pixel probabilities for
        a Bernoulli likelihood).

    Raises:
        ConfigError: for a model without a group latent.
    """
    require_group_latent(model, "content to generate from")
    n_rows, n_samples = styles.shape[:2]
    u = model.encode_groups(data).mean[groups]
    flat = model.decode(np.repeat(u, n_samples, axis=0), styles.reshape(n_rows * n_samples, -1))
    generated = channel_last(flat)
    members, n_members = _members(data, groups, max_members)
    return GenerationGrid(
        members=members,
        n_members=n_members,
        u=u,
        v=styles,
        generated=generated.reshape(n_rows, n_samples, *generated.shape[1:]),
    )


def generation_mosaic(
    grid: GenerationGrid, *, border: int | None = None, gap: int | None = None
) -> np.ndarray:
    """Tile a generation grid: each row the group's test images, a blank, its generations.

    Args:
        grid: from :func:`generation_grid`, values in ``[0, 1]``.
        border, gap: frame width and white space in pixels (default: as
            :meth:`~groupvae.plots.tiles.Cells.tile`).

    Returns:
        ``(n_rows * c, (n_max + 1 + n_samples) * c', 3)`` float RGB in ``[0, 1]``, with
        ``c = H + 2 * border + gap`` (and likewise with ``W`` across).
    """
    n_rows, n_samples = grid.generated.shape[:2]
    n_max, rgb = grid.members.shape[1], grid.generated.ndim == 5
    cells = Cells(n_rows, n_max + 1 + n_samples, *grid.generated.shape[2:4])
    cells.put(np.s_[:, n_max + 1 :], as_rgb(grid.generated, rgb=rgb), DECODED_RGB)
    for i, k in enumerate(grid.n_members):
        cells.put((i, np.s_[:k]), as_rgb(grid.members[i, :k], rgb=rgb), ORIGINAL_RGB)
    return cells.tile(border=border, gap=gap)


def save_generation(
    grid: GenerationGrid,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    dpi: int = 150,
) -> Path:
    """Draw a generation grid with matplotlib (no pyplot) and write a PNG atomically.

    Args:
        grid: from :func:`generation_grid`.
        path: the PNG to write.
        title: an optional figure title.
        dpi: resolution.

    Returns:
        ``path`` as a :class:`Path`.
    """
    n_rows, n_samples = grid.generated.shape[:2]
    return save_mosaic(
        generation_mosaic(grid),
        path,
        n_rows=n_rows,
        n_cols=grid.members.shape[1] + 1 + n_samples,
        top="left: a test group's images (green); right: its content with styles from the prior",
        left="one test group per row",
        title=title,
        dpi=dpi,
    )


def draw_generation(
    model: GroupVAE,
    data: GroupedDataset,
    path: str | os.PathLike[str],
    *,
    n_rows: int = 6,
    n_samples: int = 8,
    shared_styles: bool = True,
    seed: int = 0,
    title: str | None = None,
) -> GenerationGrid:
    """Pick groups, draw styles, compute the generation grid and save it as a PNG (ML-VAE Fig. 5a).

    Args:
        model: a fitted model with a group latent.
        data: the test groups.
        path: the PNG to write.
        n_rows: the number of groups (rows).
        n_samples: the generated images per group.
        shared_styles: as ``shared`` of :func:`sample_styles`.
        seed: seed of the ``numpy.random.Generator`` that picks groups and draws styles.
        title: an optional figure title.

    Returns:
        The :class:`GenerationGrid` drawn.
    """
    rng = np.random.default_rng(seed)
    groups = pick_generation_groups(data, n_rows=n_rows, rng=rng)
    styles = sample_styles(
        rng, len(groups), n_samples, model.config.instance_dim, shared=shared_styles
    )
    grid = generation_grid(model, data, groups, styles)
    save_generation(grid, path, title=title)
    return grid
