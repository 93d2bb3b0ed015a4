"""Training: the Lightning plan and the fit loop."""

from groupvae.training.fit import fit_module
from groupvae.training.plan import TrainingPlan

__all__ = ["TrainingPlan", "fit_module"]
