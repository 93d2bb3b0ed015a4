"""Figures of the analyses of groups (:mod:`groupvae.evaluation.groups`): a clustered
distance heatmap with its dendrogram, a map of the groups' clusters, outlier groups,
new groups beside their nearest known groups, group covariates against the pseudobulk
baseline, and a volcano plot of a differential comparison.

Each ``draw_*`` function takes the analysis' arrays or table and writes a PNG
atomically (matplotlib's Agg canvas, no display needed); ``groupvae analyse KIND RUN``
(:mod:`groupvae.runs.analyses`) calls them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from groupvae.store.atomic import write_with

MAX_LABELLED = 60
"""A heatmap names its groups on the axes up to this many groups."""


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path


def _cluster_colours(n: int) -> list:
    colours = colormaps["tab10" if n <= 10 else "tab20"].colors
    return [colours[i % len(colours)] for i in range(n)]


def _plane(points: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """``points`` in 2-d: as they are (1 or 2 coordinates), or their first 2 principal
    components, with the axes' labels."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape[1] == 1:
        return np.c_[points, np.zeros(len(points))], ["u_0", ""]
    if points.shape[1] == 2:
        return points, ["u_0", "u_1"]
    centre = points.mean(axis=0)
    _, s, vt = np.linalg.svd(points - centre, full_matrices=False)
    share = s**2 / max((s**2).sum(), np.finfo(float).tiny)
    labels = [f"PC{i + 1} ({100 * share[i]:.0f}% of variance)" for i in range(2)]
    return (points - centre) @ vt[:2].T, labels


