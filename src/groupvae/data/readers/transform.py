"""The feature transform of a table: how each source column became model columns (its
kind, the one-hot codes of categorical columns, the standardisation of continuous ones),
recorded in the run so that values go back to user units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from groupvae.config import COLUMN_KINDS
from groupvae.errors import DataError


@dataclass(frozen=True)
class FeatureTransform:
    """``z = (x - mean) / scale`` per model column, and how each source column was coded.

    Each source column has a kind (:data:`~groupvae.config.COLUMN_KINDS`):

    * ``continuous``: one model column, standardised when the reader's ``standardise``
      is on (else ``mean 0``, ``scale 1``);
    * ``categorical`` with levels ``a, b``: the model columns ``c=a``, ``c=b``, one-hot
      (``mean 0``, ``scale 1``);
    * ``binary`` with levels ``no, yes``: one model column ``c=yes``, 1 where the value
      is the second level (``mean 0``, ``scale 1``);
    * ``counts``: one model column, the counts as they are (``mean 0``, ``scale 1``).

    Attributes:
        columns: ``(d,)`` names of the model's columns, in ``x``'s order.
        mean, scale: ``(d,)`` location and scale of each model column, in user units.
        features: the source columns, in order (empty: each model column is its own
            continuous source column).
        categories: ``str(source column)`` -> its levels, as text in sorted order, for
            the categorical and binary ones.
        kinds: ``(len(features),)`` the kind of each source column (default: categorical
            for those in ``categories``, else continuous: records written before kinds).

    Raises:
        DataError: for lengths that disagree, a scale that is not positive, a mean or
            scale that is not finite, an unknown kind, a categorical or binary column
            without its levels (a binary one with other than two), or a non-continuous
            column with a mean or scale other than 0 and 1.
    """

    columns: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    features: tuple[str, ...] = ()
    categories: dict[str, list[str]] = field(default_factory=dict)
    kinds: tuple[str, ...] = ()

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
        if not self.kinds:
            kinds = ("categorical" if str(f) in self.categories else "continuous"
                     for f in self.features)  # fmt: skip
            object.__setattr__(self, "kinds", tuple(kinds))
        self._check_kinds()

    def _check_kinds(self) -> None:
        if len(self.kinds) != len(self.features):
            raise DataError("a feature transform needs one kind per source column")
        unknown = sorted(set(self.kinds) - set(COLUMN_KINDS))
        if unknown:
            raise DataError(f"unknown column kind(s) {unknown}; known: {', '.join(COLUMN_KINDS)}")
        for col, kind in zip(self.features, self.kinds, strict=True):
            levels = self.categories.get(str(col))
            if kind in ("categorical", "binary") and not levels:
                raise DataError(f"the {kind} column {col!r} needs its levels in categories")
            if kind == "binary" and len(levels) != 2:
                raise DataError(f"the binary column {col!r} needs two levels, got {levels}")
        if self.features and sum(self.widths) != len(self.columns):
            raise DataError(
                f"the source columns take {sum(self.widths)} model columns, "
                f"not the {len(self.columns)} named"
            )
        kinds = np.asarray(self.column_kinds)
        fixed = (kinds != "continuous") & (
            (np.asarray(self.mean) != 0) | (np.asarray(self.scale) != 1)
        )
        if fixed.any():
            raise DataError(
                f"model column {self.columns[int(np.argmax(fixed))]!r} is not continuous "
                "and must have mean 0 and scale 1"
            )

    @property
    def widths(self) -> tuple[int, ...]:
        """``(len(features),)`` model columns of each source column."""
        return tuple(
            len(self.categories[str(c)]) if k == "categorical" else 1
            for c, k in zip(self.features, self.kinds, strict=True)
        )

    @property
    def column_kinds(self) -> tuple[str, ...]:
        """``(d,)`` the kind of each model column (that of its source column)."""
        if not self.features:
            return ("continuous",) * len(self.columns)
        return tuple(k for k, w in zip(self.kinds, self.widths, strict=True) for _ in range(w))

    @property
    def is_mixed(self) -> bool:
        """Whether a source column is categorical, binary or counts (not all continuous)."""
        return any(k != "continuous" for k in self.kinds)

    @property
    def layout(self) -> str:
        """The column layout ``ModelConfig.columns`` reads
        (:func:`~groupvae.config.parse_columns`): ``"continuous,categorical:3,binary"``."""
        if not self.features:
            return ",".join(["continuous"] * len(self.columns))
        return ",".join(
            f"{k}:{w}" if k == "categorical" else k
            for k, w in zip(self.kinds, self.widths, strict=True)
        )

    @property
    def kind_by_column(self) -> dict[str, str]:
        """``str(source column) -> kind``, for messages."""
        return {str(c): k for c, k in zip(self.features, self.kinds, strict=True)}

    @property
    def log_jacobian(self) -> float:
        """``log |dz/dx| = -sum(log scale)`` over the **continuous** model columns, nats
        per observation: add it to a log-density of the model's ``z`` to get the
        log-density of the raw ``x``. Categorical, binary and count columns are not
        rescaled (their log-probability masses are the same in both units), so they add
        nothing."""
        continuous = np.asarray(self.column_kinds) == "continuous"
        scale = np.asarray(self.scale, dtype=np.float64)[continuous]
        return -float(np.log(scale).sum())

    def forward(self, x: np.ndarray) -> np.ndarray:
        """User units ``(n, d)`` -> model units ``(n, d)`` (float32)."""
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        return ((x - np.asarray(self.mean)) / np.asarray(self.scale)).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Model units ``(n, d)`` (or ``(n, *obs_shape)`` with ``d`` elements) -> user
        units ``(n, d)`` (float64): continuous columns de-standardised, the others (codes,
        probabilities, counts) as they are."""
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
        """The transform that :meth:`to_dict` wrote (one written before column kinds were
        recorded reads as categorical and continuous columns).

        Raises:
            DataError: for a record that is not a feature transform.
        """
        try:
            return cls(
                columns=tuple(record["columns"]),
                mean=tuple(float(m) for m in record["mean"]),
                scale=tuple(float(s) for s in record["scale"]),
                features=tuple(record.get("features", ())),
                categories={str(k): list(v) for k, v in record.get("categories", {}).items()},
                kinds=tuple(record.get("kinds", ())),
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
