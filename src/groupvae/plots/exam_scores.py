"""Exam-Scores holdout errors by training epoch, after the CxVAE paper's Fig. 5."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from groupvae.store.atomic import write_with

PANELS = {
    "reconstruction_error": "REC ERR",
    "translation_error": "TRANS ERR",
    "u_prediction_error": "u-PRED ERR",
    "v_prediction_error": "v-PRED ERR",
}


def error_bands(curves: Sequence[pd.DataFrame], metric: str) -> pd.DataFrame:
    """Min, median and max of ``metric`` over runs at each epoch.

    Args:
        curves: one frame per run, with ``epoch`` and ``metric`` columns.

    Returns:
        Indexed by epoch, columns ``min``, ``median``, ``max`` and ``runs`` (how many
        runs scored that epoch).
    """
    stacked = pd.concat([c[["epoch", metric]] for c in curves], ignore_index=True)
    grouped = stacked.groupby("epoch")[metric]
    return pd.DataFrame(
        {
            "min": grouped.min(),
            "median": grouped.median(),
            "max": grouped.max(),
            "runs": grouped.count(),
        }
    )


def draw_error_curves(
    curves: Mapping[str, Sequence[pd.DataFrame]],
    path: str | Path,
    *,
    limits: Mapping[str, float] | None = None,
    title: str = "",
) -> Path:
    """Four panels (the four errors x 100 by epoch), one colour per model: the median
    over runs as a line, the band between the lowest and the highest run shaded; the
    Bayes-optimal limit, where given, as a dashed black line. Saved atomically as PNG.

    Args:
        curves: model name -> its runs' per-epoch errors (``epoch`` and the four
            error columns; a model without a translation has NaN there).
        path: PNG path.
        limits: error name -> the exact posterior's value.
    """
    fig = Figure(figsize=(13, 3.4), layout="constrained")
    axes = fig.subplots(1, len(PANELS), squeeze=False)[0]
    colours = [f"C{i}" for i in range(10)]
    for ax, (metric, label) in zip(axes, PANELS.items(), strict=True):
        for colour, (name, runs) in zip(colours, curves.items(), strict=False):
            if not runs or metric not in runs[0] or runs[0][metric].isna().all():
                continue
            band = error_bands(runs, metric)
            ax.fill_between(band.index, band["min"], band["max"], color=colour, alpha=0.25)
            ax.plot(band.index, band["median"], color=colour, lw=1.5, label=name)
        if limits and np.isfinite(limits.get(metric, np.nan)):
            ax.axhline(limits[metric], color="k", ls="--", lw=1, label="Bayes-optimal")
        ax.set_title(label)
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
    axes[0].set_ylabel("holdout error (MSE x 100)")
    axes[-1].legend(fontsize=7, loc="upper right")
    if title:
        fig.suptitle(title)
    path = Path(path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path


__all__ = ["PANELS", "draw_error_curves", "error_bands"]
