"""``CPVAE``: the Cross-population VAE users touch (fit, encode, reconstruct, save, load)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor

from groupvae.config import TrainConfig
from groupvae.data.datasets import DatasetSpec
from groupvae.data.grouped import GroupedDataset
from groupvae.data.populations import (
    PopulationBatch,
    check_population,
    population_loader,
    population_of,
    population_sizes,
    stratified_split,
    subset_rows,
)
from groupvae.errors import ConfigError, DataError
from groupvae.models.base import BaseModel, Posterior, Schedule
from groupvae.models.common import map_batches
from groupvae.modules.backbones import BACKBONES
from groupvae.modules.cpvae import AGGREGATIONS, CPVAEConfig, CPVAEModule
from groupvae.modules.likelihoods import LIKELIHOODS
from groupvae.objectives.cpvae import ALPHA_SCHEDULES, AlphaSchedule, make_alpha_schedule
from groupvae.registry import Registry

CPVAE_PARTS: dict[str, Registry[Any]] = {
    "backbone": BACKBONES,
    "likelihood": LIKELIHOODS,
    "aggregation": AGGREGATIONS,
    "alpha_schedule": ALPHA_SCHEDULES,
}
"""The CPVAE parts: config field -> registry of its values."""

POPULATION = "population"
"""The ``aux`` array of a :class:`GroupedDataset` that holds each row's population."""

Part = Literal["full", "private", "shared"]
Ignore = Literal["prior-mean", "drop"]


class CPVAECodes(NamedTuple):
    """Posterior means: ``shared: (n, shared_dim)`` of ``q(z | x)`` and
    ``private: (n, private_dim)`` of ``q_k(t | x)``, ``k`` each row's population."""

    shared: np.ndarray
    private: np.ndarray


