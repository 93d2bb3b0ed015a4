"""Segment operations over flat grouped batches.

A grouped batch is flat: ``values: (n_obs, d)`` holds the rows of every group, and
``group: (n_obs,) int64 in [0, n_groups)`` says which group each row belongs to (the
PyTorch Geometric convention). Every reduction here is a single ``index_add_`` or
``scatter_reduce`` call: no Python loop over groups.

The checks of the group sizes (no empty group, groups of two members where pairs are
drawn) read a value back on the host, a device synchronisation on a GPU. The training
plan checks each batch once on the host, before it moves to the device, and runs the
step under :func:`trusted_groups`, which skips those checks; shape and dtype checks
always run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

from groupvae.errors import DataError

_trusted = 0  # depth of nested trusted_groups() blocks


@contextmanager
def trusted_groups() -> Iterator[None]:
    """Skip the group-size checks (host reads) inside the block: for batches whose group
    sizes were checked already (:func:`check_group_sizes`)."""
    global _trusted
    _trusted += 1
    try:
        yield
    finally:
        _trusted -= 1


def checks_group_sizes() -> bool:
    """Whether group-size checks run here (``False`` inside :func:`trusted_groups`)."""
    return _trusted == 0


def check_group_sizes(group: Tensor, n_groups: int, min_size: int = 1) -> None:
    """Raise :class:`DataError` unless each group in ``[0, n_groups)`` has at least
    ``min_size`` members (one host read: call it where ``group`` lives on the host).

    Args:
        group: ``(n_obs,) int64 in [0, n_groups)``.
        n_groups: number of groups ``G``.
        min_size: fewest members a group may have.
    """
    count = segment_count(group, n_groups)
    if n_groups and int(count.min()) < min_size:
        if min_size <= 1:
            empty = torch.nonzero(count == 0).flatten()[:5].tolist()
            raise DataError(f"groups {empty} have no members; every group needs at least one")
        raise DataError(f"this needs groups of at least {min_size} members")


def _check(values: Tensor, group: Tensor, n_groups: int) -> None:
    if group.dim() != 1 or values.shape[0] != group.shape[0]:
        raise DataError(
            f"group must have shape (n_obs,) = ({values.shape[0]},), got {tuple(group.shape)}"
        )
    if group.dtype != torch.int64:
        raise DataError(f"group must be int64, got {group.dtype}")


def segment_count(group: Tensor, n_groups: int) -> Tensor:
    """Number of members of each group.

    Args:
        group: ``(n_obs,) int64 in [0, n_groups)``.
        n_groups: number of groups ``G``.

    Returns:
        ``(n_groups,)`` int64 counts.
    """
    return torch.bincount(group, minlength=n_groups)


def segment_sum(values: Tensor, group: Tensor, n_groups: int) -> Tensor:
    """Sum the rows of each group: ``out[g] = sum_{k: group[k] = g} values[k]``.

    Args:
        values: ``(n_obs, *feature_shape)``.
        group: ``(n_obs,) int64 in [0, n_groups)``.
        n_groups: number of groups ``G``; empty groups sum to zero.

    Returns:
        ``(n_groups, *feature_shape)``.
    """
    _check(values, group, n_groups)
    out = values.new_zeros((n_groups, *values.shape[1:]))
    return out.index_add_(0, group, values)


def _nonempty_counts(group: Tensor, n_groups: int, like: Tensor) -> Tensor:
    count = segment_count(group, n_groups)
    if checks_group_sizes() and bool((count == 0).any()):
        empty = torch.nonzero(count == 0).flatten()[:5].tolist()
        raise DataError(f"groups {empty} have no members; every group needs at least one")
    return count.to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


def segment_mean(values: Tensor, group: Tensor, n_groups: int) -> Tensor:
    """Mean of the rows of each group.

    Returns:
        ``(n_groups, *feature_shape)``.

    Raises:
        DataError: if a group in ``[0, n_groups)`` has no member.
    """
    total = segment_sum(values, group, n_groups)
    return total / _nonempty_counts(group, n_groups, total)


def segment_max(values: Tensor, group: Tensor, n_groups: int) -> Tensor:
    """Largest row of each group, per feature (no gradient: a shift for stable sums).

    Returns:
        ``(n_groups, *feature_shape)``, detached; ``-inf`` for empty groups.
    """
    _check(values, group, n_groups)
    index = group.view(-1, *([1] * (values.dim() - 1))).expand_as(values)
    shape = (n_groups, *values.shape[1:])
    return (
        values.detach()
        .new_full(shape, -torch.inf)
        .scatter_reduce_(0, index, values.detach(), reduce="amax", include_self=True)
    )


def segment_logsumexp(values: Tensor, group: Tensor, n_groups: int) -> Tensor:
    """Numerically stable ``log sum_k exp(values[k])`` within each group.

    Returns:
        ``(n_groups, *feature_shape)``; ``-inf`` for empty groups.
    """
    top = segment_max(values, group, n_groups)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    total = segment_sum(torch.exp(values - top[group]), group, n_groups)
    return torch.log(total) + top


def product_of_normals(
    mean: Tensor, logvar: Tensor, group: Tensor, n_groups: int
) -> tuple[Tensor, Tensor]:
    """Precision-weighted product of the Normals of each group's members.

    Implements ML-VAE eq. 6-7 (Bouchacourt et al., 2018), which UG-VAE eq. 9 repeats:
    ``Sigma_G^-1 = sum_k Sigma_k^-1`` and ``mu_G = Sigma_G sum_k Sigma_k^-1 mu_k``, for
    diagonal covariances. The precisions are summed relative to each group's largest
    (``e_k = exp(-logvar_k - max_l(-logvar_l))`` in ``(0, 1]``, a log-sum-exp), so the
    result stays finite for very small or very large variances; one segment sum gives
    both ``sum_k e_k`` and ``sum_k e_k mu_k``.

    Args:
        mean: ``(n_obs, d)`` member means.
        logvar: ``(n_obs, d)`` member log-variances.
        group: ``(n_obs,) int64 in [0, n_groups)``.
        n_groups: number of groups ``G``.

    Returns:
        ``(mean_G, logvar_G)``, each ``(n_groups, d)``.

    Raises:
        DataError: if a group has no member.
    """
    if checks_group_sizes():
        _nonempty_counts(group, n_groups, mean)
    log_precision = -logvar
    shift = segment_max(log_precision, group, n_groups)
    e = torch.exp(log_precision - shift[group])  # Sigma_k^-1 / max_l Sigma_l^-1
    total, weighted = segment_sum(torch.cat([e, e * mean], -1), group, n_groups).chunk(2, -1)
    return weighted / total, -(torch.log(total) + shift)


def average_of_normals(
    mean: Tensor, logvar: Tensor, group: Tensor, n_groups: int
) -> tuple[Tensor, Tensor]:
    """Average of the members' means and variances (Hosoya, 2019; CxVAE section 2.2).

    ``mu_G = mean_k mu_k`` and ``Sigma_G = mean_k Sigma_k``; the variances are summed
    relative to each group's largest (a log-sum-exp), in the same segment sum as the
    means.

    Args and returns as :func:`product_of_normals`.
    """
    count = _nonempty_counts(group, n_groups, mean)
    shift = segment_max(logvar, group, n_groups)
    e = torch.exp(logvar - shift[group])
    means, variances = segment_sum(torch.cat([mean, e], -1), group, n_groups).chunk(2, -1)
    return means / count, torch.log(variances / count) + shift


def leave_one_out_mean(values: Tensor, group: Tensor, n_groups: int) -> Tensor:
    """For each row, the mean of the *other* rows of its group (CxVAE eq. 3, ``x_{-k}``).

    ``out[k] = (sum_{l in G(k)} values[l] - values[k]) / (|G(k)| - 1)``.

    Returns:
        ``(n_obs, *feature_shape)``.

    Raises:
        DataError: if a group has fewer than two members.
    """
    count = segment_count(group, n_groups)
    if checks_group_sizes() and bool((count[group] < 2).any()):
        raise DataError("leave-one-out pooling needs groups of at least two members")
    total = segment_sum(values, group, n_groups)
    denom = (count[group] - 1).to(values.dtype).view(-1, *([1] * (values.dim() - 1)))
    return (total[group] - values) / denom


def _group_layout(group: Tensor, n_groups: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(order, start, count, rank)``: rows sorted by group, each group's first sorted
    position and size, and each row's position within its group."""
    count = segment_count(group, n_groups)
    order = torch.argsort(group, stable=True)
    start = torch.cumsum(count, 0) - count
    rank = torch.empty_like(group)
    rank[order] = torch.arange(group.numel(), device=group.device) - start[group[order]]
    return order, start, count, rank


