"""Run directories: train a preset of any family on a named data set, and evaluate it.

A run directory is a model checkpoint (see :mod:`groupvae.checkpoint`) whose
``metadata.json`` also records its family and how to rebuild its data (name, seed,
options, holdout fraction), so that ``evaluate`` and the plots work from files alone.
Everything here dispatches on the family a run records (``FAMILY_METRICS``) and on the
model's own hooks (``split``, ``eval_loader``), with no branch on a model's name.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groupvae.config import fits_type
from groupvae.data.grouped import GroupedDataset
from groupvae.data.grouping import regroup_at_random
from groupvae.data.registry import DATASETS
from groupvae.errors import CheckpointError
from groupvae.io import write_json
from groupvae.models import create
from groupvae.models.base import BaseModel
from groupvae.models.model import GroupVAE
from groupvae.registry import Registry
from groupvae.settings import split_settings, traits

# Data set name -> metrics(model, holdout, seed) -> dict of floats, for group VAEs.
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


def _own_data(model: GroupVAE, holdout: GroupedDataset, seed: int) -> dict[str, float]:
    """``log p(x_G)`` by importance sampling; for a standardised table also in the raw
    units (``+ log_jacobian`` per observation: ``-sum(log scale)``)."""
    from groupvae.evaluation.likelihood import holdout_log_likelihood

    metrics = holdout_log_likelihood(model, holdout, n_samples=IS_SAMPLES, seed=seed)
    if holdout.transform is not None:
        jac = holdout.transform.log_jacobian
        metrics["log_likelihood_per_observation_raw_units"] = (
            metrics["log_likelihood_per_observation"] + jac
        )
    return metrics


for _name in ("table", "npz", "anndata", "image-folder"):
    METRICS.add(_name, _own_data)
METRICS.add("mnist", _labelled_images)
METRICS.add("uci-digits", _labelled_images)
METRICS.add("mnist-full", _labelled_images)
METRICS.add("shapes", _shapes)
METRICS.add("digit-domains", _digit_domains)


def build_data(
    model: BaseModel,
    dataset: str,
    *,
    seed: int,
    options: dict[str, Any],
    holdout: float,
    holdout_labels: list[int] | None = None,
) -> tuple[GroupedDataset, GroupedDataset]:
    """Build a registered data set for ``model`` and split it as its family evaluates
    (``model.split``: by group for group VAEs, stratified by population for CPVAE)."""
    spec = DATASETS[dataset]
    data = spec.build_for(traits(model.config.model, model), seed=seed, **options)
    return model.split(data, holdout, seed=seed, holdout_labels=holdout_labels)


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
    overwrite: bool = False,
    resume: bool = False,
    resume_command: str | None = None,
    callbacks: Callable[[BaseModel, GroupedDataset], list[Any]] | None = None,
) -> BaseModel:
    """Train preset ``model_name`` on ``dataset`` in the run directory ``out``.

    This is ``groupvae train``; it trains exactly what
    ``create(model_name, dataset=dataset, seed=seed).fit(train, holdout=hold)`` trains
    (one settings resolver, :mod:`groupvae.settings`). ``out`` is training's working
    directory (:mod:`groupvae.run_directory`): marked unfinished, with an atomic
    checkpoint after every epoch, until the finished checkpoint is written.

    Args:
        model_name: a key of ``MODELS`` (any family).
        dataset: a key of ``DATASETS``.
        out: run directory: new or empty, or a run (``overwrite`` / ``resume``).
        seed: seeds the data, the split, the weights and training.
        epochs: overrides the resolved number of epochs.
        overrides: the family's config or ``TrainConfig`` fields (``--set key=value``).
        data_options: keyword options of the data set's builder (e.g. ``n_groups``).
        holdout: fraction held out for evaluation.
        holdout_labels: hold out these classes instead (unseen groups; group VAEs).
        progress: show a progress bar.
        overwrite: replace a run already at ``out``.
        resume: continue the unfinished run at ``out`` (same settings), bit-identically.
        resume_command: the command line that resumes, written into the marker.
        callbacks: ``callbacks(model, holdout) -> Lightning callbacks`` for ``fit``,
            called once the model and its holdout split exist.

    Raises:
        UnknownNameError, ConfigError, DataError: on bad names, settings, data or
            ``out``, before any training.
        TrainingInterrupted: (a ``KeyboardInterrupt``) on SIGINT or SIGTERM; ``out``
            keeps the last epoch checkpoint.
    """
    from groupvae.run_directory import (
        checkpoint_dir,
        finish_run,
        is_global_zero,
        run_state,
        start_run,
    )

    out = Path(out)
    writer = is_global_zero()  # under DDP the other ranks only train
    if writer:
        run_state(out)  # a file or someone else's folder fails before any work
    data_options = dict(data_options or {})
    model_over, train_over = split_settings(model_name, dict(overrides or {}))
    spec = DATASETS[dataset]
    if spec.shape_from_data:  # a reader of the user's files: the data gives the shape
        data = spec.build_for(traits(model_name), seed=seed, **data_options)
        model_over.setdefault("obs_shape", data.obs_shape)
    model = create(model_name, dataset=dataset, seed=seed, **model_over)
    if spec.shape_from_data:
        train, hold = model.split(data, holdout, seed=seed, holdout_labels=holdout_labels)
    else:
        train, hold = build_data(
            model, dataset, seed=seed, options=data_options, holdout=holdout,
            holdout_labels=holdout_labels,
        )  # fmt: skip
    options = {"progress": progress, **train_over}
    if epochs is not None:
        options["epochs"] = epochs
    model.preflight(train, holdout=hold, **options)
    record = {
        "name": dataset,
        "seed": seed,
        "options": data_options,
        "holdout": holdout,
        "holdout_labels": holdout_labels,
    }
    request = {
        "model": model_name, "data": record, "epochs": epochs,
        "overrides": {k: str(v) for k, v in (overrides or {}).items() if k != "progress"},
    }  # fmt: skip
    command = resume_command or f"train_run({model_name!r}, {dataset!r}, {str(out)!r}, resume=True)"
    if writer:
        start_run(out, request, resume_command=command, overwrite=overwrite, resume=resume)
    start = time.perf_counter()
    extra = callbacks(model, hold) if callbacks is not None else None
    model.fit(
        train, holdout=hold, checkpoint_dir=checkpoint_dir(out), log_dir=checkpoint_dir(out),
        resume=resume, callbacks=extra, **options,
    )  # fmt: skip
    if writer:
        meta = {"data": record, "fit_seconds": time.perf_counter() - start}
        model.save(out, metadata=meta, overwrite=True)
        finish_run(out)
    return model


def data_record(metadata: dict[str, Any], run_dir: str | Path) -> dict[str, Any]:
    """The ``data`` entry a run's metadata records (name, seed, options, holdout).

    Raises:
        CheckpointError: if the run does not record its data.
    """
    record = metadata.get("data")
    if not isinstance(record, dict) or "name" not in record:
        raise CheckpointError(f"{run_dir} does not record its data set; was it made by train?")
    checks = {
        "name": isinstance(record["name"], str),
        "seed": _whole(record.get("seed", 0)),
        "options": isinstance(record.get("options", {}), dict),
        "holdout": isinstance(record.get("holdout", 0.2), int | float)
        and 0 < record.get("holdout", 0.2) < 1,
        "holdout_labels": record.get("holdout_labels") is None
        or (
            isinstance(record["holdout_labels"], list)
            and all(map(_whole, record["holdout_labels"]))
        ),
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise CheckpointError(
            f"{Path(run_dir) / 'metadata.json'} is corrupt: its data record has a bad "
            f"{', '.join(bad)} ({', '.join(repr(record.get(k)) for k in bad)})"
        )
    return record


def _whole(value: Any) -> bool:
    return fits_type(value, int) and value >= 0


def load_run(run_dir: str | Path) -> tuple[BaseModel, GroupedDataset, GroupedDataset]:
    """Load a run's model, of whichever family it records, and rebuild its
    ``(train, holdout)`` data.

    Raises:
        CheckpointError: if the run does not record its data.
    """
    model = BaseModel.load(run_dir)
    record = data_record(model.extra_metadata, run_dir)
    options = dict(record.get("options", {}))
    if record["name"] == "table" and "feature_transform" in model.extra_metadata:
        options["transform"] = model.extra_metadata["feature_transform"]  # the run's units
    train, hold = build_data(
        model,
        record["name"],
        seed=int(record.get("seed", 0)),
        options=options,
        holdout=float(record.get("holdout", 0.2)),
        holdout_labels=record.get("holdout_labels"),
    )
    return model, train, hold


def group_vae_activity(model: GroupVAE, groups: GroupedDataset) -> dict[str, Any]:
    """Active units (Burda et al. 2016) of the instance latent on every observation of
    ``groups``, and of the group latent on its groups (presets with one); the KL per
    dimension where the latent's prior is ``N(0, I)`` (the instance latent of a mixture
    prior, UG-VAE's and GMVAE's, gets active units only). See
    :func:`groupvae.evaluation.active_units.latent_summary`."""
    from groupvae.evaluation.active_units import latent_summary

    metrics: dict[str, Any] = {}
    if model.module.has_group_latent:
        group = model.encode_groups(groups)
        metrics.update(latent_summary("group", group.mean, group.logvar))
    instance = model.encode_instances(groups)
    standard = not model.module.prior.has_clusters
    metrics.update(latent_summary("instance", instance.mean, instance.logvar if standard else None))
    return metrics


def _group_vae_metrics(
    model: GroupVAE, holdout: GroupedDataset, dataset: str, seed: int
) -> dict[str, Any]:
    """The data set's metrics (``METRICS``), the latents' active units
    (:func:`group_vae_activity`) and the holdout ELBO, on the groups
    :func:`scoring_groups` gives."""
    metrics: dict[str, Any] = {}
    if dataset in METRICS:
        metrics.update(METRICS[dataset](model, holdout, seed))
    groups = scoring_groups(model, holdout, seed=seed)
    metrics.update(group_vae_activity(model, groups))
    metrics.update(holdout_elbo(model, groups))
    return metrics


def _cpvae_metrics(model: Any, holdout: GroupedDataset, dataset: str, seed: int) -> dict[str, Any]:
    """CPVAE section 4's metrics (:func:`groupvae.evaluation.cpvae.cpvae_metrics`, with
    the shared and private active units) and the holdout ELBO per observation."""
    from groupvae.evaluation.cpvae import cpvae_metrics

    return {**cpvae_metrics(model, holdout, seed=seed), **holdout_elbo(model, holdout)}


# Family -> metrics(model, holdout, dataset name, seed) -> dict.
FAMILY_METRICS: Registry[Callable[..., dict[str, Any]]] = Registry("model family")
FAMILY_METRICS.add("group-vae", _group_vae_metrics)
FAMILY_METRICS.add("cpvae", _cpvae_metrics)


def evaluate_run(run_dir: str | Path, *, seed: int = 0) -> dict[str, Any]:
    """Compute the family's and the data set's metrics on the run's holdout data.

    Writes ``run_dir/metrics.json`` atomically and returns the metrics, with the holdout
    ELBO per observation (and per group for group VAEs).
    """
    model, _, hold = load_run(run_dir)
    name = model.extra_metadata["data"]["name"]
    metrics: dict[str, Any] = {"dataset": name, "model": model.config.model}
    metrics.update(FAMILY_METRICS[model.family](model, hold, name, seed))
    write_json(Path(run_dir) / "metrics.json", metrics)
    return metrics


def holdout_elbo(model: BaseModel, data: GroupedDataset) -> dict[str, float]:
    """Single-sample ELBO on ``data``: mean per observation, and per group where groups
    have a latent of their own (group VAEs), in nats."""
    import torch

    total, n_groups, grouped = 0.0, 0, False
    model.module.eval()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for batch in model.eval_loader(data):
            out = model.module(batch)
            total += float(out.elbo.sum())
            n_groups += int(out.n_groups)
            grouped = out.group is not None  # CPVAE: every observation a group of its own
    metrics = {"elbo_per_observation": total / data.n_obs}
    if grouped:
        metrics["elbo_per_group"] = total / n_groups
    return metrics
