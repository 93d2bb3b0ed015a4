"""Exam-Scores translation figure in the style of the CxVAE paper's Fig. 3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from groupvae.data.exam_scores import exam_scores_mean
from groupvae.data.grouped import GroupedDataset
from groupvae.store.atomic import write_with


def translation_example(
    model: Any, holdout: GroupedDataset, source: int, target: int
) -> dict[str, np.ndarray]:
    """Translate the members of group ``source`` into group ``target``.

    Returns:
        ``source``, ``target``, ``translated`` and ``truth`` score arrays (``(K,)`` each;
        ``target`` has the target group's own size).
    """
    rows = np.flatnonzero(holdout.group == source)
    u_code = model.encode_groups(holdout).mean
    v_code = model.encode_instances(holdout).mean[rows]
    translated = model.decode(np.repeat(u_code[target][None], len(rows), 0), v_code)[:, 0]
    truth = exam_scores_mean(holdout.u[[target] * len(rows)], holdout.v[rows])[:, 0]
    truth = truth + holdout.aux["eps"][rows, 0]
    return {
        "source": holdout.x[rows, 0],
        "target": holdout.x[holdout.group == target, 0],
        "translated": translated,
        "truth": truth,
    }


def draw_translation(
    examples: dict[str, dict[str, np.ndarray]], path: str | Path, *, title: str = ""
) -> Path:
    """One panel per model: source (yellow), translated (red) and target (orange) scores,
    with grey lines from each source score to its translation and black ticks at the
    ground-truth translation. Saved atomically as PNG.

    Args:
        examples: model name -> output of :func:`translation_example`.
        path: PNG path.
    """
    fig = Figure(figsize=(3.2 * len(examples), 4.2), layout="constrained")
    axes = fig.subplots(1, len(examples), sharey=True, squeeze=False)[0]
    for ax, (name, ex) in zip(axes, examples.items(), strict=True):
        k = len(ex["source"])
        ax.plot(
            np.c_[np.zeros(k), np.ones(k)].T,
            np.c_[ex["source"], ex["translated"]].T,
            color="0.6",
            lw=0.8,
        )
        ax.scatter(np.zeros(k), ex["source"], color="gold", label="source", zorder=3)
        ax.scatter(np.ones(k), ex["translated"], color="red", label="translated", zorder=3)
        ax.scatter(
            np.ones(k) + 0.12, ex["truth"], color="black", marker="_", label="true translation"
        )
        ax.scatter(
            np.full(len(ex["target"]), 2.0),
            ex["target"],
            color="darkorange",
            label="target",
            zorder=3,
        )
        err = 100 * np.mean((ex["translated"] - ex["truth"]) ** 2)
        ax.set_title(f"{name}\ntranslation MSE x100: {err:.0f}", fontsize=9)
        ax.set_xticks([0, 1, 2], ["source", "translated", "target"])
    axes[0].set_ylabel("exam score x")
    axes[-1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    path = Path(path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path
