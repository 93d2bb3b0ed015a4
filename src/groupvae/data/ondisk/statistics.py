"""Per-column means and standard deviations in one streaming pass (float64), merged
slice by slice (Chan et al.); on data of one slice (at most 1M values) they equal
``numpy``'s ``mean`` and ``std`` of each column bit for bit, as the in-memory readers
compute them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from groupvae.errors import DataError

SLICE_VALUES = 1 << 20
"""Values merged at a time (8 MiB in float64): a large chunk is taken in row slices, so
that the pass's memory is a few times this whatever the chunks' size."""


def _slices(chunks: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    for chunk in chunks:
        chunk = np.asarray(chunk)
        rows = max(1, SLICE_VALUES // max(1, chunk[0].size if len(chunk) else 1))
        for a in range(0, len(chunk), rows):
            yield chunk[a : a + rows]


def streaming_moments(
    chunks: Iterable[np.ndarray], columns: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)``, each ``(d,)`` float64, of the columns of the chunks.

    Args:
        chunks: ``(rows, d)`` arrays, the data in row order.
        columns: ``(d,)`` the columns' names, for messages.

    Raises:
        DataError: for no rows, or a column whose mean or std is not finite (NaN or
            infinite values, or values too large), naming it.
    """
    n = 0
    mean = m2 = None
    for chunk in _slices(chunks):
        if not len(chunk):
            continue
        cols = np.ascontiguousarray(np.asarray(chunk, dtype=np.float64).reshape(len(chunk), -1).T)
        with np.errstate(over="ignore", invalid="ignore"):
            mean_b = cols.mean(axis=1)
            m2_b = ((cols - mean_b[:, None]) ** 2).sum(axis=1)
            n_b = cols.shape[1]
            if mean is None:
                mean, m2 = mean_b, m2_b
            else:
                delta = mean_b - mean
                total = n + n_b
                mean = mean + delta * (n_b / total)
                m2 = m2 + m2_b + delta**2 * (n * n_b / total)
        n += n_b
    if mean is None:
        raise DataError("the data has no rows")
    with np.errstate(over="ignore", invalid="ignore"):
        std = np.sqrt(m2 / n)
    bad = ~(np.isfinite(mean) & np.isfinite(std))
    if bad.any():
        col = columns[int(np.argmax(bad))]
        raise DataError(
            f"feature {col!r} has NaN, infinite or too large values (mean {mean[bad][0]:g}, std "
            f"{std[bad][0]:g}); fix or remove them"
        )
    return mean, std


__all__ = ["streaming_moments"]
