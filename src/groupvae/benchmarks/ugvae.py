"""``groupvae benchmark ugvae``: UG-VAE's batch classification, domain alignment and figures.

Every model trains on **random batches** of 128 images (no grouping label), with UG-VAE's
MNIST architecture (appendix B, Table 2) and the authors' settings (Adam, lr 5e-3):

* ``ugvae``: UG-VAE (global latent beta, mixture prior over the local latent);
* ``mlvae-random``: the ``mlvae`` preset on the same architecture and random batches,
  the paper's ablation without the mixture (Fig. 4, A.2);
* ``gmvae``: mixture prior with learned components, no global latent;
* ``beta-vae``: the VAE with KL weight 10, no global latent.

On the bundled MNIST (``DATASETS["mnist"]``, 20% of the images held out):

* **Structured batches** (section 4.3, appendix A.3, the Table 1 protocol): batches of
  128 held-out images of only even digits, only odd, Fibonacci (0, 1, 2, 3, 5, 8) or
  prime (2, 3, 5, 7) digits, and random ones; one sample of each batch's global
  posterior; linear and RBF SVMs trained on half of the batches, tested on the other
  half (:mod:`groupvae.evaluation.global_factors`). Models without a global latent are
  scored on the product of Normals of their members' posteriors.
* **Figures**: ``fig3_ugvae.png`` (beta from -1 to 1 down the rows, z from mu_z - 3 to
  mu_z + 3 across, for fixed clusters d), ``fig4_mlvae_random.png`` (the same without
  the mixture), ``fig14_structured_tsne.png`` (t-SNE of the structured batches' betas).

On MNIST + the UCI digits (``DATASETS["digit-domains"]``, section 4.2 with two real digit
domains in place of CelebA and 3D FACES), every training batch half of each domain:

* **Domain alignment**: SVMs on the global posterior of MNIST-only against UCI-only
  held-out batches, and with mixed batches as a third class; and the **domain transfer
  rate** of swapping in the other domain's beta
  (:func:`groupvae.evaluation.global_factors.domain_transfer`), the quantitative form
  of Fig. 5a and A.2;
* **Figures**: ``fig5a_domain_interpolation.png`` (betas of a MNIST-only and a UCI-only
  batch down the rows, the z's of one image of each across), the same for
  ``mlvae-random`` (``fig11_mlvae_domain_interpolation.png``, the paper's A.2), and
  ``fig5b_domain_tsne.png``.

The shared runner (:func:`groupvae.benchmarks.runner.run_protocol`) writes
``results.json`` (every run, the settings, the machine), ``results.csv``, ``summary.csv``
and ``table.md``; the figures are drawn from the run directories of the first seed,
``runs/<data set>-<model>-seed<seed>`` (``groupvae plot global-local RUN`` redraws Fig. 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from groupvae.benchmarks.runner import Protocol, Run, mean_std, run_dir, run_protocol
from groupvae.data.domains import DOMAIN_NAMES
from groupvae.evaluation.global_factors import (
    CLASSIFIERS,
    TASKS,
    domain_batch_classification,
    domain_transfer,
    draw_batches,
    structured_batch_classification,
)
from groupvae.models.defaults import ugvae_model_defaults
from groupvae.models.group_vae import GroupVAE
from groupvae.models.presets import UGVAE_TRAINING
from groupvae.plots.ugvae import (
    draw_domain_interpolation,
    draw_global_local_grid,
    draw_posterior_tsne,
)
from groupvae.runs import (
    group_vae_activity,
    holdout_elbo,
    load_run,
    scoring_groups,
    train_run,
)
from groupvae.store.atomic import write_json, write_with
from groupvae.store.run_directory import record_output

# UG-VAE (Peis et al.) Table 1: batch classification from samples of beta, CelebA,
# batches of 128 test images; (train, test) accuracy.
PAPER_TABLE_1 = {
    "black/blond": {"linear": (1.0, 0.95), "rbf": (1.0, 0.98)},
    "black/blond/random": {"linear": (0.91, 0.54), "rbf": (0.85, 0.56)},
    "male/female": {"linear": (1.0, 0.85), "rbf": (1.0, 0.85)},
    "male/female/random": {"linear": (0.84, 0.66), "rbf": (0.89, 0.63)},
}
STRUCTURED = "mnist"
DOMAINS = "digit-domains"
DOMAIN_TASKS = ("/".join(DOMAIN_NAMES), "/".join(DOMAIN_NAMES) + "/mixed")
TRANSFER_BATCHES = 20
"""Single-domain batches per domain in the beta-swap domain-transfer measure."""
TRANSFER = {
    "transfer_rate": "beta swap: translations classified as the other domain",
    "reconstruction_domain_accuracy": "reconstructions classified as their own domain",
}


ABLATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "mlvae-random": ("mlvae", {**ugvae_model_defaults((1, 28, 28)), **UGVAE_TRAINING}),
}
"""The benchmark's own models: name -> ``(preset, overrides)``. ``mlvae-random`` is the
``mlvae`` preset (product-of-Normals group encoder, standard Normal prior) with UG-VAE's
architecture and random-batch training: UG-VAE without the mixture, the paper's Fig. 4
ablation."""


def model_spec(name: str) -> tuple[str, dict[str, Any]]:
    """``(preset, overrides)`` of a benchmark model name: one of :data:`ABLATIONS`, else
    the preset ``name`` as it is."""
    return ABLATIONS.get(name, (name, {}))


@dataclass(frozen=True)
class UGVAEBenchmark:
    """Settings of the benchmark (all recorded in ``results.json``).

    Attributes:
        models: models of the structured-batch experiment (see :func:`model_spec`).
        domain_models: models of the domain-alignment experiment.
        seeds: one run per model, data set and seed (data split, weights, training,
            batches, posterior samples and SVM splits).
        epochs: training epochs (the authors' code: 50).
        holdout: fraction of the image groups held out; batches are drawn from them.
        n_batches: held-out batches of each kind.
        batch_size: images per batch (B = 128, as in training).
        jobs: runs trained in parallel, each in its own process with one thread.
        overrides: ``ModelConfig`` / ``TrainConfig`` fields applied to every run.
    """

    models: tuple[str, ...] = ("ugvae", "mlvae-random", "gmvae", "beta-vae")
    domain_models: tuple[str, ...] = ("ugvae", "mlvae-random")
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 50
    holdout: float = 0.2
    n_batches: int = 100
    batch_size: int = 128
    jobs: int = 2
    overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def quick(cls) -> UGVAEBenchmark:
        """Settings that finish in about two minutes on two CPU cores."""
        return cls(seeds=(0,), epochs=4, n_batches=20)


def _batches_task(
    experiment: str, name: str, bench: UGVAEBenchmark, *, seed: int, run_dir: Path
) -> dict[str, Any]:
    """Train one model on one data set for one seed, then score its global posteriors
    (the model-facing calls of a run); the codes go to ``run_dir/codes.npz``."""

    preset, overrides = model_spec(name)
    train_run(
        preset,
        experiment,
        run_dir,
        seed=seed,
        epochs=bench.epochs,
        overrides={**overrides, "num_threads": 1, **bench.overrides},
        holdout=bench.holdout,
        progress=False,
    )
    model, _, hold = load_run(run_dir)
    batches = {"n_batches": bench.n_batches, "batch_size": bench.batch_size, "seed": seed}
    if experiment == STRUCTURED:
        metrics, codes = structured_batch_classification(model, hold.x, hold.labels, **batches)
    else:
        metrics, codes = domain_batch_classification(
            model, hold.x, hold.aux["domain"], domain_names=DOMAIN_NAMES, **batches
        )
        if model.has_group_latent:
            transfer = {**batches, "n_batches": min(TRANSFER_BATCHES, bench.n_batches)}
            metrics.update(domain_transfer(model, hold.x, hold.aux["domain"], **transfer))
    groups = scoring_groups(model, hold, seed=seed)
    elbo = holdout_elbo(model, groups)
    activity = group_vae_activity(model, groups)
    write_with(run_dir / "codes.npz", lambda tmp: _save_npz(tmp, codes))
    write_json(run_dir / "metrics.json", {**metrics, **elbo, **activity})
    for name in ("codes.npz", "metrics.json"):
        record_output(run_dir, run_dir / name)
    return {
        "fit_seconds": float(model.extra_metadata.get("fit_seconds", float("nan"))),
        "holdout_images": hold.n_obs,
        **elbo,
        **metrics,
        **{
            k: float(v) if isinstance(v, bool) else v
            for k, v in activity.items()
            if not k.startswith("kl_per_dim_")
        },
    }


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:  # a file object: np.savez would add ".npz" to a path
        np.savez(f, **arrays)


def _runs(bench: UGVAEBenchmark) -> list[Run]:
    """Structured-batch runs, then domain runs, models as listed."""
    pairs = [(STRUCTURED, m) for m in bench.models] + [(DOMAINS, m) for m in bench.domain_models]
    return [
        Run(f"{e}-{m}", {"experiment": e, "model": m}, _batches_task, (e, m, bench))
        for e, m in pairs
    ]


def _cell(values: pd.Series) -> str:
    return mean_std(values.mean(), values.std(), 2)


def n_test_batches(task: str, n_batches: int) -> int:
    """Test-set size of a batch-classification task: half of its ``n_batches`` batches of
    each kind (``classify_batches``' split, rounded up)."""
    return math.ceil(0.5 * len(task.split("/")) * n_batches)


def _units_row(part: pd.DataFrame, models: list[str], latent: str) -> str:
    """A table row of each model's active units of ``latent`` (``—`` without it)."""
    column = f"active_units_{latent}"
    cells = [
        _cell(part.loc[part["model"] == m, column])
        if column in part and part.loc[part["model"] == m, column].notna().any()
        else "—"
        for m in models
    ]
    return f"| active units, {latent} latent | | " + " | ".join(cells) + " |"


def format_table(
    runs: pd.DataFrame, experiment: str, tasks: tuple[str, ...], n_batches: int | None = None
) -> str:
    """Markdown: per task, classifier and model, train and test accuracy (mean ± std),
    with the test-set size (batches) when ``n_batches`` is given, and each model's active
    units of the group (``beta``) and the instance latent."""
    part = runs[runs["experiment"] == experiment]
    models = list(dict.fromkeys(part["model"]))
    lines = [
        "| batch kinds | classifier | " + " | ".join(f"{m} train / test" for m in models) + " |",
        "|---|---|" + "---|" * len(models),
    ]
    for task in tasks:
        for clf in CLASSIFIERS:
            cells = []
            for m in models:
                rows = part[part["model"] == m]
                cells.append(
                    f"{_cell(rows[f'{task}_{clf}_train'])} / {_cell(rows[f'{task}_{clf}_test'])}"
                )
            lines.append(f"| {task} | {clf} SVM | " + " | ".join(cells) + " |")
        chance = part[f"{task}_chance"].mean()
        lines.append(f"| {task} | chance | " + " | ".join([f"{chance:.2f}"] * len(models)) + " |")
        if n_batches is not None:
            size = str(n_test_batches(task, n_batches))
            lines.append(f"| {task} | test batches | " + " | ".join([size] * len(models)) + " |")
    lines += [_units_row(part, models, latent) for latent in ("group", "instance")]
    return "\n".join(lines)


def _transfer_table(runs: pd.DataFrame) -> str:
    """Markdown: the beta-swap domain transfer of each domain-alignment model."""
    part = runs[runs["experiment"] == DOMAINS]
    models = list(dict.fromkeys(part["model"]))
    lines = ["| measure | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for column, label in TRANSFER.items():
        cells = [
            _cell(part.loc[part["model"] == m, column]) if column in part else "—" for m in models
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _elbo_table(runs: pd.DataFrame) -> str:
    lines = [
        "| data | model | holdout ELBO per image (nats, random groups of B) | train seconds |",
        "|---|---|---|---|",
    ]
    for (experiment, model), rows in runs.groupby(["experiment", "model"], sort=False):
        lines.append(
            f"| {experiment} | {model} | {_cell(rows['elbo_per_observation'])} "
            f"| {rows['fit_seconds'].mean():.0f} |"
        )
    return "\n".join(lines)


def _paper_table() -> str:
    lines = ["| batch kinds (CelebA) | classifier | paper train / test |", "|---|---|---|"]
    for task, by_clf in PAPER_TABLE_1.items():
        for clf, (train, test) in by_clf.items():
            lines.append(f"| {task} | {clf} SVM | {train:.2f} / {test:.2f} |")
    return "\n".join(lines)


def draw_figures(bench: UGVAEBenchmark, out: Path) -> list[Path]:
    """The paper's figures from the saved runs of the first seed."""

    seed = bench.seeds[0]
    paths = []

    def run(experiment: str, name: str) -> Path:
        return run_dir(out, f"{experiment}-{name}", seed)

    grids = {"ugvae": ("fig3_ugvae.png", 3.0), "mlvae-random": ("fig4_mlvae_random.png", 1.0)}
    for name, (filename, z_range) in grids.items():
        if name in bench.models:
            model = GroupVAE.load(run(STRUCTURED, name))
            paths.append(draw_global_local_grid(model, out / filename, z_range=z_range))
    tsnes = {
        "ugvae": "fig14_structured_tsne.png",
        "mlvae-random": "fig14_structured_tsne_mlvae_random.png",
    }
    for name, filename in tsnes.items():
        if name not in bench.models:
            continue
        title = f"{name}: global posterior means of held-out MNIST batches (seed {seed})"
        paths.append(_draw_codes_tsne(run(STRUCTURED, name), out / filename, title, seed))
    paths += _domain_figures(bench, out, run)
    return paths


def _domain_figures(bench: UGVAEBenchmark, out: Path, run: Any) -> list[Path]:
    """Fig. 5a (and A.2's ML-VAE version) and Fig. 5b from the domain runs."""

    paths = []
    files = {
        "ugvae": "fig5a_domain_interpolation.png",
        "mlvae-random": "fig11_mlvae_domain_interpolation.png",
    }
    tsnes = {"ugvae": ("fig5b_domain_tsne.png", "UG-VAE")}  # Fig. 5b: UG-VAE's only
    for name, filename in files.items():
        if name not in bench.domain_models:
            continue
        model, _, hold = load_run(run(DOMAINS, name))
        ends = _domain_endpoints(model, hold, bench.batch_size, bench.seeds[0])
        paths.append(draw_domain_interpolation(model, *ends[:4], out / filename, originals=ends[4]))
        if name in tsnes:
            tsne, label = tsnes[name]
            title = f"{label}: global posterior means of held-out batches"
            paths.append(_draw_codes_tsne(run(DOMAINS, name), out / tsne, title, bench.seeds[0]))
    return paths


def _draw_codes_tsne(run_dir: Path, path: Path, title: str, seed: int) -> Path:
    """Fig. 5b / 14: the t-SNE of the batch posteriors a run saved in ``codes.npz``."""

    with np.load(run_dir / "codes.npz") as codes:
        kind_names = [str(k) for k in codes["kinds"]]
        means, kind = codes["means"], codes["kind"]
    return draw_posterior_tsne(means, kind, path, kind_names=kind_names, title=title, seed=seed)


def _domain_endpoints(
    model: Any, hold: Any, batch_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``beta_a, beta_b`` (posterior means of a MNIST-only and a UCI-only held-out batch),
    ``z_a, z_b`` (posterior means of one image of each), and the two images."""

    domain = hold.aux["domain"]
    pools = [np.flatnonzero(domain == i) for i in range(len(DOMAIN_NAMES))]
    rows, group, _ = draw_batches(pools, n_batches=1, batch_size=batch_size, seed=seed)
    beta = model.encode_groups(hold.x[rows], group).mean
    z = model.encode_instances(hold.x[rows], group).mean
    first = np.array([0, batch_size])  # the first image of each batch
    return beta[0], beta[1], z[first[0]], z[first[1]], hold.x[rows[first]]


def format_tables(bench: UGVAEBenchmark, runs: pd.DataFrame) -> str:
    """All of the benchmark's Markdown tables, with a note on the protocol."""
    note = (
        f"Mean ± std over {len(bench.seeds)} seed(s); {bench.n_batches} held-out batches of "
        f"{bench.batch_size} images per kind, one posterior sample each, SVMs trained on half "
        "of the batches and tested on the other half."
    )
    return (
        "Structured MNIST batches (appendix A.3, Table 1 protocol):\n\n"
        + format_table(runs, STRUCTURED, tuple(TASKS), bench.n_batches)
        + "\n\nDomain alignment, MNIST vs UCI digits (section 4.2):\n\n"
        + format_table(runs, DOMAINS, DOMAIN_TASKS, bench.n_batches)
        + "\n\nDomain transfer by swapping beta (section 4.2, Fig. 5a, A.2; "
        + f"{TRANSFER_BATCHES} batches per domain):\n\n"
        + _transfer_table(runs)
        + "\n\n"
        + _elbo_table(runs)
        + "\n\nThe paper's Table 1 (CelebA attributes):\n\n"
        + _paper_table()
        + "\n\n"
        + note
    )


def _describe(row: dict[str, Any]) -> str:
    task = DOMAIN_TASKS[0] if row["experiment"] == DOMAINS else "even/odd"
    return (
        f"{row['experiment']:>13} {row['model']:>12} seed {row['seed']}: {task} "
        f"linear/rbf test {row[f'{task}_linear_test']:.2f}/{row[f'{task}_rbf_test']:.2f}"
    )


def protocol(bench: UGVAEBenchmark) -> Protocol:
    """The benchmark as a protocol: one run per (data set, model) and seed."""
    return Protocol(
        name="ugvae",
        settings=bench,
        runs=_runs(bench),
        tabulate=lambda runs, summary: format_tables(bench, runs),
        figures=lambda out, runs, summary: draw_figures(bench, out),
        describe=_describe,
        record={
            "paper_table_1": PAPER_TABLE_1,
            "units": {
                "accuracy": "fraction of batches whose kind an SVM predicts correctly",
                "elbo_per_observation": "single-sample ELBO on random held-out groups, nats",
            },
        },
    )


def run_benchmark(bench: UGVAEBenchmark, out: str | Path, *, echo: Any = print) -> pd.DataFrame:
    """Run every (experiment, model, seed) not yet in ``out``; write the results, tables
    and figures.

    Returns:
        One row per run: experiment, model, seed, seconds and every metric.
    """
    return run_protocol(protocol(bench), out, echo=echo)


__all__ = [
    "PAPER_TABLE_1",
    "UGVAEBenchmark",
    "draw_figures",
    "format_table",
    "format_tables",
    "model_spec",
    "protocol",
    "run_benchmark",
]