class CPVAE(BaseModel):
    """A Cross-population VAE: a config, its module, and what fitting it recorded.

    Create one with ``groupvae.models.create("cpvae", ...)``; restore one with
    :func:`groupvae.load`. The verbs (``fit``, ``save``, ``load``, ``history``) are those
    of every family (:class:`~groupvae.models.base.BaseModel`).

    Data is a :class:`GroupedDataset` whose populations are recorded once, in
    ``data.aux["population"]`` (``(n_obs,) int64 in [0, K)``; see
    :func:`groupvae.data.with_population`), or an array ``x: (n, *obs_shape)`` with an
    ``(n,)`` integer ``population`` array.

    Attributes:
        config: the :class:`CPVAEConfig`.
        module: the :class:`CPVAEModule`.
        alpha_schedule: a callable ``progress in [0, 1] -> alpha`` that replaces the
            config's ``alpha_schedule`` (CPVAE eq. 10) in :meth:`fit`; not saved.
    """

    family = "cpvae"
    config_class = CPVAEConfig

    def __init__(self, config: CPVAEConfig, *, seed: int = 0, dataset: str | None = None) -> None:
        super().__init__(config, seed=seed, dataset=dataset)
        self.alpha_schedule: AlphaSchedule | None = None

    def _build_module(self, config: CPVAEConfig) -> CPVAEModule:
        return CPVAEModule(config)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"CPVAE(K={c.n_populations}, shared_dim={c.shared_dim}, private_dim={c.private_dim}, "
            f"objective={c.objective}, alpha={c.alpha}->{c.alpha_end} ({c.alpha_schedule}), "
            f"aggregation={c.aggregation}, likelihood={c.likelihood})"
        )

    # ------------------------------------------------------------------ data
    def _arrays(self, data: GroupedDataset | Any, population: Any) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(population, str):
            raise DataError(
                f"population must be (n,) integer ids, not the key {population!r}: a data "
                "set's populations are read from its aux['population'] (set it once with "
                "groupvae.data.with_population)"
            )
        if isinstance(data, GroupedDataset):
            if population is None and POPULATION not in data.aux:
                raise DataError(
                    f"data set {data.name!r} records no populations: give it an aux "
                    "'population' array (groupvae.data.with_population(data, data.labels))"
                )
            return data.x, population_of(data, POPULATION if population is None else population)
        x = np.asarray(data, dtype=np.float32)
        if population is None:
            raise DataError("with an array x, pass population=(n,) integer ids")
        if not np.isfinite(x).all():
            raise DataError("x has NaN or infinite values")
        return x, check_population(np.asarray(population), x.shape[0])

    def _tensors(self, data: Any, population: Any) -> tuple[Tensor, Tensor]:
        x, pop = self._arrays(data, population)
        xt, pt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(pop)
        self.module.check_input(xt, pt)
        return xt, pt

    def adapt_data(self, data: GroupedDataset, spec: DatasetSpec) -> GroupedDataset:
        """Record each row's population once, in ``aux["population"]``, from where the
        data set keeps it (``spec.population``).

        Raises:
            DataError: for a data set without populations.
        """
        return spec.with_population(data)

    # ---------------------------------------------------------- training hooks
    def fit(
        self,
        data: GroupedDataset,
        *,
        holdout: GroupedDataset | None = None,
        alpha_schedule: AlphaSchedule | None = None,
        **options: Any,
    ) -> CPVAE:
        """Train with Lightning, following CPVAE Algorithm 1 (see :meth:`BaseModel.fit`).

        Args:
            data, holdout: :class:`GroupedDataset` s with ``aux["population"]``.
            alpha_schedule: a callable ``progress in [0, 1] -> alpha`` for this fit
                (else :attr:`alpha_schedule`, else the config's schedule).
            **options: as :meth:`BaseModel.fit` (``log_dir``, ``callbacks`` and
                :class:`TrainConfig` fields such as ``epochs``, ``batch_per_population``).
        """
        if alpha_schedule is not None:
            self.alpha_schedule = alpha_schedule
        super().fit(data, holdout=holdout, **options)
        return self

    def _prepare(self, train: GroupedDataset, config: TrainConfig) -> None:
        """Check the data's shape and range; set ``population_sizes`` to its ``n_k``
        (CPVAE eq. 4's ``n_k`` and ``N``)."""
        x, pop = self._arrays(train, None)
        self._check_obs_shape(x.shape[1:])
        self.module.likelihood.check_data(x)
        sizes = population_sizes(pop, self.module.n_populations)
        buffer = self.module.population_sizes
        buffer.copy_(torch.as_tensor(sizes, dtype=buffer.dtype))

    def _check_holdout(self, data: GroupedDataset, config: TrainConfig) -> None:
        """The holdout's populations, shape and value range, as for the training data."""
        x, pop = self._arrays(data, None)
        self._check_obs_shape(x.shape[1:])
        self.module.likelihood.check_data(x)
        population_sizes(pop, self.module.n_populations)

    def train_loader(self, train: GroupedDataset, config: TrainConfig) -> Any:
        """Balanced mini-batches of ``batch_per_population`` rows of each population."""
        m, k = config.batch_per_population, self.module.n_populations
        return population_loader(
            *self._arrays(train, None), m, n_populations=k, seed=config.seed,
            pin_memory=config.pins_memory,
        )  # fmt: skip

    def eval_loader(self, data: GroupedDataset, batch_size: int = 1024) -> Any:
        """The rows of ``data`` in order, ``batch_size`` per batch."""
        x, pop = self._arrays(data, None)
        k = self.module.n_populations
        return population_loader(x, pop, 1, n_populations=k, balanced=False, batch_size=batch_size)

    def _schedules(self, config: TrainConfig) -> dict[str, Schedule]:
        c = self.config
        schedule = self.alpha_schedule or make_alpha_schedule(
            c.alpha_schedule, alpha=c.alpha, alpha_end=c.alpha_end
        )
        return {"alpha": schedule}

    def split(
        self,
        data: GroupedDataset,
        holdout: float,
        *,
        seed: int = 0,
        holdout_labels: list[int] | None = None,
    ) -> tuple[GroupedDataset, GroupedDataset]:
        """Split the rows, stratified by population: a ``holdout`` fraction of each
        population, so that every population is on both sides (a split by group would
        hold out whole populations).

        Raises:
            ConfigError: with ``holdout_labels``: holding out whole classes leaves the
                CPVAE no training rows of their populations.
        """
        if holdout_labels:
            raise ConfigError(
                "a CPVAE holds out a fraction of every population; --holdout-labels "
                "(whole classes held out) does not apply to it"
            )
        _, pop = self._arrays(data, None)
        train_rows, hold_rows = stratified_split(pop, holdout, seed=seed)
        return subset_rows(data, train_rows), subset_rows(data, hold_rows)

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

    def _posteriors(
        self, data: Any, population: Any, batch_size: int
    ) -> tuple[Posterior, Posterior]:
        x, pop = self._tensors(data, population)

        def fn(xb: Tensor, pb: Tensor) -> tuple[Tensor, ...]:
            inf = self.module.inference(PopulationBatch(xb, pb, pb), sample=False)
            return inf.z_mean, inf.z_logvar, inf.t_mean, inf.t_logvar

        z_mean, z_logvar, t_mean, t_logvar = self._batched(fn, x, pop, batch_size)
        return Posterior(z_mean, z_logvar), Posterior(t_mean, t_logvar)

    def encode_shared(
        self, data: GroupedDataset | Any, population: Any = None, *, batch_size: int = 1024
    ) -> Posterior:
        """The shared posterior ``q_s(z | x)`` of every row (CPVAE eq. 2):
        :class:`Posterior` of ``(n, shared_dim)`` arrays, in data order."""
        return self._posteriors(data, population, batch_size)[0]

    def encode_private(
        self, data: GroupedDataset | Any, population: Any = None, *, batch_size: int = 1024
    ) -> Posterior:
        """The private posterior ``q_k(t | x)`` of every row under its own population
        ``k`` (CPVAE eq. 2): :class:`Posterior` of ``(n, private_dim)`` arrays."""
        return self._posteriors(data, population, batch_size)[1]

    def encode(
        self, data: GroupedDataset | Any, population: Any = None, *, batch_size: int = 1024
    ) -> CPVAECodes:
        """Posterior means of both latents: :class:`CPVAECodes` of ``(n, shared_dim)``
        and ``(n, private_dim)`` arrays."""
        shared, private = self._posteriors(data, population, batch_size)
        return CPVAECodes(shared.mean, private.mean)

    @torch.no_grad()
    def decode(self, z: Any, t: Any, population: Any) -> np.ndarray:
        """Likelihood means of codes ``z: (n, shared_dim)`` and ``t: (n, private_dim)``,
        each ``t`` decoded by population ``population: (n,) int`` (CPVAE eq. 1).

        Returns:
            ``(n, *obs_shape)`` means (pixel probabilities for Bernoulli).
        """
        self.module.eval()
        zt = self._decode_tensor(z, self.config.shared_dim, "z")
        tt = self._decode_tensor(t, self.config.private_dim, "t", len(zt))
        pop = torch.from_numpy(check_population(np.asarray(population), len(zt)))
        self.module.check_input(torch.zeros(len(zt), *self.config.obs_shape), pop)
        return self.module.likelihood.mean(self.module.decode(zt, tt, pop)).numpy()

    def reconstruct(
        self,
        data: GroupedDataset | Any,
        population: Any = None,
        *,
        part: Part = "full",
        ignore: Ignore = "prior-mean",
        decoder_population: int | np.ndarray | None = None,
        encoder_population: int | np.ndarray | None = None,
        batch_size: int = 1024,
    ) -> np.ndarray:
        """Decode posterior means (eq. 1 with ``z, t`` at their posterior means).

        Args:
            data, population: see the class docstring.
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
            inf = self.module.inference(PopulationBatch(xb, pb[:, 0], pb[:, 0]), sample=False)
            z, t = inf.z, inf.t
            if part == "private":
                z = None if ignore == "drop" else torch.zeros_like(z)
            elif part == "shared":
                t = None if ignore == "drop" else torch.zeros_like(t)
            return (self.module.likelihood.mean(self.module.decode(z, t, pb[:, 1])),)

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
        population: Any = None,
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


__all__ = ["CPVAE", "CPVAECodes", "Ignore", "Part"]
