"""The swap grid of ML-VAE (Bouchacourt et al. 2018, Fig. 4).

The first row and the first column are test images. Every other cell decodes the
content (group code ``u``) of its column's image with the style (instance code ``v``) of
its row's image, so each row keeps a style and each column keeps a content.

The grid is computed by pure functions (:func:`pick_swap_images`, :func:`swap_codes`,
:func:`swap_grid`, :func:`grid_mosaic`); :func:`save_swap_grid` draws it with matplotlib's
Agg canvas and writes the PNG atomically; :func:`draw_swap_grid` does all of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import ConfigError, DataError
from groupvae.store.atomic import write_with

if TYPE_CHECKING:
    from groupvae.models.group_vae import GroupVAE

# Frame colours of ML-VAE Fig. 4: green for test images, red for swapped decodes.
ORIGINAL_RGB = (0.18, 0.63, 0.17)
SWAPPED_RGB = (0.84, 0.15, 0.16)


class SwapGrid(NamedTuple):
    """The images of a swap grid.

    Attributes:
        row_images: ``(n_rows, H, W)`` or ``(n_rows, H, W, 3)`` test images that give the style.
        col_images: ``(n_cols, ...)`` test images that give the content, as ``row_images``.
        swapped: ``(n_rows, n_cols, ...)``: cell ``(i, j)`` decodes the content of column
            ``j`` with the style of row ``i``.
    """

    row_images: np.ndarray
    col_images: np.ndarray
    swapped: np.ndarray


def _one_per_group(group: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The first observation of each group in ``order``, kept in that order."""
    first = np.unique(group[order], return_index=True)[1]
    return order[np.sort(first)]