def _project(reference: np.ndarray, *others: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
    """``reference`` and ``others`` on the reference's first 2 principal components."""
    reference = np.asarray(reference, dtype=np.float64)
    if reference.shape[1] <= 2:
        pad = (lambda a: np.c_[a, np.zeros(len(a))]) if reference.shape[1] == 1 else (lambda a: a)
        names = ["u_0", ""] if reference.shape[1] == 1 else ["u_0", "u_1"]
        return [pad(np.asarray(a, dtype=np.float64)) for a in (reference, *others)], names
    centre = reference.mean(axis=0)
    _, s, vt = np.linalg.svd(reference - centre, full_matrices=False)
    share = s**2 / max((s**2).sum(), np.finfo(float).tiny)
    names = [f"PC{i + 1} of the known groups' codes ({100 * share[i]:.0f}%)" for i in range(2)]
    return [
        (np.asarray(a, dtype=np.float64) - centre) @ vt[:2].T for a in (reference, *others)
    ], names


def _link_colours(linkage: np.ndarray, clusters: np.ndarray, colours: np.ndarray) -> list[str]:
    """A colour for each node of a scipy linkage (leaves ``0 .. n-1``, merges ``n ..``):
    its cluster's where all its leaves are of one cluster, else grey. One pass over the
    ``n - 1`` merges of the tree (a figure of at most ``MAX_FULL`` groups)."""
    n = len(clusters)
    node = np.r_[clusters, np.full(len(linkage), -1)].astype(np.int64)
    for i, (left, right) in enumerate(linkage[:, :2].astype(np.int64)):
        node[n + i] = node[left] if node[left] == node[right] else -1
    hexes = [f"#{int(255 * r):02x}{int(255 * g):02x}{int(255 * b):02x}" for r, g, b in colours]
    return [hexes[c] if c >= 0 else "#707070" for c in node]


def draw_distance_heatmap(
    distances: np.ndarray,
    group_ids: np.ndarray,
    linkage: np.ndarray,
    clusters: np.ndarray,
    path: str | Path,
    *,
    metric: str = "w2",
    title: str = "",
) -> Path:
    """A clustered heatmap of the distances between groups: rows and columns in the
    order of the hierarchical clustering's dendrogram (drawn above), a colour strip of
    the clusters on the left, group ids on the axes up to :data:`MAX_LABELLED` groups.
    Distances beyond Tukey's far-out fence (``Q3 + 3 IQR`` of the distances) share the
    darkest colour, so that one far-off group does not wash out the rest.

    Args:
        distances: ``(n_groups, n_groups)`` distances (latent units).
        group_ids: ``(n_groups,)`` the user's ids.
        linkage: the scipy linkage matrix of the groups' clustering.
        clusters: ``(n_groups,)`` cluster of each group.
        path: PNG path.
        metric: ``"w2"`` or ``"euclidean"``, for the colour bar's label.
        title: the figure's title.
    """
    # deferred: scipy's dendrogram is only needed here
    from scipy.cluster.hierarchy import dendrogram

    n = len(group_ids)
    side = min(11.0, max(6.0, 0.16 * n + 3.0))
    fig = Figure(figsize=(side + 1.2, side + 1.0), layout="constrained")
    grid = fig.add_gridspec(2, 3, height_ratios=[1, 5], width_ratios=[0.25, 5, 0.22])
    tree_ax = fig.add_subplot(grid[0, 1])
    strip_ax = fig.add_subplot(grid[1, 0])
    heat_ax = fig.add_subplot(grid[1, 1])
    bar_ax = fig.add_subplot(grid[1, 2])
    k = int(clusters.max()) + 1 if len(clusters) else 1
    colours = np.array(_cluster_colours(k))
    link_colour = _link_colours(linkage, clusters, colours)
    tree = dendrogram(linkage, ax=tree_ax, no_labels=True, link_color_func=lambda i: link_colour[i])
    order = np.asarray(tree["leaves"])
    tree_ax.set_axis_off()
    off = distances[~np.eye(n, dtype=bool)]
    q1, q3 = np.quantile(off, [0.25, 0.75]) if len(off) else (0.0, 1.0)
    top = float(min(off.max(initial=1.0), q3 + 3 * (q3 - q1)))  # Tukey's far-out fence
    image = heat_ax.imshow(
        distances[np.ix_(order, order)],
        cmap="viridis_r",
        interpolation="nearest",
        aspect="auto",
        vmin=0.0,
        vmax=top,
    )
    strip_ax.imshow(colours[clusters[order]][:, None, :], aspect="auto", interpolation="nearest")
    strip_ax.set_xticks([])
    strip_ax.set_ylabel(f"{k} clusters (colour)", fontsize=8)
    ids = np.asarray(group_ids).astype(str)[order]
    if n <= MAX_LABELLED:
        size = 8 if n <= 30 else 6
        heat_ax.set_xticks(np.arange(n), ids, rotation=90, fontsize=size)
        heat_ax.set_yticks(np.arange(n), ids, fontsize=size)
        strip_ax.set_yticks([])
    else:
        heat_ax.set_xticks([])
        heat_ax.set_yticks([])
        strip_ax.set_yticks([])
        heat_ax.set_xlabel(f"{n} groups in dendrogram order (ids in the table)")
    name = "2-Wasserstein distance" if metric == "w2" else "Euclidean distance of means"
    clipped = top < off.max(initial=0.0)
    fig.colorbar(
        image,
        cax=bar_ax,
        extend="max" if clipped else "neither",
        label=f"{name} between posteriors (latent units)"
        + (f"; beyond {top:.2g} (far-out) in one colour" if clipped else ""),
    )
    fig.suptitle(title or f"distances between {n} groups' posteriors", fontsize=11)
    return _save(fig, path)


def draw_cluster_map(
    points: np.ndarray, clusters: np.ndarray, path: str | Path, *, title: str = ""
) -> Path:
    """The groups in 2-d (the first 2 principal components of their posterior points),
    coloured by cluster: the figure of a clustering of too many groups for a heatmap.

    Args:
        points: ``(n_groups, p)`` the points the distances are Euclidean between
            (:func:`groupvae.evaluation.groups.posterior_points`).
        clusters: ``(n_groups,)`` cluster of each group.
        path: PNG path.
        title: the figure's title.
    """
    xy, axes = _plane(points)
    k = int(clusters.max()) + 1 if len(clusters) else 1
    fig = Figure(figsize=(6.4, 5.0), layout="constrained")
    ax = fig.subplots()
    colours = _cluster_colours(k)
    size = 30 if len(xy) <= 500 else max(1.0, 3000 / len(xy))
    for c in range(k):
        mask = clusters == c
        ax.scatter(
            xy[mask, 0],
            xy[mask, 1],
            s=size,
            color=colours[c],
            lw=0,
            label=f"cluster {c} ({int(mask.sum())})",
        )
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best", markerscale=1.5)
    ax.set_title(title or f"{len(xy)} groups by cluster", fontsize=10)
    return _save(fig, path)


def _name_points(ax: object, x: np.ndarray, y: np.ndarray, names: np.ndarray) -> None:
    for xi, yi, name in zip(x, y, names, strict=True):  # the few named groups only
        ax.annotate(
            name, (xi, yi), xytext=(4, 0), textcoords="offset points", fontsize=7, va="center"
        )


NAMED = 5
"""A figure of outlier groups names at most this many groups per panel."""
CUT = 3.5
"""Iglewicz & Hoaglin's cut of a robust z-score."""


def draw_outliers(table: pd.DataFrame, path: str | Path, *, top: int = 10, title: str = "") -> Path:
    """Outlier groups: (a) every group's robust z-score of its log-likelihood per
    observation, in rank order, the ``top`` lowest in red (the first :data:`NAMED`
    named); (b) the log-likelihood per observation against the group's size; (c), where
    the table has it, the same z-score against the group's isolation among the groups
    (robust z of its mean distance to its nearest groups): groups beyond ``z = -3.5``
    (unusual members, red) or ``3.5`` (an unusual group, orange) named.

    Args:
        table: :func:`groupvae.evaluation.groups.outlier_table`'s rows (most unusual
            first: ``group``, ``group_size``, ``log_likelihood_per_obs``, ``robust_z``,
            maybe ``isolation_z``).
        path: PNG path.
        top: how many of the most unusual groups to mark.
        title: the figure's title.
    """
    top = max(0, min(top, len(table)))
    flagged = np.zeros(len(table), dtype=bool)
    flagged[:top] = True
    named = np.zeros(len(table), dtype=bool)
    named[: min(top, NAMED)] = True
    has_isolation = "isolation_z" in table
    fig = Figure(figsize=(15.5 if has_isolation else 11.0, 4.8), layout="constrained")
    axes = fig.subplots(1, 3 if has_isolation else 2)
    rank = np.arange(1, len(table) + 1)
    z = table["robust_z"].to_numpy()
    ids = table["group"].astype(str).to_numpy()
    left = axes[0]
    left.scatter(rank[~flagged], z[~flagged], s=14, color="tab:blue", label="groups")
    left.scatter(rank[flagged], z[flagged], s=22, color="tab:red", label=f"the {top} lowest")
    left.axhline(-CUT, color="0.4", ls="--", lw=1, label="z = -3.5 (Iglewicz & Hoaglin)")
    left.axhline(0, color="0.7", lw=0.8)
    _name_points(left, rank[named], z[named], ids[named])
    left.set_xlabel("rank (1 = the most unusual group)")
    left.set_ylabel("robust z of log-likelihood per observation")
    left.set_title("(a) groups the model explains worst", fontsize=9)
    left.legend(fontsize=7, loc="lower right")
    left.grid(alpha=0.3)
    size = table["group_size"].to_numpy()
    per_obs = table["log_likelihood_per_obs"].to_numpy()
    middle = axes[1]
    middle.scatter(size[~flagged], per_obs[~flagged], s=14, color="tab:blue")
    middle.scatter(size[flagged], per_obs[flagged], s=22, color="tab:red")
    _name_points(middle, size[named], per_obs[named], ids[named])
    if size.max() / max(size.min(), 1) > 20:
        middle.set_xscale("log")
    middle.set_xlabel("observations in the group")
    middle.set_ylabel("log p(x_G) per observation (nats, importance-sampled)")
    middle.set_title("(b) against group size: small groups scatter more", fontsize=9)
    middle.grid(alpha=0.3)
    if has_isolation:
        iso = table["isolation_z"].to_numpy()
        members, apart = z < -CUT, iso > CUT
        right = axes[2]
        plain = ~(members | apart)
        right.scatter(iso[plain], z[plain], s=14, color="tab:blue", label="groups")
        right.scatter(
            iso[members], z[members], s=26, color="tab:red", label="unusual members (z < -3.5)"
        )
        both = members & apart
        right.scatter(iso[both], z[both], s=80, facecolor="none", edgecolor="tab:orange", lw=1.5)
        right.scatter(
            iso[apart & ~members],
            z[apart & ~members],
            s=26,
            color="tab:orange",
            label="an unusual group (isolation > 3.5)",
        )
        worst = np.argsort(np.minimum(z, -iso), kind="stable")[: 2 * NAMED]
        shown = np.zeros(len(table), dtype=bool)
        shown[worst] = True
        shown &= members | apart
        _name_points(right, iso[shown], z[shown], ids[shown])
        right.axvline(CUT, color="0.4", ls="--", lw=1)
        right.axhline(-CUT, color="0.4", ls="--", lw=1)
        right.set_xlabel("isolation: robust z of mean W2 distance to nearest groups")
        right.set_ylabel("robust z of log-likelihood per observation")
        right.set_title("(c) unusual members (down) or an unusual group (right)", fontsize=9)
        right.legend(fontsize=7, loc="lower left")
        right.grid(alpha=0.3)
    fig.suptitle(title or f"outlier groups ({len(table)} groups)", fontsize=11)
    return _save(fig, path)


def draw_new_groups(
    reference_mean: np.ndarray,
    new_mean: np.ndarray,
    nearest: np.ndarray,
    new_ids: np.ndarray,
    path: str | Path,
    *,
    title: str = "",
) -> Path:
    """New groups among the known ones: the known groups' codes (grey) and the new
    groups' codes (red, named), each joined to its nearest known group, on the first 2
    principal components of the known codes.

    Args:
        reference_mean: ``(n_known, group_dim)`` the known groups' posterior means.
        new_mean: ``(n_new, group_dim)`` the new groups' posterior means.
        nearest: ``(n_new,)`` index of each new group's nearest known group.
        new_ids: ``(n_new,)`` the new groups' ids.
        path: PNG path.
        title: the figure's title.
    """
    (ref, new), axes = _project(reference_mean, new_mean)
    fig = Figure(figsize=(6.6, 5.2), layout="constrained")
    ax = fig.subplots()
    size = 18 if len(ref) <= 2000 else max(1.0, 30000 / len(ref))
    ax.scatter(ref[:, 0], ref[:, 1], s=size, color="0.65", lw=0, label=f"known groups ({len(ref)})")
    target = ref[np.asarray(nearest, dtype=np.int64)]
    ax.plot(
        np.c_[new[:, 0], target[:, 0]].T,
        np.c_[new[:, 1], target[:, 1]].T,
        color="tab:red",
        lw=0.8,
        alpha=0.7,
    )
    ax.scatter(
        target[:, 0],
        target[:, 1],
        s=40,
        facecolor="none",
        edgecolor="k",
        lw=0.8,
        label="nearest known group",
    )
    ax.scatter(
        new[:, 0], new[:, 1], s=60, marker="*", color="tab:red", label=f"new groups ({len(new)})"
    )
    shown = np.asarray(new_ids).astype(str)
    for i in range(min(len(new), 25)):  # names of at most 25 new groups, not per group work
        ax.annotate(
            shown[i],
            (new[i, 0], new[i, 1]),
            xytext=(5, 3),
            textcoords="offset points",
            fontsize=7,
            color="tab:red",
        )
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title or "new groups and their nearest known groups", fontsize=10)
    return _save(fig, path)


