"""Shapes: a procedural grouped image data set with known factors (ML-VAE, Fig. 1).

Each image is one coloured shape on a black background, ``(3, 64, 64)`` RGB in
``[0, 1]``. Six factors of variation, in :data:`FACTORS` order:

==========  =============================================================  ===========
factor      values                                                         unit
==========  =============================================================  ===========
shape       :data:`SHAPES` (circle, square, triangle, star, cross)         index
colour      :data:`COLOURS` (six fully saturated hues, :data:`PALETTE`)    index
scale       circumradius, uniform in :data:`SCALE_RANGE`                   image side
x, y        centre, uniform in :data:`POSITION_RANGE` (0: left / top)      image side
rotation    uniform in ``[0, 2 pi)``, counter-clockwise on screen           radians
==========  =============================================================  ===========

The user picks the grouping factor(s), e.g. ``group_by="shape"``: every group shares the
value of that factor (the *content*) while the other factors vary within it (the
*style*). Pixels are binary per channel (each lies inside the shape or not), so a
Bernoulli likelihood fits. Rendering is vectorised over images: each pixel centre is
tested against the half-planes of the shape's edges, in the shape's rotated, scaled frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.data.grouping import Seed, draw_group_sizes
from groupvae.errors import DataError

SHAPES = ("circle", "square", "triangle", "star", "cross")
COLOURS = ("red", "yellow", "green", "cyan", "blue", "magenta")
PALETTE = np.array(
    [[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 1]], dtype=np.float32
)
"""``(len(COLOURS), 3)`` RGB of each colour, in ``[0, 1]``."""
FACTORS = ("shape", "colour", "scale", "x", "y", "rotation")
CATEGORICAL = {"shape": len(SHAPES), "colour": len(COLOURS)}
"""Categorical factor -> number of values; the other factors are continuous."""
SCALE_RANGE = (0.1, 0.22)  # circumradius, in units of the image side
POSITION_RANGE = (0.25, 0.75)  # centre, in units of the image side: shapes stay inside
ROTATION_RANGE = (0.0, 2 * math.pi)  # radians
_ALIASES = {"color": "colour"}
_CHUNK = 1024  # images rendered at once (bounds the memory of the coordinate grids)

Sampler = Callable[[np.random.Generator, int], np.ndarray]
_SAMPLERS: dict[str, Sampler] = {
    "shape": lambda rng, n: rng.integers(len(SHAPES), size=n),
    "colour": lambda rng, n: rng.integers(len(COLOURS), size=n),
    "scale": lambda rng, n: rng.uniform(*SCALE_RANGE, size=n),
    "x": lambda rng, n: rng.uniform(*POSITION_RANGE, size=n),
    "y": lambda rng, n: rng.uniform(*POSITION_RANGE, size=n),
    "rotation": lambda rng, n: rng.uniform(*ROTATION_RANGE, size=n),
}


# ----------------------------------------------------------------- geometry
def _inside_circle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u * u + v * v <= 1.0


def _halfplanes_inside(
    u: np.ndarray, v: np.ndarray, normals: int, offset: float, distance: float
) -> np.ndarray:
    """How many of the half-planes ``u cos(a) + v sin(a) <= distance`` hold a point.

    The normals' angles are ``a = offset + 2 pi j / normals``, ``j = 0..normals-1``.
    Returns ``int8`` counts of the shape of ``u``.
    """
    count = np.zeros(u.shape, dtype=np.int8)
    for j in range(normals):
        angle = offset + 2 * math.pi * j / normals
        count += u * math.cos(angle) + v * math.sin(angle) <= distance
    return count


def _inside_polygon(u: np.ndarray, v: np.ndarray, sides: int) -> np.ndarray:
    """Inside the regular polygon with unit circumradius and a vertex at ``(1, 0)``."""
    inside = _halfplanes_inside(u, v, sides, math.pi / sides, math.cos(math.pi / sides))
    return inside == sides


def _inside_star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside the five-pointed star (pentagram) with tips at radius 1, one at ``(1, 0)``.

    Its five edges extended are the lines through every second tip; the inner pentagon
    lies inside all five of their half-planes and each tip inside exactly four.
    """
    return _halfplanes_inside(u, v, 5, 0.0, math.cos(2 * math.pi / 5)) >= 4


