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

from typing import Any

from groupvae import data, models
from groupvae._version import __version__
from groupvae.config import ModelConfig, TrainConfig
from groupvae.models import CPVAE, BaseModel, GroupVAE, load


def __getattr__(name: str) -> Any:
    """``groupvae.tune`` and ``groupvae.prepare``, imported when first used: Optuna and
    DuckDB are optional dependencies (``pip install "groupvae[tune]"``, ``"groupvae[io]"``)."""
    if name == "prepare":
        # deferred: the runs layer is imported only by those who prepare data
        from groupvae.runs.prepare import prepare

        return prepare
    if name == "tune":
        # deferred: Optuna is an optional dependency (the ``tune`` extra)
        from groupvae.tuning import tune

        return tune
    raise AttributeError(f"module 'groupvae' has no attribute {name!r}")


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
