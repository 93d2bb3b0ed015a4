"""What every reader shares: file checks, group ids of any dtype, and option parsing."""

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


def names(value: str | Sequence[str] | None) -> list[str]:
    """A comma-separated string or a list of column names, as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def encode_groups(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group ids of any dtype as ``(codes: (n,) int64 in [0, G), ids: (G,) originals)``,
    ids in sorted order where they sort (else in order of appearance)."""
    try:
        codes, ids = pd.factorize(pd.Series(values), sort=True)
    except TypeError:  # ids of mixed types that do not sort
        codes, ids = pd.factorize(pd.Series(values), sort=False)
    return codes.astype(np.int64), np.asarray(ids)


def category_codes(values: pd.Series) -> np.ndarray:
    """``(n,)`` int64 codes of a label column in sorted category order."""
    return pd.factorize(values, sort=True)[0].astype(np.int64)


def require_columns(frame: pd.DataFrame, wanted: Sequence[str], where: str) -> None:
    """Raise :class:`DataError` naming the columns there are if one of ``wanted`` is missing."""
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns))
        raise DataError(f"{where} has no column(s) {missing}; its columns are: {have}")


__all__ = ["category_codes", "encode_groups", "existing_file", "names", "require_columns"]
