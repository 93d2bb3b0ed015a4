"""groupvae: representation learning on grouped data with group VAEs.

Quick use::

    import groupvae
    data = groupvae.data.make_exam_scores(2048, seed=0)
    model = groupvae.models.create("cxvae", dataset="exam-scores")
    model.fit(data, epochs=5)
    model.save("run")
    model = groupvae.load("run")
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

from groupvae import data, models
from groupvae.config import ModelConfig, TrainConfig
from groupvae.models.base import BaseModel
from groupvae.models.cpvae import CPVAE
from groupvae.models.model import GroupVAE


def load(directory: str | Path) -> BaseModel:
    """Load a model saved with ``save`` (or by ``groupvae train``), of any family: a
    :class:`GroupVAE` or a :class:`CPVAE`, as its checkpoint records.

    Raises:
        CheckpointError: if the directory is missing, corrupt or does not match its config.
    """
    return BaseModel.load(directory)


__all__ = [
    "CPVAE",
    "BaseModel",
    "GroupVAE",
    "ModelConfig",
    "TrainConfig",
    "__version__",
    "data",
    "load",
    "models",
]
