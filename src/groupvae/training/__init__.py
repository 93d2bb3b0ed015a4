"""Training: the one Lightning plan and the fit loop of every model family."""

from groupvae.training.fit import fit_plan
from groupvae.training.plan import TrainingPlan

__all__ = ["TrainingPlan", "fit_plan"]
