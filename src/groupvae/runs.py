"""Run directories: train a preset on a named data set, and evaluate a saved run.

A run directory is a model checkpoint (see :mod:`groupvae.checkpoint`) whose
``metadata.json`` also records how to rebuild its data (name, seed, options, holdout
fraction), so that ``evaluate`` and the plots work from files alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groupvae.config import split_overrides
from groupvae.data.grouped import GroupedDataset
from groupvae.data.grouping import regroup_at_random, split_by_label
from groupvae.data.registry import DATASETS
from groupvae.errors import CheckpointError
from groupvae.io import write_json
from groupvae.models import PRESET_TRAINING, create
from groupvae.models.model import GroupVAE
from groupvae.registry import Registry

# Data set name -> metrics(model, holdout, seed) -> dict of floats.
METRICS: Registry[Callable[..., dict[str, float]]] = Registry("metric set")


def _exam_scores(model: GroupVAE, holdout: GroupedDataset, seed: int) -> dict[str, float]:
    from groupvae.evaluation.exam_scores import exam_scores_metrics

    return exam_scores_metrics(model, holdout, seed=seed)


METRICS.add("exam-scores", _exam_scores)

IS_SAMPLES = 100
"""Importance samples ``K`` of the holdout log-likelihood of ``evaluate``."""


def _random_groups(model: GroupVAE) -> int | None:
    """The size of the random groups the model trained on (UG-VAE), or ``None``."""
    return None if model.train_config is None else model.train_config.random_groups


def scoring_groups(model: GroupVAE, data: GroupedDataset, *, seed: int = 0) -> GroupedDataset:
    """``data`` as a likelihood should score it: in its own groups, or, for a model
    trained on random groups (UG-VAE and its baselines), in seeded random groups of that
    size. A global posterior from a few members is far wider than from the 128 it was
    trained on, and its samples leave the range the mixture networks were fitted on."""
    size = _random_groups(model)
    return data if size is None else regroup_at_random(data, size, seed=seed)


def _labelled_images(model: GroupVAE, holdout: GroupedDataset, seed: int) -> dict[str, float]:
    """ML-VAE Fig. 6c (accumulating evidence, k = 1, 2, 5, 10) and ``log p(x_G)``; for a
    model trained on random groups (UG-VAE) also the structured-batch SVMs (Table 1
    protocol, appendix A.3) on batches of that size."""
    from groupvae.evaluation.evidence import accumulating_evidence
    from groupvae.evaluation.global_factors import structured_batch_classification
    from groupvae.evaluation.likelihood import holdout_log_likelihood

    metrics = {
        **accumulating_evidence(model, holdout, seed=seed),
        **holdout_log_likelihood(
            model, scoring_groups(model, holdout, seed=seed), n_samples=IS_SAMPLES, seed=seed
        ),
    }
    size = _random_groups(model)
    if size is not None and holdout.labels is not None:
        scores, _ = structured_batch_classification(
            model, holdout.x, holdout.labels, batch_size=size, seed=seed
        )
        metrics.update(scores)
    return metrics


def _digit_domains(model: GroupVAE, holdout: GroupedDataset, seed: int) -> dict[str, float]:
    """UG-VAE section 4.2: domain SVMs on the global posterior and beta-swap transfer."""
    from groupvae.data.domains import DOMAIN_NAMES
    from groupvae.evaluation.global_factors import domain_batch_classification, domain_transfer

    size = _random_groups(model) or 128
    domain = holdout.aux["domain"]
    metrics, _ = domain_batch_classification(
        model, holdout.x, domain, domain_names=DOMAIN_NAMES, batch_size=size, seed=seed
    )
    if model.module.has_group_latent:
        metrics.update(domain_transfer(model, holdout.x, domain, batch_size=size, seed=seed))
    return metrics


def _shapes(model: GroupVAE, holdout: GroupedDataset, seed: int) -> dict[str, float]:
    """Disentanglement of the known Shapes factors, and ``log p(x_G)``."""
    from groupvae.evaluation.disentanglement import shapes_disentanglement
    from groupvae.evaluation.likelihood import holdout_log_likelihood

    return {
        **shapes_disentanglement(model, holdout, seed=seed),
        **holdout_log_likelihood(
            model, scoring_groups(model, holdout, seed=seed), n_samples=IS_SAMPLES, seed=seed
        ),
    }


METRICS.add("mnist", _labelled_images)
METRICS.add("uci-digits", _labelled_images)
METRICS.add("mnist-full", _labelled_images)
METRICS.add("shapes", _shapes)
METRICS.add("digit-domains", _digit_domains)


def build_data(
    dataset: str,
    *,
    seed: int,
    options: dict[str, Any],
    holdout: float,
    holdout_labels: list[int] | None = None,
) -> tuple[GroupedDataset, GroupedDataset]:
    """Build a registered data set and split it by group into ``(train, holdout)``.

    With ``holdout_labels`` the holdout is made of those classes only (groups of classes
    never seen in training, as the ML-VAE paper's unseen MS-Celeb identities); otherwise
    a random ``holdout`` fraction of the groups.
    """
    data = DATASETS[dataset].build(seed=seed, **options)
    if holdout_labels:
        return split_by_label(data, holdout_labels)
    return data.split(holdout, seed=seed)


def train_run(
    model_name: str,
    dataset: str,
    out: str | Path,
    *,
    seed: int = 0,
    epochs: int | None = None,
    overrides: dict[str, Any] | None = None,
    data_options: dict[str, Any] | None = None,
    holdout: float = 0.2,
    holdout_labels: list[int] | None = None,
    progress: bool = True,
) -> GroupVAE:
    """Train preset ``model_name`` on ``dataset`` and save the run to ``out``.

    Args:
        model_name: a key of ``MODELS``.
        dataset: a key of ``DATASETS``.
        out: run directory (written atomically).
        seed: seeds the data, the split, the weights and training.
        epochs: overrides the default number of epochs (the preset's, as
            ``PRESET_TRAINING`` gives, else the data set's).
        overrides: ``ModelConfig`` or ``TrainConfig`` fields (``--set key=value``).
        data_options: keyword options of the data set's builder (e.g. ``n_groups``).
        holdout: fraction of groups held out for evaluation.
        holdout_labels: hold out these classes instead (unseen groups).
        progress: show a progress bar.

    Raises:
        UnknownNameError, ConfigError, DataError: on bad names, settings or data.
    """
    data_options = dict(data_options or {})
    model_over, train_over = split_overrides(dict(overrides or {}))
    spec = DATASETS[dataset]
    train, hold = build_data(
        dataset, seed=seed, options=data_options, holdout=holdout, holdout_labels=holdout_labels
    )
    model = create(model_name, dataset=dataset, seed=seed, **model_over)
    preset_training = PRESET_TRAINING.get(model_name, {})
    train_cfg = {
        **spec.train_defaults,
        **preset_training,
        "seed": seed,
        "progress": progress,
        **train_over,
    }
    if epochs is not None:
        train_cfg["epochs"] = epochs
    start = time.perf_counter()
    model.fit(train, holdout=hold, **train_cfg)
    data_record = {
        "name": dataset,
        "seed": seed,
        "options": data_options,
        "holdout": holdout,
        "holdout_labels": holdout_labels,
    }
    model.save(out, metadata={"data": data_record, "fit_seconds": time.perf_counter() - start})
    return model


def data_record(metadata: dict[str, Any], run_dir: str | Path) -> dict[str, Any]:
    """The ``data`` entry a run's metadata records (name, seed, options, holdout).

    Raises:
        CheckpointError: if the run does not record its data.
    """
    record = metadata.get("data")
    if not isinstance(record, dict) or "name" not in record:
        raise CheckpointError(f"{run_dir} does not record its data set; was it made by train?")
    return record


def load_run(run_dir: str | Path) -> tuple[GroupVAE, GroupedDataset, GroupedDataset]:
    """Load a run's model and rebuild its ``(train, holdout)`` data.

    Raises:
        CheckpointError: if the run does not record its data.
    """
    model = GroupVAE.load(run_dir)
    record = data_record(model.extra_metadata, run_dir)
    train, hold = build_data(
        record["name"],
        seed=int(record.get("seed", 0)),
        options=dict(record.get("options", {})),
        holdout=float(record.get("holdout", 0.2)),
        holdout_labels=record.get("holdout_labels"),
    )
    return model, train, hold


def evaluate_run(run_dir: str | Path, *, seed: int = 0) -> dict[str, Any]:
    """Compute the data set's metrics on the run's holdout groups.

    Likelihoods are computed on the groups :func:`scoring_groups` gives. Writes
    ``run_dir/metrics.json`` atomically and returns the metrics, with the holdout ELBO
    per group and per observation.
    """
    model, _, hold = load_run(run_dir)
    name = model.extra_metadata["data"]["name"]
    metrics: dict[str, Any] = {"dataset": name, "model": model.config.model}
    if name in METRICS:
        metrics.update(METRICS[name](model, hold, seed))
    metrics.update(holdout_elbo(model, scoring_groups(model, hold, seed=seed)))
    write_json(Path(run_dir) / "metrics.json", metrics)
    return metrics


def holdout_elbo(model: GroupVAE, data: GroupedDataset) -> dict[str, float]:
    """Single-sample group ELBO on ``data``: mean per group and per observation (nats)."""
    import torch

    from groupvae.data.sampler import group_loader

    total, n_groups = 0.0, 0
    model.module.eval()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for batch in group_loader(data, 1024, shuffle=False):
            out = model.module(batch.x, batch.group, batch.n_groups)
            total += float(out.elbo.sum())
            n_groups += batch.n_groups
    return {"elbo_per_group": total / n_groups, "elbo_per_observation": total / data.n_obs}
