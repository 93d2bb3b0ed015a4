"""The ``table`` reader: a CSV or Parquet file, or a pandas DataFrame, one row per
observation, with a group column of any dtype."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from groupvae.config import COLUMN_KINDS
from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers.columns import (
    code_column,
    column_levels,
    column_names,
    declared_kinds,
    detect_kind,
)
from groupvae.data.readers.common import (
    category_codes,
    check_unique,
    encode_groups,
    existing_file,
    names,
    require_columns,
    some,
)
from groupvae.data.readers.transform import FeatureTransform, check_finite, column_statistics
from groupvae.errors import DataError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
MISSING = ("error", "drop")


def _echo(message: str) -> None:
    print(message, file=sys.stderr)


def load_frame(path: str | Path | None, text: Sequence = ()) -> pd.DataFrame:
    """Read a CSV or Parquet file by its suffix.

    ``text`` columns of a CSV are read as strings exactly as written (ids, categories:
    ``007`` stays ``007``); the other columns' types are inferred. A Parquet file's
    columns keep their stored types.

    Raises:
        DataError: for a missing file, another suffix, or a file that is not what its
            suffix says.
    """
    path = existing_file(path, "table", TABLE_SUFFIXES)
    kind = "CSV" if path.suffix.lower() == ".csv" else "Parquet"
    try:
        if kind == "CSV":
            return pd.read_csv(path, dtype={str(c): str for c in text})
        return pd.read_parquet(path)
    except ImportError as err:
        raise DataError(f"reading Parquet needs pyarrow: pip install pyarrow ({err})") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"{path} is not a readable {kind} file: {first}") from None


def _drop_missing(
    frame: pd.DataFrame, used: list[str], missing: str, echo: Callable[[str], None]
) -> pd.DataFrame:
    if missing not in MISSING:
        raise DataError(f"missing must be one of {', '.join(MISSING)}, got {missing!r}")
    bad = frame[used].isna().any(axis=1)
    n_bad = int(bad.sum())
    if not n_bad:
        return frame
    columns = ", ".join(str(c) for c in used if frame[c].isna().any())
    if missing == "error":
        raise DataError(
            f"{n_bad} rows have missing values (in {columns}; rows {some(frame.index[bad])}); "
            "clean them or drop them with --data missing=drop"
        )
    echo(f"dropped {n_bad} of {len(frame)} rows with missing values (in {columns})")
    kept = frame[~bad]
    if kept.empty:
        raise DataError("every row has a missing value; nothing is left to train on")
    return kept


def _apply(frame: pd.DataFrame, transform: FeatureTransform) -> np.ndarray:
    """``x: (n, d)`` in model units, by a recorded transform (the run's, for new rows)."""
    blocks = [
        code_column(frame[col], col, kind, transform.categories.get(str(col)), frame.index)
        for col, kind in zip(transform.features, transform.kinds, strict=True)
    ]
    x = transform.forward(np.concatenate(blocks, axis=1))
    return check_finite(x, transform.columns, frame.index)


def _kinds(frame: pd.DataFrame, features: list, declared: dict[object, str]) -> list[str]:
    """The kind of each feature: declared, else detected (:func:`detect_kind`)."""
    return [declared.get(col) or detect_kind(frame[col], col) for col in features]


def _statistics(v: np.ndarray, col: object, rows: pd.Index) -> tuple[float, float]:
    mean, scale = column_statistics(v, str(col), rows)
    if not scale > 0:
        raise DataError(f"feature {col!r} is constant ({mean:g}); leave it out of features")
    return mean, scale


def _encode_features(
    frame: pd.DataFrame, features: list, kinds: list[str], standardise: bool
) -> tuple[np.ndarray, FeatureTransform]:
    """``x: (n, d)`` in model units and its transform: each feature coded by its kind
    (:func:`code_column`), the continuous ones standardised."""
    blocks, columns, means, scales = [], [], [], []
    categories: dict[str, list[str]] = {}
    for col, kind in zip(features, kinds, strict=True):
        levels = column_levels(frame[col], col, kind)
        block = code_column(frame[col], col, kind, levels, frame.index)
        if levels is not None:
            categories[str(col)] = levels
        mean, scale = 0.0, 1.0
        if kind == "continuous" and standardise:
            mean, scale = _statistics(block[:, 0], col, frame.index)
        blocks.append(block)
        names = column_names(col, kind, levels)
        columns += names
        means += [mean] * len(names)
        scales += [scale] * len(names)
    transform = FeatureTransform(
        tuple(columns), tuple(means), tuple(scales), tuple(features), categories, tuple(kinds)
    )
    x = transform.forward(np.concatenate(blocks, axis=1))
    return check_finite(x, transform.columns, frame.index), transform


Names = str | int | Sequence[str | int] | None
"""One column name, comma-separated names, or a list of them."""


def _declared_names(transform: FeatureTransform | None, **declared: Names) -> dict[str, list]:
    """``kind -> declared column names``: from a recorded transform when there is one
    (the run's kinds), else from the reader's options."""
    if transform is not None:
        return {
            kind: [c for c, k in zip(transform.features, transform.kinds, strict=True) if k == kind]
            for kind in COLUMN_KINDS
        }
    return {kind: names(declared[kind], kind) for kind in COLUMN_KINDS}


def read_table(
    source: str | Path | pd.DataFrame | None = None,
    /,
    *,
    group: str | int | None = None,
    features: Names = None,
    labels: str | int | None = None,
    population: str | int | None = None,
    categorical: Names = None,
    binary: Names = None,
    counts: Names = None,
    continuous: Names = None,
    id: str | int | None = None,
    missing: str = "error",
    standardise: bool = True,
    transform: FeatureTransform | dict | None = None,
    name: str = "table",
    echo: Callable[[str], None] = _echo,
) -> GroupedDataset:
    """A grouped data set from a table with one row per observation.

    A CSV's ``group``, ``id``, ``labels``, ``population`` and ``categorical`` columns
    are read as text, exactly as written (``007`` and ``7`` are two groups, ``01`` and
    ``1`` two categories); numeric features are numbers. A column name is matched as
    written, and an int names the column of that name (``features=2020`` or ``3``).

    Each feature column has a kind (:mod:`groupvae.data.readers.columns`), declared
    with ``categorical``, ``binary``, ``counts`` or ``continuous``, else detected: text
    is categorical, booleans and numbers that are exactly 0 and 1 are binary, other
    numbers continuous (non-negative integers too: declare counts to model them as
    counts). A model of a table with a column that is not continuous gets the mixed
    likelihood (``likelihood="mixed"``, ``columns=data.transform.layout``).

    Args:
        source: a ``.csv`` / ``.parquet`` path, or a ``pandas.DataFrame``.
        group: the group column (any dtype; ``group_ids`` keeps the original ids).
        features: the feature columns (comma-separated, one name, or a list); default
            every column but ``group``, ``labels``, ``population`` and ``id``.
        labels: a class column, kept as ``labels`` (int codes in sorted order).
        population: a population column, kept as ``aux["population"]`` (CPVAE).
        categorical: categorical feature columns: one-hot codes of their levels
            (recorded), a categorical likelihood (softmax) over them.
        binary: binary feature columns (two distinct values; the second in sorted order
            is coded 1): a Bernoulli likelihood.
        counts: count feature columns (non-negative integers, kept as they are): a
            negative binomial likelihood.
        continuous: numeric feature columns to treat as continuous (Gaussian) where
            detection would not (a 0/1 column).
        id: a row-id column; default the frame's index (the row number of a file). Row
            ids must be unique.
        missing: ``"error"`` (default: refuse rows with a missing value, a missing group
            id included, naming them) or ``"drop"`` them (the count is printed through
            ``echo``).
        standardise: standardise continuous features to mean 0, std 1 over all rows (the
            transform is ``data.transform``; a run records it). A column whose mean or
            std is not finite (a value of ``1e300``) is refused.
        transform: a recorded :class:`FeatureTransform` (or its dict) to apply instead
            of fitting one: new rows for a trained run, in its units, kinds and levels.
        name: the data set's name, for records.
        echo: where the reader's notes go (stderr by default).

    Returns:
        A :class:`GroupedDataset` with ``x: (n_obs, d)`` float32 in model units,
        ``aux["row_id"]: (n_obs,)`` and ``transform`` a
        :class:`~groupvae.data.readers.transform.FeatureTransform`.

    Raises:
        DataError: a missing column (naming the columns there are), a column declared
            of two kinds or not among the features, a declared column its values do not
            fit (counts that are not non-negative integers, a binary column without two
            values, a continuous one that is not numeric), text with too many values to
            be detected categorical, missing values or group ids (naming the rows),
            duplicate row ids, a column too large to standardise or not finite in model
            units (naming the rows), or a bad file.
    """
    if group is None:
        raise DataError("the table reader needs the group column: --data group=COLUMN")
    if isinstance(transform, dict):
        transform = FeatureTransform.from_dict(transform)
    elif transform is not None and not isinstance(transform, FeatureTransform):
        raise DataError(f"transform must be a recorded feature transform, got {transform!r}")
    if not callable(echo):
        raise DataError(f"echo must be a function, got {echo!r}")
    if transform is not None:
        features = list(transform.features)
    declared = _declared_names(
        transform, categorical=categorical, binary=binary, counts=counts, continuous=continuous
    )
    feat_names = names(features)
    keys = [c for c in (group, labels, population, id) if c is not None]
    text = keys + declared["categorical"]
    frame = source if isinstance(source, pd.DataFrame) else load_frame(source, text)
    where = "the table" if isinstance(source, pd.DataFrame) else str(source)
    found = dict(zip(keys, require_columns(frame, keys, where), strict=True))
    group, id = found[group], found.get(id)
    labels, population = found.get(labels), found.get(population)
    special = list(found.values())
    feats = (
        require_columns(frame, feat_names, where)
        if feat_names
        else [c for c in frame.columns if c not in special]
    )
    if not feats:
        raise DataError(f"{where} has no feature columns besides {', '.join(map(str, special))}")
    found_kinds = {k: require_columns(frame, v, where) for k, v in declared.items()}
    kinds = declared_kinds(found_kinds, feats)
    frame = _drop_missing(frame, [*special, *feats], missing, echo)
    row_id = frame[id].to_numpy() if id is not None else frame.index.to_numpy()
    check_unique(row_id, f"the id column {id!r}" if id is not None else "the table's index")
    if transform is None:
        x, transform = _encode_features(frame, feats, _kinds(frame, feats, kinds), standardise)
    else:
        x = _apply(frame, transform)
    codes, ids = encode_groups(frame[group], frame.index, f"the group column {group!r}")
    aux = {"row_id": row_id}
    if population is not None:
        aux["population"] = category_codes(frame[population])
    return GroupedDataset(
        x=x,
        group=codes,
        labels=None if labels is None else category_codes(frame[labels]),
        aux=aux,
        group_ids=ids,
        name=name,
        transform=transform,
    )


__all__ = ["TABLE_SUFFIXES", "load_frame", "read_table"]
