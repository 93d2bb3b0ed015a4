"""The feature transform of a table: one-hot codes of categorical columns and the
standardisation of numeric ones, recorded in the run so that values go back to user units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from groupvae.errors import DataError


@dataclass(frozen=True)
class FeatureTransform:
    """``z = (x - mean) / scale`` per model column, and the one-hot encoding of categories.

    A categorical source column ``c`` with categories ``a, b`` becomes the model columns
    ``c=a``, ``c=b`` (0/1, ``mean 0``, ``scale 1``); a numeric column is standardised
    when the reader's ``standardise`` is on (else ``mean 0``, ``scale 1``).

    Attributes:
        columns: ``(d,)`` names of the model's columns, in ``x``'s order.
        mean, scale: ``(d,)`` location and scale of each model column, in user units.
        features: the source columns, in order.
        categories: source column -> its categories, for the one-hot encoded ones.
    """

    columns: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    features: tuple[str, ...] = ()
    categories: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not len(self.columns) == len(self.mean) == len(self.scale):
            raise DataError("a feature transform needs one mean and scale per column")
        if any(not s > 0 for s in self.scale):
            raise DataError("a feature transform needs positive scales")
        bad = [
            c
            for c, m, s in zip(self.columns, self.mean, self.scale, strict=True)
            if not (np.isfinite(m) and np.isfinite(s))
        ]
        if bad:
            raise DataError(f"a feature transform needs finite means and scales; not of {bad}")

    @property
    def log_jacobian(self) -> float:
        """``log |dz/dx| = -sum(log scale)``, nats per observation: add it to a
        log-density of the model's ``z`` to get the log-density of the raw ``x``."""
        return -float(np.log(np.asarray(self.scale, dtype=np.float64)).sum())

    def forward(self, x: np.ndarray) -> np.ndarray:
        """User units ``(n, d)`` -> model units ``(n, d)`` (float32)."""
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        return ((x - np.asarray(self.mean)) / np.asarray(self.scale)).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Model units ``(n, d)`` (or ``(n, *obs_shape)`` with ``d`` elements) -> user
        units ``(n, d)`` (float64)."""
        z = np.asarray(z, dtype=np.float64).reshape(len(z), -1)
        if z.shape[1] != len(self.columns):
            raise DataError(f"expected {len(self.columns)} columns, got {z.shape[1]}")
        return z * np.asarray(self.scale) + np.asarray(self.mean)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (:meth:`from_dict` reads it back)."""
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> FeatureTransform:
        """The transform that :meth:`to_dict` wrote.

        Raises:
            DataError: for a record that is not a feature transform.
        """
        try:
            return cls(
                columns=tuple(record["columns"]),
                mean=tuple(float(m) for m in record["mean"]),
                scale=tuple(float(s) for s in record["scale"]),
                features=tuple(record.get("features", ())),
                categories={k: list(v) for k, v in record.get("categories", {}).items()},
            )
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"not a feature transform record: {err}") from None


def column_statistics(
    values: np.ndarray, column: str, rows: Sequence | np.ndarray | None = None
) -> tuple[float, float]:
    """``(mean, std)`` of one numeric column, refused where they are not finite.

    Args:
        values: ``(n,)`` the column, in user units.
        column: its name, for the message.
        rows: ``(n,)`` the rows' names, to name the offending ones (default positions).

    Raises:
        DataError: for a non-finite value or one so large that the mean or std
            overflows (``1e300``), naming the column and the offending rows.
    """
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(v.mean())
        std = float(v.std())
    if np.isfinite(mean) and np.isfinite(std):
        return mean, std
    names = np.asarray(np.arange(len(v)) if rows is None else rows, dtype=object)
    bad = ~np.isfinite(v)
    if not bad.any():  # finite values whose squared deviations overflow the sum
        dev = np.abs(v - np.median(v))
        bad = dev > np.sqrt(np.finfo(np.float64).max / len(v))
        bad = bad if bad.any() else dev == dev.max()
    shown = ", ".join(f"{r!r} ({x:g})" for r, x in list(zip(names[bad], v[bad], strict=True))[:5])
    more = f" and {int(bad.sum()) - 5} more" if bad.sum() > 5 else ""
    raise DataError(
        f"feature {column!r} has values too large to standardise (mean {mean:g}, std "
        f"{std:g}) in rows {shown}{more}; fix or remove them, or rescale the column"
    )


def check_finite(
    x: np.ndarray, columns: Sequence[str], rows: Sequence | np.ndarray | None = None
) -> np.ndarray:
    """``x: (n, d)`` (or ``(n, *obs_shape)``) if every value is finite.

    Raises:
        DataError: naming the first column with a NaN or infinite value (one that
            overflows float32 in model units, say) and its rows.
    """
    flat = np.asarray(x).reshape(len(x), -1)
    bad = ~np.isfinite(flat)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        names = np.asarray(np.arange(len(x)) if rows is None else rows, dtype=object)
        hit = names[bad[:, j]].tolist()
        shown = ", ".join(map(repr, hit[:5])) + (
            f" and {len(hit) - 5} more" if len(hit) > 5 else ""
        )
        name = columns[j] if j < len(columns) else f"x{j}"
        raise DataError(
            f"feature {name!r} is not finite in model units (NaN, infinite or beyond float32) "
            f"in rows {shown}; fix or remove them"
        )
    return x


def identity_transform(columns: list[str]) -> FeatureTransform:
    """The transform that leaves ``columns`` as they are."""
    d = len(columns)
    return FeatureTransform(tuple(columns), (0.0,) * d, (1.0,) * d, tuple(columns))


__all__ = ["FeatureTransform", "check_finite", "column_statistics", "identity_transform"]
