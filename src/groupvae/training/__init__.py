"""Training: the one Lightning training plan, the fit loop, epoch checkpoints and
callbacks. It sees modules (:mod:`groupvae.modules`), never the user-facing models."""

from groupvae.training.fit import FitPlan, fit
from groupvae.training.plan import TrainingPlan

__all__ = ["FitPlan", "TrainingPlan", "fit"]
