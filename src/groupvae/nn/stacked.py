"""Per-population networks with stacked weights: K networks cost one call per layer.

A :class:`StackedMLP` holds ``K`` MLPs of the same shape as stacked weights
``(K, in, out)``. Its input is population-major, ``(K, n, in)``, and every layer is one
``torch.baddbmm``: no Python loop over the populations. Two layouts feed it:

* **all populations on every row** (:meth:`StackedMLP.forward_all`): ``(n, in)`` is
  broadcast to ``(K, n, in)``; CPVAE's fictitious codes ``q_k(t | x_j)`` for every
  ``k`` (CPVAE Algorithm 1) and the classification of CPVAE eq. 7-8 need this;
* **each row through its own population's network** (:meth:`StackedMLP.forward_own`):
  rows are scattered into a padded ``(K, m, in)`` block (``m`` the largest population
  count in the batch; with the balanced batches of CPVAE Algorithm 1 there is no padding),
  pushed through, and gathered back.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn

from groupvae.errors import DataError
from groupvae.nn.segment import checks_group_sizes


class StackedLinear(nn.Module):
    """``K`` independent affine maps ``y_k = x_k W_k + b_k`` as one batched product.

    Each map is initialised as :class:`torch.nn.Linear` initialises its own (uniform in
    ``+-1/sqrt(in_dim)``), independently per population.

    Args:
        n_stack: number of maps ``K``.
        in_dim, out_dim: features in and out.
        bias: learn the biases ``b_k``.

    Attributes:
        weight: ``(K, in_dim, out_dim)`` (the transpose of ``nn.Linear.weight``).
        bias: ``(K, out_dim)`` or ``None``.
    """

    def __init__(self, n_stack: int, in_dim: int, out_dim: int, *, bias: bool = True) -> None:
        super().__init__()
        if n_stack < 1 or in_dim < 1 or out_dim < 1:
            raise ValueError("n_stack, in_dim and out_dim must be >= 1")
        self.n_stack, self.in_dim, self.out_dim = n_stack, in_dim, out_dim
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(n_stack, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = (
            nn.Parameter(torch.empty(n_stack, out_dim).uniform_(-bound, bound)) if bias else None
        )

    def forward(self, x: Tensor) -> Tensor:
        """Args: ``x: (K, n, in_dim)``. Returns ``(K, n, out_dim)``, row block ``k`` mapped
        by ``W_k, b_k``."""
        if self.bias is None:
            return torch.bmm(x, self.weight)
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)


class StackedMLP(nn.Module):
    """``K`` MLPs ``in_dim -> hidden x n_hidden -> out_dim`` (as :class:`groupvae.nn.MLP`).

    Args:
        n_stack: number of MLPs ``K`` (populations).
        in_dim, out_dim: features in and out.
        hidden: width of each hidden layer.
        n_hidden: hidden layers (0: one affine map per population).
        activation: activation module class after each hidden layer.
        out_activation: also apply the activation to the output.
    """

    def __init__(
        self,
        n_stack: int,
        in_dim: int,
        out_dim: int,
        hidden: int = 32,
        n_hidden: int = 1,
        activation: type[nn.Module] = nn.ReLU,
        out_activation: bool = False,
    ) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * n_hidden + [out_dim]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(dims)):
            layers.append(StackedLinear(n_stack, a, b))
            if i < len(dims) - 2 or out_activation:
                layers.append(activation())
        self.layers = nn.Sequential(*layers)
        self.n_stack, self.in_dim, self.out_dim = n_stack, in_dim, out_dim

    def forward(self, x: Tensor) -> Tensor:
        """Args: ``x: (K, n, in_dim)``, block ``k`` for network ``k``. Returns
        ``(K, n, out_dim)``."""
        if x.dim() != 3 or x.shape[0] != self.n_stack:
            raise DataError(f"expected input (K={self.n_stack}, n, d), got {tuple(x.shape)}")
        return self.layers(x)

    def forward_all(self, x: Tensor) -> Tensor:
        """Every row through every network. Args: ``x: (n, in_dim)``. Returns
        ``(K, n, out_dim)``."""
        return self.layers(x.unsqueeze(0).expand(self.n_stack, *x.shape))

    def forward_own(self, x: Tensor, population: Tensor, largest: int | None = None) -> Tensor:
        """Each row through the network of its population.

        Args:
            x: ``(n, in_dim)``.
            population: ``(n,) int64 in [0, K)``.
            largest: rows of the most frequent population, if known on the host (see
                :func:`to_padded`).

        Returns:
            ``(n, out_dim)``.
        """
        padded, rank = to_padded(x, population, self.n_stack, largest)
        return self.layers(padded)[population, rank]

    @torch.no_grad()
    def load_members(self, mlps: list[nn.Sequential]) -> StackedMLP:
        """Copy the weights of ``K`` :class:`groupvae.nn.MLP` s (same shape) into the stack.

        Raises:
            ValueError: if the number or shapes of the MLPs do not match.
        """
        linears = [m for m in self.layers if isinstance(m, StackedLinear)]
        if len(mlps) != self.n_stack:
            raise ValueError(f"need {self.n_stack} MLPs, got {len(mlps)}")
        for k, mlp in enumerate(mlps):
            theirs = [m for m in mlp if isinstance(m, nn.Linear)]
            if len(theirs) != len(linears):
                raise ValueError("the MLPs must have as many layers as the stack")
            for ours, lin in zip(linears, theirs, strict=True):
                ours.weight[k].copy_(lin.weight.T)
                if ours.bias is not None:
                    ours.bias[k].copy_(lin.bias)
        return self


def population_rank(population: Tensor, n_populations: int) -> Tensor:
    """``(n,) int64``: the position of each row among the rows of its population.

    Args:
        population: ``(n,) int64 in [0, K)``.
        n_populations: ``K``.
    """
    count = torch.bincount(population, minlength=n_populations)
    order = torch.argsort(population, stable=True)
    start = torch.cumsum(count, 0) - count
    rank = torch.empty_like(population)
    rank[order] = (
        torch.arange(population.numel(), device=population.device) - start[population[order]]
    )
    return rank


def to_padded(
    x: Tensor, population: Tensor, n_populations: int, largest: int | None = None
) -> tuple[Tensor, Tensor]:
    """Scatter rows into a population-major block padded with zeros.

    Args:
        x: ``(n, *feature_shape)``.
        population: ``(n,) int64 in [0, K)``.
        n_populations: ``K``.
        largest: ``m``, the rows of the most frequent population, when the caller knows
            it on the host (a training batch: :class:`~groupvae.data.populations.
            PopulationBatch`); ``None`` counts it here, one read back from the device.
            Inside :func:`~groupvae.nn.segment.trusted_groups` the ids are not checked
            either (the training plan checked the batch on the host).

    Returns:
        ``(padded, rank)``: ``padded: (K, m, *feature_shape)`` with ``m`` the largest
        population count, ``padded[population[i], rank[i]] = x[i]``; ``rank: (n,)``.

    Raises:
        DataError: for population ids outside ``[0, K)`` or a shape mismatch.
    """
    if population.shape != (x.shape[0],):
        raise DataError(
            f"population must have shape ({x.shape[0]},), got {tuple(population.shape)}"
        )
    checked = checks_group_sizes() and population.numel()
    if checked and (int(population.min()) < 0 or int(population.max()) >= n_populations):
        raise DataError(f"population ids must lie in [0, {n_populations})")
    rank = population_rank(population, n_populations)
    m = largest if largest is not None else (int(rank.max()) + 1 if rank.numel() else 0)
    padded = x.new_zeros((n_populations, m, *x.shape[1:]))
    padded[population, rank] = x
    return padded, rank


__all__ = ["StackedLinear", "StackedMLP", "population_rank", "to_padded"]
