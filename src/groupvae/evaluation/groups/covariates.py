"""Group covariates: how well each group-level column (a donor's age, a school's
region), which the model never saw, is predicted from the groups' codes, against the
pseudobulk baseline (each group's mean observation: :func:`groupvae.data.group_level.pseudobulk`).

Each column is predicted by a linear model fitted on some groups and scored on the
others, cross-validated over groups (scikit-learn): ridge regression with its penalty
chosen by leave-one-out inside each training fold (``RidgeCV``) and scored by ``R^2`` for
a numeric column; logistic regression scored by accuracy for a categorical one. The
features are standardised inside each fold. The same folds score every representation,
and a chance baseline (the training folds' mean, or their most frequent class) shows
what no information gives: ``R^2 <= 0``, the majority share.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from groupvae.errors import DataError

NUMERIC_MIN_DISTINCT = 6
"""A numeric column with at least this many distinct values is a quantity (R^2); with
fewer (a 0/1 flag, a grade from 1 to 5) it is a category (accuracy)."""

CHANCE = "chance"
"""The name of the chance baseline among the representations scored."""

COLUMNS = (
    "column",
    "kind",
    "metric",
    "representation",
    "mean",
    "std",
    "folds",
    "n_groups",
    "note",
)
"""The columns of :func:`covariate_scores`'s table."""


def covariate_kind(values: pd.Series) -> str:
    """``"numeric"`` for a numeric column of at least :data:`NUMERIC_MIN_DISTINCT`
    distinct values, else ``"categorical"``."""
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    )
    return "numeric" if numeric and values.nunique() >= NUMERIC_MIN_DISTINCT else "categorical"


def _folds(kind: str, y: np.ndarray, folds: int, seed: int) -> tuple[object | None, str]:
    """A scikit-learn splitter for ``y``, or ``None`` and why none fits."""
    # deferred: scikit-learn is slow to import
    from sklearn.model_selection import KFold, StratifiedKFold

    if kind == "numeric":
        n_splits = min(folds, len(y) // 2)  # at least 2 groups in every test fold
        if n_splits < 2:
            return None, f"{len(y)} groups with a value: too few to cross-validate"
        return KFold(n_splits, shuffle=True, random_state=seed), ""
    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2:
        return None, "one value in every group"
    if counts.min() < 2:
        return None, f"{int((counts < 2).sum())} of its {len(counts)} values name a single group"
    n_splits = min(folds, int(counts.min()))
    return StratifiedKFold(n_splits, shuffle=True, random_state=seed), ""


def _estimators(kind: str) -> dict[str, object]:
    """The model of a representation and the chance baseline, for ``kind``."""
    # deferred: scikit-learn is slow to import
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "numeric":
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
        return {"model": model, CHANCE: DummyRegressor()}
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return {"model": model, CHANCE: DummyClassifier(strategy="most_frequent")}


def covariate_scores(
    representations: Mapping[str, np.ndarray],
    covariates: pd.DataFrame,
    *,
    folds: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """Cross-validated scores of predicting each group-level column from each
    representation of the groups.

    Args:
        representations: name -> ``(n_groups, p)`` features of the groups, in the rows'
            order of ``covariates``: e.g. ``{"group codes": u_mean, "pseudobulk":
            pseudobulk(x, group, n_groups)}``.
        covariates: ``(n_groups, n_columns)`` one value per group and column (missing
            values leave that group out for that column).
        folds: cross-validation folds (fewer where a column has too few groups, or a
            category too few members: each test fold holds at least 2 groups, and every
            category is in every training fold).
        seed: seed of the folds.

    Returns:
        One row per column and representation (plus the chance baseline, named
        :data:`CHANCE`): ``column``, ``kind`` (``numeric`` or ``categorical``),
        ``metric`` (``r2`` or ``accuracy``), ``representation``, ``mean`` and ``std``
        of the score over the folds, ``folds``, ``n_groups`` (with a value), and
        ``note`` (why a column was not scored: its scores are then NaN).

    Raises:
        DataError: for representations whose rows do not match ``covariates``, values
            that are not finite, or ``folds < 2``.
    """
    # deferred: scikit-learn is slow to import
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_val_score

    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise DataError(f"folds must be a whole number >= 2, got {folds!r}")
    arrays = {}
    for name, values in representations.items():
        a = np.asarray(values, dtype=np.float64)
        a = a.reshape(len(a), -1)
        if len(a) != len(covariates) or not np.isfinite(a).all():
            raise DataError(
                f"representation {name!r} must have one finite row per group "
                f"({len(covariates)}), got shape {a.shape}"
            )
        arrays[name] = a
    rows = []
    for column in covariates.columns:  # a loop over columns: each is one question
        values = covariates[column]
        keep = values.notna().to_numpy()
        kind = covariate_kind(values[keep])
        y = values[keep].to_numpy()
        y = y.astype(np.float64) if kind == "numeric" else y.astype(str)
        splitter, note = _folds(kind, y, folds, seed)
        metric = "r2" if kind == "numeric" else "accuracy"
        estimators = _estimators(kind)
        for name in (*arrays, CHANCE):
            row = {
                "column": str(column),
                "kind": kind,
                "metric": metric,
                "representation": name,
                "mean": np.nan,
                "std": np.nan,
                "folds": 0,
                "n_groups": int(keep.sum()),
                "note": note,
            }
            if splitter is not None:
                x = arrays[name][keep] if name != CHANCE else np.zeros((len(y), 1))
                estimator = estimators["model" if name != CHANCE else CHANCE]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    scores = cross_val_score(estimator, x, y, cv=splitter, scoring=metric)
                row.update(mean=float(scores.mean()), std=float(scores.std()), folds=len(scores))
            rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


__all__ = ["CHANCE", "COLUMNS", "NUMERIC_MIN_DISTINCT", "covariate_kind", "covariate_scores"]
