"""Helpers shared by the ML-VAE figures (Bouchacourt et al. 2018, Fig. 4-6).

A figure is a grid of cells. :func:`as_rgb` turns observations into channel-last RGB
cells, :func:`tile_cells` frames the cells in colour and tiles them into one RGB image,
and :func:`save_mosaic` draws that image with matplotlib (no pyplot) and writes the PNG
atomically. The frame colours follow ML-VAE Fig. 4: green for test images, blue for
reconstructions, red for decodes of new combinations of codes. :func:`group_labels` and
:func:`require_group_latent` help choose what to show.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import ConfigError
from groupvae.plots.swap_grid import ORIGINAL_RGB, SWAPPED_RGB, _as_images
from groupvae.store.atomic import write_with

if TYPE_CHECKING:
    from groupvae.models.group_vae import GroupVAE

DECODED_RGB = SWAPPED_RGB  # red: decodes of codes no test image had together
RECONSTRUCTED_RGB = (0.12, 0.40, 0.80)  # the blue boxes of ML-VAE's Fig. 4

CELL_INCHES = 0.55  # the size of one cell in a saved figure


def channel_last(x: np.ndarray) -> np.ndarray:
    """``(n, 1, H, W)``, ``(n, H, W)`` or ``(n, 3, H, W)`` -> ``(n, H, W)`` or ``(n, H, W, 3)``.

    Raises:
        DataError: for observations that are not images.
    """
    return _as_images(np.asarray(x))


def as_rgb(images: np.ndarray, *, rgb: bool) -> np.ndarray:
    """Channel-last grey ``(..., H, W)`` or RGB ``(..., H, W, 3)`` -> RGB ``(..., H, W, 3)``.

    Args:
        images: images as :func:`channel_last` returns them, with any leading axes.
        rgb: whether ``images`` are RGB already (else grey).

    Returns:
        float64 RGB clipped to ``[0, 1]`` (grey repeated on the three channels).
    """
    images = np.clip(np.asarray(images, dtype=np.float64), 0.0, 1.0)
    if rgb:
        return images
    return np.repeat(images[..., None], 3, axis=-1)


def tile_cells(
    cells: np.ndarray,
    colours: np.ndarray | Sequence[float],
    *,
    filled: np.ndarray | None = None,
    border: int = 1,
    gap: int = 2,
) -> np.ndarray:
    """Frame every cell in its colour and tile the cells into one RGB image.

    Args:
        cells: ``(n_rows, n_cols, H, W, 3)`` RGB in ``[0, 1]`` (see :func:`as_rgb`).
        colours: ``(n_rows, n_cols, 3)`` frame colours, or one ``(3,)`` colour for all.
        filled: ``(n_rows, n_cols)`` bool; cells marked ``False`` are left white and
            unframed (``None``: all filled).
        border: frame width in pixels.
        gap: white space after each cell in pixels.

    Returns:
        ``(n_rows * (H + 2 * border + gap), n_cols * (W + 2 * border + gap), 3)`` float64
        RGB in ``[0, 1]``; cell ``(i, j)`` starts at row ``i * (H + 2 * border + gap)``.
    """
    n_rows, n_cols, h, w = cells.shape[:4]
    colour = np.broadcast_to(np.asarray(colours, dtype=np.float64), (n_rows, n_cols, 3))
    framed = np.broadcast_to(
        colour[:, :, None, None, :], (n_rows, n_cols, h + 2 * border, w + 2 * border, 3)
    ).copy()
    framed[:, :, border : border + h, border : border + w] = np.clip(cells, 0.0, 1.0)
    if filled is not None:
        framed[~np.asarray(filled, dtype=bool)] = 1.0
    framed = np.pad(framed, ((0, 0), (0, 0), (0, gap), (0, gap), (0, 0)), constant_values=1.0)
    ch, cw = framed.shape[2:4]
    return framed.transpose(0, 2, 1, 3, 4).reshape(n_rows * ch, n_cols * cw, 3)


class Cells:
    """A grid of image cells to fill, then tile; cells never filled stay white, unframed.

    Attributes:
        images: ``(n_rows, n_cols, H, W, 3)`` RGB, white at first.
        colours: ``(n_rows, n_cols, 3)`` frame colours.
        filled: ``(n_rows, n_cols)`` bool, which cells hold an image.
    """

    def __init__(self, n_rows: int, n_cols: int, height: int, width: int) -> None:
        self.images = np.ones((n_rows, n_cols, height, width, 3))
        self.colours = np.ones((n_rows, n_cols, 3))
        self.filled = np.zeros((n_rows, n_cols), dtype=bool)

    def put(self, where: object, images: np.ndarray, colour: Sequence[float]) -> Cells:
        """Fill the cells ``where`` with RGB ``images`` framed in ``colour``.

        Args:
            where: a numpy index into the ``(n_rows, n_cols)`` grid of cells, e.g.
                ``(0, [1, 5])`` or ``np.s_[1:, 1:]``.
            images: RGB images (:func:`as_rgb`) of the shape ``self.images[where]`` has.
            colour: ``(3,)`` RGB frame colour.

        Returns:
            ``self``, to chain calls.
        """
        self.images[where] = images
        self.colours[where] = colour
        self.filled[where] = True
        return self

    def tile(self, *, border: int | None = None, gap: int | None = None) -> np.ndarray:
        """One RGB image of every cell: see :func:`tile_cells`.

        ``border`` defaults to 1 pixel per 28 of image height, ``gap`` to twice that.
        """
        if border is None:
            border = max(1, round(self.images.shape[2] / 28))
        gap = 2 * border if gap is None else gap
        return tile_cells(self.images, self.colours, filled=self.filled, border=border, gap=gap)


def save_mosaic(
    mosaic: np.ndarray,
    path: str | os.PathLike[str],
    *,
    n_rows: int,
    n_cols: int,
    row_labels: Sequence[str] | None = None,
    top: str | None = None,
    left: str | None = None,
    title: str | None = None,
    dpi: int = 150,
) -> Path:
    """Draw a tiled image on a matplotlib ``Figure`` (no pyplot) and write a PNG atomically.

    Args:
        mosaic: ``(height, width, 3)`` RGB from :func:`tile_cells`.
        path: the PNG to write (its folder is created).
        n_rows, n_cols: the cells of ``mosaic``, to size the figure and place labels.
        row_labels: one label per row of cells, written left of the row.
        top, left: captions above and left of the grid.
        title: a figure title.
        dpi: resolution.

    Returns:
        ``path`` as a :class:`Path`.
    """
    # deferred: heavy, only when a figure is drawn
    from matplotlib.figure import Figure

    label_inches = 1.9 if row_labels else 0.3
    fig = Figure(
        figsize=(CELL_INCHES * n_cols + label_inches + 0.2, CELL_INCHES * n_rows + 0.9),
        layout="constrained",
    )
    ax = fig.add_subplot()
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_xticks([])
    cell_height = mosaic.shape[0] / n_rows
    if row_labels:
        ax.set_yticks((np.arange(n_rows) + 0.5) * cell_height, list(row_labels), fontsize=8)
        ax.tick_params(axis="y", length=0)
    else:
        ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    heading = "\n".join(text for text in (title, top) if text)
    if heading:  # on the axes, not the figure, so that the tight crop hugs the grid
        ax.set_title(heading, fontsize=8)
    if left:
        ax.set_ylabel(left, fontsize=8)
    path = Path(path)
    write_with(
        path,
        lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.08),
    )
    return path


def require_group_latent(model: GroupVAE, figure: str) -> None:
    """Raise :class:`ConfigError` unless ``model`` has a group (content) latent."""
    if not model.has_group_latent:
        raise ConfigError(
            f"{model.config.model} has no group latent, so it has no {figure}; "
            "train a model with one (mlvae, gvae, cxvae, ...)"
        )


def group_labels(data: GroupedDataset) -> np.ndarray | None:
    """``(n_groups,)`` the label of each group's first observation, or ``None``.

    Labels only help choose groups that look different; the models never see them.
    """
    if data.labels is None:
        return None
    first = np.unique(data.group, return_index=True)[1]
    return data.labels[first]


__all__ = [
    "DECODED_RGB",
    "ORIGINAL_RGB",
    "RECONSTRUCTED_RGB",
    "Cells",
    "as_rgb",
    "channel_last",
    "group_labels",
    "require_group_latent",
    "save_mosaic",
    "tile_cells",
]
