"""The ``table`` reader: a CSV or Parquet file, or a pandas DataFrame, one row per
observation, with a group column of any dtype."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from groupvae.data.grouped import GroupedDataset
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


def _known_categories(values: pd.Series, col: str, cats: list[str]) -> None:
    unknown = sorted(set(values.astype(str)) - set(cats))
    if unknown:
        raise DataError(
            f"feature {col!r} has categories {unknown[:5]} the run was not trained on "
            f"(it knows {cats}); drop those rows or train again"
        )


def _apply(frame: pd.DataFrame, transform: FeatureTransform) -> np.ndarray:
    """``x: (n, d)`` in model units, by a recorded transform (the run's, for new rows)."""
    blocks = []
    for col in transform.features:
        values = frame[col]
        if col in transform.categories:
            cats = transform.categories[col]
            _known_categories(values, col, cats)
            blocks.append(values.astype(str).to_numpy()[:, None] == np.asarray(cats)[None])
        else:
            blocks.append(values.to_numpy(dtype=np.float64)[:, None])
    x = transform.forward(np.concatenate(blocks, axis=1).astype(np.float64))
    return check_finite(x, transform.columns, frame.index)


def _encode_features(
    frame: pd.DataFrame, features: list[str], categorical: set[str], standardise: bool
) -> tuple[np.ndarray, FeatureTransform]:
    """``x: (n, d)`` in model units and its transform (one-hot categories, standardised
    numbers)."""
    blocks, columns, means, scales = [], [], [], []
    categories: dict[str, list[str]] = {}
    for col in features:
        values = frame[col]
        if col in categorical:
            cats = sorted(pd.unique(values.astype(str)))
            categories[col] = cats
            onehot = (values.astype(str).to_numpy()[:, None] == np.asarray(cats)[None]).astype(
                np.float64
            )
            blocks.append(onehot)
            columns += [f"{col}={c}" for c in cats]
            means += [0.0] * len(cats)
            scales += [1.0] * len(cats)
            continue
        if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
            raise DataError(
                f"feature {col!r} is not numeric (dtype {values.dtype}); declare it "
                f"categorical (--data categorical={col}) or leave it out of features"
            )
        v = values.to_numpy(dtype=np.float64)
        mean, scale = column_statistics(v, str(col), frame.index) if standardise else (0.0, 1.0)
        if standardise and not scale > 0:
            raise DataError(f"feature {col!r} is constant ({mean:g}); leave it out of features")
        blocks.append(v[:, None])
        columns.append(str(col))
        means.append(mean)
        scales.append(scale)
    transform = FeatureTransform(
        tuple(columns), tuple(means), tuple(scales), tuple(features), categories
    )
    x = transform.forward(np.concatenate(blocks, axis=1))
    return check_finite(x, transform.columns, frame.index), transform


def read_table(
    source: str | Path | pd.DataFrame | None = None,
    /,
    *,
    group: str | int | None = None,
    features: str | int | Sequence[str | int] | None = None,
    labels: str | int | None = None,
    population: str | int | None = None,
    categorical: str | int | Sequence[str | int] | None = None,
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

    Args:
        source: a ``.csv`` / ``.parquet`` path, or a ``pandas.DataFrame``.
        group: the group column (any dtype; ``group_ids`` keeps the original ids).
        features: the feature columns (comma-separated, one name, or a list); default
            every column but ``group``, ``labels``, ``population`` and ``id``.
        labels: a class column, kept as ``labels`` (int codes in sorted order).
        population: a population column, kept as ``aux["population"]`` (CPVAE).
        categorical: feature columns to one-hot encode (the categories are recorded).
        id: a row-id column; default the frame's index (the row number of a file). Row
            ids must be unique.
        missing: ``"error"`` (default: refuse rows with a missing value, a missing group
            id included, naming them) or ``"drop"`` them (the count is printed through
            ``echo``).
        standardise: standardise numeric features to mean 0, std 1 over all rows (the
            transform is ``data.transform``; a run records it). A column whose mean or
            std is not finite (a value of ``1e300``) is refused.
        transform: a recorded :class:`FeatureTransform` (or its dict) to apply instead
            of fitting one: new rows for a trained run, in its units and categories.
        name: the data set's name, for records.
        echo: where the reader's notes go (stderr by default).

    Returns:
        A :class:`GroupedDataset` with ``x: (n_obs, d)`` float32 in model units,
        ``aux["row_id"]: (n_obs,)`` and ``transform`` a
        :class:`~groupvae.data.readers.transform.FeatureTransform`.

    Raises:
        DataError: a missing column (naming the columns there are), a non-numeric
            feature not declared categorical, missing values or group ids (naming the
            rows), duplicate row ids, a column too large to standardise or not finite in
            model units (naming the rows), or a bad file.
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
        features, categorical = list(transform.features), list(transform.categories)
    feat_names, cat_names = names(features), names(categorical, "categorical")
    keys = [c for c in (group, labels, population, id) if c is not None]
    frame = source if isinstance(source, pd.DataFrame) else load_frame(source, keys + cat_names)
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
    cats = set(require_columns(frame, cat_names, where))
    undeclared = sorted(map(str, cats - set(feats)))
    if undeclared:
        raise DataError(f"categorical column(s) {undeclared} are not among the features {feats}")
    frame = _drop_missing(frame, [*special, *feats], missing, echo)
    row_id = frame[id].to_numpy() if id is not None else frame.index.to_numpy()
    check_unique(row_id, f"the id column {id!r}" if id is not None else "the table's index")
    if transform is None:
        x, transform = _encode_features(frame, feats, cats, standardise)
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