def _inside_cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    arm, half_width = 0.95, 0.3  # corners at radius ~1
    au, av = np.abs(u), np.abs(v)
    return ((au <= arm) & (av <= half_width)) | ((au <= half_width) & (av <= arm))


_INSIDE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "circle": _inside_circle,
    "square": lambda u, v: _inside_polygon(u, v, 4),
    "triangle": lambda u, v: _inside_polygon(u, v, 3),
    "star": _inside_star,
    "cross": _inside_cross,
}


def _local_coords(
    scale: np.ndarray, x: np.ndarray, y: np.ndarray, rotation: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres in each shape's frame (unit circumradius): two ``(m, size, size)``.

    The frame is centred on ``(x, y)``, scaled by ``1 / scale`` and turned by
    ``-rotation``, so that ``rotation`` turns the shape counter-clockwise on screen
    (rows grow downwards).
    """
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size
    inv = (1.0 / scale)[:, None, None]
    dx = (grid[None, None, :] - x[:, None, None]) * inv  # (m, 1, size): columns
    dy = (y[:, None, None] - grid[None, :, None]) * inv  # (m, size, 1): rows, upwards
    c, s = np.cos(rotation)[:, None, None], np.sin(rotation)[:, None, None]
    return c * dx + s * dy, c * dy - s * dx


def _check_factors(factors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    missing = [f for f in FACTORS if f not in factors]
    if missing:
        raise DataError(f"factors {missing} missing; render_shapes needs {list(FACTORS)}")
    arrays = {f: np.asarray(factors[f]) for f in FACTORS}
    n = len(arrays["shape"])
    if any(a.shape != (n,) for a in arrays.values()):
        shapes = {f: a.shape for f, a in arrays.items()}
        raise DataError(f"factors must all have shape (n,), got {shapes}")
    for name, n_values in CATEGORICAL.items():
        a = arrays[name]
        if not np.issubdtype(a.dtype, np.integer) or (n and (a.min() < 0 or a.max() >= n_values)):
            raise DataError(f"{name} must be integer codes in [0, {n_values})")
    if n and arrays["scale"].min() <= 0:
        raise DataError("scale must be > 0 (circumradius in units of the image side)")
    return arrays


def render_shapes(factors: Mapping[str, np.ndarray], *, image_size: int = 64) -> np.ndarray:
    """Draw one shape per image from its factors, vectorised over images.

    Args:
        factors: the arrays named in :data:`FACTORS`, each ``(n,)``: ``shape`` and
            ``colour`` integer codes, ``scale``, ``x``, ``y`` in units of the image side,
            ``rotation`` in radians.
        image_size: image height and width in pixels.

    Returns:
        ``(n, 3, image_size, image_size)`` float32: the colour of :data:`PALETTE` inside
        the shape, 0 (black) outside.

    Raises:
        DataError: for missing factors, arrays of different lengths, or codes out of range.
    """
    if image_size < 1:
        raise DataError(f"image_size must be >= 1 pixel, got {image_size}")
    f = _check_factors(factors)
    pose = [f[k].astype(np.float32) for k in ("scale", "x", "y", "rotation")]
    mask = np.zeros((len(f["shape"]), image_size, image_size), dtype=bool)
    for code, name in enumerate(SHAPES):
        rows = np.flatnonzero(f["shape"] == code)
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            u, v = _local_coords(*(a[chunk] for a in pose), image_size)
            mask[chunk] = _INSIDE[name](u, v)
    colour = PALETTE[f["colour"]]  # (n, 3)
    x = np.empty((len(mask), 3, image_size, image_size), dtype=np.float32)
    for c in range(3):  # channel by channel: faster than one broadcast product
        np.multiply(mask, colour[:, c, None, None], out=x[:, c])
    return x


# ------------------------------------------------------------------ grouping
def _group_factors(group_by: str | Sequence[str]) -> tuple[str, ...]:
    names = (group_by,) if isinstance(group_by, str) else tuple(group_by)
    names = tuple(_ALIASES.get(n, n) for n in names)
    unknown = [n for n in names if n not in FACTORS]
    if unknown or not names:
        raise DataError(f"group_by must name factors among {list(FACTORS)}, got {group_by!r}")
    if len(set(names)) != len(names) or len(names) == len(FACTORS):
        raise DataError(f"group_by must name distinct factors, and not all, got {group_by!r}")
    return names


def shapes_factor_columns(
    group_by: str | Sequence[str],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The factor of each column of ``u`` and of ``v`` of :func:`make_shapes`.

    Returns:
        ``(u_columns, v_columns)``: the grouping factors, in the order given, and the
        other factors, in :data:`FACTORS` order.
    """
    group = _group_factors(group_by)
    return group, tuple(f for f in FACTORS if f not in group)


def sample_shape_factors(
    group: np.ndarray, group_by: str | Sequence[str], *, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Draw the factors of each observation; grouping factors are shared within groups.

    Args:
        group: ``(n_obs,) int64`` group ids in ``[0, n_groups)``.
        group_by: the factor(s) every group shares (see :data:`FACTORS`).
        rng: the generator.

    Returns:
        :data:`FACTORS` -> ``(n_obs,)`` arrays: int64 codes for ``shape`` and ``colour``,
        float32 for the rest.
    """
    shared = _group_factors(group_by)
    n_groups = int(group.max()) + 1
    out = {}
    for name in FACTORS:
        if name in shared:
            values = _SAMPLERS[name](rng, n_groups)[group]
        else:
            values = _SAMPLERS[name](rng, len(group))
        out[name] = values.astype(np.int64 if name in CATEGORICAL else np.float32)
    return out


def _group_labels(factors: dict[str, np.ndarray], shared: tuple[str, ...]) -> np.ndarray | None:
    """A class code per observation of the categorical grouping factors (mixed radix)."""
    if not all(name in CATEGORICAL for name in shared):
        return None
    code = np.zeros(len(factors["shape"]), dtype=np.int64)
    for name in shared:
        code = code * CATEGORICAL[name] + factors[name]
    return code


def make_shapes(
    n_groups: int = 1_000,
    *,
    group_by: str | Sequence[str] = "shape",
    min_size: int = 2,
    max_size: int = 10,
    image_size: int = 64,
    seed: Seed = 0,
) -> GroupedDataset:
    """Sample the Shapes data set: groups that share the value of ``group_by``.

    Args:
        n_groups: number of groups.
        group_by: the factor (or factors) shared within each group: ``"shape"``,
            ``"colour"``, ``"scale"``, ``"x"``, ``"y"`` or ``"rotation"``.
        min_size, max_size: group sizes are uniform in ``[min_size, max_size]``.
        image_size: image height and width in pixels.
        seed: seed of the ``numpy.random.Generator``, or the generator.

    Returns:
        A :class:`GroupedDataset` named ``"shapes"``: ``x: (n_obs, 3, image_size,
            image_size)`` float32 in ``{0, 1}``; ``u: (n_groups, len(group_by))`` the
            shared factor values and ``v: (n_obs, 6 - len(group_by))`` the others
            (columns from :func:`shapes_factor_columns`; codes for categorical factors);
            ``aux[name]: (n_obs,)`` every factor by name (see :data:`FACTORS`);
            ``labels: (n_obs,)`` the class of the grouping factor(s) when they are
            categorical (mixed radix, in ``group_by`` order), else ``None``.

    Raises:
        DataError: for unknown or repeated factors, ``n_groups < 1`` or bad sizes.
    """
    rng = np.random.default_rng(seed)
    u_columns, v_columns = shapes_factor_columns(group_by)
    sizes = draw_group_sizes(n_groups, min_size=min_size, max_size=max_size, rng=rng)
    group = np.repeat(np.arange(n_groups), sizes)
    factors = sample_shape_factors(group, u_columns, rng=rng)
    first = np.cumsum(sizes) - sizes  # each group's first row
    return GroupedDataset(
        x=render_shapes(factors, image_size=image_size),
        group=group,
        u=np.stack([factors[f][first] for f in u_columns], axis=1),
        v=np.stack([factors[f] for f in v_columns], axis=1),
        labels=_group_labels(factors, u_columns),
        aux=factors,
        name="shapes",
    )
