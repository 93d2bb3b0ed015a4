"""Fit a module as a resolved :class:`FitPlan` says, with a quiet Lightning ``Trainer``."""

from __future__ import annotations

import errno
import logging
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities.exceptions import SIGTERMException

from groupvae.config import TrainConfig
from groupvae.errors import CheckpointError, ConfigError, GroupVAEError, TrainingInterrupted
from groupvae.modules.base import BaseModule
from groupvae.store.atomic import disk_error
from groupvae.training.epoch_checkpoints import (
    LAST,
    AtomicCheckpointIO,
    RunCheckpoint,
    _Stop,
    interrupts,
)
from groupvae.training.fit_plan import FitPlan
from groupvae.training.plan import TrainingPlan

_DISK_FAULTS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
"""``errno`` values of a write that failed for a fault of the machine, not of groupvae."""


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*Checkpoint directory.*exists and is not empty.*")


def history_frame(rows: list[dict[str, float]]) -> pd.DataFrame:
    """One row per epoch (``epoch`` 0-based, ``step`` the model optimiser steps at its
    end, every ``train_*`` term, and the ``val_*`` terms on the epochs validated, NaN on
    the others)."""
    frame = pd.DataFrame(rows)
    for name in ("epoch", "step"):
        if name in frame:
            frame[name] = frame[name].astype(int)
    return frame


def fit(
    module: BaseModule,
    plan: FitPlan,
    *,
    log_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
) -> pd.DataFrame:
    """Train ``module`` (in place) as ``plan`` says, with the one :class:`TrainingPlan`;
    return the per-epoch history (with ``plan.validation``, the best check's weights are
    restored when it stops early).

    Args:
        module: the model's module.
        plan: the resolved settings, loaders, schedules and callbacks.
        log_dir: where Lightning's CSV log goes (none if ``None``; a run's
            ``training/log``).
        checkpoint_dir: folder of the epoch checkpoint ``last.ckpt`` (``None``: none).
        resume: continue from ``checkpoint_dir/last.ckpt`` if it exists (bit-identical
            to an uninterrupted run on the same machine); start afresh otherwise.

    Returns:
        A DataFrame with one row per epoch and a column per logged term.

    Raises:
        TrainingInterrupted: on SIGINT or SIGTERM (a ``KeyboardInterrupt``); the last
            epoch checkpoint is kept.
        NonFiniteLossError: if a loss, a validation term or a parameter became NaN or
            infinite.
        DiskError: if the epoch checkpoint or the log cannot be written (full disk,
            read-only folder); the last complete epoch checkpoint is kept.
        ConfigError: for an accelerator or device count this machine does not have.
    """
    config = plan.config
    _quiet_lightning()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    module.train()  # inference (encode_*) leaves the module in eval mode
    L.seed_everything(config.seed, workers=True, verbose=False)
    training = TrainingPlan(module, config, plan.steps_per_epoch, plan.schedules)
    return run_trainer(
        training, plan.loader, config, log_dir=log_dir, callbacks=list(plan.callbacks),
        checkpoint_dir=checkpoint_dir, resume=resume, validation=plan.validation,
    )  # fmt: skip


def make_trainer(
    config: TrainConfig,
    callbacks: list[Callback],
    log_dir: str | Path | None,
    log_every: int,
) -> L.Trainer:
    """A quiet Lightning ``Trainer`` for ``config``: atomic checkpoints, our own
    (epoch-seeded, DDP-aware) samplers, a CSV log only where asked.

    Raises:
        ConfigError: for an accelerator, device count or strategy Lightning refuses.
    """
    logger: Any = False if log_dir is None else CSVLogger(log_dir, name="log")
    strategy: Any = config.strategy
    if strategy in ("ddp", "ddp_spawn"):
        # A step makes two backward passes when there is a critic (its loss reaches only
        # its own parameters): DDP must look for unused parameters on each.
        start = "spawn" if strategy == "ddp_spawn" else "popen"
        strategy = DDPStrategy(find_unused_parameters=True, start_method=start)
    try:
        return L.Trainer(
            max_epochs=config.epochs,
            accelerator=config.accelerator,
            devices=config.devices,
            strategy=strategy,
            num_nodes=config.num_nodes,
            logger=logger,
            enable_checkpointing=True,  # RunCheckpoint is the (only) checkpoint callback
            enable_model_summary=False,
            enable_progress_bar=config.progress,
            num_sanity_val_steps=0,
            log_every_n_steps=log_every,
            callbacks=callbacks,
            plugins=[AtomicCheckpointIO()],
            use_distributed_sampler=False,  # each sampler splits its batches by rank
        )
    except (MisconfigurationException, ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0]
        raise ConfigError(
            f"cannot train with accelerator={config.accelerator!r}, devices={config.devices!r}, "
            f"strategy={config.strategy!r}: {first}"
        ) from None


def run_trainer(
    plan: L.LightningModule,
    loader: Any,
    config: TrainConfig,
    *,
    log_dir: str | Path | None = None,
    callbacks: list[Callback] | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    validation: Callback | None = None,
) -> pd.DataFrame:
    """Fit ``plan`` with a quiet Lightning ``Trainer``; return the history.

    See :func:`fit` for the arguments; ``validation`` (a
    :class:`~groupvae.training.validation.HoldoutValidation` among ``callbacks``) adds
    its checks' ``val_*`` terms to the history. The module is moved back to the CPU
    afterwards.
    """
    state = RunCheckpoint(config.seed, checkpoint_dir, validation=validation)
    trainer = make_trainer(
        config, [*(callbacks or []), state], log_dir, max(1, min(50, len(loader)))
    )
    ckpt = None
    if checkpoint_dir is not None:
        Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
        last = Path(checkpoint_dir) / LAST
        ckpt = str(last) if resume and last.is_file() else None
    try:
        with interrupts(state):
            trainer.fit(plan, loader, ckpt_path=ckpt, weights_only=True)
    except (_Stop, SIGTERMException):  # ours, or Lightning's own SIGTERM handling
        raise TrainingInterrupted(
            trainer.current_epoch + 1, config.epochs, len(state.history), state.signal or "SIGTERM"
        ) from None
    except KeyError as err:  # a checkpoint of another model or optimiser layout
        raise CheckpointError(f"the training checkpoint does not fit this run: {err}") from None
    except OSError as err:  # Lightning's own writes (the CSV log) on a full or read-only disk
        if isinstance(err, GroupVAEError) or err.errno not in _DISK_FAULTS:
            raise
        where = err.filename or log_dir or checkpoint_dir or "."
        raise disk_error(Path(where), err) from None
    finally:
        plan.cpu()
    return history_frame(state.history)
