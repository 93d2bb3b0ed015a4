"""CPVAE run directories: train on a named data set, reload with its data, evaluate.

A run directory is a CPVAE checkpoint whose ``metadata.json`` also records how to rebuild
its data (name, seed, options, holdout fraction, population key). The split is
stratified by population (every population is on both sides), unlike the group VAEs'
split by group, which would hold out whole populations.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from groupvae.config import replace
from groupvae.data.grouped import GroupedDataset
from groupvae.data.populations import population_of, stratified_split, subset_rows
from groupvae.data.registry import DATASETS
from groupvae.io import write_json
from groupvae.models.cpvae import CPVAE_DATASETS, CPVAETrainConfig, create_cpvae
from groupvae.models.cpvae.model import CPVAE
from groupvae.runs import data_record

IS_SAMPLES = 32
"""Importance samples ``S`` of eq. 7-8 in :func:`evaluate_cpvae_run`."""


def split_cpvae_data(
    dataset: str, *, seed: int, options: dict[str, Any], holdout: float, population: str
) -> tuple[GroupedDataset, GroupedDataset]:
    """Build ``DATASETS[dataset]`` and split its observations, stratified by population,
    into ``(train, holdout)``."""
    data = DATASETS[dataset].build(seed=seed, **options)
    train_rows, hold_rows = stratified_split(population_of(data, population), holdout, seed=seed)
    return subset_rows(data, train_rows), subset_rows(data, hold_rows)


def train_cpvae_run(
    dataset: str,
    out: str | Path,
    *,
    seed: int = 0,
    epochs: int | None = None,
    overrides: dict[str, Any] | None = None,
    data_options: dict[str, Any] | None = None,
    holdout: float = 0.2,
    progress: bool = True,
) -> CPVAE:
    """Train a CPVAE on ``dataset`` (a key of ``CPVAE_DATASETS``) and save the run.

    This is ``groupvae train cpvae DATASET``.

    Args:
        dataset: e.g. ``"grassy-mnist"`` (two populations), ``"grassy-mnist-classes"`` or
            ``"mnist-classes"`` (one population per digit).
        out: run directory (written atomically).
        seed: seeds the data, the split, the weights and training.
        epochs: overrides the default number of epochs.
        overrides: :class:`~groupvae.models.cpvae.CPVAEConfig` or
            :class:`~groupvae.models.cpvae.CPVAETrainConfig` fields (``--set key=value``).
        data_options: keyword options of the data set's builder (e.g. ``n=1000``,
            ``path=...`` for the full MNIST).
        holdout: fraction of each population held out.
        progress: show a progress bar.

    Raises:
        UnknownNameError, ConfigError, DataError: on bad names, settings or data.
    """
    spec = CPVAE_DATASETS[dataset]
    data_options = dict(data_options or {})
    model_over, train_over = split_cpvae_overrides(dict(overrides or {}))
    train, hold = split_cpvae_data(
        dataset, seed=seed, options=data_options, holdout=holdout, population=spec.population
    )
    model = create_cpvae(seed=seed, dataset=dataset, **model_over)
    train_cfg = {**spec.train, "seed": seed, "progress": progress, **train_over}
    if epochs is not None:
        train_cfg["epochs"] = epochs
    start = time.perf_counter()
    model.fit(train, spec.population, holdout=hold, **train_cfg)
    record = {
        "name": dataset,
        "seed": seed,
        "options": data_options,
        "holdout": holdout,
        "population": spec.population,
    }
    model.save(out, metadata={"data": record, "fit_seconds": time.perf_counter() - start})
    return model


def split_cpvae_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``--set`` overrides into ``(model_fields, train_fields)``; unknown keys raise
    :class:`~groupvae.errors.ConfigError` (naming the known ones)."""
    import dataclasses

    from groupvae.models.cpvae import CPVAEConfig

    model_keys = {f.name for f in dataclasses.fields(CPVAEConfig)}
    train_keys = {f.name for f in dataclasses.fields(CPVAETrainConfig)}
    unknown = sorted(set(overrides) - model_keys - train_keys)
    if unknown:
        from groupvae.errors import ConfigError

        raise ConfigError(
            f"unknown setting(s) {unknown}; CPVAE fields: {sorted(model_keys)}; "
            f"training fields: {sorted(train_keys)}"
        )
    replace(CPVAETrainConfig(), **{k: v for k, v in overrides.items() if k in train_keys})
    model = {k: v for k, v in overrides.items() if k in model_keys}
    return model, {k: v for k, v in overrides.items() if k in train_keys}


