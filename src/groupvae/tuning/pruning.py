"""Pruning a trial from its validation checks: each check of
:class:`~groupvae.training.validation.HoldoutValidation` is reported to Optuna, and the
study's pruner may stop the trial there."""

from __future__ import annotations

import lightning as L
import optuna
from lightning.pytorch.callbacks import Callback

from groupvae.training.validation import MONITOR, HoldoutValidation


class ValidationPruning(Callback):
    """Report every validation check of a fit to an Optuna trial, and stop the fit when
    the study's pruner says so.

    The value reported is the check's holdout ELBO estimate (``elbo_per_obs``: nats per
    observation of the validation groups, higher is better), at Optuna step ``k`` for
    the ``k``-th check (1, 2, ...): checks come every ``validation_every`` optimiser steps
    (rounded up to whole epochs) whatever a trial's batch size, so the ``k``-th checks of
    two trials are comparable points of their budgets, which is what Optuna's pruners
    compare. The check is read at the start of the next epoch (Lightning runs a fit's own
    callbacks before the validation callback at an epoch's end), so no epoch is trained
    after the check that prunes the trial; the last check, after which nothing is left to
    save, is not reported.

    Args:
        trial: the running trial.

    Raises:
        optuna.TrialPruned: from the epoch-start hook, out of ``fit``, when
            ``trial.should_prune()``; its message names the check and its value.
    """

    def __init__(self, trial: optuna.Trial) -> None:
        super().__init__()
        self.trial = trial
        self.reported = 0

    @staticmethod
    def validation(trainer: L.Trainer) -> HoldoutValidation | None:
        """The fit's validation callback, if it has one."""
        found = [c for c in trainer.callbacks if isinstance(c, HoldoutValidation)]
        return found[0] if found else None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        validation = self.validation(trainer)
        if validation is None or validation.last is None or validation.checks == self.reported:
            return
        self.reported = validation.checks
        value = float(validation.last[MONITOR])
        self.trial.report(value, step=validation.checks)
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"pruned at validation check {validation.checks}: {value:.4f} nats per observation"
            )


__all__ = ["ValidationPruning"]
