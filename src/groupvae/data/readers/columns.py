"""The kind of each table column, and its codes in model columns.

A feature column is ``continuous``, ``categorical``, ``binary`` or ``counts``
(:data:`~groupvae.config.COLUMN_KINDS`): declared with the table reader's options
(``--data categorical=a,b binary=c counts=d continuous=e``), else detected from its
values by :func:`detect_kind`. Each kind is coded into model columns by
:func:`code_column` (user units; the reader's transform then standardises the continuous
ones), and a declared column whose values fit no code of its kind is refused in one line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from groupvae.config import COLUMN_KINDS
from groupvae.data.readers.common import some
from groupvae.errors import DataError

MAX_AUTO_LEVELS = 50
"""A text column with more distinct values than this is refused unless declared
categorical: it is more likely a numeric column with a few stray words (``n/a``)."""


def _is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def level_text(values: pd.Series) -> np.ndarray:
    """``(n,)`` the values as level names: text as it is, booleans ``False`` / ``True``,
    whole numbers without a decimal point (``1`` for ``1.0``: the same level whether a
    column was read as integers or as floats), other numbers as Python writes them."""
    if _is_number(values):
        v = values.to_numpy(dtype=np.float64)
        if np.all((np.abs(v) < 2**53) & (v == np.round(v))):  # exact as integers
            return v.astype(np.int64).astype(str)
    return values.astype(str).to_numpy()


def detect_kind(values: pd.Series, column: object) -> str:
    """The kind of an undeclared feature column, from its values.

    * booleans, and numbers whose values are exactly 0 and 1: ``binary`` (Bernoulli);
    * other numbers: ``continuous`` (Gaussian, standardised). Non-negative integers stay
      continuous unless declared ``counts``: an integer column is as often a score,
      age or rating on a grid (well modelled by a standardised Gaussian) as a count,
      and a negative binomial imposes a count's mean-variance relation;
    * text (at most :data:`MAX_AUTO_LEVELS` distinct values): ``categorical``.

    Raises:
        DataError: for text with more distinct values than :data:`MAX_AUTO_LEVELS`, or
            a column that is neither numbers, booleans nor text (dates, say).
    """
    if pd.api.types.is_bool_dtype(values):
        return "binary"
    if _is_number(values):
        return "binary" if set(pd.unique(values)) == {0, 1} else "continuous"
    if pd.api.types.is_object_dtype(values) or isinstance(
        values.dtype, pd.CategoricalDtype | pd.StringDtype
    ):
        levels = pd.unique(values.astype(str))
        if len(levels) > MAX_AUTO_LEVELS:
            raise DataError(
                f"feature {column!r} is text with {len(levels)} distinct values "
                f"({some(levels, 3)}); declare it categorical={column} if it is one, or fix "
                "its values that are not numbers"
            )
        return "categorical"
    raise DataError(
        f"feature {column!r} has dtype {values.dtype}, neither numbers nor text; convert it "
        "or leave it out of features"
    )


def declared_kinds(declared: dict[str, Sequence], features: Sequence) -> dict[object, str]:
    """``column -> kind`` of the declared columns.

    Args:
        declared: ``kind -> the columns declared of that kind`` (frame labels).
        features: the feature columns (frame labels).

    Raises:
        DataError: for a column declared of two kinds, or one that is not a feature.
    """
    kinds: dict[object, str] = {}
    for kind in COLUMN_KINDS:
        for col in declared.get(kind, ()):
            if col in kinds and kinds[col] != kind:
                raise DataError(f"column {col!r} is declared both {kinds[col]} and {kind}")
            kinds[col] = kind
        outside = sorted(str(c) for c in declared.get(kind, ()) if c not in features)
        if outside:
            shown = [str(f) for f in features]
            raise DataError(f"{kind} column(s) {outside} are not among the features {shown}")
    return kinds


def column_levels(values: pd.Series, column: object, kind: str) -> list[str] | None:
    """The levels of a categorical or binary column, as text in sorted order (a binary
    column's second level is coded 1); ``None`` for the other kinds.

    Raises:
        DataError: for a binary column without exactly two distinct values.
    """
    if kind not in ("categorical", "binary"):
        return None
    levels = sorted(str(v) for v in pd.unique(level_text(values)))
    if kind == "binary" and len(levels) != 2:
        fix = f"declare it categorical={column}" if len(levels) > 2 else "leave it out"
        raise DataError(
            f"binary column {column!r} has {len(levels)} distinct value(s) "
            f"({some(levels, 3)}), not two; {fix}"
        )
    return levels


def column_names(column: object, kind: str, levels: list[str] | None) -> list[str]:
    """The model columns of one source column: ``c`` (continuous, counts), ``c=level``
    for each level (categorical), ``c=second level`` (binary)."""
    if kind == "categorical":
        return [f"{column}={level}" for level in levels or []]
    if kind == "binary":
        return [f"{column}={(levels or ['', ''])[1]}"]
    return [str(column)]


def _known(text: np.ndarray, column: object, levels: list[str]) -> None:
    unknown = sorted(set(text) - set(levels))
    if unknown:
        raise DataError(
            f"feature {column!r} has categories {unknown[:5]} the run was not trained on "
            f"(it knows {levels}); drop those rows or train again"
        )


def _counts(values: pd.Series, column: object, rows: np.ndarray) -> np.ndarray:
    if not _is_number(values):
        raise DataError(
            f"counts column {column!r} is not numeric (dtype {values.dtype}); counts are "
            "non-negative integers"
        )
    v = values.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(v) | (v < 0) | (v != np.round(v))
    if bad.any():
        pairs = list(zip(rows[bad], v[bad], strict=True))[:3]
        shown = ", ".join(f"{r!r} ({x:g})" for r, x in pairs)
        raise DataError(
            f"counts column {column!r} has values that are not non-negative integers in rows "
            f"{shown}; fix them, or declare it continuous={column}"
        )
    return v


def code_column(
    values: pd.Series, column: object, kind: str, levels: list[str] | None, rows: Sequence
) -> np.ndarray:
    """``(n, w)`` float64 codes of one source column in user units: the numbers
    (continuous, counts), one-hot codes of ``levels`` (categorical), 1 at the second
    level (binary).

    Args:
        values: ``(n,)`` the column.
        column: its name, for messages.
        kind: one of :data:`~groupvae.config.COLUMN_KINDS`.
        levels: the levels of a categorical or binary column (:func:`column_levels`, or
            a run's recorded ones).
        rows: ``(n,)`` the rows' names, for messages.

    Raises:
        DataError: for a continuous column that is not numeric, a counts column that
            is not non-negative integers, or a level that is not in ``levels``.
    """
    if kind == "counts":
        return _counts(values, column, np.asarray(rows, dtype=object))[:, None]
    if kind == "continuous":
        if not _is_number(values):
            raise DataError(
                f"feature {column!r} is not numeric (dtype {values.dtype}); declare it "
                f"categorical (--data categorical={column}) or leave it out of features"
            )
        return values.to_numpy(dtype=np.float64)[:, None]
    text = level_text(values)
    _known(text, column, levels or [])
    if kind == "binary":
        return (text == levels[1]).astype(np.float64)[:, None]
    return (text[:, None] == np.asarray(levels)[None]).astype(np.float64)


__all__ = [
    "MAX_AUTO_LEVELS",
    "code_column",
    "column_levels",
    "column_names",
    "declared_kinds",
    "detect_kind",
    "level_text",
]