def sample_other_member(
    group: Tensor, n_groups: int, generator: torch.Generator | None = None
) -> Tensor:
    """For each row, a uniformly random *other* row of the same group.

    Returns:
        ``(n_obs,) int64`` row indices.

    Raises:
        DataError: if a group has fewer than two members.
    """
    order, start, count, rank = _group_layout(group, n_groups)
    size = count[group]
    if checks_group_sizes() and bool((size < 2).any()):
        raise DataError("pairing members of a group needs groups of at least two members")
    u = torch.rand(group.shape, device=group.device, generator=generator)
    shift = 1 + (u * (size - 1)).long().clamp_max(size - 2)
    return order[start[group] + (rank + shift) % size]


def sample_member_of_other_group(
    group: Tensor, n_groups: int, generator: torch.Generator | None = None
) -> Tensor:
    """For each row, a uniformly random row of a uniformly random *other* group.

    Returns:
        ``(n_obs,) int64`` row indices.

    Raises:
        DataError: if there are fewer than two groups, or an empty group.
    """
    if n_groups < 2:
        raise DataError("sampling from another group needs at least two groups per batch")
    order, start, count, _ = _group_layout(group, n_groups)
    if checks_group_sizes() and bool((count == 0).any()):
        raise DataError("every group in [0, n_groups) needs at least one member")
    u1, u2 = torch.rand((2, group.numel()), device=group.device, generator=generator)
    other = (group + 1 + (u1 * (n_groups - 1)).long().clamp_max(n_groups - 2)) % n_groups
    pick = (u2 * count[other]).long().clamp_max(count[other] - 1)
    return order[start[other] + pick]
