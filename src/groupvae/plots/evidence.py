"""Reconstructions with and without accumulated evidence (ML-VAE, Bouchacourt et al. 2018,
Fig. 6a-b).

Every image of one held-out group is reconstructed twice: (a) with the content code
inferred from that image alone, each image its own group (the paper's "strategy 1"),
and (b) with the content code accumulated over the whole group by the group encoder
("strategy 2"). The figure's rows are the test images (green), (a) and (b) (blue); the
paper puts the same three in columns. With accumulated evidence every image of a group
gets the same content, so (b) can correct an image whose content (a) got wrong.

Pure functions compute the grid (:func:`pick_evidence_group`, :func:`evidence_grid`,
:func:`evidence_mosaic`); :func:`save_evidence` draws it and :func:`draw_evidence` does
all of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.plots.tiles import (
    ORIGINAL_RGB,
    RECONSTRUCTED_RGB,
    Cells,
    as_rgb,
    channel_last,
    require_group_latent,
    save_mosaic,
)

if TYPE_CHECKING:
    from groupvae.models.group_vae import GroupVAE

ROW_LABELS = (
    "test images of one group",
    "without acc. evidence\n(content of each image alone)",
    "with acc. evidence\n(content of the whole group)",
)


class EvidenceGrid(NamedTuple):
    """The images and codes of the accumulated-evidence figure.

    Attributes:
        originals: ``(n, H, W)`` or ``(n, H, W, 3)`` the group's test images.
        single: ``(n, ...)`` each image decoded from its own codes inferred from it alone.
        accumulated: ``(n, ...)`` each image decoded with the group's content code.
        u_single: ``(n, group_dim)`` the content code of each image alone.
        u_group: ``(group_dim,)`` the content code accumulated over the group.
        v_single: ``(n, instance_dim)`` the style codes used in ``single``.
        v_group: ``(n, instance_dim)`` the style codes used in ``accumulated`` (they differ
            from ``v_single`` only for a conditional instance encoder).
    """

    originals: np.ndarray
    single: np.ndarray
    accumulated: np.ndarray
    u_single: np.ndarray
    u_group: np.ndarray
    v_single: np.ndarray
    v_group: np.ndarray


def pick_evidence_group(
    data: GroupedDataset, *, rng: np.random.Generator, min_size: int = 4
) -> int:
    """Choose a random test group with at least ``min_size`` images.

    Falls back to the groups of the largest size when none is that large.

    Returns:
        A group index in ``[0, data.n_groups)``.
    """
    sizes = data.group_sizes
    candidates = np.flatnonzero(sizes >= min(min_size, int(sizes.max())))
    return int(rng.choice(candidates))


def evidence_grid(model: GroupVAE, data: GroupedDataset, group: int) -> EvidenceGrid:
    """Reconstruct a group's images without and with accumulated evidence.

    Args:
        model: a fitted model with a group latent.
        data: the test groups.
        group: the group index in ``[0, data.n_groups)``.

    Returns:
        An :class:`EvidenceGrid`; codes are posterior means and decodes likelihood means.

    Raises:
        ConfigError: for a model without a group latent.
    """
    require_group_latent(model, "content to accumulate")
    x = data.x[data.group == group]
    alone, together = np.arange(len(x)), np.zeros(len(x), dtype=np.int64)
    u_single = model.encode_groups(x, alone).mean
    v_single = model.encode_instances(x, alone).mean
    u_group = model.encode_groups(x, together).mean[0]
    v_group = model.encode_instances(x, together).mean
    accumulated = model.decode(np.repeat(u_group[None], len(x), axis=0), v_group)
    return EvidenceGrid(
        originals=channel_last(x),
        single=channel_last(model.decode(u_single, v_single)),
        accumulated=channel_last(accumulated),
        u_single=u_single,
        u_group=u_group,
        v_single=v_single,
        v_group=v_group,
    )


def evidence_mosaic(
    grid: EvidenceGrid, *, border: int | None = None, gap: int | None = None
) -> np.ndarray:
    """Tile the three rows: test images (green), (a) and (b) reconstructions (blue).

    Args:
        grid: from :func:`evidence_grid`, values in ``[0, 1]``.
        border, gap: frame width and white space in pixels (default: as
            :meth:`~groupvae.plots.tiles.Cells.tile`).

    Returns:
        ``(3 * c, n * c', 3)`` float RGB in ``[0, 1]``, with ``c = H + 2 * border + gap``
        (and likewise with ``W`` across).
    """
    rgb = grid.originals.ndim == 4
    cells = Cells(3, len(grid.originals), *grid.originals.shape[1:3])
    cells.put(0, as_rgb(grid.originals, rgb=rgb), ORIGINAL_RGB)
    cells.put(1, as_rgb(grid.single, rgb=rgb), RECONSTRUCTED_RGB)
    cells.put(2, as_rgb(grid.accumulated, rgb=rgb), RECONSTRUCTED_RGB)
    return cells.tile(border=border, gap=gap)


def save_evidence(
    grid: EvidenceGrid,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    dpi: int = 150,
) -> Path:
    """Draw the accumulated-evidence figure (no pyplot) and write a PNG atomically.

    Args:
        grid: from :func:`evidence_grid`.
        path: the PNG to write.
        title: an optional figure title.
        dpi: resolution.

    Returns:
        ``path`` as a :class:`Path`.
    """
    return save_mosaic(
        evidence_mosaic(grid),
        path,
        n_rows=3,
        n_cols=len(grid.originals),
        row_labels=ROW_LABELS,
        title=title,
        dpi=dpi,
    )


def draw_evidence(
    model: GroupVAE,
    data: GroupedDataset,
    path: str | os.PathLike[str],
    *,
    min_size: int = 4,
    seed: int = 0,
    title: str | None = None,
) -> EvidenceGrid:
    """Pick a group, reconstruct it both ways and save the figure as a PNG (ML-VAE Fig. 6a-b).

    Args:
        model: a fitted model with a group latent.
        data: the test groups.
        path: the PNG to write.
        min_size: as :func:`pick_evidence_group`.
        seed: seed of the ``numpy.random.Generator`` that picks the group.
        title: an optional figure title.

    Returns:
        The :class:`EvidenceGrid` drawn.
    """
    group = pick_evidence_group(data, rng=np.random.default_rng(seed), min_size=min_size)
    grid = evidence_grid(model, data, group)
    save_evidence(grid, path, title=title)
    return grid
