"""``groupvae benchmark exam-scores``: the CxVAE paper's Tables 1-2 and Fig. 3 and 5.

The protocol: each model (a preset, or for ``table="ablation"`` CxVAE with one part
replaced), over several seeds, trained on freshly sampled Exam-Scores data and scored by
the four holdout errors; beside them, the same errors of the exact posterior
(:mod:`groupvae.evaluation.bayes_oracle`), the Bayes-optimal limit, on the same holdout
schools. :func:`groupvae.benchmarks.runner.run_protocol` runs it and writes
``results.json``, ``results.csv``, ``summary.csv`` and ``table.md``; ``translation.png``
is drawn from the saved runs of the first seed (``runs/<name>-seed<seed>``) and
``errors_by_epoch.png`` (Fig. 5) from every run's ``epoch_errors.csv``.

Three protocols: ``default`` (lr 1e-3, 32 epochs, 3 seeds, errors after the last
epoch), ``fast`` (the same but 10 epochs at a cosine-annealed lr from 5e-3: about 3x less
training, at some cost in CxVAE's v-prediction error) and ``paper`` (the CxVAE paper's:
lr 1e-4, 64 epochs, 7 runs, errors averaged over epochs 44-64).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from groupvae.benchmarks.runner import Protocol, Run, mean_std, run_dir, run_protocol
from groupvae.errors import ConfigError
from groupvae.evaluation.exam_scores import bayes_optimal_metrics, exam_scores_metrics
from groupvae.models import create
from groupvae.plots.exam_scores import draw_error_curves
from groupvae.plots.translation import draw_translation, translation_example
from groupvae.runs import build_data, evaluate_run, load_run, train_run
from groupvae.store.atomic import write_text
from groupvae.store.run_directory import record_output

METRIC_NAMES = (
    "reconstruction_error",
    "translation_error",
    "u_prediction_error",
    "v_prediction_error",
)
COLUMNS = ("REC ERR", "TRANS ERR", "u-PRED ERR", "v-PRED ERR")

# CxVAE paper, Table 1 (mean ± std over 7 runs, averaged over epochs 44-64). The
# reconstruction error of CxVAE in Table 1 (71.9) differs from Table 2 (52.1); ML-VAE's
# and GVAE's reconstruction errors are missing from the paper's text.
PAPER_TABLE_1: dict[str, dict[str, str]] = {
    "cxvae": {
        "REC ERR": "71.9 ± 4.3 (Table 2: 52.1 ± 0.6)",
        "TRANS ERR": "219.5 ± 4.7",
        "u-PRED ERR": "53.3 ± 1.2",
        "v-PRED ERR": "30.2 ± 0.3",
    },
    "mlvae": {
        "REC ERR": "—",
        "TRANS ERR": "738.8 ± 13.6",
        "u-PRED ERR": "63.4 ± 1.0",
        "v-PRED ERR": "63.0 ± 0.3",
    },
    "gvae": {
        "REC ERR": "—",
        "TRANS ERR": "742.9 ± 14.4",
        "u-PRED ERR": "63.1 ± 0.9",
        "v-PRED ERR": "63.0 ± 0.4",
    },
    "gvae-adv": {
        "REC ERR": "70.0 ± 1.4",
        "TRANS ERR": "735.3 ± 13.0",
        "u-PRED ERR": "63.8 ± 1.1",
        "v-PRED ERR": "63.0 ± 0.5",
    },
    "vae": {"REC ERR": "not in paper", "TRANS ERR": "—", "u-PRED ERR": "—", "v-PRED ERR": "—"},
}


# CxVAE paper, Table 2 (ablation; mean ± std over 7 runs, epochs 44-64). Its last row,
# "unconditional IB", is not built here; the pairwise (Nemeth) regulariser takes its place.
PAPER_TABLE_2: dict[str, dict[str, str]] = {
    "cxvae": {"REC ERR": "52.1 ± 0.6", "TRANS ERR": "219.5 ± 4.7",
              "u-PRED ERR": "53.3 ± 1.2", "v-PRED ERR": "30.2 ± 0.3"},
    "u-enc: average": {"REC ERR": "53.6 ± 2.2", "TRANS ERR": "224.7 ± 10.0",
                       "u-PRED ERR": "53.4 ± 1.1", "v-PRED ERR": "30.9 ± 1.1"},
    "u-enc: product": {"REC ERR": "54.9 ± 2.8", "TRANS ERR": "229.2 ± 7.8",
                       "u-PRED ERR": "53.4 ± 0.9", "v-PRED ERR": "31.4 ± 1.0"},
    "v-enc: unconditional": {"REC ERR": "72.3 ± 3.6", "TRANS ERR": "729.0 ± 15.1",
                             "u-PRED ERR": "63.6 ± 1.2", "v-PRED ERR": "63.0 ± 0.3"},
    "reg: none": {"REC ERR": "54.1 ± 1.9", "TRANS ERR": "235.5 ± 16.5",
                  "u-PRED ERR": "53.6 ± 1.4", "v-PRED ERR": "31.6 ± 1.5"},
    "reg: pairwise": {"REC ERR": "—", "TRANS ERR": "—", "u-PRED ERR": "—", "v-PRED ERR": "—"},
}  # fmt: skip

ABLATION: dict[str, dict[str, Any]] = {
    "cxvae": {},
    "u-enc: average": {"group_encoder": "mean"},
    "u-enc: product": {"group_encoder": "poe"},
    "v-enc: unconditional": {"instance_encoder": "independent"},
    "reg: none": {"regulariser": "none"},
    "reg: pairwise": {"regulariser": "pairwise-adversarial"},
}
"""CxVAE Table 2: CxVAE with one part replaced (``ModelConfig`` fields over the
``cxvae`` preset); the regulariser's weight stays CxVAE's."""

BAYES = "bayes-optimal"
BAYES_LABEL = "Bayes-optimal (exact posterior)"
PAPER_EPOCHS = (44, 64)
"""The paper's Table 1-2 average the errors over these epochs (1-based, inclusive)."""
CURVES = "epoch_errors.csv"


