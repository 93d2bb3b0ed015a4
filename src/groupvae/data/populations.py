"""Populations: a categorical label per observation, and balanced mini-batches.

CPVAE (Algorithm 1) samples "a mini-batch from each population" at every step:
:class:`PopulationBatchSampler` yields ``M`` observation indices of *every* population
per batch. A population's indices are drawn from a stream of fresh permutations, so a
small population is recycled within an epoch while a large one is still being read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from groupvae.data.grouped import GroupedDataset
from groupvae.data.sampler import EpochSeeded, replicas
from groupvae.errors import DataError

PopulationKey = str | np.ndarray | Sequence[int]
"""``"labels"``, ``"group"``, a key of ``data.aux``, or an ``(n_obs,)`` integer array."""


def population_of(data: GroupedDataset, key: PopulationKey) -> np.ndarray:
    """``(n_obs,) int64``: the population of each observation of ``data``.

    Args:
        data: the data set.
        key: ``"labels"`` (e.g. one population per MNIST class), ``"group"``, the name
            of an ``aux`` array (e.g. Grassy-MNIST's ``"population"``), or the array.

    Raises:
        DataError: for an unknown key, a wrong shape, or non-integer / negative ids.
    """
    if isinstance(key, str):
        if key == "labels":
            if data.labels is None:
                raise DataError(f"data set {data.name!r} has no labels to use as populations")
            values = data.labels
        elif key == "group":
            values = data.group
        elif key in data.aux:
            values = np.asarray(data.aux[key])
        else:
            known = ", ".join(["labels", "group", *sorted(data.aux)])
            raise DataError(f"data set {data.name!r} has no population key {key!r}; known: {known}")
    else:
        values = np.asarray(key)
    return check_population(values, data.n_obs)


def with_population(data: GroupedDataset, population: np.ndarray) -> GroupedDataset:
    """``data`` with ``aux["population"]`` set to ``population`` (e.g. its labels, for one
    population per class), everything else unchanged."""
    return GroupedDataset(
        x=data.x,
        group=data.group,
        u=data.u,
        v=data.v,
        labels=data.labels,
        aux={**data.aux, "population": np.asarray(population, dtype=np.int64)},
        group_ids=data.group_ids,
        name=data.name,
    )


def check_population(population: np.ndarray, n_obs: int) -> np.ndarray:
    """Validate ``(n_obs,)`` non-negative integer population ids; return them as int64.

    Raises:
        DataError: for a wrong shape, non-integer or negative ids.
    """
    population = np.asarray(population)
    if population.shape != (n_obs,):
        raise DataError(f"population must have shape ({n_obs},), got {population.shape}")
    if not np.issubdtype(population.dtype, np.integer):
        raise DataError(f"population ids must be integers, got dtype {population.dtype}")
    if n_obs and population.min() < 0:
        raise DataError("population ids must be >= 0")
    return population.astype(np.int64)


def population_sizes(population: np.ndarray, n_populations: int) -> np.ndarray:
    """``(K,) int64`` ``n_k``; raises :class:`DataError` if a population is empty or an id
    is ``>= K``."""
    population = np.asarray(population)
    if population.size and population.max() >= n_populations:
        raise DataError(
            f"population ids must lie in [0, {n_populations}), got up to {population.max()}; "
            "set n_populations to match the data"
        )
    sizes = np.bincount(population, minlength=n_populations)
    if (sizes == 0).any():
        empty = np.flatnonzero(sizes == 0).tolist()
        raise DataError(f"populations {empty} have no observations; every population needs one")
    return sizes


class PopulationBatchSampler(EpochSeeded, Sampler[np.ndarray]):
    """Yields ``batch_per_population`` indices of every population per batch (Algorithm 1).

    Batches are population-major: the first ``M`` indices are population 0's, the next
    ``M`` population 1's, and so on. Each epoch, each population's indices come from a
    stream of fresh permutations drawn by a generator seeded with ``(seed, epoch)``
    (:class:`~groupvae.data.sampler.EpochSeeded`). Under DDP rank ``r`` takes every
    ``num_replicas``-th batch of the epoch from the ``r``-th (the epoch is padded to a
    multiple of ``num_replicas`` batches), so ranks see disjoint rows within a pass.

    Args:
        population: ``(n_obs,) int64 in [0, K)``; every population non-empty.
        batch_per_population: ``M``.
        n_populations: ``K`` (default: ``max(population) + 1``).
        n_batches: batches per epoch (default ``ceil(n_obs / (K M))``: about one pass).
        seed: seed of the generator.
        num_replicas: DDP world size (``None``: from ``torch.distributed``).
        rank: this process's rank (``None``: from ``torch.distributed``).

    Raises:
        DataError: for ``M < 1`` or an empty population.
    """

    def __init__(
        self,
        population: np.ndarray,
        batch_per_population: int,
        *,
        n_populations: int | None = None,
        n_batches: int | None = None,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        if batch_per_population < 1:
            raise DataError(f"batch_per_population must be >= 1, got {batch_per_population}")
        self.population = np.asarray(population, dtype=np.int64)
        k = int(self.population.max()) + 1 if n_populations is None else n_populations
        self.sizes = population_sizes(self.population, k)
        self.n_populations, self.m = k, batch_per_population
        self.members = np.argsort(self.population, kind="stable")
        self.start = np.cumsum(self.sizes) - self.sizes
        self.n_batches = n_batches or max(1, math.ceil(len(self.population) / (k * self.m)))
        self.seed, self.epoch = seed, 0
        self._replicas = (num_replicas, rank)

    def __len__(self) -> int:
        return -(-self.n_batches // replicas(*self._replicas)[0])

    def _take(self, rng: np.random.Generator, k: int, count: int) -> np.ndarray:
        """``count`` indices of population ``k``: fresh permutations, concatenated."""
        members = self.members[self.start[k] : self.start[k] + self.sizes[k]]
        reps = -(-count // len(members))
        return np.concatenate([rng.permutation(members) for _ in range(reps)])[:count]

    def __iter__(self) -> Iterator[np.ndarray]:
        world, me = replicas(*self._replicas)
        rng = self._epoch_rng()
        n_batches = len(self) * world
        # (K, n_batches, M): each population's indices for the whole epoch.
        count = n_batches * self.m
        epoch = np.stack([self._take(rng, k, count) for k in range(self.n_populations)])
        epoch = epoch.reshape(self.n_populations, n_batches, self.m)
        for b in range(me, n_batches, world):
            yield epoch[:, b].reshape(-1)


@dataclass
class PopulationBatch:
    """A mini-batch of observations with their populations.

    Attributes:
        x: ``(n, *obs_shape)`` float observations.
        population: ``(n,) int64 in [0, K)``.
        index: ``(n,) int64`` row of each observation in the source data set.
        largest: rows of the batch's most frequent population, counted on the host by
            the loader (the padded width of :meth:`StackedMLP.forward_own
            <groupvae.nn.stacked.StackedMLP.forward_own>`, so that a step need not read
            it back from the device); ``None``: count it when needed.
    """

    x: Tensor
    population: Tensor
    index: Tensor
    largest: int | None = None

    def _map(self, fn: Callable[[Tensor], Tensor]) -> PopulationBatch:
        """The batch with ``fn`` applied to each of its tensors."""
        return PopulationBatch(fn(self.x), fn(self.population), fn(self.index), self.largest)

    def to(self, device: torch.device | str, *, non_blocking: bool = False) -> PopulationBatch:
        """The batch on ``device`` (``non_blocking``: as :meth:`GroupBatch.to
        <groupvae.data.batch.GroupBatch.to>`)."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> PopulationBatch:
        """The batch in page-locked host memory (``DataLoader(pin_memory=True)``)."""
        return self._map(Tensor.pin_memory)

    def __len__(self) -> int:
        return int(self.x.shape[0])


class _PopulationDataset(Dataset[PopulationBatch]):
    """Map-style view whose ``__getitems__`` builds a whole :class:`PopulationBatch`."""

    def __init__(self, x: np.ndarray, population: np.ndarray) -> None:
        self.x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        self.population = torch.from_numpy(np.asarray(population, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, i: int) -> PopulationBatch:
        return self.__getitems__([i])

    def __getitems__(self, indices: np.ndarray | list[int]) -> PopulationBatch:
        index = torch.as_tensor(indices, dtype=torch.int64)
        population = self.population[index]
        largest = int(torch.bincount(population).max()) if len(index) else 0
        return PopulationBatch(self.x[index], population, index, largest)


def _identity(batch: PopulationBatch) -> PopulationBatch:
    return batch


def population_loader(
    x: np.ndarray,
    population: np.ndarray,
    batch_per_population: int,
    *,
    n_populations: int | None = None,
    seed: int = 0,
    balanced: bool = True,
    batch_size: int = 1024,
    pin_memory: bool = False,
) -> DataLoader:
    """A ``DataLoader`` of :class:`PopulationBatch` es.

    Args:
        x: ``(n_obs, *obs_shape)``.
        population: ``(n_obs,) int64``.
        batch_per_population: ``M`` of the balanced batches.
        n_populations: ``K``.
        seed: seed of the sampler.
        balanced: Algorithm 1's batches (:class:`PopulationBatchSampler`); ``False``
            reads the data once in order, ``batch_size`` rows at a time (evaluation).
        batch_size: rows per batch when not balanced.
        pin_memory: build batches in page-locked memory (training on a CUDA GPU).
    """
    dataset = _PopulationDataset(x, population)
    if balanced:
        sampler: Sampler[np.ndarray] = PopulationBatchSampler(
            population, batch_per_population, n_populations=n_populations, seed=seed
        )
    else:
        n = len(population)
        sampler = [list(range(s, min(s + batch_size, n))) for s in range(0, n, batch_size)]  # type: ignore[assignment]
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=_identity, pin_memory=pin_memory)


def stratified_split(
    population: np.ndarray, holdout: float, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split observations into ``(train_rows, holdout_rows)``, ``holdout`` of each population.

    Raises:
        DataError: for ``holdout`` outside ``(0, 1)`` or a population too small to split.
    """
    if not 0 < holdout < 1:
        raise DataError(f"holdout must be in (0, 1), got {holdout}")
    rng = np.random.default_rng(seed)
    population = np.asarray(population)
    order = np.lexsort((rng.random(len(population)), population))
    sorted_pop = population[order]
    counts = np.bincount(sorted_pop)
    start = np.cumsum(counts) - counts
    rank = np.arange(len(order)) - start[sorted_pop]
    n_hold = np.round(counts * holdout).astype(np.int64)
    if ((n_hold == 0) | (n_hold == counts))[counts > 0].any():
        raise DataError(f"a population is too small to split with holdout={holdout}")
    held = rank < n_hold[sorted_pop]
    return np.sort(order[~held]), np.sort(order[held])


def subset_rows(data: GroupedDataset, rows: np.ndarray) -> GroupedDataset:
    """``data`` restricted to the observations ``rows`` (in that order), with their groups,
    group factors, labels and ``aux`` arrays.

    Raises:
        DataError: if ``rows`` is empty.
    """
    rows = np.asarray(rows, dtype=np.int64)
    groups = np.unique(data.group[rows])
    return GroupedDataset(
        x=data.x[rows],
        group=data.group[rows],
        u=None if data.u is None else data.u[groups],
        v=None if data.v is None else data.v[rows],
        labels=None if data.labels is None else data.labels[rows],
        aux={k: np.asarray(a)[rows] for k, a in data.aux.items()},
        group_ids=data.group_ids,
        name=data.name,
    )


__all__ = [
    "with_population",
    "PopulationBatch",
    "PopulationBatchSampler",
    "PopulationKey",
    "check_population",
    "population_loader",
    "population_of",
    "population_sizes",
    "stratified_split",
    "subset_rows",
]
