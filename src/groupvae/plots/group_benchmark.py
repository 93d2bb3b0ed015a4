"""The figure of ``groupvae benchmark group-analyses``: each score of the analyses of
groups against the group size, per kind of data, model and noise level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from groupvae.store.atomic import write_with

SCORES = {
    "ari": "clustering ARI",
    "recall": "outlier recall at k",
    "auroc": "differential AUROC",
}
"""The scores drawn (columns of the runner's rows) and their axis titles."""
NOISE_STYLES = {"low": "-", "high": "--"}
CEILING = "oracle"
"""The model drawn thin and grey: the scores' ceiling."""


def draw_group_benchmark(runs: pd.DataFrame, path: str | Path) -> Path:
    """A grid of panels, a row per kind of data and a column per score: the score's
    mean over seeds against the group size (log scale), a line per model and noise level
    (solid: low noise, dashed: high), with a bar of one standard deviation; the
    ``oracle`` (the ceiling) thin and grey.

    Args:
        runs: the benchmark's rows: ``data``, ``size``, ``noise``, ``model``, ``seed``
            and the scores of :data:`SCORES`.
        path: the PNG to write (atomically).

    Returns:
        ``path``.
    """
    stats = runs.groupby(["data", "noise", "model", "size"], sort=False)[list(SCORES)]
    mean, std = stats.mean(), stats.std().fillna(0.0)
    kinds = list(dict.fromkeys(runs["data"]))
    models = list(dict.fromkeys(runs["model"]))
    colours = dict(zip([m for m in models if m != CEILING], colormaps["tab10"].colors,
                       strict=False))  # fmt: skip
    colours[CEILING] = "0.6"
    fig = Figure(figsize=(4.2 * len(SCORES), 3.4 * len(kinds)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(kinds), len(SCORES), squeeze=False))
    for r, kind in enumerate(kinds):
        for c, (score, title) in enumerate(SCORES.items()):
            ax = axes[r, c]
            for (data, noise, model), m in mean.groupby(level=[0, 1, 2], sort=False):
                if data != kind:
                    continue
                sizes = m.index.get_level_values("size").to_numpy()
                s = std.loc[(data, noise, model)]
                ax.errorbar(
                    sizes, m[score].to_numpy(), yerr=s[score].to_numpy(), capsize=2,
                    color=colours[model], linestyle=NOISE_STYLES.get(noise, ":"), marker="o",
                    markersize=3, label=f"{model}, {noise} noise",
                    linewidth=0.8 if model == CEILING else 1.5,
                )  # fmt: skip
            ax.set_xscale("log")
            sizes = sorted(set(runs.loc[runs["data"] == kind, "size"]))
            ax.set_xticks(sizes, [str(s) for s in sizes])
            ax.minorticks_off()
            ax.set_ylim(-0.05 if score == "ari" else 0.0, 1.03)
            ax.set_title(f"{kind}: {title}", fontsize=10)
            ax.set_xlabel("members per group")
            ax.grid(alpha=0.3)
    fig.suptitle(
        "Analyses of groups against known answers: mean ± 1 sd over seeds "
        "(solid: low noise, dashed: high noise)",
        fontsize=11,
    )
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6), fontsize=8)
    path = Path(path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path


__all__ = ["SCORES", "draw_group_benchmark"]