def draw_covariates(table: pd.DataFrame, path: str | Path, *, title: str = "") -> Path:
    """Group covariates: for each column, the cross-validated score of each
    representation (mean and standard deviation over folds), one panel per metric
    (``R^2`` of numeric columns, accuracy of categorical ones).

    Args:
        table: :func:`groupvae.evaluation.groups.covariate_scores`'s rows.
        path: PNG path.
        title: the figure's title.
    """
    scored = table[table["folds"] > 0]
    metrics = [m for m in ("r2", "accuracy") if (scored["metric"] == m).any()]
    names = list(pd.unique(table["representation"]))
    colours = dict(
        zip(names, ["tab:red", "tab:blue", "0.6", "tab:green", "tab:purple"], strict=False)
    )
    panels = max(1, len(metrics))
    columns = [list(pd.unique(scored.loc[scored["metric"] == m, "column"])) for m in metrics]
    height = max(3.2, 0.5 * max((len(c) for c in columns), default=1) * len(names) / 2 + 1.6)
    fig = Figure(figsize=(5.2 * panels + 0.6, height), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, panels))
    if not metrics:
        axes[0].text(
            0.5, 0.5, "no column could be scored\n(see the table's note)", ha="center", va="center"
        )
        axes[0].set_axis_off()
    for ax, metric, cols in zip(axes, metrics, columns, strict=False):
        part = scored[scored["metric"] == metric]
        height = 0.8 / len(names)
        y = np.arange(len(cols))
        low = -1.0 if metric == "r2" else 0.0
        for j, name in enumerate(names):
            rows = part[part["representation"] == name].set_index("column").reindex(cols)
            where = y + (j - (len(names) - 1) / 2) * height
            mean = rows["mean"].to_numpy(dtype=float)
            bar = np.clip(mean, low, 1.0)
            spread = rows["std"].to_numpy(dtype=float)
            error = [bar - np.clip(mean - spread, low, 1.0), np.clip(mean + spread, low, 1.0) - bar]
            ax.barh(
                where,
                bar,
                height=height,
                xerr=error,
                color=colours.get(name, "0.3"),
                label=name if ax is axes[0] else None,
                error_kw={"lw": 0.8, "capsize": 2},
            )
            for yi, m, sd in zip(where, mean, spread, strict=True):
                ax.text(1.03, yi, f"{m:.2f} \u00b1 {sd:.2f}", fontsize=7, va="center")
        ax.set_yticks(y, cols, fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="0.3", lw=0.8)
        ax.axvline(1.0, color="0.3", lw=0.8)
        if metric == "r2":
            ax.set_xlabel("R\u00b2 (cross-validated; drawn from -1 to 1, values at the right)")
            ax.set_xlim(low, 1.3)
        else:
            ax.set_xlabel("accuracy (cross-validated)")
            ax.set_xlim(0, 1.3)
        ax.grid(alpha=0.3, axis="x")
    fig.legend(loc="outside lower center", ncols=len(names), fontsize=8, frameon=False)
    fig.suptitle(
        title
        or "group-level columns predicted from each representation (mean \u00b1 std over folds)",
        fontsize=10,
    )
    return _save(fig, path)


