"""A saved run's model and data: what ``evaluate``, ``encode`` and the figures open.

A run directory (made by :func:`groupvae.runs.train.train_run`) is a checkpoint whose
``metadata.json`` also records how to rebuild its data (name, seed, options, holdout
fraction), so that a run can be reopened from its files alone. The data is built for
the model's family (:meth:`~groupvae.models.base.BaseModel.adapt_data`) and split as the
family evaluates (:meth:`~groupvae.models.base.BaseModel.split`).

A run of the user's own file (``--data path=...``) also records the file's absolute
path and fingerprint (``file``: size and SHA-256; :mod:`groupvae.store.data_files`) and
its held-out group ids (``holdout_groups``): the run is bound to that data. A file that
changed since is refused (by :func:`load_run`, and by :func:`run_data` unless new data
is named), and the holdout is rebuilt from the recorded ids. Runs that record neither
(older runs, generated data sets) are rebuilt as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from groupvae.config import fits_type
from groupvae.data.datasets import DATASETS
from groupvae.data.grouped import GroupedDataset
from groupvae.errors import CheckpointError, DataError
from groupvae.models.base import BaseModel
from groupvae.models.factory import load
from groupvae.store.data_files import check_unchanged


def build_data(
    model: BaseModel,
    dataset: str,
    *,
    seed: int,
    options: dict[str, Any],
    holdout: float,
    holdout_labels: list[int] | None = None,
    holdout_ids: list[Any] | None = None,
) -> tuple[GroupedDataset, GroupedDataset]:
    """Build a registered data set for ``model`` and split it as its family evaluates
    (``model.split``: by group for group VAEs, stratified by population for CPVAE), or,
    with ``holdout_ids``, into the groups of those ids and the rest
    (:func:`split_by_ids`).

    Raises:
        DataError: if a group of ``holdout_ids`` is not in the data.
    """
    spec = DATASETS[dataset]
    data = model.adapt_data(spec.load(seed=seed, **options), spec)
    if holdout_ids is not None:
        return split_by_ids(data, holdout_ids)
    return model.split(data, holdout, seed=seed, holdout_labels=holdout_labels)


def holdout_groups(train: GroupedDataset, hold: GroupedDataset) -> list[Any] | None:
    """The ids of the held-out groups, as a run records them (JSON), if the split is by
    group (no group on both sides, ids that are strings or numbers); else ``None``."""
    held = np.asarray(hold.group_ids)[np.unique(hold.group)].tolist()
    kept = np.asarray(train.group_ids)[np.unique(train.group)].tolist()
    plain = all(isinstance(g, str | int | float) and not isinstance(g, bool) for g in held + kept)
    if not plain or set(held) & set(kept):
        return None
    return held


def split_by_ids(data: GroupedDataset, held: list[Any]) -> tuple[GroupedDataset, GroupedDataset]:
    """``(train, holdout)``: the groups whose ids are in ``held``, and the others (as
    :meth:`GroupedDataset.split` would make them).

    Raises:
        DataError: if a group of ``held`` is not in ``data``.
    """
    index = {g: i for i, g in enumerate(np.asarray(data.group_ids).tolist())}
    missing = [g for g in held if g not in index]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (", ..." if len(missing) > 5 else "")
        raise DataError(f"the run's holdout groups {shown} are not in its data")
    hold = np.array([index[g] for g in held], dtype=np.int64)
    rest = np.setdiff1d(np.arange(data.n_groups), hold)
    return data.subset_groups(rest), data.subset_groups(hold)


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
        "holdout_groups": isinstance(record.get("holdout_groups", []), list | None),
        "file": record.get("file") is None or _fingerprint_ok(record["file"]),
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


def _fingerprint_ok(file: Any) -> bool:
    return (
        isinstance(file, dict)
        and isinstance(file.get("path"), str)
        and Path(file["path"]).is_absolute()
        and _whole(file.get("size"))
        and isinstance(file.get("sha256"), str)
    )


def _recorded_options(model: BaseModel, record: dict[str, Any]) -> dict[str, Any]:
    """The data options a run records, with its feature transform (a table's units) and
    the absolute path of its recorded file."""
    options = dict(record.get("options", {}))
    if record["name"] == "table" and "feature_transform" in model.extra_metadata:
        options["transform"] = model.extra_metadata["feature_transform"]  # the run's units
    if record.get("file") is not None:
        options["path"] = record["file"]["path"]
    return options


def load_run(run_dir: str | Path) -> tuple[BaseModel, GroupedDataset, GroupedDataset]:
    """Load a run's model, of whichever family it records, and rebuild its
    ``(train, holdout)`` data.

    A run that records its data file's fingerprint is refused if the file changed, and
    its holdout is the groups it records (never a new split of changed data).

    Raises:
        CheckpointError: if the run does not record its data.
        DataError: if the run's recorded data file is gone or changed since training
            (naming the file and what changed), or a recorded holdout group is missing.
    """
    model = load(run_dir)
    record = data_record(model.extra_metadata, run_dir)
    if record.get("file") is not None:
        check_unchanged(record["file"], f"cannot open the run {run_dir}")
    train, hold = build_data(
        model,
        record["name"],
        seed=int(record.get("seed", 0)),
        options=_recorded_options(model, record),
        holdout=float(record.get("holdout", 0.2)),
        holdout_labels=record.get("holdout_labels"),
        holdout_ids=record.get("holdout_groups"),
    )
    return model, train, hold


def run_data(
    run_dir: str | Path, options: dict[str, Any] | None = None
) -> tuple[BaseModel, GroupedDataset]:
    """A run's model and all of its data (not split), rebuilt from the options it records,
    updated by ``options`` (e.g. ``path`` of new rows). A table is read with the run's
    recorded feature transform, so new rows are in the run's units and categories.

    Without a ``path`` in ``options`` the run's recorded file is read, and refused if it
    changed since training; a ``path`` given names the data to encode (new or changed
    rows, new groups) and is read as it is.

    Raises:
        CheckpointError: if the run does not record its data.
        DataError: if, with no ``path`` given, the run's recorded data file is gone or
            changed since training.
    """
    model = load(run_dir)
    record = data_record(model.extra_metadata, run_dir)
    if record.get("file") is not None and "path" not in (options or {}):
        check_unchanged(
            record["file"], f"cannot use the run {run_dir}",
            hint="; to encode this file as new data, name it with --data path=FILE",
        )  # fmt: skip
    name, merged = run_options(model, run_dir, options)
    spec = DATASETS[name]
    data = model.adapt_data(spec.load(seed=int(record.get("seed", 0)), **merged), spec)
    return model, data


def run_options(
    model: BaseModel, run_dir: str | Path, options: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """``(data set name, options)`` that :func:`run_data` builds a run's data with: the
    options the run records (its file's absolute path, a table's feature transform),
    updated by ``options``.

    Raises:
        CheckpointError: if the run does not record its data.
    """
    record = data_record(model.extra_metadata, run_dir)
    return record["name"], {**_recorded_options(model, record), **(options or {})}


__all__ = [
    "build_data",
    "data_record",
    "holdout_groups",
    "load_run",
    "run_data",
    "run_options",
    "split_by_ids",
]
