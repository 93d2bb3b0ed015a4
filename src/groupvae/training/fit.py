"""Run a Lightning ``Trainer`` on a grouped data set."""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger

from groupvae.config import TrainConfig
from groupvae.data.grouped import GroupedDataset
from groupvae.training.plan import TrainingPlan


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def history_from_csv(path: Path) -> pd.DataFrame:
    """One row per epoch from a Lightning ``metrics.csv`` (train and val rows merged)."""
    frame = pd.read_csv(path)
    frame = frame.drop(columns=[c for c in ("step",) if c in frame])
    return frame.groupby("epoch", as_index=False).first()


def fit_plan(
    model: Any,
    train: GroupedDataset,
    holdout: GroupedDataset | None,
    config: TrainConfig,
    *,
    log_dir: str | Path | None = None,
    callbacks: list[Callback] | None = None,
) -> pd.DataFrame:
    """Train ``model`` (a :class:`~groupvae.models.base.BaseModel`) on ``train`` with the
    one :class:`TrainingPlan`; return the per-epoch history.

    The family's hooks give the preflight (``model._prepare``), the loaders
    (``model._loaders``) and the loss-weight schedules (``model._schedules``).

    Args:
        model: the user model; its module is trained in place.
        train: training data.
        holdout: data for ``val_*`` terms each epoch, or ``None``.
        config: training settings; ``config.seed`` seeds Lightning (sampling noise) and
            the batch sampler.
        log_dir: where Lightning's CSV log goes (a temporary folder if ``None``).
        callbacks: extra Lightning callbacks (timers, early stopping, ...).

    Returns:
        A DataFrame with one row per epoch and a column per logged term.
    """
    _quiet_lightning()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    model._prepare(train, config)
    model.module.train()  # inference (encode_*) leaves the module in eval mode
    L.seed_everything(config.seed, workers=True, verbose=False)
    loader, val_loader = model._loaders(train, holdout, config)
    plan = TrainingPlan(model.module, config, len(loader), model._schedules(config))
    return run_trainer(plan, loader, val_loader, config, log_dir=log_dir, callbacks=callbacks)


def run_trainer(
    plan: L.LightningModule,
    loader: Any,
    val_loader: Any,
    config: TrainConfig,
    *,
    log_dir: str | Path | None = None,
    callbacks: list[Callback] | None = None,
) -> pd.DataFrame:
    """Fit ``plan`` with a quiet Lightning ``Trainer`` and a CSV log; return the history.

    The module is moved back to the CPU afterwards.
    """
    with tempfile.TemporaryDirectory() as tmp:
        logger = CSVLogger(log_dir or tmp, name="", version="")
        trainer = L.Trainer(
            max_epochs=config.epochs,
            accelerator=config.accelerator,
            devices=config.devices,
            logger=logger,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=config.progress,
            num_sanity_val_steps=0,
            log_every_n_steps=max(1, min(50, len(loader))),
            callbacks=callbacks,
        )
        trainer.fit(plan, loader, val_loader)
        plan.cpu()
        return history_from_csv(Path(logger.log_dir) / "metrics.csv")
