"""CPVAE figures (CPVAE paper, Fig. 2-4), drawn on matplotlib ``Figure`` s (no pyplot)
and written atomically.

* :func:`draw_denoising` (Fig. 2): originals, full reconstructions, private-only (the
  digit) and shared-only (the background) reconstructions, and the clean digits;
* :func:`draw_latent_tsne` (Fig. 3): t-SNE of a population's private latent beside a
  VAE's latent, coloured by digit;
* :func:`draw_cross_population` (Fig. 4 analogue): each image reconstructed with its
  own private decoder and with another population's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from groupvae.errors import ConfigError
from groupvae.evaluation.tsne import tsne_embedding
from groupvae.plots.tiles import (
    DECODED_RGB,
    ORIGINAL_RGB,
    RECONSTRUCTED_RGB,
    Cells,
    as_rgb,
    channel_last,
    save_mosaic,
)
from groupvae.store.atomic import write_with


def image_rows(
    rows: Sequence[np.ndarray],
    labels: Sequence[str],
    path: str | os.PathLike[str],
    *,
    colours: Sequence[Sequence[float]] | None = None,
    title: str | None = None,
) -> Path:
    """Tile rows of grey images (each ``(n, 1, H, W)`` in ``[0, 1]``) into a labelled PNG.

    Args:
        rows: one array of ``n`` images per row (all rows the same ``n`` and size).
        labels: one label per row.
        path: the PNG (written atomically).
        colours: a frame colour per row (default: green for the first row, blue after).
        title: a title above the grid.

    Returns:
        ``path`` as a :class:`Path`.
    """
    imgs = [channel_last(r) for r in rows]
    n, h, w = imgs[0].shape[:3]
    cells = Cells(len(rows), n, h, w)
    colours = colours or [ORIGINAL_RGB] + [RECONSTRUCTED_RGB] * (len(rows) - 1)
    for i, (img, colour) in enumerate(zip(imgs, colours, strict=True)):
        cells.put(i, as_rgb(img, rgb=img.ndim == 4), colour)
    return save_mosaic(
        cells.tile(), path, n_rows=len(rows), n_cols=n, row_labels=list(labels), title=title
    )


def draw_denoising(
    originals: np.ndarray,
    full: np.ndarray,
    private_only: np.ndarray,
    shared_only: np.ndarray,
    path: str | os.PathLike[str],
    *,
    clean: np.ndarray | None = None,
    title: str | None = None,
) -> Path:
    """Fig. 2: originals, full, private-only and shared-only reconstructions (and the
    clean digits, which the model never saw). Arrays ``(n, 1, H, W)`` in ``[0, 1]``."""
    rows = [originals, full, private_only, shared_only]
    labels = ["original", "full reconstruction", "private only (digit)", "shared only (background)"]
    colours = [ORIGINAL_RGB, RECONSTRUCTED_RGB, RECONSTRUCTED_RGB, RECONSTRUCTED_RGB]
    if clean is not None:
        rows.append(clean)
        labels.append("clean digit (not seen)")
        colours.append((0.5, 0.5, 0.5))
    return image_rows(rows, labels, path, colours=colours, title=title)


def draw_cross_population(
    originals: np.ndarray,
    own: np.ndarray,
    crossed: dict[str, np.ndarray],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> Path:
    """Fig. 4 analogue: originals, reconstructions through their own private space, and
    rows of cross-population reconstructions (``crossed``: row label -> images), e.g.
    autoencoded through another population's private space (its encoder and decoder)."""
    rows = [originals, own, *crossed.values()]
    labels = ["original", "own private space", *crossed]
    colours = [ORIGINAL_RGB, RECONSTRUCTED_RGB] + [DECODED_RGB] * len(crossed)
    return image_rows(rows, labels, path, colours=colours, title=title)


def draw_latent_tsne(
    panels: dict[str, np.ndarray],
    digits: np.ndarray,
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    title: str | None = None,
) -> Path:
    """Fig. 3: a t-SNE scatter per latent (``panels``: title -> ``(n, d)`` codes of the
    same ``n`` images), coloured by ``digits: (n,)``."""
    # deferred: heavy, only when a figure is drawn
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(panels), 4.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    cmap = colormaps["tab10"]
    for ax, (name, codes) in zip(axes, panels.items(), strict=True):
        emb = tsne_embedding(codes, seed=seed)
        for d in np.unique(digits):
            sel = digits == d
            colour = cmap(int(d) % 10)
            ax.scatter(emb[sel, 0], emb[sel, 1], s=6, color=colour, label=str(int(d)))
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[-1].legend(title="digit", fontsize=7, markerscale=2, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    path = Path(path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path


def cpvae_figure(
    model: Any,
    hold: Any,
    kind: str,
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    n_images: int = 12,
) -> Path:
    """Draw one figure of a fitted CPVAE on holdout images, without training again.

    ``kind``: ``"denoising"`` (CPVAE Fig. 2; with the clean digits when the data keeps
    them) or ``"cross-population"`` (each image decoded with the next population's
    private decoder, ``(k + 1) mod K``, and through its private space; CPVAE Fig. 4).

    Args:
        model: a fitted :class:`~groupvae.models.CPVAE`.
        hold: its holdout :class:`~groupvae.data.GroupedDataset` (with
            ``aux["population"]``).
        kind: the figure.
        path: the PNG to write (atomically).
        seed: seed of the images shown.
        n_images: images per row.

    Raises:
        ConfigError: for an unknown ``kind``.
    """
    if kind not in ("denoising", "cross-population"):
        raise ConfigError(f"kind must be 'denoising' or 'cross-population', got {kind!r}")
    pop = np.asarray(hold.aux["population"])
    rng = np.random.default_rng(seed)
    show = np.sort(rng.choice(hold.n_obs, min(n_images, hold.n_obs), replace=False))
    x, p = hold.x[show], pop[show]
    parts = {q: model.reconstruct(x, p, part=q) for q in ("full", "private", "shared")}
    if kind == "denoising":
        clean = hold.aux["clean"][show] if "clean" in hold.aux else None
        return draw_denoising(
            x, parts["full"], parts["private"], parts["shared"], Path(path),
            clean=clean, title=f"{hold.name}: CPVAE reconstructions (holdout)",
        )  # fmt: skip
    other = (p + 1) % model.config.n_populations
    crossed = {
        "next population's private space": model.reconstruct(
            x, p, encoder_population=other, decoder_population=other
        ),
        "own t, next population's decoder": model.reconstruct(x, p, decoder_population=other),
    }
    return draw_cross_population(
        x, parts["full"], crossed, Path(path),
        title=f"{hold.name}: cross-population reconstruction",
    )  # fmt: skip


__all__ = [
    "draw_cross_population",
    "draw_denoising",
    "draw_latent_tsne",
    "image_rows",
    "cpvae_figure",
]
