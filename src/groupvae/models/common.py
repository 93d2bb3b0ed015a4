"""What the user-facing models (:class:`~groupvae.models.GroupVAE`,
:class:`~groupvae.models.cpvae.CPVAE`) share: batched inference."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

B = TypeVar("B")


@torch.no_grad()
def map_batches(
    module: torch.nn.Module,
    batches: Iterable[B],
    fn: Callable[[B], tuple[Tensor, ...]],
    rows: Callable[[B], Tensor],
) -> list[np.ndarray]:
    """Apply ``fn(batch) -> tensors`` in eval mode and reassemble each output.

    Row ``i`` of an output of ``batch`` goes to row ``rows(batch)[i]`` of the result, so
    batches may come in any order as long as their rows cover ``0 .. n - 1`` once.

    Returns:
        one ``(n, ...)`` array per output of ``fn``.
    """
    module.eval()
    parts: list[tuple[Tensor, tuple[Tensor, ...]]] = [(rows(b), fn(b)) for b in batches]
    n = int(sum(len(where) for where, _ in parts))
    outs = []
    for j in range(len(parts[0][1])):
        first = parts[0][1][j]
        out = torch.empty((n, *first.shape[1:]), dtype=first.dtype)
        for where, values in parts:
            out[where] = values[j].cpu()
        outs.append(out.numpy())
    return outs


__all__ = ["map_batches"]
