"""Evaluation metrics: pure functions of arrays."""

from groupvae.evaluation.probes import chance_accuracy, probe_accuracy, split_groups_in_half

__all__ = ["chance_accuracy", "probe_accuracy", "split_groups_in_half"]
