"""What every reader shares: file checks, group ids of any dtype, and option parsing.

Ids are kept as written: a file's group, row-id and category columns are read as text
(``007`` and ``7`` are two groups), a column name is matched as written (a column called
``2020`` is found by ``2020`` or ``"2020"``); missing group ids and duplicate row ids are
refused, naming the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from groupvae.errors import DataError


def existing_file(path: str | Path | None, what: str, suffixes: Sequence[str]) -> Path:
    """``path`` as a ``Path`` if it is a file with one of ``suffixes``.

    Raises:
        DataError: if ``path`` is missing, not a file, or has another suffix.
    """
    if path is None:
        raise DataError(f"the {what} reader needs --data path=FILE ({', '.join(suffixes)})")
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file")
    if path.suffix.lower() not in suffixes:
        raise DataError(
            f"{path} has suffix {path.suffix!r}; the {what} reader reads {', '.join(suffixes)}"
        )
    return path


def names(value: str | int | Sequence[str | int] | None, what: str = "features") -> list:
    """A comma-separated string, one column name or a list of them, as a list.

    An int is the column of that name (``--data features=2020`` reads ``2020`` as a
    number; :func:`require_columns` matches it to a column called ``"2020"``).

    Raises:
        DataError: for a value that is not a name or a list of names (``features=1.5``).
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if _is_name(value):
        return [value]
    if isinstance(value, (list, tuple)) and all(_is_name(v) for v in value):
        return list(value)
    raise DataError(f"{what} must be column names, comma-separated (a,b) or a list, got {value!r}")


def _is_name(value: object) -> bool:
    return isinstance(value, str) or (
        isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    )


def some(labels: Sequence | np.ndarray, k: int = 5) -> str:
    """``'a', 'b', 'c' and 4 more``: the first ``k`` of ``labels``, for an error."""
    labels = list(labels)
    shown = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in labels[:k])
    return shown + (f" and {len(labels) - k} more" if len(labels) > k else "")


def check_unique(row_ids: Sequence | np.ndarray, what: str) -> None:
    """Raise :class:`DataError` naming a few duplicate values of ``row_ids``.

    Args:
        row_ids: ``(n,)`` row ids (any dtype).
        what: what they are, for the message (``"id column 'student'"``).
    """
    ids = pd.Series(np.asarray(row_ids, dtype=object))
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        counts = dup.value_counts(sort=False)
        shown = ", ".join(f"{k!r} ({n} rows)" for k, n in list(counts.items())[:5])
        more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
        raise DataError(f"{what} has duplicate values: {shown}{more}; row ids must be unique")


def encode_groups(
    values: pd.Series | np.ndarray, rows: Sequence | np.ndarray | None = None, what: str = "group"
) -> tuple[np.ndarray, np.ndarray]:
    """Group ids of any dtype as ``(codes: (n,) int64 in [0, G), ids: (G,) originals)``,
    ids in sorted order where they sort (else in order of appearance).

    Args:
        values: ``(n,)`` group ids.
        rows: ``(n,)`` the rows' names, to name those without a group (default their
            positions).
        what: the ids' source, for the message (``"group column 'school'"``).

    Raises:
        DataError: for a missing (NaN, None) group id, naming the rows.
    """
    series = pd.Series(np.asarray(values, dtype=object) if not isinstance(values, pd.Series)
                       else values.to_numpy(dtype=object))  # fmt: skip
    missing = series.isna().to_numpy()
    if missing.any():
        names_ = np.arange(len(series)) if rows is None else np.asarray(rows, dtype=object)
        raise DataError(
            f"{what} is missing for {int(missing.sum())} rows ({some(names_[missing])}); "
            "give every row a group or remove those rows"
        )
    try:
        codes, ids = pd.factorize(series, sort=True)
    except TypeError:  # ids of mixed types that do not sort
        codes, ids = pd.factorize(series, sort=False)
    return codes.astype(np.int64), np.asarray(ids)


def category_codes(values: pd.Series) -> np.ndarray:
    """``(n,)`` int64 codes of a label column in sorted category order."""
    return pd.factorize(values, sort=True)[0].astype(np.int64)


def column(frame: pd.DataFrame, name: object) -> object | None:
    """The label of ``frame``'s column ``name``: the column of that label, else the one
    whose label reads the same (``2020`` finds ``"2020"`` and back), else ``None``."""
    if name in frame.columns:
        return name
    matches = [c for c in frame.columns if str(c) == str(name)]
    return matches[0] if len(matches) == 1 else None


def require_columns(frame: pd.DataFrame, wanted: Sequence, where: str) -> list:
    """The labels of the columns ``wanted`` (see :func:`column`).

    Raises:
        DataError: naming the columns there are, if one of ``wanted`` is missing.
    """
    found = [column(frame, c) for c in wanted]
    missing = [c for c, f in zip(wanted, found, strict=True) if f is None]
    if missing:
        have = ", ".join(map(str, frame.columns))
        raise DataError(f"{where} has no column(s) {missing}; its columns are: {have}")
    return found


__all__ = [
    "category_codes",
    "check_unique",
    "column",
    "encode_groups",
    "existing_file",
    "names",
    "require_columns",
    "some",
]
