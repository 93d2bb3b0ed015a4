"""What a study tunes: one preset on one data set, split one way, and the data every
trial of a worker process trains on.

The run's holdout groups (the ones ``groupvae train`` and ``evaluate`` score) are split
off exactly as ``train`` splits them (``model.split(data, holdout, seed=seed)``); the
rest, the training groups, are split again (``model.split(train, validation,
seed=seed)``) into the groups a trial fits and the **validation groups** whose holdout
ELBO estimate is the objective. No trial ever sees the scored holdout groups.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groupvae.data.datasets import DATASETS, DatasetSpec
from groupvae.data.grouped import GroupedDataset
from groupvae.models import BaseModel, create, split_settings
from groupvae.models.search_space import SearchSpace, describe_space
from groupvae.store.data_files import fingerprint


@dataclass(frozen=True)
class TuneProblem:
    """One tuning problem; it pickles, so worker processes get it whole.

    Attributes:
        model: a preset of ``MODELS``.
        dataset: a data set of ``DATASETS``.
        data_options: options of the data set's builder (a file's ``path`` absolute).
        seed: seeds the data, both splits, the weights and training of every trial.
        holdout: fraction of groups held out for scoring (as ``groupvae train``).
        holdout_labels: hold out these classes instead (as ``train --holdout-labels``).
        validation: fraction of the training groups that are the validation groups.
        fixed: ``--set`` fields (model or training), the same in every trial.
        space: the fields searched (:mod:`groupvae.models.search_space`).
        data_file: the data file's fingerprint (path, size, SHA-256), if the data is one.
        start: the default settings of the searched fields, where they lie in the space:
            a new study's first trial.
    """

    model: str
    dataset: str
    data_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    holdout: float = 0.2
    holdout_labels: tuple[int, ...] | None = None
    validation: float = 0.2
    fixed: dict[str, Any] = field(default_factory=dict)
    space: SearchSpace = field(default_factory=dict)
    data_file: dict[str, Any] | None = None
    start: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def bound_to_file(cls, **fields: Any) -> TuneProblem:
        """A problem whose data option ``path``, if it names an existing file or folder,
        is made absolute and fingerprinted (:func:`groupvae.store.data_files.fingerprint`)."""
        options = dict(fields.pop("data_options", None) or {})
        path = options.get("path")
        record = None
        if isinstance(path, str | os.PathLike) and Path(path).exists():
            record = fingerprint(path)
            options["path"] = record["path"]
        return cls(data_options=options, data_file=record, **fields)

    def signature(self) -> dict[str, Any]:
        """What must be the same for two commands to continue one study (JSON-ready): the
        problem without the data file's path (machines may mount it elsewhere), with its
        size and SHA-256."""
        options = {k: str(v) for k, v in self.data_options.items() if k != "path"}
        data_file = None
        if self.data_file is not None:
            data_file = {k: v for k, v in self.data_file.items() if k != "path"}
        return {
            "model": self.model,
            "dataset": self.dataset,
            "data_options": options,
            "data_file": data_file,
            "seed": self.seed,
            "holdout": self.holdout,
            "holdout_labels": None if self.holdout_labels is None else list(self.holdout_labels),
            "validation": self.validation,
            "fixed": {k: str(v) for k, v in self.fixed.items()},
            "space": describe_space(self.space),
        }

    def create_model(self, data: TrialData, settings: dict[str, Any]) -> tuple[BaseModel, dict]:
        """A fresh model with ``settings`` (fixed and sampled fields) and its training
        options: ``(model, TrainConfig fields)``.

        Raises:
            ConfigError: for a setting its config refuses.
        """
        model_over, train_over = split_settings(self.model, settings)
        model = create(
            self.model, dataset=self.dataset, seed=self.seed, data=data.shaped_by, **model_over
        )
        return model, train_over


@dataclass(frozen=True)
class TrialData:
    """The data of every trial of one worker process.

    Attributes:
        spec: the data set's spec.
        shaped_by: the whole data set where a model's shape comes from it (a reader of
            your files), else ``None``.
        fit: the groups a trial trains on (training groups minus validation groups).
        validation: the validation groups (the objective's).
        holdout: the run's scored holdout groups (never trained or validated on).
    """

    spec: DatasetSpec
    shaped_by: GroupedDataset | None
    fit: GroupedDataset
    validation: GroupedDataset
    holdout: GroupedDataset

    @classmethod
    def load(cls, problem: TuneProblem) -> TrialData:
        """Build the data set and split it as the module docstring says.

        Raises:
            UnknownNameError, ConfigError, DataError: for a bad data set, option or
                split (a fraction that leaves no group on one side).
        """
        spec = DATASETS[problem.dataset]
        data = spec.load(seed=problem.seed, **problem.data_options)
        shaped_by = data if spec.shape_from_data else None
        model_over, _ = split_settings(problem.model, dict(problem.fixed))
        base = create(
            problem.model, dataset=problem.dataset, seed=problem.seed, data=shaped_by,
            **model_over,
        )  # fmt: skip
        data = base.adapt_data(data, spec)
        labels = None if problem.holdout_labels is None else list(problem.holdout_labels)
        train, holdout = base.split(data, problem.holdout, seed=problem.seed, holdout_labels=labels)
        fit, validation = base.split(train, problem.validation, seed=problem.seed)
        return cls(spec, shaped_by, fit, validation, holdout)


__all__ = ["TrialData", "TuneProblem"]
