"""Disentanglement from known factors: oracle representations (disentanglement_lib style)."""

from __future__ import annotations

import numpy as np
import pytest

from groupvae.data import make_shapes
from groupvae.errors import DataError
from groupvae.evaluation import (
    disentanglement_scores,
    factor_score,
    shapes_disentanglement,
    shapes_factors,
)
from groupvae.models import create


@pytest.fixture(scope="module")
def shapes():
    """100 groups of 2-10 tiny Shapes images that share their shape."""
    return make_shapes(100, image_size=8, seed=0)


def one_hot_or_value(factors, columns: np.ndarray) -> np.ndarray:
    """Each chosen factor as a one-hot block (categorical) or a column (continuous)."""
    blocks = []
    for j in np.flatnonzero(columns):
        v = factors.values[:, j]
        blocks.append(
            np.eye(int(v.max()) + 1)[v.astype(int)] if factors.categorical[j] else v[:, None]
        )
    return np.concatenate(blocks, axis=1)


def first_of_each_group(group: np.ndarray) -> np.ndarray:
    return np.unique(group, return_index=True)[1]


def test_shapes_factors_find_the_grouping_factors():
    for group_by in ("shape", ("colour", "scale")):
        data = make_shapes(12, group_by=group_by, image_size=4, seed=1)
        factors = shapes_factors(data)
        grouped = {n for n, g in zip(factors.names, factors.in_group, strict=True) if g}
        assert grouped == ({"shape"} if group_by == "shape" else {"colour", "scale"})
        assert {n for n, c in zip(factors.names, factors.categorical, strict=True) if c} == {
            "shape",
            "colour",
        }


def test_the_true_factors_split_correctly_score_about_one(shapes):
    factors = shapes_factors(shapes)
    true_u = one_hot_or_value(factors, factors.in_group)[first_of_each_group(shapes.group)]
    true_v = one_hot_or_value(factors, ~factors.in_group)
    m = disentanglement_scores(true_u, true_v, shapes.group, factors, seed=0)
    assert m["shape_from_group"] == 1.0 and m["colour_from_instance"] == 1.0
    assert m["content_score"] == pytest.approx(1.0, abs=0.02)
    assert m["style_score"] > 0.85  # R^2 of an MLP fitting the identity
    assert m["disentanglement"] > 0.9


def test_constant_codes_score_about_zero(shapes):
    factors = shapes_factors(shapes)
    m = disentanglement_scores(
        np.zeros((shapes.n_groups, 2)), np.ones((shapes.n_obs, 3)), shapes.group, factors
    )
    assert abs(m["content_score"]) < 0.05 and abs(m["style_score"]) < 0.05
    assert abs(m["disentanglement"]) < 0.05


def test_swapped_codes_score_negative(shapes):
    factors = shapes_factors(shapes)
    rng = np.random.default_rng(0)
    # the grouping factor in the instance code, noise in the group code
    shape_per_obs = one_hot_or_value(factors, factors.in_group)
    m = disentanglement_scores(
        rng.standard_normal((shapes.n_groups, 2)), shape_per_obs, shapes.group, factors
    )
    assert m["content_score"] == pytest.approx(-1.0, abs=0.05)  # noise: about chance
    assert m["disentanglement"] < -0.4


def test_factor_score_maps_chance_to_zero_and_truth_to_one():
    rng = np.random.default_rng(0)
    y = rng.integers(3, size=300).astype(float)
    fit = np.arange(300) < 150
    assert factor_score(np.eye(3)[y.astype(int)], y, fit, categorical=True) == (1.0, 1.0)
    raw, normalised = factor_score(np.zeros((300, 1)), y, fit, categorical=True)
    assert normalised == 0.0 and raw < 0.5
    z = rng.standard_normal(300)
    raw, normalised = factor_score(z[:, None], z, fit, categorical=False)
    assert raw > 0.9 and normalised == pytest.approx(raw)  # trees fitting the identity
    raw, normalised = factor_score(rng.standard_normal((300, 1)), z, fit, categorical=False)
    assert raw < 0.1 and normalised < 0.1


def test_codes_of_the_wrong_length_raise(shapes):
    factors = shapes_factors(shapes)
    with pytest.raises(DataError, match="one row per observation"):
        disentanglement_scores(
            np.zeros((shapes.n_groups, 1)), np.zeros((3, 1)), shapes.group, factors
        )


def test_needs_the_shapes_factors():
    from helpers import make_images

    with pytest.raises(DataError, match="Shapes factors"):
        shapes_factors(make_images())


def test_scores_a_model_on_shapes():
    data = make_shapes(16, image_size=8, seed=2)
    model = create("mlvae", obs_shape=(3, 8, 8), hidden=8, group_dim=2, instance_dim=2)
    m = shapes_disentanglement(model, data, names=("shape", "colour", "x"))
    assert set(m) == {
        *(f"{f}_from_{c}" for f in ("shape", "colour", "x") for c in ("group", "instance")),
        "content_score",
        "style_score",
        "disentanglement",
    }
    assert -1 <= m["disentanglement"] <= 1
