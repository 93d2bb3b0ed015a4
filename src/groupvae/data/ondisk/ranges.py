"""Row indices as a few contiguous range reads."""

from __future__ import annotations

import numpy as np

MAX_GAP = 32
"""Rows between two wanted rows that are read and dropped rather than split the read."""


def coalesce(rows: np.ndarray, max_gap: int = MAX_GAP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ranges that cover ``rows``, adjacent (or nearly adjacent) ones merged.

    Args:
        rows: ``(k,)`` int64 file rows in any order (repeats allowed), ``k >= 1``.
        max_gap: merge two ranges at most this many unwanted rows apart.

    Returns:
        ``(starts, stops, take)``: ranges ``[starts[i], stops[i])`` in ascending order,
        and ``take: (k,)`` the positions in the concatenation of those ranges of each of
        ``rows``, in the order asked.
    """
    unique, inverse = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
    breaks = np.flatnonzero(np.diff(unique) > max_gap + 1) + 1
    starts = unique[np.r_[0, breaks]]
    stops = unique[np.r_[breaks - 1, len(unique) - 1]] + 1
    lengths = stops - starts
    base = np.cumsum(lengths) - lengths
    which = np.searchsorted(starts, unique, side="right") - 1
    at = base[which] + unique - starts[which]
    return starts, stops, at[inverse.reshape(-1)]


__all__ = ["MAX_GAP", "coalesce"]
