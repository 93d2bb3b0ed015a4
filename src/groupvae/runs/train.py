"""``groupvae train``: train a preset of any family on a named data set in a run directory.

A run directory is a model checkpoint (see :mod:`groupvae.store.checkpoint_files`) whose
``metadata.json`` also records how to rebuild its data (name, seed, options, holdout
fraction), so that ``evaluate`` and the plots work from files alone
(:func:`groupvae.models.saved.load_run`). The settings are resolved once, into the
model's :class:`~groupvae.training.fit.FitPlan`, before the run directory is touched.

A run of the user's file (``--data path=...``) records the file's absolute path, size
and SHA-256 (:mod:`groupvae.store.data_files`) and the ids of its held-out groups, so the
run is bound to that data: ``--resume``, ``evaluate`` and ``plot`` refuse the file once
it changed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from groupvae.data.datasets import DATASETS
from groupvae.data.grouped import GroupedDataset
from groupvae.errors import CheckpointError, DataError
from groupvae.models import BaseModel, create, split_settings
from groupvae.models.saved import holdout_groups
from groupvae.store.data_files import changes, fingerprint
from groupvae.store.run_directory import (
    REQUEST,
    checkpoint_dir,
    finish_run,
    is_global_zero,
    run_lock,
    run_state,
    start_run,
)


def _refuse_linked_training(out: Path) -> None:
    """Refuse a run whose ``training`` folder is a symbolic link: epoch checkpoints are
    written (and, with ``--overwrite``, removed) only in the run's own folder."""
    training = checkpoint_dir(out)
    if training.is_symlink():
        raise CheckpointError(
            f"{training} is a symbolic link (to {os.readlink(training)}); groupvae writes "
            "epoch checkpoints only into a real folder of the run: remove the link"
        )


def _check_resumed_data(out: Path, source: dict[str, Any]) -> None:
    """Refuse ``--resume`` when the data file the run started with changed since.

    Raises:
        DataError: naming the file and what changed (size or content).
    """
    try:
        started = json.loads((out / REQUEST).read_text()).get("data", {}).get("file")
    except (OSError, ValueError, AttributeError):
        return  # the request is checked (and refused if unreadable) by start_run
    if not isinstance(started, dict) or started.get("path") != source["path"]:
        return  # an older run without a fingerprint, or another path (a changed setting)
    change = changes(started, source)
    if change is not None:
        raise DataError(
            f"--resume: the data {source['path']} changed since {out} started ({change}); "
            "resume with the data it started with, or train again with --overwrite"
        )


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
    (one settings resolver, :mod:`groupvae.models.resolve`, resolved once into the
    model's fit plan before ``out`` is touched). ``out`` is training's working
    directory (:mod:`groupvae.store.run_directory`): marked unfinished, with an atomic
    checkpoint after every epoch, until the finished checkpoint is written; its lock is
    held from before the ``--out`` policy is applied until the run is finished (or
    interrupted), so a second ``train``, ``--resume`` or ``--overwrite`` of ``out`` is
    refused, naming this process's pid.

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
            ``out`` (another process writing it included), before any training.
        DataError: also with ``resume``, if the data file changed since the run started.
        CheckpointError: if ``out/training`` is a symbolic link.
        DiskError: if a checkpoint cannot be written (full disk, read-only folder); the
            last complete epoch checkpoint is kept.
        TrainingInterrupted: (a ``KeyboardInterrupt``) on SIGINT or SIGTERM; ``out``
            keeps the last epoch checkpoint.
    """
    out = Path(out)
    writer = is_global_zero()  # under DDP the other ranks only train
    if writer:
        _refuse_linked_training(out)  # before run_state, which would call it foreign
        run_state(out)  # a file or someone else's folder fails before any work
    data_options = dict(data_options or {})
    source = None  # the fingerprint of the user's data file, if the data is one
    path = data_options.get("path")
    if isinstance(path, str | os.PathLike) and Path(path).exists():  # else the reader says
        source = fingerprint(data_options["path"])
        data_options["path"] = source["path"]  # absolute: the run works from any folder
        if resume and writer:
            _check_resumed_data(out, source)
    model_over, train_over = split_settings(model_name, dict(overrides or {}))
    spec = DATASETS[dataset]
    data = spec.load(seed=seed, **data_options)
    # a reader of the user's files: the data gives the shape (and a mixed-type table
    # its likelihood's column layout), unless --set says otherwise
    shaped_by = data if spec.shape_from_data else None
    model = create(model_name, dataset=dataset, seed=seed, data=shaped_by, **model_over)
    data = model.adapt_data(data, spec)
    train, hold = model.split(data, holdout, seed=seed, holdout_labels=holdout_labels)
    options = {"progress": progress, **train_over}
    if epochs is not None:
        options["epochs"] = epochs
    extra = callbacks(model, hold) if callbacks is not None else None
    plan = model.plan_fit(train, holdout=hold, callbacks=extra, **options)  # checks, once
    record = {
        "name": dataset,
        "seed": seed,
        "options": data_options,
        "holdout": holdout,
        "holdout_labels": holdout_labels,
    }
    if source is not None:  # bound to the file, and to the split of its groups
        record["file"] = source
        record["holdout_groups"] = None if holdout_labels else holdout_groups(train, hold)
    request = {
        "model": model_name, "data": record, "epochs": epochs,
        "overrides": {k: str(v) for k, v in (overrides or {}).items() if k != "progress"},
    }  # fmt: skip
    command = resume_command or f"train_run({model_name!r}, {dataset!r}, {str(out)!r}, resume=True)"
    with run_lock(out, "train") if writer else nullcontext():  # the whole run
        if writer:
            start_run(out, request, resume_command=command, overwrite=overwrite, resume=resume)
        start = time.perf_counter()
        model.fit_planned(
            plan, checkpoint_dir=checkpoint_dir(out), log_dir=checkpoint_dir(out), resume=resume
        )
        if writer:
            meta = {"data": record, "fit_seconds": time.perf_counter() - start}
            model.save(out, metadata=meta, overwrite=True)
            finish_run(out)
    return model


__all__ = ["train_run"]
