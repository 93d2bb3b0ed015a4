"""Segment operations over flat grouped batches, against slow per-group loops (float64)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from groupvae.errors import DataError
from groupvae.nn.segment import (
    average_of_normals,
    leave_one_out_mean,
    product_of_normals,
    sample_member_of_other_group,
    sample_other_member,
    segment_count,
    segment_logsumexp,
    segment_max,
    segment_mean,
    segment_sum,
)
from helpers import members, random_groups

N_OBS, N_GROUPS = 40, 7


@pytest.fixture
def batch(gen):
    """Random float64 values ``(40, 3)``, log-variances, and group ids of 7 groups."""
    group = random_groups(N_OBS, N_GROUPS, gen)
    values = torch.randn(N_OBS, 3, generator=gen, dtype=torch.float64)
    logvar = 2 * torch.randn(N_OBS, 3, generator=gen, dtype=torch.float64)
    return values, logvar, group


# ---------------------------------------------------------------- reductions
@pytest.mark.parametrize(
    ("op", "reference"),
    [
        (segment_sum, lambda rows: rows.sum(0)),
        (segment_mean, lambda rows: rows.mean(0)),
        (segment_logsumexp, lambda rows: torch.logsumexp(rows, 0)),
        (segment_max, lambda rows: rows.max(0).values),
    ],
    ids=["sum", "mean", "logsumexp", "max"],
)
@pytest.mark.parametrize("feature_shape", [(), (3,), (2, 3)])
def test_reduction_matches_loop(op, reference, feature_shape, gen):
    group = random_groups(N_OBS, N_GROUPS, gen)
    values = torch.randn(N_OBS, *feature_shape, generator=gen, dtype=torch.float64)
    out = op(values, group, N_GROUPS)
    assert out.shape == (N_GROUPS, *feature_shape)
    for g, rows in enumerate(members(group, N_GROUPS)):
        torch.testing.assert_close(out[g], reference(values[rows]), rtol=1e-12, atol=1e-12)


def test_segment_count(gen):
    group = random_groups(N_OBS, N_GROUPS, gen)
    expected = [len(rows) for rows in members(group, N_GROUPS + 2)]
    assert segment_count(group, N_GROUPS + 2).tolist() == expected
    assert expected[-2:] == [0, 0]


def test_empty_groups_sum_to_zero_and_logsumexp_to_minus_inf():
    values = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    group = torch.tensor([0, 0, 2])
    assert segment_sum(values, group, 4).flatten().tolist() == [3.0, 0.0, 3.0, 0.0]
    lse = segment_logsumexp(values, group, 4).flatten()
    assert lse[1] == -math.inf and lse[3] == -math.inf
    assert lse[0].item() == pytest.approx(math.log(math.exp(1) + math.exp(2)))


def test_logsumexp_is_stable_for_large_and_small_values():
    values = torch.tensor([1000.0, 1000.0, -1000.0, -1000.0 + math.log(3)], dtype=torch.float64)
    group = torch.tensor([0, 0, 1, 1])
    out = segment_logsumexp(values, group, 2)
    torch.testing.assert_close(
        out, torch.tensor([1000 + math.log(2), -1000 + math.log(4)], dtype=torch.float64)
    )


def test_mean_of_empty_group_raises():
    with pytest.raises(DataError, match=r"groups \[1\] have no members"):
        segment_mean(torch.ones(2, 1), torch.tensor([0, 2]), 3)


@pytest.mark.parametrize(
    ("values", "group"),
    [
        (torch.ones(3, 2), torch.tensor([0, 1])),  # one id short
        (torch.ones(3, 2), torch.tensor([[0, 1, 1]])),  # not 1-D
        (torch.ones(3, 2), torch.tensor([0.0, 1.0, 1.0])),  # not int64
    ],
    ids=["length", "ndim", "dtype"],
)
def test_bad_group_vector_raises(values, group):
    with pytest.raises(DataError, match="group must"):
        segment_sum(values, group, 2)


# ------------------------------------------------------------- Normal pooling
def test_product_of_normals_closed_form(batch):
    """Precision = sum of precisions; mean = precision-weighted mean (ML-VAE eq. 6-7)."""
    mean, logvar, group = batch
    mean_g, logvar_g = product_of_normals(mean, logvar, group, N_GROUPS)
    for g, rows in enumerate(members(group, N_GROUPS)):
        precision = torch.exp(-logvar[rows])
        total = precision.sum(0)
        torch.testing.assert_close(logvar_g[g], -torch.log(total), rtol=1e-12, atol=1e-12)
        expected_mean = (precision * mean[rows]).sum(0) / total
        torch.testing.assert_close(mean_g[g], expected_mean, rtol=1e-12, atol=1e-12)


def test_product_of_normals_equals_the_normalised_product_of_densities(gen):
    """The product of two Normal densities, renormalised on a grid, is the returned Normal."""
    mean = torch.tensor([[-1.0], [2.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.5], [-0.3]], dtype=torch.float64)
    mean_g, logvar_g = product_of_normals(mean, logvar, torch.tensor([0, 0]), 1)
    grid = torch.linspace(-12, 12, 200_001, dtype=torch.float64)
    log_density = sum(
        torch.distributions.Normal(mean[k, 0], torch.exp(0.5 * logvar[k, 0])).log_prob(grid)
        for k in range(2)
    )
    density = torch.exp(log_density - log_density.max())
    density = density / torch.trapezoid(density, grid)
    grid_mean = torch.trapezoid(grid * density, grid)
    grid_var = torch.trapezoid((grid - grid_mean) ** 2 * density, grid)
    assert mean_g.item() == pytest.approx(grid_mean.item(), abs=1e-8)
    assert logvar_g.item() == pytest.approx(math.log(grid_var.item()), abs=1e-8)


def test_product_of_one_normal_is_itself(batch):
    mean, logvar, _ = batch
    own = torch.arange(N_OBS)
    mean_g, logvar_g = product_of_normals(mean, logvar, own, N_OBS)
    torch.testing.assert_close(mean_g, mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(logvar_g, logvar, rtol=1e-12, atol=1e-12)


def test_product_of_normals_is_finite_for_extreme_variances():
    mean = torch.tensor([[1.0], [3.0], [5.0]])
    logvar = torch.tensor([[-80.0], [80.0], [85.0]])  # exp(+-80) overflows float32
    mean_g, logvar_g = product_of_normals(mean, logvar, torch.tensor([0, 0, 1]), 2)
    assert torch.isfinite(mean_g).all() and torch.isfinite(logvar_g).all()
    assert mean_g[0].item() == pytest.approx(1.0)  # the precise member dominates
    assert logvar_g[0].item() == pytest.approx(-80.0)
    assert mean_g[1].item() == pytest.approx(5.0) and logvar_g[1].item() == pytest.approx(85.0)


def test_average_of_normals_is_finite_for_extreme_variances():
    mean = torch.tensor([[1.0], [3.0], [5.0]])
    logvar = torch.tensor([[90.0], [80.0], [-95.0]])  # exp(90) overflows float32
    mean_g, logvar_g = average_of_normals(mean, logvar, torch.tensor([0, 0, 1]), 2)
    assert mean_g[0].item() == pytest.approx(2.0)
    assert logvar_g[0].item() == pytest.approx(90.0 + math.log((1 + math.exp(-10)) / 2))
    assert logvar_g[1].item() == pytest.approx(-95.0)


def test_average_of_normals_matches_loop(batch):
    """Mean of means, and mean of variances (Hosoya 2019)."""
    mean, logvar, group = batch
    mean_g, logvar_g = average_of_normals(mean, logvar, group, N_GROUPS)
    for g, rows in enumerate(members(group, N_GROUPS)):
        torch.testing.assert_close(mean_g[g], mean[rows].mean(0), rtol=1e-12, atol=1e-12)
        expected = torch.log(torch.exp(logvar[rows]).mean(0))
        torch.testing.assert_close(logvar_g[g], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pool", [product_of_normals, average_of_normals])
def test_pooling_an_empty_group_raises(pool):
    with pytest.raises(DataError, match="no members"):
        pool(torch.zeros(2, 1), torch.zeros(2, 1), torch.tensor([0, 2]), 3)


def test_leave_one_out_mean_matches_loop(batch):
    values, _, group = batch
    group = torch.where(segment_count(group, N_GROUPS)[group] < 2, 0, group)  # no singletons
    out = leave_one_out_mean(values, group, N_GROUPS)
    for k in range(N_OBS):
        others = [i for i in range(N_OBS) if group[i] == group[k] and i != k]
        torch.testing.assert_close(out[k], values[others].mean(0), rtol=1e-12, atol=1e-12)


def test_leave_one_out_mean_rejects_one_member_groups():
    with pytest.raises(DataError, match="at least two members"):
        leave_one_out_mean(torch.ones(3, 1), torch.tensor([0, 0, 1]), 2)


# ------------------------------------------------------------------ gradients
def test_gradcheck_product_of_normals(gen):
    group = random_groups(9, 3, gen)
    mean = torch.randn(9, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    logvar = torch.randn(9, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda m, lv: product_of_normals(m, lv, group, 3), (mean, logvar)
    )


def test_gradcheck_average_of_normals(gen):
    group = random_groups(9, 3, gen)
    mean = torch.randn(9, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    logvar = torch.randn(9, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda m, lv: average_of_normals(m, lv, group, 3), (mean, logvar)
    )


def test_gradcheck_segment_logsumexp(gen):
    group = random_groups(9, 3, gen)
    values = torch.randn(9, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: segment_logsumexp(v, group, 3), (values,))


# ------------------------------------------------------------------- sampling
SIZES = [2, 3, 5, 2, 8]  # group sizes; the rows of the groups are shuffled below


@pytest.fixture
def sampling_groups(gen) -> torch.Tensor:
    group = torch.repeat_interleave(torch.arange(len(SIZES)), torch.tensor(SIZES))
    return group[torch.randperm(len(group), generator=gen)]


def test_sample_other_member_is_another_member_of_the_same_group(sampling_groups, gen):
    group, n_groups = sampling_groups, len(SIZES)
    draws = torch.stack([sample_other_member(group, n_groups, gen) for _ in range(3000)])
    rows = torch.arange(len(group)).expand_as(draws)
    assert (draws != rows).all()
    assert (group[draws] == group[rows]).all()
    # Uniform over the other members: each has frequency 1 / (size - 1).
    for k in range(len(group)):
        others = np.flatnonzero((group == group[k]).numpy() & (np.arange(len(group)) != k))
        freq = np.bincount(draws[:, k].numpy(), minlength=len(group))[others] / len(draws)
        np.testing.assert_allclose(freq, 1 / len(others), atol=0.05)


def test_sample_member_of_other_group_is_in_another_group(sampling_groups, gen):
    group, n_groups = sampling_groups, len(SIZES)
    draws = torch.stack([sample_member_of_other_group(group, n_groups, gen) for _ in range(4000)])
    assert ((draws >= 0) & (draws < len(group))).all()
    assert (group[draws] != group).all()
    # The other group is uniform over the n_groups - 1 others, whatever their sizes.
    k = int(torch.nonzero(group == 0)[0])
    freq = np.bincount(group[draws[:, k]].numpy(), minlength=n_groups)[1:] / len(draws)
    np.testing.assert_allclose(freq, 1 / (n_groups - 1), atol=0.04)


@pytest.mark.parametrize("sampler", [sample_other_member, sample_member_of_other_group])
def test_sampling_is_reproducible_with_a_seeded_generator(sampler, sampling_groups):
    a = sampler(sampling_groups, len(SIZES), torch.Generator().manual_seed(5))
    b = sampler(sampling_groups, len(SIZES), torch.Generator().manual_seed(5))
    c = sampler(sampling_groups, len(SIZES), torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_sample_other_member_rejects_one_member_groups():
    with pytest.raises(DataError, match="at least two members"):
        sample_other_member(torch.tensor([0, 0, 1]), 2)


@pytest.mark.parametrize(
    ("group", "n_groups", "message"),
    [
        (torch.tensor([0, 0, 0]), 1, "at least two groups"),
        (torch.tensor([0, 0, 2]), 3, "at least one member"),
    ],
    ids=["one-group", "empty-group"],
)
def test_sample_member_of_other_group_errors(group, n_groups, message):
    with pytest.raises(DataError, match=message):
        sample_member_of_other_group(group, n_groups)
