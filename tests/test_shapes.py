"""The Shapes data set: every factor controls the image, and groups share their factor."""

from __future__ import annotations

import math

import numpy as np
import pytest

from groupvae.data import make_shapes, render_shapes, shapes_factor_columns, split_by_label
from groupvae.data.shapes import (
    COLOURS,
    FACTORS,
    PALETTE,
    POSITION_RANGE,
    SCALE_RANGE,
    SHAPES,
)
from groupvae.errors import DataError

SIZE = 64


def pose(n: int = 1, **factors: object) -> dict[str, np.ndarray]:
    """``n`` red circles of scale 0.2 at the centre, unrotated, with ``factors`` changed."""
    base = {"shape": 0, "colour": 0, "scale": 0.2, "x": 0.5, "y": 0.5, "rotation": 0.0}
    base.update(factors)
    out = {k: np.broadcast_to(np.asarray(v), (n,)).copy() for k, v in base.items()}
    out["shape"], out["colour"] = out["shape"].astype(np.int64), out["colour"].astype(np.int64)
    return out


def lit(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: the pixels of a ``(3, H, W)`` image that are not black."""
    return image.max(axis=0) > 0


def centre_of_mass(mask: np.ndarray) -> tuple[float, float]:
    """``(column, row)`` of a ``(H, W)`` mask's centre, in pixels (pixel centres at +0.5)."""
    rows, cols = np.nonzero(mask)
    return cols.mean() + 0.5, rows.mean() + 0.5


@pytest.fixture(scope="module")
def by_shape():
    return make_shapes(40, seed=0)


# ---------------------------------------------------------------- rendering
@pytest.mark.parametrize("colour", range(len(COLOURS)))
def test_colour_sets_the_rgb_of_every_lit_pixel(colour):
    (image,) = render_shapes(pose(colour=colour))
    mask = lit(image)
    assert mask.sum() > 100
    np.testing.assert_array_equal(image[:, mask].T, np.tile(PALETTE[colour], (mask.sum(), 1)))
    assert (image[:, ~mask] == 0).all()  # black background
    if COLOURS[colour] == "red":
        assert (image[0, mask] == 1).all() and (image[1:, mask] == 0).all()


@pytest.mark.parametrize(("x", "y"), [(0.3, 0.5), (0.7, 0.5), (0.5, 0.3), (0.35, 0.65)])
def test_position_moves_the_centre_of_mass(x, y):
    (image,) = render_shapes(pose(x=x, y=y))
    cx, cy = centre_of_mass(lit(image))
    assert cx == pytest.approx(x * SIZE, abs=0.25) and cy == pytest.approx(y * SIZE, abs=0.25)


def test_scale_is_the_radius_of_the_circle():
    scales = np.array([0.1, 0.15, 0.22])
    images = render_shapes(pose(3, scale=scales))
    area = np.array([lit(img).sum() for img in images])
    np.testing.assert_allclose(area, math.pi * (scales * SIZE) ** 2, rtol=0.05)  # pixelised


def test_shapes_are_distinct_and_rotation_turns_them_counter_clockwise():
    images = render_shapes(pose(len(SHAPES), shape=np.arange(len(SHAPES)), scale=0.22))
    masks = np.array([lit(img) for img in images])
    assert len({m.tobytes() for m in masks}) == len(SHAPES)
    triangle = SHAPES.index("triangle")
    turned = [lit(render_shapes(pose(shape=triangle, scale=0.25, rotation=a))[0]) for a in (0, 1)]
    third = lit(render_shapes(pose(shape=triangle, scale=0.25, rotation=2 * math.pi / 3))[0])
    assert (third != turned[0]).sum() < 10  # a triangle's symmetry
    # unturned: the tip points right (+x); a quarter turn makes it point up (-rows)
    r, centre = 0.25 * SIZE, 0.5 * SIZE
    cols = np.flatnonzero(turned[0].any(axis=0))
    assert cols.max() + 1 == pytest.approx(centre + r, abs=1)
    assert cols.min() == pytest.approx(centre - r / 2, abs=1)
    up = lit(render_shapes(pose(shape=triangle, scale=0.25, rotation=math.pi / 2))[0])
    rows = np.flatnonzero(up.any(axis=1))
    assert rows.min() == pytest.approx(centre - r, abs=1)
    assert rows.max() + 1 == pytest.approx(centre + r / 2, abs=1)
    circle = render_shapes(pose(2, rotation=np.array([0.0, 1.0])))
    np.testing.assert_array_equal(circle[0], circle[1])


@pytest.mark.parametrize("shape", range(len(SHAPES)))
def test_shapes_stay_inside_the_image_at_the_extreme_factors(shape):
    corners = [(a, b) for a in POSITION_RANGE for b in POSITION_RANGE]
    factors = pose(
        4,
        shape=shape,
        scale=SCALE_RANGE[1],
        x=[c[0] for c in corners],
        y=[c[1] for c in corners],
        rotation=np.linspace(0, 2, 4),
    )
    for image in render_shapes(factors):
        mask = lit(image)
        assert mask.sum() > 50
        assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rotation": None}, r"factors \['rotation'\] missing"),
        ({"shape": np.array([len(SHAPES)])}, r"shape must be integer codes in \[0, 5\)"),
        ({"colour": np.array([0.0])}, "colour must be integer codes"),
        ({"x": np.array([0.5, 0.5])}, r"must all have shape \(n,\)"),
        ({"scale": np.array([0.0])}, "scale must be > 0"),
    ],
)
def test_render_shapes_rejects_bad_factors(change, message):
    factors = {k: v for k, v in {**pose(), **change}.items() if v is not None}
    with pytest.raises(DataError, match=message):
        render_shapes(factors)


