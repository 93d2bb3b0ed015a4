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
from groupvae.data.sampler import group_loader
from groupvae.errors import DataError, GroupVAEError
from groupvae.models.module import GroupVAEModule
from groupvae.training.plan import TrainingPlan


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def preflight(module: GroupVAEModule, data: GroupedDataset, config: TrainConfig) -> None:
    """Check that ``data`` fits ``module`` and one forward pass runs, before training.

    Raises:
        DataError: naming what to fix (shape, value range, group sizes).
    """
    if data.obs_shape != module.config.obs_shape:
        raise DataError(
            f"the data's observations have shape {data.obs_shape} but the model was built "
            f"for {module.config.obs_shape}; set obs_shape to match"
        )
    module.likelihood.check_data(data.x)
    batch = next(iter(group_loader(data, min(config.groups_per_batch, data.n_groups), seed=0)))
    try:
        module(batch.x, batch.group, batch.n_groups)
    except GroupVAEError:
        raise
    except RuntimeError as err:  # a shape mismatch deep in a network
        raise DataError(f"a first forward pass on the data failed: {err}") from None


def history_from_csv(path: Path) -> pd.DataFrame:
    """One row per epoch from a Lightning ``metrics.csv`` (train and val rows merged)."""
    frame = pd.read_csv(path)
    frame = frame.drop(columns=[c for c in ("step",) if c in frame])
    return frame.groupby("epoch", as_index=False).first()


def fit_module(
    module: GroupVAEModule,
    train: GroupedDataset,
    config: TrainConfig,
    *,
    holdout: GroupedDataset | None = None,
    log_dir: str | Path | None = None,
    callbacks: list[Callback] | None = None,
) -> pd.DataFrame:
    """Train ``module`` on ``train`` with Lightning; return the per-epoch history.

    Args:
        module: the model's module (trained in place).
        train: training groups.
        config: training settings; ``config.seed`` seeds Lightning (sampling noise) and
            the batch sampler.
        holdout: groups for ``val_*`` ELBO terms each epoch.
        log_dir: where Lightning's CSV log goes (a temporary folder if ``None``).
        callbacks: extra Lightning callbacks (timers, early stopping, ...).

    Returns:
        A DataFrame with one row per epoch and a column per logged ELBO term.
    """
    _quiet_lightning()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    preflight(module, train, config)
    L.seed_everything(config.seed, workers=True, verbose=False)
    # A regulariser needs two groups per batch: drop a last batch that would hold only one
    # (the groups are reshuffled each epoch, so every group is still trained on).
    lone_last = train.n_groups > config.groups_per_batch and (
        train.n_groups % config.groups_per_batch == 1
    )
    grouping = {"random_groups": config.random_groups, "balance_by": config.balance_by}
    loader = group_loader(
        train,
        config.groups_per_batch,
        max_group_size=config.max_group_size,
        seed=config.seed,
        drop_last=module.regulariser is not None and lone_last,
        **grouping,
    )
    val_loader = None
    if holdout is not None:
        val_loader = group_loader(
            holdout, config.groups_per_batch, shuffle=False, seed=config.seed, **grouping
        )
    plan = TrainingPlan(module, config, steps_per_epoch=len(loader))
    return run_trainer(plan, loader, val_loader, config, log_dir=log_dir, callbacks=callbacks)


def run_trainer(
    plan: L.LightningModule,
    loader: Any,
    val_loader: Any,
    config: Any,
    *,
    log_dir: str | Path | None = None,
    callbacks: list[Callback] | None = None,
) -> pd.DataFrame:
    """Fit ``plan`` with a quiet Lightning ``Trainer`` and a CSV log; return the history.

    ``config`` needs ``epochs``, ``accelerator``, ``devices`` and ``progress`` (a
    :class:`TrainConfig` or a model family's own training config). The module is moved
    back to the CPU afterwards.
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