@dataclass(frozen=True)
class ExamScoresBenchmark:
    """Settings of the benchmark (all recorded in ``results.json``).

    Attributes:
        models: presets to compare (``table="1"``).
        seeds: one run per model and seed; the seed drives data, split, weights, training.
        n_groups: schools sampled per seed (train + holdout).
        epochs: training epochs.
        holdout: fraction of groups held out for the metrics.
        jobs: runs trained in parallel, each in its own process with one torch thread.
        overrides: ``ModelConfig`` / ``TrainConfig`` fields applied to every run.
        table: ``"1"`` (the presets of ``models``) or ``"ablation"`` (Table 2, the
            variants of :data:`ABLATION`).
        data: options of the data set (``noise_std=0``: the authors' noise-free data).
        protocol: ``"default"``, ``"fast"`` or ``"paper"`` (only recorded; :meth:`fast`
            and :meth:`paper` set it).
        curve_every: score a sample of the holdout schools after every this many epochs
            (Fig. 5); 0: never.
        curve_groups: holdout schools in that sample.
        average_epochs: ``(first, last)`` 1-based epochs whose sampled errors are
            averaged into the table (the paper's protocol); ``None``: the errors of all
            holdout schools after the last epoch.
    """

    models: tuple[str, ...] = ("vae", "mlvae", "gvae", "gvae-adv", "cxvae")
    seeds: tuple[int, ...] = (0, 1, 2)
    n_groups: int = 32_768
    epochs: int = 32
    holdout: float = 0.2
    jobs: int = 2
    overrides: dict[str, Any] = field(default_factory=dict)
    table: str = "1"
    data: dict[str, Any] = field(default_factory=dict)
    protocol: str = "default"
    curve_every: int = 1
    curve_groups: int = 1024
    average_epochs: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.table not in ("1", "ablation"):
            raise ConfigError(f"table must be '1' or 'ablation', got {self.table!r}")
        if self.average_epochs is not None:
            first, last = self.average_epochs
            if not 1 <= first <= last <= self.epochs or self.curve_every != 1:
                raise ConfigError(
                    f"average_epochs {self.average_epochs} needs 1 <= first <= last <= "
                    f"epochs ({self.epochs}) and curve_every=1"
                )

    @classmethod
    def quick(cls) -> ExamScoresBenchmark:
        """Settings that finish in about two minutes on two CPU cores."""
        return cls(seeds=(0, 1), n_groups=1024, epochs=8)

    @classmethod
    def fast(cls) -> ExamScoresBenchmark:
        """The default protocol with about 3x less training: 10 epochs instead of 32, at
        a learning rate annealed from 5e-3 to 0 on a cosine (``lr_schedule="cosine"``)
        instead of a constant 1e-3. Under five minutes on two CPU cores;
        docs/benchmarks/exam-scores.md compares its errors with the default's."""
        return cls(epochs=10, overrides={"lr": 5e-3, "lr_schedule": "cosine"}, protocol="fast")

    @classmethod
    def paper(cls, epochs: int = 64) -> ExamScoresBenchmark:
        """The CxVAE paper's protocol: lr 1e-4, 64 epochs, 7 runs, errors averaged over
        epochs 44-64 (Table 1's caption). With fewer ``epochs``, the average is over the
        last 21 epochs (at most all of them), as 44-64 are of 64."""
        return cls(
            seeds=tuple(range(7)),
            epochs=epochs,
            overrides={"lr": 1e-4},
            protocol="paper",
            average_epochs=(max(1, epochs - (PAPER_EPOCHS[1] - PAPER_EPOCHS[0])), epochs),
        )

    @property
    def noise_std(self) -> float:
        """``s`` of the data (``make_exam_scores``' default 1 unless ``data`` sets it)."""
        return float(self.data.get("noise_std", 1.0))

    def variants(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Row name -> (preset, ``ModelConfig`` fields over it), in table order."""
        if self.table == "ablation":
            return {name: ("cxvae", parts) for name, parts in ABLATION.items()}
        return {m: (m, {}) for m in self.models}


def run_name(name: str) -> str:
    """A row name as a run directory's stem: ``"u-enc: average"`` -> ``u-enc-average``."""
    return "-".join(name.replace(":", " ").split())


def _curve_score(model: Any, holdout: Any, *, seed: int) -> dict[str, float]:

    return exam_scores_metrics(model, holdout, seed=seed, max_train=4_000)


def _epoch_average(curves: pd.DataFrame, epochs: tuple[int, int]) -> dict[str, float]:
    """The four errors averaged over ``epochs`` (1-based, inclusive) of one run."""
    rows = curves[(curves["epoch"] >= epochs[0]) & (curves["epoch"] <= epochs[1])]
    return {m: float(rows[m].mean()) for m in METRIC_NAMES}


def _table_1_task(
    model: str,
    bench: ExamScoresBenchmark,
    parts: dict[str, Any] | None = None,
    *,
    seed: int,
    run_dir: Path,
) -> dict[str, Any]:
    """Train and evaluate one model for one seed; with ``curve_every``, also score a
    sample of the holdout after the epochs and write ``run_dir/epoch_errors.csv``."""
    # deferred: Lightning takes about a second to import; only training needs it
    from groupvae.training.callbacks import EpochEvaluation

    recorders: list[EpochEvaluation] = []

    def callbacks(fitted: Any, hold: Any) -> list[Any]:
        recorder = EpochEvaluation(
            fitted, hold, partial(_curve_score, seed=seed),
            max_groups=bench.curve_groups, every=bench.curve_every, seed=seed,
        )  # fmt: skip
        recorders.append(recorder)
        return [recorder]

    train_run(
        model,
        "exam-scores",
        run_dir,
        seed=seed,
        epochs=bench.epochs,
        overrides={"num_threads": 1, **bench.overrides, **(parts or {})},
        data_options={"n_groups": bench.n_groups, **bench.data},
        holdout=bench.holdout,
        progress=False,
        callbacks=callbacks if bench.curve_every > 0 else None,
    )
    metrics = evaluate_run(run_dir, seed=seed)
    metrics.pop("model")  # the preset; the row's name is the variant's (ablation)
    if recorders:
        curves = recorders[0].frame()
        write_text(run_dir / CURVES, curves.to_csv(index=False))
        record_output(run_dir, run_dir / CURVES)
        if bench.average_epochs is not None:
            metrics.update({f"final_{m}": metrics[m] for m in METRIC_NAMES})
            metrics.update(_epoch_average(curves, bench.average_epochs))
    return metrics


def _bayes_task(bench: ExamScoresBenchmark, *, seed: int, run_dir: Path) -> dict[str, Any]:
    """The exact posterior's errors on the holdout schools the models of ``seed`` get."""

    probe = create("mlvae", dataset="exam-scores", seed=seed)  # only for its split
    _, hold = build_data(
        probe, "exam-scores", seed=seed, holdout=bench.holdout,
        options={"n_groups": bench.n_groups, **bench.data},
    )  # fmt: skip
    metrics = bayes_optimal_metrics(hold, noise_std=bench.noise_std, seed=seed)
    if bench.average_epochs is not None:  # the models' rows are scored on the sample
        if hold.n_groups > bench.curve_groups:
            chosen = np.random.default_rng(seed).permutation(hold.n_groups)[: bench.curve_groups]
            hold = hold.subset_groups(np.sort(chosen))
        sample = bayes_optimal_metrics(hold, noise_std=bench.noise_std, seed=seed)
        metrics = {**{f"final_{m}": metrics[m] for m in METRIC_NAMES}, **sample}
    return metrics


def _gap(row: pd.Series, limit: pd.Series | None) -> str:
    """``"TRANS +x / u +y / v +z"``: the row's mean minus the limit's."""
    if limit is None:
        return "—"
    cells = []
    for metric, short in zip(METRIC_NAMES[1:], ("TRANS", "u", "v"), strict=True):
        diff = row[(metric, "mean")] - limit[(metric, "mean")]
        cells.append(f"{short} —" if np.isnan(diff) else f"{short} {diff:+.1f}")
    return " / ".join(cells)


def format_table(summary: pd.DataFrame, paper: dict[str, dict[str, str]] | None = None) -> str:
    """A Markdown table ``model | ours ... | gap to the limit | paper ...`` in the paper's
    column order, the Bayes-optimal row last.

    Args:
        summary: indexed by model, columns ``(metric, "mean" | "std")``
            (:func:`groupvae.benchmarks.runner.summarise`).
        paper: row name -> the paper's cells (default: Table 1).
    """
    paper = PAPER_TABLE_1 if paper is None else paper
    limit = summary.loc[BAYES] if BAYES in summary.index else None
    head = (
        "| model | " + " | ".join(COLUMNS) + " | gap to the limit | paper: "
        + " | paper: ".join(COLUMNS) + " |"
    )  # fmt: skip
    lines = [head, "|" + "---|" * (2 + 2 * len(COLUMNS))]
    for model, row in summary.iterrows():
        ours = [mean_std(row[(m, "mean")], row[(m, "std")], 1) for m in METRIC_NAMES]
        if model == BAYES:
            cells = ["0 (x is observed)", *ours[1:]]
            lines.append(f"| {BAYES_LABEL} | " + " | ".join(cells) + " | 0 |" + " — |" * 4)
            continue
        theirs = [paper.get(str(model), {}).get(c, "—") for c in COLUMNS]
        gap = _gap(row, limit)
        lines.append(
            f"| {model} | " + " | ".join(ours) + f" | {gap} | " + " | ".join(theirs) + " |"
        )
    return "\n".join(lines)


def draw_figure(out: Path, bench: ExamScoresBenchmark) -> list[Path]:
    """Fig. 3, translation between two schools, from the saved runs of the first seed."""

    seed = bench.seeds[0]
    examples = {}
    for name in bench.variants():
        loaded, _, hold = load_run(run_dir(out, run_name(name), seed))
        if not loaded.config.has_group_latent:  # no group latent, nothing to translate
            continue
        examples[name] = translation_example(loaded, hold, source=0, target=1)
    if not examples:
        return []
    title = f"Exam-Scores translation (seed {seed})"
    return [draw_translation(examples, out / "translation.png", title=title)]


def draw_curves(out: Path, bench: ExamScoresBenchmark, summary: pd.DataFrame) -> list[Path]:
    """Fig. 5, holdout errors by epoch (min / median / max over seeds), from every run's
    ``epoch_errors.csv``; the Bayes-optimal limit (mean over seeds) dashed."""

    curves: dict[str, list[pd.DataFrame]] = {}
    for name in bench.variants():
        paths = [run_dir(out, run_name(name), seed) / CURVES for seed in bench.seeds]
        curves[name] = [pd.read_csv(p) for p in paths if p.is_file()]
    curves = {k: v for k, v in curves.items() if v}
    if not curves:
        return []
    limits = {}
    if BAYES in summary.index:
        limits = {m: float(summary.loc[BAYES][(m, "mean")]) for m in METRIC_NAMES[1:]}
    runs = max(len(v) for v in curves.values())
    title = (
        f"Exam-Scores holdout errors by epoch (min / median / max over {runs} runs, "
        f"{bench.curve_groups} holdout schools, s = {bench.noise_std:g})"
    )
    return [draw_error_curves(curves, out / "errors_by_epoch.png", limits=limits, title=title)]


def _describe(row: dict[str, Any]) -> str:
    metrics = ", ".join(f"{k} {row[k]:.1f}" for k in METRIC_NAMES)
    return f"{row['model']:>20} seed {row['seed']}: {metrics}"


def protocol(bench: ExamScoresBenchmark) -> Protocol:
    """The benchmark as a protocol: one run per model (and seed), and the exact
    posterior's row."""
    runs = [
        Run(run_name(name), {"model": name}, _table_1_task, (preset, bench, parts))
        for name, (preset, parts) in bench.variants().items()
    ]
    runs.append(Run(BAYES, {"model": BAYES}, _bayes_task, (bench,), weight=0.1))
    paper = PAPER_TABLE_2 if bench.table == "ablation" else PAPER_TABLE_1

    def figures(out: Path, rows: pd.DataFrame, summary: pd.DataFrame) -> list[Path]:
        return draw_figure(out, bench) + draw_curves(out, bench, summary)

    return Protocol(
        name="exam-scores" if bench.table == "1" else "exam-scores-ablation",
        settings=bench,
        runs=runs,
        tabulate=lambda rows, summary: format_table(summary, paper),
        metrics=METRIC_NAMES,
        figures=figures,
        describe=_describe,
        record={
            "paper_table_1": PAPER_TABLE_1,
            "paper_table_2": PAPER_TABLE_2,
            "units": "mean squared error x 100 on holdout groups",
            "bayes_optimal": f"{BAYES}: the exact posterior's means, scored as the models",
        },
    )


def run_benchmark(
    bench: ExamScoresBenchmark, out: str | Path, *, echo: Any = print
) -> pd.DataFrame:
    """Run every (model, seed) not yet in ``out``; write the results and the figures.

    Returns:
        One row per run: model, seed, the four errors and ``seconds``.
    """
    return run_protocol(protocol(bench), out, echo=echo)


__all__ = [
    "ABLATION",
    "BAYES",
    "METRIC_NAMES",
    "PAPER_TABLE_1",
    "PAPER_TABLE_2",
    "ExamScoresBenchmark",
    "draw_curves",
    "draw_figure",
    "format_table",
    "protocol",
    "run_benchmark",
    "run_name",
]