def is_cpvae_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a CPVAE checkpoint (its ``config.json`` has
    ``"model": "cpvae"``), so that a CLI can dispatch ``evaluate`` / ``plot``."""
    import json

    config = Path(run_dir) / "config.json"
    try:
        return json.loads(config.read_text()).get("model") == "cpvae"
    except (OSError, ValueError, AttributeError):
        return False


def load_cpvae_run(run_dir: str | Path) -> tuple[CPVAE, GroupedDataset, GroupedDataset]:
    """Load a run's CPVAE and rebuild its ``(train, holdout)`` data.

    Raises:
        CheckpointError: if the run does not record its data.
    """
    model = CPVAE.load(run_dir)
    record = data_record(model.extra_metadata, run_dir)
    train, hold = split_cpvae_data(
        record["name"],
        seed=int(record.get("seed", 0)),
        options=dict(record.get("options", {})),
        holdout=float(record.get("holdout", 0.2)),
        population=str(record.get("population", "population")),
    )
    return model, train, hold


def cpvae_metrics(
    model: CPVAE,
    hold: GroupedDataset,
    population: str,
    *,
    seed: int = 0,
    is_samples: int = IS_SAMPLES,
    n_classify: int | None = None,
) -> dict[str, float]:
    """Holdout metrics of a CPVAE (section 4):

    * ``shared_ari`` / ``private_ari`` (Table 1; with labels): k-means ARI of the latent
      means against the labels inside each population, averaged over populations;
    * ``accuracy`` (Table 2): maximum-marginal-likelihood classification (eq. 7-8,
      ``is_samples`` samples) of ``n_classify`` random holdout rows (all if ``None``);
    * ``private_vs_clean_corr`` etc. (Fig. 2, with ``aux["clean"]``): see
      :func:`~groupvae.evaluation.cpvae.denoising_errors`.
    """
    from groupvae.evaluation.cpvae import classification_accuracy, denoising_errors, population_ari

    pop = population_of(hold, population)
    out: dict[str, float] = {}
    codes = model.encode(hold, population)
    if hold.labels is not None and all(
        len(np.unique(hold.labels[pop == k])) > 1 for k in np.unique(pop)
    ):
        for name, c in (("shared", codes.shared), ("private", codes.private)):
            ari = population_ari(c, hold.labels, pop, seed=seed)
            out[f"{name}_ari"] = ari.pop("mean")
            out.update({f"{name}_ari_{k}": v for k, v in ari.items()})
    rows = np.arange(hold.n_obs)
    if n_classify is not None and n_classify < hold.n_obs:
        rows = np.sort(np.random.default_rng(seed).choice(hold.n_obs, n_classify, replace=False))
    ll = model.log_marginal_likelihoods(hold.x[rows], n_samples=is_samples, seed=seed)
    out["accuracy"] = classification_accuracy(ll, pop[rows])
    if "clean" in hold.aux and "background" in hold.aux:
        out.update(
            denoising_errors(
                hold.x,
                model.reconstruct(hold, population, part="private"),
                model.reconstruct(hold, population, part="shared"),
                hold.aux["clean"],
                hold.aux["background"],
            )
        )
    return out


def evaluate_cpvae_run(
    run_dir: str | Path, *, seed: int = 0, is_samples: int = IS_SAMPLES
) -> dict[str, Any]:
    """:func:`cpvae_metrics` on a run's holdout data; writes ``run_dir/metrics.json``
    atomically and returns the metrics (``groupvae evaluate`` for a CPVAE run)."""
    model, _, hold = load_cpvae_run(run_dir)
    record = model.extra_metadata["data"]
    metrics: dict[str, Any] = {"dataset": record["name"], "model": "cpvae"}
    metrics.update(
        cpvae_metrics(
            model, hold, record.get("population", "population"), seed=seed, is_samples=is_samples
        )
    )
    write_json(Path(run_dir) / "metrics.json", metrics)
    return metrics


__all__ = [
    "IS_SAMPLES",
    "cpvae_metrics",
    "evaluate_cpvae_run",
    "is_cpvae_run",
    "load_cpvae_run",
    "split_cpvae_data",
    "split_cpvae_overrides",
    "train_cpvae_run",
]
