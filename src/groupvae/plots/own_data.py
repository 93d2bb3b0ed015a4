"""Figures of a run on any data, the user's own included (``table``, ``npz``, ``anndata``,
``image-folder``): training curves, group codes, reconstructions and table translations.

Each ``draw_*`` function takes a loaded model and data and writes a PNG atomically; the
:data:`~groupvae.plots.run_figures.PLOTS` entries ``curves``, ``codes``,
``reconstruction`` and ``translation`` (for table runs) open a saved run and call them.
Values are shown in the user's units where the run records a feature transform
(``metadata.json``, ``feature_transform``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers.table import load_frame
from groupvae.errors import DataError
from groupvae.store.atomic import write_with

MAX_FEATURES = 12
"""At most this many features (the first ones) in a reconstruction or translation figure."""
MAX_CATEGORIES = 20
"""A colour column with more distinct values than this is refused unless it is numeric."""


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path


def _curve_columns(history: pd.DataFrame) -> tuple[list[str], str]:
    """The history columns drawn and the y-axis label: the ELBO per observation of the
    training and validation sets, else their losses.

    Raises:
        DataError: for a history with neither.
    """
    for stem, label in (("elbo_per_obs", "ELBO per observation (nats)"), ("loss", "loss")):
        cols = [f"{part}_{stem}" for part in ("train", "val") if f"{part}_{stem}" in history]
        if cols:
            return cols, label
    raise DataError(
        "the run's history.csv has no train_elbo_per_obs or train_loss column; "
        f"its columns are {', '.join(map(str, history.columns))}"
    )


def draw_curves(
    history: pd.DataFrame,
    path: str | Path,
    *,
    early_stopping: dict[str, Any] | None = None,
    title: str = "",
) -> Path:
    """Training curves: the training ELBO per observation (each epoch's mean) and the
    holdout estimate (each validation check) by optimiser step, with the restored
    check's step and the stopping step marked.

    Args:
        history: one row per epoch (``epoch``, ``step``, ``train_elbo_per_obs``,
            ``val_elbo_per_obs`` on the checked epochs, ...; a run's ``history.csv``).
            Runs saved before ``step`` was recorded are drawn by epoch.
        path: PNG path.
        early_stopping: the run's ``early_stopping`` record (``best_step``, ``best``,
            ``stopped_step``, ``restored``; older runs: ``best_epoch``,
            ``stopped_epoch``), or ``None``.
        title: the figure's title.

    Raises:
        DataError: for an empty history or one with neither ELBO nor loss columns.
    """
    if history is None or len(history) == 0:
        raise DataError("the run's history.csv has no epochs")
    cols, label = _curve_columns(history)
    unit = "step" if "step" in history else "epoch"
    if unit not in history:
        history = history.assign(epoch=np.arange(len(history)))
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.subplots()
    names = {"train": "training (epoch mean)", "val": "validation (held-out groups)"}
    for col, color in zip(cols, ("tab:blue", "tab:orange"), strict=False):
        rows = history.dropna(subset=[col])
        ax.plot(rows[unit], rows[col], marker="o" if len(rows) < 60 else None, ms=3,
                color=color, label=names[col.split("_", 1)[0]])  # fmt: skip
    _mark_stops(ax, early_stopping or {}, unit)
    ax.set_xlabel("optimiser step" if unit == "step" else "epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(label)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    ax.set_title(title or "training curves", fontsize=10)
    return _save(fig, path)


def _mark_stops(ax: Any, record: dict[str, Any], unit: str) -> None:
    """The restored check and the early stop, as vertical lines at their ``unit``."""
    best, stopped = record.get(f"best_{unit}"), record.get(f"stopped_{unit}")
    if best is not None and record.get("restored", "best") == "best":
        ax.axvline(best, color="green", ls="--", lw=1,
                   label=f"best check, {unit} {best} (weights restored)")  # fmt: skip
    if stopped is not None:
        ax.axvline(stopped, color="0.4", ls=":", lw=1, label=f"stopped at {unit} {stopped}")


def column_values(
    frame: pd.DataFrame, group_column: str, column: str, group_ids: np.ndarray, where: str
) -> tuple[np.ndarray, str]:
    """One value of ``column`` per group: the group's value where it is constant within
    groups, else the group mean of a numeric column.

    Args:
        frame: one row per observation, with ``group_column`` and ``column``.
        group_column: the column of group ids.
        column: the column to summarise.
        group_ids: ``(n_groups,)`` the groups, in the order of the values returned.
        where: names the data in errors (``"scores.csv"``).

    Returns:
        ``(values (n_groups,), label)``; ``label`` says whether the values are means.

    Raises:
        DataError: for a missing column (naming the columns there are), a text column
            that varies within a group, or a group that is not in ``frame``.
    """
    if column not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:20]))
        raise DataError(f"--color {column!r} is not a column of {where}; its columns are {shown}")
    keys = frame[group_column].astype(str)
    grouped = frame[column].groupby(keys)
    wanted = [str(g) for g in group_ids]
    missing = [g for g in wanted if g not in grouped.groups]
    if missing:
        raise DataError(f"group {missing[0]!r} of the run is not in {where}")
    if bool((grouped.nunique(dropna=False) <= 1).all()):
        return grouped.first().loc[wanted].to_numpy(), column
    if not pd.api.types.is_numeric_dtype(frame[column]):
        raise DataError(
            f"--color {column!r} varies within groups and is not numeric; name a column "
            "that is constant within groups, or a numeric one (its group means are shown)"
        )
    return grouped.mean().loc[wanted].to_numpy(dtype=float), f"group mean of {column}"


def observation_frame(name: str, options: dict[str, Any]) -> tuple[pd.DataFrame, str, str]:
    """The per-observation columns of a run's data file, to colour groups by:
    ``(frame, group column, file name)``. A table's columns, an AnnData file's ``.obs``,
    an ``.npz`` file's 1-d arrays.

    Raises:
        DataError: for a data set with no such columns (generated data, image folders),
            or a file that cannot be read.
    """
    path, group = options.get("path"), options.get("group", "group")
    if name == "table":
        return load_frame(path, text=[group]), str(group), Path(path).name
    if name == "anndata":
        # deferred: anndata is optional and slow to import
        import anndata

        try:
            adata = anndata.read_h5ad(path, backed="r")  # .obs only; X stays on disk
        except (OSError, KeyError, ValueError, TypeError) as err:
            raise DataError(f"{path} is not a readable .h5ad file: {err}") from None
        obs = adata.obs.reset_index(drop=True)
        adata.file.close()
        return obs, str(group), Path(path).name
    if name == "npz":
        with np.load(path, allow_pickle=False) as archive:
            n = len(archive["group"])
            cols = {k: archive[k] for k in archive.files if archive[k].shape == (n,)}
        return pd.DataFrame(cols), "group", Path(path).name
    raise DataError(
        f"--color names a column of the run's data file; a {name} run has none "
        "(leave --color out to colour by group size)"
    )


def draw_codes(
    codes: pd.DataFrame,
    values: np.ndarray,
    label: str,
    path: str | Path,
    *,
    title: str = "",
) -> Path:
    """The group codes in 2-d (as they are, or their first 2 principal components),
    one point per group, coloured by ``values``.

    Args:
        codes: one row per group, the group posterior means (``u_0, u_1, ...``).
        values: ``(n_groups,)`` numbers (a colour bar) or categories (a legend).
        label: what ``values`` are, for the colour bar or legend.
        path: PNG path.
        title: the figure's title.
    """
    u = codes.to_numpy(dtype=float)
    axis = [str(c) for c in codes.columns[:2]]
    if u.shape[1] > 2:
        # deferred: scikit-learn is slow to import and only this figure needs it
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=0).fit(u)
        u = pca.transform(u)
        axis = [f"PC{i + 1} of the group code ({100 * r:.0f}% of variance)"
                for i, r in enumerate(pca.explained_variance_ratio_)]  # fmt: skip
    elif u.shape[1] == 1:
        u, axis = np.c_[u, np.zeros(len(u))], [axis[0], ""]
    fig = Figure(figsize=(6.0, 4.6), layout="constrained")
    ax = fig.subplots()
    values = np.asarray(values)
    if pd.api.types.is_numeric_dtype(values.dtype) and values.dtype != bool:
        points = ax.scatter(u[:, 0], u[:, 1], c=values.astype(float), cmap="viridis",
                            s=36, edgecolor="k", lw=0.3)  # fmt: skip
        bar = fig.colorbar(points, ax=ax, label=label)
        if np.issubdtype(values.dtype, np.integer):
            bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        cats = pd.unique(pd.Series(values.astype(str)))
        if len(cats) > MAX_CATEGORIES:
            raise DataError(
                f"--color {label!r} has {len(cats)} distinct values (at most "
                f"{MAX_CATEGORIES} can be told apart); name a numeric or coarser column"
            )
        palette = "tab10" if len(cats) <= 10 else "tab20"
        colours = colormaps[palette].colors
        for i, cat in enumerate(sorted(cats)):
            mask = values.astype(str) == cat
            ax.scatter(u[mask, 0], u[mask, 1], color=colours[i % len(colours)], s=36,
                       edgecolor="k", lw=0.3, label=cat)  # fmt: skip
        ax.legend(title=label, fontsize=8, title_fontsize=8, loc="best")
    ax.set_xlabel(axis[0])
    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.set_ylabel(axis[1])
    ax.grid(alpha=0.3)
    ax.set_title(title or f"one code per group ({len(u)} groups)", fontsize=10)
    return _save(fig, path)


def user_units(model: Any, x: np.ndarray | pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """``x`` (``(n, *obs_shape)``, model units) as ``(n, d)`` in the user's units, where
    the run records a feature transform, with the feature names; a DataFrame (a table's
    reconstruction or translation, already in the user's units) as its values and
    columns."""
    if isinstance(x, pd.DataFrame):
        return x.to_numpy(dtype=np.float64), [str(c) for c in x.columns]
    x = np.asarray(x).reshape(len(x), -1)
    transform = model.feature_transform() if hasattr(model, "feature_transform") else None
    if transform is not None:
        return transform.inverse(x), list(transform.columns)
    return x.astype(np.float64), [f"x_{j}" for j in range(x.shape[1])]


def _panels(n: int) -> tuple[Figure, np.ndarray]:
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = Figure(figsize=(max(2.6 * cols, 6.0), 2.5 * rows + 0.7), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def _shown(columns: list[str], what: str) -> tuple[int, str]:
    n = min(len(columns), MAX_FEATURES)
    note = f"the first {n} of {len(columns)} features" if n < len(columns) else f"{n} features"
    return n, f"{what} ({note})"


def draw_reconstruction(
    model: Any, data: GroupedDataset, path: str | Path, *, title: str = ""
) -> Path:
    """Observed against reconstructed values, one panel per feature (at most
    :data:`MAX_FEATURES`, the first ones), in the user's units where the run records a
    feature transform (a categorical level's or binary column's observed 0/1 against
    its reconstructed probability). Reconstructions decode each observation's posterior
    means.

    Args:
        model: a fitted group VAE (``reconstruct``).
        data: the observations to reconstruct (a run's held-out groups).
        path: PNG path.
        title: the figure's title (the features shown are added).
    """
    observed, columns = user_units(model, data.x)
    recon = user_units(model, model.reconstruct(data))[0]
    n, note = _shown(columns, title or "reconstruction")
    fig, axes = _panels(n)
    for j, ax in enumerate(axes[:n]):
        ax.scatter(observed[:, j], recon[:, j], s=8, alpha=0.6, color="tab:blue")
        lo = float(min(observed[:, j].min(), recon[:, j].min()))
        hi = float(max(observed[:, j].max(), recon[:, j].max()))
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
        r = np.corrcoef(observed[:, j], recon[:, j])[0, 1] if observed[:, j].std() > 0 else np.nan
        ax.set_title(f"{columns[j]} (r = {r:.2f})", fontsize=9)
        ax.set_xlabel("observed", fontsize=8)
        ax.set_ylabel("reconstructed", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(note + "\ndashed line: reconstructed = observed", fontsize=10)
    return _save(fig, path)


def draw_table_translation(
    model: Any, data: GroupedDataset, source: int, target: int, path: str | Path
) -> Path:
    """Per feature (at most :data:`MAX_FEATURES`), the source group's rows (yellow) joined
    by grey lines to the same rows decoded with the target group's code (red), beside the
    target group's own rows (orange), in the user's units (CxVAE section 5.1).

    Args:
        model: a fitted group VAE with a group latent (``encode_groups``, ``translate``).
        data: the run's data; ``source`` and ``target`` are group indices in it.
        path: PNG path.
    """
    src = data.subset_groups(np.array([source]))
    tgt = data.subset_groups(np.array([target]))
    u = model.encode_groups(tgt).mean
    moved = model.translate(src, np.repeat(u, src.n_obs, axis=0))
    before, columns = user_units(model, src.x)
    after, theirs = user_units(model, moved)[0], user_units(model, tgt.x)[0]
    ids = np.asarray(data.group_ids)
    what = f"group {ids[source]} translated to group {ids[target]}"
    n, note = _shown(columns, what)
    fig, axes = _panels(n)
    k = len(before)
    for j, ax in enumerate(axes[:n]):
        ax.plot(np.c_[np.zeros(k), np.ones(k)].T, np.c_[before[:, j], after[:, j]].T,
                color="0.6", lw=0.7)  # fmt: skip
        ax.scatter(np.zeros(k), before[:, j], color="gold", s=14, zorder=3, label="source")
        ax.scatter(np.ones(k), after[:, j], color="red", s=14, zorder=3, label="translated")
        ax.scatter(np.full(len(theirs), 2.0), theirs[:, j], color="darkorange", s=14,
                   zorder=3, label="target")  # fmt: skip
        ax.set_xticks([0, 1, 2], [str(ids[source]), "translated", str(ids[target])], fontsize=7)
        ax.set_xlim(-0.5, 2.5)
        ax.set_title(columns[j], fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(note, fontsize=10)
    return _save(fig, path)


__all__ = [
    "MAX_FEATURES",
    "column_values",
    "draw_codes",
    "draw_curves",
    "draw_reconstruction",
    "draw_table_translation",
    "observation_frame",
    "user_units",
]
