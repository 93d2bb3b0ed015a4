"""UG-VAE figures (Peis et al., "Unsupervised learning of global factors in deep
generative models"), drawn on matplotlib ``Figure`` s (no pyplot) and written atomically.

* :func:`global_local_grid` / :func:`draw_global_local_grid` (Fig. 3): samples of the
  generative model as the global ``beta`` (the library's ``u``) moves down the rows and
  the local ``z`` (``v``) moves across the columns around the mean ``mu_d(beta)`` of a
  fixed mixture component ``d``, one panel per component. The same function draws the
  baselines: ML-VAE on random batches (Fig. 4, one panel around ``mu = 0``) and models
  without a global latent such as beta-VAE or GMVAE (Fig. 9, a single row).
* :func:`domain_interpolation_grid` / :func:`draw_domain_interpolation` (Fig. 5a, 5c):
  decodes while ``beta`` moves between two batches' global posterior means (rows) and
  ``z`` between two images' local posterior means (columns).
* :func:`draw_posterior_tsne` (Fig. 5b, Fig. 14): t-SNE of the global posterior means of
  many batches, coloured by the kind of batch (random batches grey).

Every decode is a likelihood mean (pixel probabilities for a Bernoulli likelihood), red
framed as the other figures' decodes of new codes; test images are green framed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from groupvae.errors import DataError
from groupvae.evaluation.tsne import tsne_embedding
from groupvae.plots.interpolation import lerp
from groupvae.plots.tiles import (
    DECODED_RGB,
    ORIGINAL_RGB,
    Cells,
    as_rgb,
    channel_last,
    require_group_latent,
    save_mosaic,
)
from groupvae.store.atomic import write_with

if TYPE_CHECKING:
    from groupvae.models.group_vae import GroupVAE

RANDOM_KIND = "random"  # a batch kind drawn grey, under the others (UG-VAE Fig. 5b)
RANDOM_RGB = (0.62, 0.62, 0.62)
MARKERS = ("s", "^", "D", "v", "P", "X", "<", ">", "p", "h")
DEFAULT_COMPONENTS = (0, 1, 2)  # the paper shows 3 of the K clusters
MIN_TSNE_POINTS = 5  # below this, t-SNE is meaningless: the codes are drawn directly


# ------------------------------------------------------------------ Fig. 3: global x local
def global_codes(model: GroupVAE, *, n_rows: int = 7, beta_range: float = 1.0) -> np.ndarray | None:
    """The global codes of the rows of a Fig. 3 panel: ``beta = t * ones(g)``.

    Args:
        model: any model; ``None`` is returned for one without a group latent.
        n_rows: rows, ``t`` evenly spaced in ``[-beta_range, beta_range]`` (both included).
        beta_range: half-width of the diagonal walk (1 for a standard Normal ``p(beta)``).

    Returns:
        ``(n_rows, group_dim)`` float32, or ``None`` without a group latent.
    """
    if not model.has_group_latent:
        return None
    t = np.linspace(-beta_range, beta_range, n_rows)
    return np.repeat(t[:, None], model.config.group_dim, axis=1).astype(np.float32)


def component_means(model: GroupVAE, beta: np.ndarray | None, n: int) -> np.ndarray:
    """The prior's component means ``mu_d(beta)`` (UG-VAE eq. 3).

    Args:
        model: a model with any instance prior.
        beta: ``(n, group_dim)`` global codes, or ``None`` for a model without a group latent.
        n: rows wanted (``len(beta)`` when ``beta`` is given).

    Returns:
        ``(n, K, instance_dim)`` float32: ``K`` mixture components, or ``K = 1`` zeros for
        the ``N(0, I)`` prior.
    """

    model.module.eval()
    u = None if beta is None else torch.as_tensor(np.asarray(beta), dtype=torch.float32)
    with torch.no_grad():
        means = model.module.prior.component_means(u, n)
    return means.detach().cpu().numpy().astype(np.float32)


def _panel_components(model: GroupVAE, components: Sequence[int]) -> list[int]:
    """The components to draw: ``components`` for a mixture prior, ``[0]`` otherwise.

    Raises:
        DataError: for no component, or one outside ``[0, K)``.
    """
    if not model.module.prior.has_clusters:
        return [0]
    k = int(model.config.n_components)
    chosen = [int(d) for d in components]
    if not chosen or any(d < 0 or d >= k for d in chosen):
        raise DataError(f"components must be a non-empty list in [0, {k}), got {chosen}")
    return chosen


def global_local_codes(
    model: GroupVAE,
    *,
    components: Sequence[int] = DEFAULT_COMPONENTS,
    n_rows: int = 7,
    n_cols: int = 7,
    beta_range: float = 1.0,
    z_range: float = 3.0,
) -> tuple[np.ndarray | None, np.ndarray]:
    """The codes of UG-VAE's Fig. 3: see :func:`global_local_grid`.

    Returns:
        ``(beta, z)``: ``beta: (R, group_dim)`` the global code of each row (``None``
        and ``R = 1`` without a group latent), and ``z: (P, R, n_cols, instance_dim)``
        float32 with ``z[p, r, c] = mu_{d_p}(beta_r) + s_c * ones(d)``,
        ``s = linspace(-z_range, z_range, n_cols)``; ``P = len(components)`` for a
        mixture prior, 1 (``mu = 0``) for the Normal prior.
    """
    beta = global_codes(model, n_rows=n_rows, beta_range=beta_range)
    n = 1 if beta is None else len(beta)
    panels = _panel_components(model, components)
    mu = component_means(model, beta, n)[:, panels]  # (R, P, d)
    s = np.linspace(-z_range, z_range, n_cols)
    z = mu.transpose(1, 0, 2)[:, :, None, :] + s[None, None, :, None]
    return beta, z.astype(np.float32)


def global_local_grid(
    model: GroupVAE,
    *,
    components: Sequence[int] = DEFAULT_COMPONENTS,
    n_rows: int = 7,
    n_cols: int = 7,
    beta_range: float = 1.0,
    z_range: float = 3.0,
) -> np.ndarray:
    """Decodes of UG-VAE's Fig. 3: ``beta`` down the rows, ``z`` across, per component.

    Row ``r`` has ``beta_r = t_r * ones(g)``, ``t = linspace(-beta_range, beta_range,
    n_rows)``; column ``c`` of the panel of component ``d`` has ``z = mu_d(beta_r) + s_c *
    ones(d)``, ``s = linspace(-z_range, z_range, n_cols)`` (the paper: ``beta`` in
    ``[-1, 1]``, ``z`` within ``mu +- 3``).

    * Normal prior with a group latent (ML-VAE on random batches, Fig. 4): one panel
      around ``mu = 0``; pass ``z_range=1.0`` as the paper.
    * No group latent (GMVAE, beta-VAE; Fig. 9): one row per panel (``beta`` absent);
      GMVAE keeps a panel per component, beta-VAE has one.

    Args:
        model: a fitted model.
        components: the mixture components ``d``, one panel each (ignored for a Normal prior).
        n_rows, n_cols: steps of ``beta`` and of ``z``, both ends included.
        beta_range, z_range: half-widths of the diagonal walks.

    Returns:
        ``(P, R, n_cols, *obs_shape)`` likelihood means, ``P`` panels, ``R`` rows (``R = 1``
        without a group latent).

    Raises:
        DataError: for a component outside ``[0, K)``.
    """
    beta, z = global_local_codes(
        model,
        components=components,
        n_rows=n_rows,
        n_cols=n_cols,
        beta_range=beta_range,
        z_range=z_range,
    )
    flat_u = None
    if beta is not None:  # row r of every panel and column shares beta_r
        u = np.broadcast_to(beta[None, :, None, :], (*z.shape[:3], beta.shape[1]))
        flat_u = u.reshape(-1, beta.shape[1])
    decoded = model.decode(flat_u, z.reshape(-1, z.shape[-1]))
    return decoded.reshape(*z.shape[:3], *decoded.shape[1:])


def _rgb_cells(decoded: np.ndarray, lead: int) -> np.ndarray:
    """``(*lead_axes, *obs_shape)`` images -> ``(*lead_axes, H, W, 3)`` RGB cells."""
    shape = decoded.shape[:lead]
    images = channel_last(decoded.reshape(-1, *decoded.shape[lead:]))
    rgb = as_rgb(images, rgb=images.ndim == 4)
    return rgb.reshape(*shape, *rgb.shape[1:])


def global_local_mosaic(grid: np.ndarray, *, border: int | None = None) -> np.ndarray:
    """Tile the panels of :func:`global_local_grid` side by side, one white column apart.

    Args:
        grid: ``(P, R, C, *obs_shape)`` decodes in ``[0, 1]``.
        border: frame width in pixels (default: as :meth:`~groupvae.plots.tiles.Cells.tile`).

    Returns:
        ``(R * c, (P * C + P - 1) * c', 3)`` float RGB in ``[0, 1]`` (``c`` a cell with its
        frame and gap), decodes framed red.
    """
    cells_rgb = _rgb_cells(grid, 3)  # (P, R, C, H, W, 3)
    n_panels, n_rows, n_cols = cells_rgb.shape[:3]
    cells = Cells(n_rows, n_panels * (n_cols + 1) - 1, *cells_rgb.shape[3:5])
    for p in range(n_panels):
        start = p * (n_cols + 1)
        cells.put(np.s_[:, start : start + n_cols], cells_rgb[p], DECODED_RGB)
    return cells.tile(border=border)


def _global_local_captions(
    model: GroupVAE, beta: np.ndarray | None, components: Sequence[int], z_range: float
) -> tuple[str, str, list[str] | None]:
    """``(top, left, row_labels)`` of a Fig. 3 mosaic."""
    if model.module.prior.has_clusters:
        mean = "mu_d" if beta is None else "mu_d(beta)"
        shown = ", ".join(map(str, _panel_components(model, components)))
        panels = f"panels, left to right: components d = {shown}"
    else:
        mean, panels = "0", "Normal prior: one panel"
    top = f"columns: z = {mean} + s 1, s from {-z_range:g} to {z_range:g}; {panels}"
    if beta is None:
        return top, "no global latent: one row", None
    return top, "rows: beta = t 1", [f"t = {t:+.2f}" for t in beta[:, 0]]


def draw_global_local_grid(
    model: GroupVAE,
    out_path: str | os.PathLike[str],
    *,
    components: Sequence[int] = DEFAULT_COMPONENTS,
    n_rows: int = 7,
    n_cols: int = 7,
    beta_range: float = 1.0,
    z_range: float = 3.0,
    title: str | None = None,
) -> Path:
    """Draw UG-VAE's Fig. 3 (or its baselines' Fig. 4 and 9) and write the PNG atomically.

    The panels of :func:`global_local_grid` are tiled side by side, one white column
    apart, with the row's ``t`` written left of each row.

    Args:
        model, components, n_rows, n_cols, beta_range, z_range: as :func:`global_local_grid`.
        out_path: the PNG to write (its folder is created).
        title: an optional figure title.

    Returns:
        ``out_path`` as a :class:`Path`.
    """
    grid = global_local_grid(
        model,
        components=components,
        n_rows=n_rows,
        n_cols=n_cols,
        beta_range=beta_range,
        z_range=z_range,
    )
    n_panels, rows = grid.shape[:2]
    beta = global_codes(model, n_rows=n_rows, beta_range=beta_range)
    top, left, row_labels = _global_local_captions(model, beta, components, z_range)
    return save_mosaic(
        global_local_mosaic(grid),
        out_path,
        n_rows=rows,
        n_cols=n_panels * (n_cols + 1) - 1,
        row_labels=row_labels,
        top=top,
        left=left,
        title=title,
    )


# ------------------------------------------------------------ Fig. 5a: domain interpolation
def domain_interpolation_grid(
    model: GroupVAE,
    beta_a: np.ndarray,
    beta_b: np.ndarray,
    z_a: np.ndarray,
    z_b: np.ndarray,
    *,
    n: int = 7,
) -> np.ndarray:
    """Decodes of UG-VAE's Fig. 5a (and 5c): ``beta`` down the rows, ``z`` across.

    Args:
        model: a fitted model with a group latent.
        beta_a, beta_b: ``(group_dim,)`` global posterior means of two batches.
        z_a, z_b: ``(instance_dim,)`` local posterior means of two images.
        n: steps on each axis, both ends included (:func:`~groupvae.plots.interpolation.lerp`).

    Returns:
        ``(n, n, *obs_shape)``: cell ``(i, j)`` decodes ``(beta_i, z_j)``, so the corners
        are ``(beta_a, z_a)``, ``(beta_a, z_b)``, ``(beta_b, z_a)``, ``(beta_b, z_b)``.

    Raises:
        ConfigError: for a model without a group latent.
    """
    require_group_latent(model, "global code to interpolate")
    beta = lerp(np.asarray(beta_a), np.asarray(beta_b), n)  # (n, g)
    z = lerp(np.asarray(z_a), np.asarray(z_b), n)  # (n, d)
    decoded = model.decode(np.repeat(beta, n, axis=0), np.tile(z, (n, 1)))
    return decoded.reshape(n, n, *decoded.shape[1:])


def domain_interpolation_mosaic(
    grid: np.ndarray, *, originals: np.ndarray | None = None, border: int | None = None
) -> np.ndarray:
    """Tile a domain interpolation, with the two test images beside their corners.

    Args:
        grid: ``(n, n, *obs_shape)`` from :func:`domain_interpolation_grid`, in ``[0, 1]``.
        originals: ``(2, *obs_shape)`` the images of ``z_a`` and ``z_b``: the first is
            shown left of the top-left cell, the second right of the bottom-right cell
            (green frames, one white column apart); ``None``: the grid alone.
        border: frame width in pixels.

    Returns:
        ``(n * c, (n + 4) * c', 3)`` float RGB with originals, ``(n * c, n * c', 3)``
        without.

    Raises:
        DataError: for ``originals`` that are not 2 images of the decodes' shape.
    """
    cells_rgb = _rgb_cells(grid, 2)  # (n, n, H, W, 3)
    n = cells_rgb.shape[0]
    if originals is None:
        cells = Cells(n, n, *cells_rgb.shape[2:4])
        return cells.put(np.s_[:, :], cells_rgb, DECODED_RGB).tile(border=border)
    shown = _rgb_cells(np.asarray(originals), 1)
    if shown.shape[0] != 2 or shown.shape[1:] != cells_rgb.shape[2:]:
        raise DataError(f"originals must be 2 images like the decodes, got {np.shape(originals)}")
    cells = Cells(n, n + 4, *cells_rgb.shape[2:4])
    cells.put(np.s_[:, 2 : n + 2], cells_rgb, DECODED_RGB)
    cells.put((0, 0), shown[0], ORIGINAL_RGB)
    cells.put((n - 1, n + 3), shown[1], ORIGINAL_RGB)
    return cells.tile(border=border)


def draw_domain_interpolation(
    model: GroupVAE,
    beta_a: np.ndarray,
    beta_b: np.ndarray,
    z_a: np.ndarray,
    z_b: np.ndarray,
    out_path: str | os.PathLike[str],
    *,
    n: int = 7,
    originals: np.ndarray | None = None,
    title: str | None = None,
) -> Path:
    """Draw UG-VAE's Fig. 5a (or 5c) and write the PNG atomically.

    Args:
        model, beta_a, beta_b, z_a, z_b, n: as :func:`domain_interpolation_grid`.
        out_path: the PNG to write (its folder is created).
        originals: ``(2, *obs_shape)`` the images whose local codes are ``z_a`` and ``z_b``,
            drawn beside the top-left and the bottom-right cell; ``None``: not shown.
        title: an optional figure title.

    Returns:
        ``out_path`` as a :class:`Path`.

    Raises:
        ConfigError: for a model without a group latent.
        DataError: for ``originals`` that are not 2 images of the decodes' shape.
    """
    grid = domain_interpolation_grid(model, beta_a, beta_b, z_a, z_b, n=n)
    mosaic = domain_interpolation_mosaic(grid, originals=originals)
    aside = "; the two images beside the corners (green)" if originals is not None else ""
    return save_mosaic(
        mosaic,
        out_path,
        n_rows=n,
        n_cols=n + (4 if originals is not None else 0),
        top=f"columns: z from image A's local code to image B's{aside}",
        left="rows: beta from batch A's global code (top) to batch B's",
        title=title,
    )


# ------------------------------------------------------ Fig. 5b, 14: global posterior t-SNE
def _scatter_points(codes: np.ndarray, seed: int) -> tuple[np.ndarray, tuple[str, str]]:
    """``(n, 2)`` points to draw and the axis labels: t-SNE, or the codes themselves."""
    n, g = codes.shape
    if g > 2 and n >= MIN_TSNE_POINTS:
        return tsne_embedding(codes, seed=seed), ("t-SNE 1", "t-SNE 2")
    if g > 2:
        why = f"first 2 of {g} dims, too few batches ({n}) for t-SNE"
        return codes[:, :2], (f"beta_1 ({why})", "beta_2")
    if g == 2:
        return codes, ("beta_1 (posterior mean, g = 2: no t-SNE)", "beta_2")
    return np.column_stack([codes[:, 0], np.zeros(n)]), ("beta (posterior mean, g = 1)", "")


def _kind_styles(kind_names: Sequence[str]) -> list[tuple[int, dict[str, object]]]:
    """``(kind, scatter style)`` in drawing order: ``"random"`` kinds first, grey circles;
    then the others in ``tab10`` colours with their own markers (squares, triangles, ...)."""
    # deferred: heavy, only when a figure is drawn
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    grey = [k for k, name in enumerate(kind_names) if name == RANDOM_KIND]
    coloured = [k for k, name in enumerate(kind_names) if name != RANDOM_KIND]
    styles: list[tuple[int, dict[str, object]]] = [
        (k, {"color": RANDOM_RGB, "marker": "o", "alpha": 0.6}) for k in grey
    ]
    styles += [
        (k, {"color": cmap(rank % 10), "marker": MARKERS[rank % len(MARKERS)]})
        for rank, k in enumerate(coloured)
    ]
    return styles


def draw_posterior_tsne(
    codes: np.ndarray,
    kinds: np.ndarray,
    out_path: str | os.PathLike[str],
    *,
    kind_names: Sequence[str],
    title: str,
    seed: int = 0,
    highlight: Sequence[int] | np.ndarray | None = None,
) -> Path:
    """A 2-D t-SNE of global posterior means, one colour per kind of batch (Fig. 5b, 14).

    Batches of a kind named ``"random"`` are grey circles drawn first, as the paper's
    random mixtures; the other kinds get ``tab10`` colours and their own markers. With
    ``g <= 2`` (or fewer than :data:`MIN_TSNE_POINTS` batches) the codes are drawn
    directly, and the axis labels say so.

    Args:
        codes: ``(n_batches, group_dim)`` global posterior means.
        kinds: ``(n_batches,)`` int, the kind of each batch, indices into ``kind_names``.
        out_path: the PNG to write (its folder is created).
        kind_names: the legend's name of each kind.
        title: the figure title.
        seed: the t-SNE seed.
        highlight: rows to mark (e.g. the two endpoints of Fig. 5a), labelled "beta 1",
            "beta 2", ... and joined by a dashed line in that order.

    Returns:
        ``out_path`` as a :class:`Path`.

    Raises:
        DataError: for mismatched lengths or a kind without a name.
    """
    # deferred: heavy, only when a figure is drawn
    from matplotlib.figure import Figure

    codes = np.asarray(codes, dtype=np.float64)
    kinds = np.asarray(kinds).astype(np.int64)
    if codes.ndim != 2 or kinds.shape != (len(codes),):
        raise DataError(f"codes (n, g) and kinds (n,) must match, got {codes.shape}, {kinds.shape}")
    if len(kinds) and (kinds.min() < 0 or kinds.max() >= len(kind_names)):
        raise DataError(f"kinds must index kind_names ({len(kind_names)} names)")
    points, (xlabel, ylabel) = _scatter_points(codes, seed)
    fig = Figure(figsize=(5.2, 4.6), layout="constrained")
    ax = fig.add_subplot()
    for k, style in _kind_styles(kind_names):
        sel = kinds == k
        ax.scatter(points[sel, 0], points[sel, 1], s=18, label=kind_names[k], **style)
    if highlight is not None and len(highlight):
        marked = points[np.asarray(highlight, dtype=np.int64)]
        ax.plot(marked[:, 0], marked[:, 1], "--", color="k", lw=1)
        ax.scatter(marked[:, 0], marked[:, 1], s=90, facecolors="none", edgecolors="k", lw=1.5)
        for i, (x, y) in enumerate(marked, start=1):
            ax.annotate(f"beta {i}", (x, y), xytext=(5, 5), textcoords="offset points", fontsize=8)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(title="batches", fontsize=7, markerscale=1.5, loc="best")
    ax.set_title(title, fontsize=9)
    path = Path(out_path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path


__all__ = [
    "component_means",
    "domain_interpolation_grid",
    "domain_interpolation_mosaic",
    "draw_domain_interpolation",
    "draw_global_local_grid",
    "draw_posterior_tsne",
    "global_codes",
    "global_local_codes",
    "global_local_grid",
    "global_local_mosaic",
]