def draw_volcano(table: pd.DataFrame, path: str | Path, *, top: int = 10, title: str = "") -> Path:
    """A volcano-style figure of a differential comparison: each feature's posterior
    mean effect (x) against the probability that its size exceeds ``delta`` (y), the
    features beyond ``prob_change >= 0.95`` coloured and the ``top`` largest effects
    among them named (without any, the 3 largest effects).

    Args:
        table: :func:`groupvae.evaluation.groups.differential_groups`'s rows (sorted by
            the size of the effect; ``attrs`` record the effect's kind).
        path: PNG path.
        top: how many features to name.
        title: the figure's title.
    """
    effect = table["effect"].to_numpy()
    prob = table["prob_change"].to_numpy()
    called = prob >= 0.95
    fig = Figure(figsize=(6.8, 5.0), layout="constrained")
    ax = fig.subplots()
    ax.scatter(
        effect[~called],
        prob[~called],
        s=14,
        color="0.6",
        lw=0,
        label=f"P < 0.95 ({int((~called).sum())})",
    )
    ax.scatter(
        effect[called],
        prob[called],
        s=20,
        color="tab:red",
        lw=0,
        label=f"P(|effect| > delta) >= 0.95 ({int(called.sum())})",
    )
    ranked = np.flatnonzero(called)[:top] if called.any() else np.arange(min(3, len(table)))
    names = table["feature"].astype(str).to_numpy()
    for n, i in enumerate(ranked):  # the few named features, alternately above and below
        ax.annotate(
            names[i],
            (effect[i], prob[i]),
            xytext=(4, -9 if n % 2 else 3),
            textcoords="offset points",
            fontsize=7,
        )
    delta = table["delta"].to_numpy()
    if len(delta) and np.allclose(delta, delta[0]):
        for sign in (-1, 1):
            ax.axvline(sign * delta[0], color="0.4", ls="--", lw=0.8)
    ax.axhline(0.95, color="0.4", ls=":", lw=0.8)
    kind = table.attrs.get("effect", "difference")
    unit = "log2 fold change A / B" if kind == "lfc" else "mean A - mean B (your units)"
    ax.set_xlabel(f"effect: {unit}")
    ax.set_ylabel("P(|effect| > delta)  (scVI change mode)")
    ax.set_ylim(-0.03, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title or f"set A against set B ({len(table)} features)", fontsize=10)
    return _save(fig, path)


__all__ = [
    "MAX_LABELLED",
    "draw_cluster_map",
    "draw_covariates",
    "draw_distance_heatmap",
    "draw_new_groups",
    "draw_outliers",
    "draw_volcano",
]
