"""What a fit consumes, resolved once before training: :class:`FitPlan`.

Kept apart from the fit loop (:mod:`groupvae.training.fit`) so that planning a fit, and
importing the user-facing models, does not import Lightning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from groupvae.config import TrainConfig


@dataclass(frozen=True)
class FitPlan:
    """Everything a fit needs, resolved once before training starts.

    The user-facing model (:meth:`groupvae.models.base.BaseModel.plan_fit`) resolves the
    settings, checks the data and builds this; :func:`fit` consumes it and never calls
    back into the model.

    Attributes:
        config: the resolved training settings (``epochs`` sized by ``max_steps``).
        loader: the training batches (one epoch), built once.
        schedules: loss keyword -> ``schedule(progress in [0, 1])`` (KL warm-up, CPVAE's
            alpha).
        callbacks: Lightning callbacks (the caller's, then validation).
        validation: the :class:`~groupvae.training.validation.HoldoutValidation` among
            ``callbacks`` (holdout estimate, early stopping), or ``None``.
    """

    config: TrainConfig
    loader: Any
    schedules: Mapping[str, Callable[[float], float]] = field(default_factory=dict)
    callbacks: tuple[Any, ...] = ()
    validation: Any = None

    @property
    def steps_per_epoch(self) -> int:
        """Training batches per epoch (on one device)."""
        return len(self.loader)


__all__ = ["FitPlan"]
