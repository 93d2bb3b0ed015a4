"""``CPVAE``: the Cross-population VAE users touch (fit, encode, reconstruct, save, load)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from groupvae.checkpoint import load_model, save_model
from groupvae.config import replace
from groupvae.data.grouped import GroupedDataset
from groupvae.data.populations import PopulationKey, check_population, population_of
from groupvae.errors import CheckpointError, ConfigError, DataError
from groupvae.models.common import map_batches, seeded_module
from groupvae.models.cpvae.config import CPVAEConfig, CPVAETrainConfig
from groupvae.models.cpvae.module import CPVAEModule
from groupvae.objectives.cpvae import AlphaSchedule, make_alpha_schedule

Part = Literal["full", "private", "shared"]
Ignore = Literal["prior-mean", "drop"]


class CPVAECodes(NamedTuple):
    """Posterior means: ``shared: (n, shared_dim)`` of ``q(z | x)`` and
    ``private: (n, private_dim)`` of ``q_k(t | x)``, ``k`` each row's population."""

    shared: np.ndarray
    private: np.ndarray


class CPVAE:
    """A Cross-population VAE: a config, its module, and what fitting it recorded.

    Create one with :func:`groupvae.models.cpvae.create_cpvae` (or this constructor);
    restore one with :meth:`load`.

    Data is passed as a :class:`GroupedDataset` with a ``population`` key (``"labels"``,
    ``"group"`` or an ``aux`` name, see :func:`~groupvae.data.populations.population_of`),
    or as an array ``x: (n, *obs_shape)`` with an ``(n,)`` integer ``population`` array.

    Attributes:
        config: the :class:`CPVAEConfig`.
        module: the :class:`CPVAEModule`.
        history: per-epoch terms of the last :meth:`fit` (``None`` before).
        train_config: the :class:`CPVAETrainConfig` of the last fit.
        seed: the seed of the weight initialisation.
    """

    def __init__(self, config: CPVAEConfig, *, seed: int = 0) -> None:
        self.config = config
        self.seed = seed
        self.module = seeded_module(lambda: CPVAEModule(config), seed)
        self.history: pd.DataFrame | None = None
        self.train_config: CPVAETrainConfig | None = None
        self.extra_metadata: dict[str, Any] = {}

    def __repr__(self) -> str:
        c = self.config
        return (
            f"CPVAE(K={c.n_populations}, shared_dim={c.shared_dim}, private_dim={c.private_dim}, "
            f"objective={c.objective}, alpha={c.alpha}->{c.alpha_end} ({c.alpha_schedule}), "
            f"aggregation={c.aggregation}, likelihood={c.likelihood})"
        )

    # ------------------------------------------------------------------ data
    def _arrays(
        self, data: GroupedDataset | Any, population: PopulationKey | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(data, GroupedDataset):
            return data.x, population_of(data, "population" if population is None else population)
        x = np.asarray(data, dtype=np.float32)
        if population is None:
            raise DataError("with an array x, pass population=(n,) integer ids")
        if isinstance(population, str):
            raise DataError("a population key needs a GroupedDataset; pass an array of ids")
        if not np.isfinite(x).all():
            raise DataError("x has NaN or infinite values")
        return x, check_population(np.asarray(population), x.shape[0])

    def _tensors(self, data: Any, population: PopulationKey | None) -> tuple[Tensor, Tensor]:
        x, pop = self._arrays(data, population)
        xt, pt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(pop)
        self.module.check_input(xt, pt)
        return xt, pt

    # -------------------------------------------------------------- training
    def fit(
        self,
        data: GroupedDataset | Any,
        population: PopulationKey | None = None,
        *,
        holdout: GroupedDataset | None = None,
        alpha_schedule: AlphaSchedule | None = None,
        log_dir: str | Path | None = None,
        callbacks: list[Any] | None = None,
        **train_options: Any,
    ) -> CPVAE:
        """Train with Lightning, following Algorithm 1.

        Args:
            data: training data (see the class docstring).
            population: population key or ids (default ``"population"``).
            holdout: data (same population key) whose ``val_*`` terms are logged.
            alpha_schedule: a callable ``progress in [0, 1] -> alpha`` that replaces the
                config's ``alpha_schedule`` (eq. 10); not saved in checkpoints.
            log_dir: folder for Lightning's CSV log.
            callbacks: extra Lightning callbacks.
            **train_options: :class:`CPVAETrainConfig` fields (``epochs``,
                ``batch_per_population``, ``lr``, ``seed``, ...).

        Returns:
            ``self``; ``self.history`` holds one row per epoch.

        Raises:
            DataError: if the data does not fit the model.
            NonFiniteLossError: if the loss becomes NaN or infinite.
        """
        from groupvae.models.cpvae.training import fit_cpvae

        config = replace(CPVAETrainConfig(), **train_options)
        x, pop = self._arrays(data, population)
        hold = None if holdout is None else self._arrays(holdout, population)
        c = self.config
        schedule = alpha_schedule or make_alpha_schedule(
            c.alpha_schedule, alpha=c.alpha, alpha_end=c.alpha_end
        )
        self.history = fit_cpvae(
            self.module,
            x,
            pop,
            config,
            schedule,
            holdout=hold,
            log_dir=log_dir,
            callbacks=callbacks,
        )
        self.train_config = config
        return self

    # ------------------------------------------------------------- inference
    def _batched(
        self,
        fn: Callable[[Tensor, Tensor], tuple[Tensor, ...]],
        x: Tensor,
        pop: Tensor,
        batch_size: int,
    ) -> list[np.ndarray]:
        """Apply ``fn(x_batch, pop_batch) -> tensors`` in eval mode over row batches and
        concatenate each output along rows."""
        starts = range(0, x.shape[0], batch_size)
        return map_batches(
            self.module,
            (slice(s, s + batch_size) for s in starts),
            lambda rows: fn(x[rows], pop[rows]),
            lambda rows: torch.arange(x.shape[0])[rows],
        )

    def encode(
        self,
        data: GroupedDataset | Any,
        population: PopulationKey | None = None,
        *,
        batch_size: int = 1024,
    ) -> CPVAECodes:
        """Posterior means of the shared latent ``q(z | x)`` and of the private latent
        ``q_k(t | x)`` of each observation's own population (eq. 2).

        Returns:
            :class:`CPVAECodes` of ``(n, shared_dim)`` and ``(n, private_dim)`` arrays.
        """
        x, pop = self._tensors(data, population)

        def fn(xb: Tensor, pb: Tensor) -> tuple[Tensor, Tensor]:
            inf = self.module.inference(xb, pb, sample=False)
            return inf["z_mean"], inf["t_mean"]

        shared, private = self._batched(fn, x, pop, batch_size)
        return CPVAECodes(shared, private)

    def reconstruct(
        self,
        data: GroupedDataset | Any,
        population: PopulationKey | None = None,
        *,
        part: Part = "full",
        ignore: Ignore = "prior-mean",
        decoder_population: int | np.ndarray | None = None,
        encoder_population: int | np.ndarray | None = None,
        batch_size: int = 1024,
    ) -> np.ndarray:
        """Decode posterior means (eq. 1 with ``z, t`` at their posterior means).

        Args:
            data, population: as :meth:`fit`.
            part: ``"full"`` ``g(f_s(z), f_k(t))``; ``"private"`` ignores the shared
                latent (Fig. 2, third row: the digit without its background);
                ``"shared"`` ignores the private latent (fourth row: the background).
            ignore: how a latent is ignored: ``"prior-mean"`` sets it to its prior mean
                0 (``g(f_s(0), f_k(t))``: the digit over an average, flat background);
                ``"drop"`` leaves its decoder's output out (``g(., f_k(t))``; with the
                additive ``g`` this is a signed residual around the other decoder's
                output, whose constant offset the model splits arbitrarily).
            decoder_population: decode ``t`` with this population's private decoder
                ``f_j`` instead of the observation's own: an int, or ``(n,)`` ids.
            encoder_population: infer ``t`` with this population's private encoder
                ``q_j(t | x)`` instead of the observation's own. With
                ``decoder_population`` the same, the image is autoencoded through
                population ``j``'s private space (the paper's Fig. 4).
            batch_size: rows per forward pass.

        Returns:
            ``(n, *obs_shape)`` likelihood means (pixel probabilities for Bernoulli).

        Raises:
            ConfigError: for an unknown ``part``.
            DataError: for a bad ``decoder_population``.
        """
        if part not in ("full", "private", "shared"):
            raise ConfigError(f"part must be 'full', 'private' or 'shared', got {part!r}")
        if ignore not in ("prior-mean", "drop"):
            raise ConfigError(f"ignore must be 'prior-mean' or 'drop', got {ignore!r}")
        x, pop = self._tensors(data, population)
        decoder = self._other_population(x, pop, decoder_population)
        encoder = self._other_population(x, pop, encoder_population)
        both = torch.stack([encoder, decoder], 1)

        def fn(xb: Tensor, pb: Tensor) -> tuple[Tensor]:
            inf = self.module.inference(xb, pb[:, 0], sample=False)
            z, t = inf["z"], inf["t"]
            if part == "private":
                z = None if ignore == "drop" else torch.zeros_like(z)
            elif part == "shared":
                t = None if ignore == "drop" else torch.zeros_like(t)
            return (self.module.likelihood.mean(self.module.generative(z, t, pb[:, 1])),)

        (out,) = self._batched(fn, x, both, batch_size)
        return out

    def _other_population(self, x: Tensor, pop: Tensor, ids: int | np.ndarray | None) -> Tensor:
        """``pop``, or ``ids`` (an int or ``(n,)`` array) checked against ``K``."""
        if ids is None:
            return pop
        out = np.broadcast_to(np.asarray(ids, dtype=np.int64), (len(pop),))
        target = torch.from_numpy(out.copy())
        self.module.check_input(x, target)
        return target

    def log_marginal_likelihoods(
        self,
        data: GroupedDataset | Any,
        population: PopulationKey | None = None,
        *,
        n_samples: int = 100,
        seed: int = 0,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Importance-sampled ``log p(x | theta_k, theta_s)`` of every row under every
        population (eq. 7-8); see :meth:`CPVAEModule.log_marginal_likelihoods`.

        ``population`` is ignored (accepted for symmetry with the other methods): every
        population is scored.

        Returns:
            ``(n, K)`` log-likelihoods (nats).
        """
        if isinstance(data, GroupedDataset):
            x = torch.from_numpy(data.x)
        else:
            x = torch.from_numpy(np.asarray(data, dtype=np.float32))
        pop = torch.zeros(x.shape[0], dtype=torch.int64)
        self.module.check_input(x, pop)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            (out,) = self._batched(
                lambda xb, pb: (self.module.log_marginal_likelihoods(xb, n_samples=n_samples),),
                x,
                pop,
                batch_size,
            )
        return out

    def classify(
        self, data: GroupedDataset | Any, *, n_samples: int = 100, seed: int = 0
    ) -> np.ndarray:
        """Maximum-marginal-likelihood population of each row (section 4.3):
        ``argmax_k log p(x | theta_k, theta_s)``. Returns ``(n,) int64``."""
        return self.log_marginal_likelihoods(data, n_samples=n_samples, seed=seed).argmax(1)

    # ------------------------------------------------------------- save / load
    def save(self, directory: str | Path, *, metadata: dict[str, Any] | None = None) -> Path:
        """Write a checkpoint directory atomically; returns its path.

        Contents: ``config.json``, ``weights.safetensors`` (with the population sizes),
        ``metadata.json`` (schema and library versions, seed, training config, extras)
        and ``history.csv``.
        """
        return save_model(self, directory, metadata=metadata, fixed={"model_class": "CPVAE"})

    @classmethod
    def load(cls, directory: str | Path) -> CPVAE:
        """Restore a model saved by :meth:`save`.

        Raises:
            CheckpointError: if the directory is missing, corrupt or mismatched.
        """

        def build(config_dict: dict[str, Any], seed: int) -> CPVAE:
            if config_dict.get("model") != "cpvae":
                raise CheckpointError(
                    f"{directory} holds a {config_dict.get('model')!r} model, not a CPVAE; "
                    "load it with groupvae.load"
                )
            try:
                return cls(replace(CPVAEConfig(), **config_dict), seed=seed)
            except Exception as err:  # a bad field or an unknown part name
                raise CheckpointError(f"cannot rebuild the CPVAE of {directory}: {err}") from None

        return load_model(directory, build, CPVAETrainConfig, fixed=("model_class",))


__all__ = ["CPVAE", "CPVAECodes", "Ignore", "Part"]
