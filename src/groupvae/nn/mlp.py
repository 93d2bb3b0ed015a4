"""Multi-layer perceptrons."""

from __future__ import annotations

import itertools

from torch import Tensor, nn


class MLP(nn.Sequential):
    """``in_dim -> hidden x n_hidden -> out_dim`` with an activation between layers.

    Args:
        in_dim: input features.
        out_dim: output features.
        hidden: width of each hidden layer.
        n_hidden: number of hidden layers (0 gives a single linear layer).
        activation: activation module class placed after each hidden layer.
        out_bias: give the output layer a bias (a MINE critic needs none: the
            Donsker-Varadhan bound is invariant to a constant shift of the critic).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden: int = 32,
        n_hidden: int = 1,
        activation: type[nn.Module] = nn.ReLU,
        out_bias: bool = True,
    ) -> None:
        dims = [in_dim] + [hidden] * n_hidden
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            layers += [nn.Linear(a, b), activation()]
        layers.append(nn.Linear(dims[-1], out_dim, bias=out_bias))
        super().__init__(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x)
