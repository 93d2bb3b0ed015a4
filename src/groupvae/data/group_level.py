"""Group-level views of per-observation data: the columns that are constant within
groups, and pseudobulk profiles (each group's mean observation).

Both are segment operations over the flat ``group`` index vector (a sparse
group-by-observation indicator, or pandas' vectorised ``groupby``), with no Python loop
over groups or observations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from groupvae.errors import DataError

DEFAULT_LIBRARY_SIZE = 1e4
"""The library size that count profiles are normalised to (scVI's and Seurat's 10,000)."""


def _check_group(group: np.ndarray, n_obs: int, n_groups: int) -> np.ndarray:
    group = np.asarray(group)
    if group.shape != (n_obs,):
        raise DataError(f"group must have shape (n_obs,) = ({n_obs},), got {group.shape}")
    if n_obs and (group.min() < 0 or group.max() >= n_groups):
        raise DataError(f"group ids must lie in [0, {n_groups}), got {group.min()}..{group.max()}")
    return group.astype(np.int64)


def group_indicator(group: np.ndarray, n_groups: int) -> sp.csr_matrix:
    """The sparse ``(n_groups, n_obs)`` 0/1 matrix ``A[g, i] = [group_i == g]``: ``A @ x``
    sums each group's rows.

    Args:
        group: ``(n_obs,)`` int group index in ``[0, n_groups)``.
        n_groups: the number of groups ``G``.
    """
    n = len(group)
    group = _check_group(group, n, n_groups)
    ones = np.ones(n, dtype=np.float64)
    return sp.csr_matrix((ones, (group, np.arange(n))), shape=(n_groups, n))


def group_level_columns(frame: pd.DataFrame, group: np.ndarray, n_groups: int) -> pd.DataFrame:
    """The columns of ``frame`` that are constant within every group, one row per group.

    A column is kept if no group holds two distinct values of it (a missing value counts
    as a value: a group where it is sometimes missing is not constant).

    Args:
        frame: ``(n_obs, ...)`` per-observation columns (an AnnData ``.obs``, a table), in
            the order of ``group``.
        group: ``(n_obs,)`` int group index in ``[0, n_groups)``.
        n_groups: the number of groups ``G``; every group must have a row.

    Returns:
        ``(n_groups, n_kept)``: each kept column's value in each group, indexed
        ``0 .. G-1`` (the group index); the columns keep their dtypes.

    Raises:
        DataError: for a ``group`` of the wrong shape or range, or a group without rows.
    """
    group = _check_group(group, len(frame), n_groups)
    if np.bincount(group, minlength=n_groups).min(initial=1) == 0:
        raise DataError("every group needs at least one row")
    frame = frame.reset_index(drop=True)
    if frame.shape[1] == 0:
        return pd.DataFrame(index=pd.RangeIndex(n_groups))
    grouped = frame.groupby(group, sort=True)
    distinct = grouped.nunique(dropna=False)
    constant = [c for c in frame.columns if bool((distinct[c] <= 1).all())]
    out = grouped[constant].first() if constant else pd.DataFrame(index=distinct.index)
    out = out.reindex(pd.RangeIndex(n_groups))
    for c in constant:  # first() skips missing values; a group of only missing keeps NaN
        if isinstance(frame[c].dtype, pd.CategoricalDtype):
            out[c] = pd.Categorical(out[c], categories=frame[c].cat.categories)
    return out


def pseudobulk(
    x: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    *,
    counts: bool = False,
    library_size: float = DEFAULT_LIBRARY_SIZE,
) -> np.ndarray:
    """Each group's pseudobulk profile, the simple group-level baseline of single-cell
    analysis (e.g. Squair et al. 2021, *Nat. Commun.* 12:5692).

    Args:
        x: ``(n_obs, n_features)`` observations (flattened if of more dimensions), in the
            model's units (a table's standardised columns) or counts.
        group: ``(n_obs,)`` int group index in ``[0, n_groups)``.
        n_groups: the number of groups ``G``.
        counts: ``False``: each group's mean observation. ``True`` (counts): the sum of
            the group's counts per feature, normalised to ``library_size`` in total and
            log-transformed, ``log1p(library_size * s_gj / sum_j s_gj)``.
        library_size: the total a count profile is normalised to.

    Returns:
        ``(n_groups, n_features)`` float64 profiles, in group-index order.

    Raises:
        DataError: for a ``group`` of the wrong shape or range, or a group without rows.
    """
    x = np.asarray(x).reshape(len(x), -1)
    indicator = group_indicator(group, n_groups)
    sizes = np.asarray(indicator.sum(axis=1)).ravel()
    if sizes.min(initial=1) == 0:
        raise DataError("every group needs at least one row")
    sums = np.asarray(indicator @ x.astype(np.float64))
    if not counts:
        return sums / sizes[:, None]
    totals = sums.sum(axis=1, keepdims=True)
    return np.log1p(library_size * sums / np.where(totals > 0, totals, 1.0))


__all__ = ["DEFAULT_LIBRARY_SIZE", "group_indicator", "group_level_columns", "pseudobulk"]