# ------------------------------------------------------------------ data set
def test_shapes_data_set_layout(by_shape):
    data = by_shape
    assert data.name == "shapes" and data.n_groups == 40
    assert data.x.shape == (data.n_obs, 3, SIZE, SIZE) and data.x.dtype == np.float32
    assert set(np.unique(data.x)) == {0.0, 1.0}
    assert data.group_sizes.min() >= 2 and data.group_sizes.max() <= 10
    assert set(data.aux) == set(FACTORS)
    assert data.u.shape == (40, 1) and data.v.shape == (data.n_obs, 5)
    assert shapes_factor_columns("shape") == (("shape",), FACTORS[1:])
    for column, name in enumerate(FACTORS[1:]):
        np.testing.assert_array_equal(data.v[:, column], data.aux[name].astype(np.float32))
    np.testing.assert_array_equal(data.labels, data.aux["shape"])
    # the images are the rendering of the recorded factors
    np.testing.assert_array_equal(
        data.x[:7], render_shapes({k: a[:7] for k, a in data.aux.items()})
    )


@pytest.mark.parametrize("group_by", ["shape", "colour", "color", "scale", ["shape", "colour"]])
def test_groups_share_the_grouping_factor_and_vary_the_others(group_by):
    data = make_shapes(30, group_by=group_by, seed=1)
    shared, varying = shapes_factor_columns(group_by)
    big = np.flatnonzero(data.group_sizes >= 2)
    for name in FACTORS:
        n_values = np.array([len(np.unique(data.aux[name][data.group == g])) for g in big])
        assert (n_values == 1).all() if name in shared else (n_values > 1).mean() > 0.5
    first = np.unique(data.group, return_index=True)[1]
    for column, name in enumerate(shared):
        np.testing.assert_array_equal(data.u[:, column], data.aux[name][first].astype(np.float32))
    assert data.v.shape[1] == len(varying)
    if group_by == "scale":
        assert data.labels is None  # a continuous factor has no classes
    elif isinstance(group_by, list):
        np.testing.assert_array_equal(data.labels, data.aux["shape"] * 6 + data.aux["colour"])


def test_a_colour_group_is_one_colour_in_pixels():
    data = make_shapes(10, group_by="colour", seed=2)
    for g in range(data.n_groups):
        images = data.x[data.group == g]
        (colour,) = np.unique(data.aux["colour"][data.group == g])
        on = images.max(axis=1) > 0  # (k, H, W)
        np.testing.assert_array_equal(
            images.transpose(0, 2, 3, 1)[on], PALETTE[[colour] * on.sum()]
        )


def test_shapes_are_seeded(by_shape):
    np.testing.assert_array_equal(make_shapes(40, seed=0).x, by_shape.x)
    other = make_shapes(40, seed=1)
    assert other.n_obs != by_shape.n_obs or not np.array_equal(other.x, by_shape.x)
    generator = make_shapes(40, seed=np.random.default_rng(0))
    np.testing.assert_array_equal(generator.x, by_shape.x)


def test_image_size_and_unseen_shape_holdout(by_shape):
    small = make_shapes(5, image_size=16, seed=0)
    assert small.obs_shape == (3, 16, 16)
    train, hold = split_by_label(by_shape, [SHAPES.index("star")], key="shape")
    assert set(np.unique(hold.aux["shape"])) == {SHAPES.index("star")}
    assert SHAPES.index("star") not in train.aux["shape"]
    assert train.n_obs + hold.n_obs == by_shape.n_obs


@pytest.mark.parametrize(
    ("group_by", "message"),
    [
        ("size", r"group_by must name factors among \['shape', 'colour'"),
        ([], "group_by must name factors"),
        (["shape", "shape"], "distinct factors"),
        (list(FACTORS), "and not all"),
    ],
)
def test_make_shapes_rejects_bad_group_by(group_by, message):
    with pytest.raises(DataError, match=message):
        make_shapes(3, group_by=group_by)


def test_make_shapes_rejects_bad_sizes():
    with pytest.raises(DataError, match="n_groups must be >= 1"):
        make_shapes(0)
    with pytest.raises(DataError, match="min_size <= max_size"):
        make_shapes(3, min_size=5, max_size=4)