def pick_swap_images(
    data: GroupedDataset, *, n_rows: int = 8, n_cols: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Choose the row (style) and column (content) images of a swap grid.

    Each chosen image comes from a different group. With labels, the columns show one
    image of each label in label order and the rows images of other groups with distinct
    labels in random order, then any other images (labels only choose what to display;
    the model never sees them). Without labels, both are random.

    Args:
        data: the test groups.
        n_rows, n_cols: the numbers of style and content images wanted.
        seed: seed of the ``numpy.random.Generator``.

    Returns:
        ``(rows, cols)``: ``(n_rows',)`` and ``(n_cols',)`` int64 observation indices,
        fewer than asked for when ``data`` has too few groups (or labels).
    """
    order = np.random.default_rng(seed).permutation(data.n_obs)
    candidates = _one_per_group(data.group, order)
    if data.labels is None:
        return candidates[n_cols:][:n_rows], candidates[:n_cols]
    cols = candidates[np.unique(data.labels[candidates], return_index=True)[1]][:n_cols]
    rest = candidates[~np.isin(candidates, cols)]
    distinct = np.sort(np.unique(data.labels[rest], return_index=True)[1])  # random label order
    others = np.delete(rest, distinct)  # after one image of every label, any other images
    rows = np.concatenate([rest[distinct], others])[:n_rows]
    return rows.astype(np.int64), cols.astype(np.int64)


def swap_codes(
    model: GroupVAE,
    data: GroupedDataset,
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    accumulate: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means of the content of ``cols`` and the style of ``rows``.

    Args:
        model: a fitted model with a group latent.
        data: the test groups.
        rows, cols: ``(n_rows,)`` and ``(n_cols,)`` observation indices into ``data``.
        accumulate: take each column's content from its whole group (ML-VAE's "strategy
            2", accumulated evidence, as in ML-VAE Fig. 4); otherwise from the image alone.

    Returns:
        ``(u, v)``: ``(n_cols, group_dim)`` and ``(n_rows, instance_dim)``.

    Raises:
        ConfigError: for a model without a group latent.
    """
    if not model.has_group_latent:
        raise ConfigError(f"{model.config.model} has no group latent to swap")
    if accumulate:
        u = model.encode_groups(data).mean[data.group[cols]]
    else:
        u = model.encode_groups(data.x[cols], np.arange(len(cols))).mean
    v = model.encode_instances(data.x[rows], np.arange(len(rows))).mean
    return u, v


def _as_images(x: np.ndarray) -> np.ndarray:
    """``(n, 1, H, W)``, ``(n, H, W)`` or ``(n, 3, H, W)`` -> ``(n, H, W)`` or ``(n, H, W, 3)``."""
    if x.ndim == 4 and x.shape[1] == 1:
        return x[:, 0]
    if x.ndim == 4 and x.shape[1] == 3:
        return np.moveaxis(x, 1, -1)
    if x.ndim == 3:
        return x
    raise DataError(
        f"a swap grid needs image observations (n, 1|3, H, W) or (n, H, W), got {x.shape}"
    )


def swap_grid(
    model: GroupVAE,
    data: GroupedDataset,
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    accumulate: bool = True,
) -> SwapGrid:
    """Decode every (style of a row, content of a column) pair.

    Args:
        model, data, rows, cols, accumulate: as :func:`swap_codes`.

    Returns:
        A :class:`SwapGrid`; decodes are likelihood means (pixel probabilities for a
        Bernoulli likelihood).
    """
    u, v = swap_codes(model, data, rows, cols, accumulate=accumulate)
    n_rows, n_cols = len(rows), len(cols)
    decoded = model.decode(np.tile(u, (n_rows, 1)), np.repeat(v, n_cols, axis=0))
    swapped = _as_images(decoded)
    return SwapGrid(
        row_images=_as_images(data.x[rows]),
        col_images=_as_images(data.x[cols]),
        swapped=swapped.reshape(n_rows, n_cols, *swapped.shape[1:]),
    )


def grid_mosaic(grid: SwapGrid, *, border: int = 1, gap: int = 2) -> np.ndarray:
    """Tile a swap grid into one RGB image with coloured frames.

    The top-left cell is white; the first row and column are framed in green
    (test images), the swapped decodes in red, as in ML-VAE's Fig. 4.

    Args:
        grid: the images, values in ``[0, 1]``.
        border: frame width in pixels.
        gap: white space between cells in pixels.

    Returns:
        ``((n_rows + 1) * c, (n_cols + 1) * c', 3)`` float RGB in ``[0, 1]``, with
        ``c = H + 2 * border + gap`` (and likewise with ``W`` across).
    """
    is_rgb = grid.swapped.ndim == 5
    rows, cols, swapped = (
        np.clip(a, 0.0, 1.0) if is_rgb else np.repeat(np.clip(a, 0.0, 1.0)[..., None], 3, -1)
        for a in grid
    )
    n_rows, n_cols, h, w = swapped.shape[:4]
    cells = np.ones((n_rows + 1, n_cols + 1, h, w, 3))
    cells[0, 1:], cells[1:, 0], cells[1:, 1:] = cols, rows, swapped
    colour = np.broadcast_to(np.asarray(SWAPPED_RGB), (n_rows + 1, n_cols + 1, 3)).copy()
    colour[0, :], colour[:, 0] = ORIGINAL_RGB, ORIGINAL_RGB
    framed = np.broadcast_to(
        colour[:, :, None, None, :], (n_rows + 1, n_cols + 1, h + 2 * border, w + 2 * border, 3)
    ).copy()
    framed[:, :, border : border + h, border : border + w] = cells
    framed[0, 0] = 1.0  # the corner holds no image
    framed = np.pad(framed, ((0, 0), (0, 0), (0, gap), (0, gap), (0, 0)), constant_values=1.0)
    ch, cw = framed.shape[2:4]
    return framed.transpose(0, 2, 1, 3, 4).reshape((n_rows + 1) * ch, (n_cols + 1) * cw, 3)


def save_swap_grid(
    grid: SwapGrid, path: str | os.PathLike[str], *, title: str | None = None, dpi: int = 150
) -> Path:
    """Draw a swap grid with matplotlib (Agg canvas, no GUI) and write a PNG atomically.

    Args:
        grid: from :func:`swap_grid`.
        path: the PNG to write.
        title: an optional figure title.
        dpi: resolution.

    Returns:
        ``path`` as a :class:`Path`.
    """
    # deferred: heavy, only when a figure is drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    mosaic = grid_mosaic(grid)
    n_rows, n_cols = grid.swapped.shape[:2]
    fig = Figure(figsize=(0.55 * (n_cols + 1), 0.55 * (n_rows + 1)))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    caption = "each column keeps the content of its top test image"
    ax.set_title(f"{title}\n{caption}" if title else caption, fontsize=8)
    ax.set_ylabel("each row keeps the style of its left test image", fontsize=8)
    path = Path(path)
    write_with(
        path,
        lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.08),
    )
    return path


def draw_swap_grid(
    model: GroupVAE,
    data: GroupedDataset,
    path: str | os.PathLike[str],
    *,
    n_rows: int = 8,
    n_cols: int = 10,
    accumulate: bool = True,
    seed: int = 0,
    title: str | None = None,
) -> SwapGrid:
    """Pick test images, compute the swap grid and save it as a PNG.

    Args:
        model: a fitted model with a group latent.
        data: the test groups.
        path: the PNG to write.
        n_rows, n_cols, seed: as :func:`pick_swap_images`.
        accumulate: as :func:`swap_codes`.
        title: an optional figure title.

    Returns:
        The :class:`SwapGrid` drawn.
    """
    rows, cols = pick_swap_images(data, n_rows=n_rows, n_cols=n_cols, seed=seed)
    grid = swap_grid(model, data, rows, cols, accumulate=accumulate)
    save_swap_grid(grid, path, title=title)
    return grid
