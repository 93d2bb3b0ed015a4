"""Training a CPVAE with Lightning, following Algorithm 1 of the CPVAE paper.

Every step takes a mini-batch holding ``M`` observations of each population
(:class:`~groupvae.data.populations.PopulationBatchSampler`), computes the shared codes,
the private codes and the fictitious codes ``q_k(t~ | x_j)`` of every other population
in one batched pass, and ascends ``J`` (eq. 4 / 10) or the ELBO (eq. 3) with Adam. The
weight ``alpha`` follows a schedule of the training progress.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback

from groupvae.data.populations import PopulationBatch, population_loader, population_sizes
from groupvae.errors import DataError, GroupVAEError, NonFiniteLossError
from groupvae.models.cpvae.config import CPVAETrainConfig
from groupvae.models.cpvae.module import CPVAEModule
from groupvae.objectives.cpvae import AlphaSchedule
from groupvae.training.fit import _quiet_lightning, run_trainer
from groupvae.training.plan import NAN_HINT


class CPVAETrainingPlan(L.LightningModule):
    """Maximises the CPVAE objective of :class:`CPVAEModule` (Algorithm 1).

    Every term is logged per epoch as ``train_*`` and, with holdout data, ``val_*``
    (see :meth:`~groupvae.objectives.cpvae.CPVAELossOutput.scalars`).

    Args:
        module: the model (trained in place).
        config: training settings.
        alpha_schedule: ``progress in [0, 1] -> alpha`` (eq. 10).
        steps_per_epoch: batches per epoch, to measure progress.

    Raises:
        NonFiniteLossError: as soon as the loss is NaN or infinite.
    """

    def __init__(
        self,
        module: CPVAEModule,
        config: CPVAETrainConfig,
        alpha_schedule: AlphaSchedule,
        steps_per_epoch: int,
    ) -> None:
        super().__init__()
        self.module = module
        self.config = config
        self.alpha_schedule = alpha_schedule
        self.total_steps = max(1, config.epochs * steps_per_epoch)
        self.steps = 0

    def alpha(self) -> float:
        """``alpha`` at the current step (progress ``steps / total_steps``)."""
        value = float(self.alpha_schedule(self.steps / self.total_steps))
        if not np.isfinite(value) or value < 0:
            raise GroupVAEError(f"the alpha schedule returned {value}; it must be finite and >= 0")
        return value

    def transfer_batch_to_device(
        self, batch: PopulationBatch, device: torch.device, dataloader_idx: int
    ) -> PopulationBatch:
        return batch.to(device)

    def training_step(self, batch: PopulationBatch, batch_idx: int) -> torch.Tensor:
        out = self.module(batch.x, batch.population, alpha=self.alpha())
        if not bool(torch.isfinite(out.loss)):
            raise NonFiniteLossError(
                f"the CPVAE loss became {float(out.loss.detach())} at epoch "
                f"{self.current_epoch}, step {self.steps}. {NAN_HINT} A larger min_logvar "
                "or a smaller alpha may also help."
            )
        self.steps += 1
        metrics = {f"train_{k}": v.detach() for k, v in out.scalars().items()}
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=len(batch))
        return out.loss

    def validation_step(self, batch: PopulationBatch, batch_idx: int) -> None:
        out = self.module(batch.x, batch.population, alpha=self.alpha())
        metrics = {f"val_{k}": v for k, v in out.scalars().items()}
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=len(batch))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.module.parameters(), lr=self.config.lr)


def preflight(module: CPVAEModule, x: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Check that the data fits ``module`` before training; return ``(K,)`` sizes ``n_k``.

    Raises:
        DataError: naming what to fix (shape, value range, populations).
    """
    if tuple(x.shape[1:]) != module.config.obs_shape:
        raise DataError(
            f"the data's observations have shape {tuple(x.shape[1:])} but the model was built "
            f"for {module.config.obs_shape}; set obs_shape to match"
        )
    module.likelihood.check_data(x)
    return population_sizes(population, module.n_populations)


def fit_cpvae(
    module: CPVAEModule,
    x: np.ndarray,
    population: np.ndarray,
    config: CPVAETrainConfig,
    alpha_schedule: AlphaSchedule,
    *,
    holdout: tuple[np.ndarray, np.ndarray] | None = None,
    log_dir: str | Path | None = None,
    callbacks: list[Callback] | None = None,
) -> pd.DataFrame:
    """Train ``module`` on ``(x, population)`` with Lightning (Algorithm 1).

    Sets ``module.population_sizes`` to the training data's ``n_k`` (eq. 4's ``n_k`` and
    ``N``).

    Args:
        module: the model (trained in place).
        x: ``(N, *obs_shape)`` float32 observations.
        population: ``(N,) int64 in [0, K)``.
        config: training settings; ``config.seed`` seeds Lightning and the sampler.
        alpha_schedule: ``progress -> alpha``.
        holdout: ``(x, population)`` on which ``val_*`` terms are logged each epoch.
        log_dir: where Lightning's CSV log goes (a temporary folder if ``None``).
        callbacks: extra Lightning callbacks.

    Returns:
        A DataFrame with one row per epoch and a column per logged term.
    """
    _quiet_lightning()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    sizes = preflight(module, x, population)
    module.population_sizes.copy_(torch.as_tensor(sizes, dtype=module.population_sizes.dtype))
    L.seed_everything(config.seed, workers=True, verbose=False)
    loader = population_loader(
        x,
        population,
        config.batch_per_population,
        n_populations=module.n_populations,
        seed=config.seed,
    )
    val_loader = None
    if holdout is not None:
        val_loader = population_loader(
            holdout[0],
            holdout[1],
            config.batch_per_population,
            n_populations=module.n_populations,
            balanced=False,
        )
    plan = CPVAETrainingPlan(module, config, alpha_schedule, steps_per_epoch=len(loader))
    return run_trainer(plan, loader, val_loader, config, log_dir=log_dir, callbacks=callbacks)


__all__ = ["CPVAETrainingPlan", "fit_cpvae", "preflight"]
