"""A flat batch of whole groups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class GroupBatch:
    """The observations of several whole groups, concatenated.

    Attributes:
        x: ``(n_obs, *obs_shape)`` float observations.
        group: ``(n_obs,) int64 in [0, n_groups)``, renumbered within the batch.
        n_groups: number of groups ``G`` in the batch.
        index: ``(n_obs,) int64`` row of each observation in the source data set.
        group_index: ``(n_groups,) int64`` group of the source data set of each batch group.
    """

    x: Tensor
    group: Tensor
    n_groups: int
    index: Tensor
    group_index: Tensor

    def _map(self, fn: Callable[[Tensor], Tensor]) -> GroupBatch:
        """The batch with ``fn`` applied to each of its tensors."""
        return GroupBatch(fn(self.x), fn(self.group), self.n_groups, fn(self.index),
                          fn(self.group_index))  # fmt: skip

    def to(self, device: torch.device | str, *, non_blocking: bool = False) -> GroupBatch:
        """The batch on ``device``; ``non_blocking`` copies from pinned host memory to a
        GPU asynchronously (a host-to-device copy only)."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> GroupBatch:
        """The batch in page-locked host memory (``DataLoader(pin_memory=True)`` calls
        this), so that its copy to a GPU need not wait for the host."""
        return self._map(Tensor.pin_memory)

    def __len__(self) -> int:
        return int(self.x.shape[0])
