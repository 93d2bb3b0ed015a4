"""A saved run's model and data: what ``evaluate``, ``encode`` and the figures open.

A run directory (made by :func:`groupvae.runs.train.train_run`) is a checkpoint whose
``metadata.json`` also records how to rebuild its data (name, seed, options, holdout
fraction), so that a run can be reopened from its files alone. The data is built for
the model's family (:meth:`~groupvae.models.base.BaseModel.adapt_data`) and split as the
family evaluates (:meth:`~groupvae.models.base.BaseModel.split`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from groupvae.config import fits_type
from groupvae.data.datasets import DATASETS
from groupvae.data.grouped import GroupedDataset
from groupvae.errors import CheckpointError
from groupvae.models.base import BaseModel
from groupvae.models.factory import load


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
    data = model.adapt_data(spec.load(seed=seed, **options), spec)
    return model.split(data, holdout, seed=seed, holdout_labels=holdout_labels)


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
    model = load(run_dir)
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


def run_data(
    run_dir: str | Path, options: dict[str, Any] | None = None
) -> tuple[BaseModel, GroupedDataset]:
    """A run's model and all of its data (not split), rebuilt from the options it records,
    updated by ``options`` (e.g. ``path`` of new rows). A table is read with the run's
    recorded feature transform, so new rows are in the run's units and categories.

    Raises:
        CheckpointError: if the run does not record its data.
    """
    model = load(run_dir)
    record = data_record(model.extra_metadata, run_dir)
    merged = {**dict(record.get("options", {})), **(options or {})}
    recorded = model.extra_metadata.get("feature_transform")
    if recorded is not None and record["name"] == "table":
        merged.setdefault("transform", recorded)
    spec = DATASETS[record["name"]]
    data = model.adapt_data(spec.load(seed=int(record.get("seed", 0)), **merged), spec)
    return model, data


__all__ = ["build_data", "data_record", "load_run", "run_data"]
