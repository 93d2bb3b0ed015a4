"""Disentanglement from known factors: is each factor in the code where it belongs?

Grouped data have two kinds of factors: the *grouping* factors, shared within each group
(the content, e.g. the shape of Shapes with ``group_by="shape"``), and the others, which
vary within groups (the style). A group VAE should put the grouping factors in its group
code ``u`` and the others in its instance code ``v`` (ML-VAE section 1 and Fig. 1).

For each factor ``f`` and each code, gradient-boosted trees (scikit-learn's
``HistGradientBoosting*``, as disentanglement_lib's DCI uses boosted trees) predict ``f``
from the code; they are fitted on the observations of a random half of the groups (with
early stopping on a tenth of them) and scored on the other half. The group code of an
observation is its group's posterior mean. Scores:

* categorical factors: accuracy, normalised as ``(acc - chance) / (1 - chance)``, with
  ``chance`` the most frequent value's share of the scored half;
* continuous factors: the coefficient of determination ``R^2``.

Both normalised scores ``I(f, code)`` are clipped to ``[0, 1]`` (0: no better than
chance, 1: perfect). With ``right(f)`` the code where ``f`` belongs and ``wrong(f)`` the
other one:

* ``content_score = mean over grouping factors of I(f, u) - I(f, v)``;
* ``style_score = mean over other factors of I(f, v) - I(f, u)``;
* ``disentanglement = (content_score + style_score) / 2``, in ``[-1, 1]``, so that the
  (usually single) grouping factor weighs as much as all the others together.

A perfect representation (the true grouping factors as ``u``, the others as ``v``) scores
about 1; a constant one about 0; a swapped one (grouping factors in ``v``) is negative.
This is in the spirit of disentanglement_lib's "metric as a pure function of codes and
factors" and of the CxVAE paper's u-/v-prediction errors (section 5).

Limits: a factor that the images do not determine cannot score in either code. On
Shapes, ``rotation`` is ambiguous for symmetric shapes (a circle's not at all), so it
scores near 0 in both codes and pulls ``style_score`` towards 0 for every model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from groupvae.data.grouped import GroupedDataset
from groupvae.data.shapes import CATEGORICAL, FACTORS
from groupvae.errors import DataError
from groupvae.evaluation.probes import chance_accuracy, split_groups_in_half
from groupvae.evaluation.protocols import GroupEncoder

MAX_TREES = 100
"""Boosting iterations of each factor predictor (fewer with early stopping)."""


@dataclass(frozen=True)
class Factors:
    """Known factors of each observation.

    Attributes:
        names: ``(n_factors,)`` factor names.
        values: ``(n_obs, n_factors)`` float64 values (integer codes for categorical
            factors).
        in_group: ``(n_factors,)`` bool, ``True`` for the grouping factors.
        categorical: ``(n_factors,)`` bool, ``True`` for categorical factors.
    """

    names: tuple[str, ...]
    values: np.ndarray
    in_group: np.ndarray
    categorical: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.names)
        if self.values.ndim != 2 or self.values.shape[1] != n:
            raise DataError(f"values must have shape (n_obs, {n}), got {self.values.shape}")
        if self.in_group.shape != (n,) or self.categorical.shape != (n,):
            raise DataError(f"in_group and categorical must have shape ({n},)")
        if not self.in_group.any() or self.in_group.all():
            raise DataError("need at least one grouping factor and at least one other factor")


def shapes_factors(data: GroupedDataset) -> Factors:
    """The factors of a Shapes data set (:func:`groupvae.data.make_shapes`).

    The grouping factors are those equal to a column of ``data.u`` in every observation.

    Raises:
        DataError: if ``data`` lacks ``u`` or one of the Shapes factors in ``aux``.
    """

    missing = [f for f in FACTORS if f not in data.aux]
    if data.u is None or missing:
        raise DataError(
            f"disentanglement needs the Shapes factors in aux and the group factors u; "
            f"{data.name!r} lacks {'u' if data.u is None else missing}"
        )
    values = np.stack([np.asarray(data.aux[f], dtype=np.float64) for f in FACTORS], axis=1)
    u = data.u.astype(np.float32)[data.group]  # (n_obs, d_u)
    equal = u[:, :, None] == values.astype(np.float32)[:, None, :]  # (n_obs, d_u, F)
    in_group = equal.all(axis=0).any(axis=0)
    categorical = np.array([f in CATEGORICAL for f in FACTORS])
    return Factors(FACTORS, values, in_group, categorical)


def factor_score(
    features: np.ndarray,
    target: np.ndarray,
    fit: np.ndarray,
    *,
    categorical: bool,
    seed: int = 0,
    max_train: int = 5000,
) -> tuple[float, float]:
    """How well gradient-boosted trees predict one factor from a code, on held-out rows.

    Args:
        features: ``(n_obs, d)`` codes.
        target: ``(n_obs,)`` factor values.
        fit: ``(n_obs,)`` bool, the rows to fit on; the others are scored.
        categorical: classify (accuracy) instead of regress (``R^2``).
        seed: seed of the predictor and of the subsample of at most ``max_train`` rows.

    Returns:
        ``(raw, normalised)``: accuracy or ``R^2`` on the scored rows, and the score
        clipped to ``[0, 1]`` after mapping chance to 0 (accuracy:
        ``(acc - chance) / (1 - chance)``).
    """
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(fit)
    if len(rows) > max_train:
        rows = rng.choice(rows, max_train, replace=False)
    test = ~fit
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    # deferred: scikit-learn is slow to import
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    kind = HistGradientBoostingClassifier if categorical else HistGradientBoostingRegressor
    predictor = kind(max_iter=MAX_TREES, early_stopping=len(rows) >= 100, random_state=seed)
    with threadpool_limits(limits=1):  # small problems: threads only add overhead
        if categorical and len(np.unique(y[rows])) < 2:  # a constant factor in the half
            pred = np.full(int(test.sum()), y[rows][0])
        else:
            predictor.fit(x[rows], y[rows])
            pred = predictor.predict(x[test])
    if categorical:
        raw = float(np.mean(pred == y[test]))
        chance = chance_accuracy(y[test])
        normalised = (raw - chance) / (1 - chance) if chance < 1 else 0.0
    else:
        var = float(np.var(y[test]))
        raw = 1 - float(np.mean((pred - y[test]) ** 2)) / var if var > 0 else 0.0
        normalised = raw
    return raw, float(np.clip(normalised, 0.0, 1.0))


def disentanglement_scores(
    group_code: np.ndarray,
    instance_code: np.ndarray,
    group: np.ndarray,
    factors: Factors,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """Per-factor predictability from each code, and the summary scores.

    See the module docstring for the definitions.

    Args:
        group_code: ``(n_groups, d_u)`` one code per group (posterior means of
            ``q(u | x_G)``).
        instance_code: ``(n_obs, d_v)`` one code per observation (means of ``q(v | x)``).
        group: ``(n_obs,) int64 in [0, n_groups)``.
        factors: the known factors of each observation.
        seed: seed of the group halves and of the predictors.

    Returns:
        ``{f}_from_group`` and ``{f}_from_instance`` (raw accuracy or ``R^2``) for each
        factor, ``content_score``, ``style_score`` and ``disentanglement``.

    Raises:
        DataError: for codes or factors whose lengths do not match ``group``.
    """
    group = np.asarray(group)
    n_obs = len(group)
    group_code, instance_code = np.asarray(group_code), np.asarray(instance_code)
    if instance_code.ndim != 2 or len(instance_code) != n_obs or len(factors.values) != n_obs:
        raise DataError(
            f"instance_code and factors need one row per observation ({n_obs}), got "
            f"{instance_code.shape} and {factors.values.shape}"
        )
    if group_code.ndim != 2 or len(group_code) <= group.max():
        raise DataError(f"group_code must be (n_groups, d), got {group_code.shape}")
    fit = split_groups_in_half(group, seed=seed)
    codes = {"group": group_code[group], "instance": instance_code}
    metrics: dict[str, float] = {}
    right_minus_wrong = np.empty(len(factors.names))
    for j, name in enumerate(factors.names):  # a handful of factors
        normalised = {}
        for where, code in codes.items():
            raw, normalised[where] = factor_score(
                code, factors.values[:, j], fit, categorical=bool(factors.categorical[j]), seed=seed
            )
            metrics[f"{name}_from_{where}"] = raw
        right, wrong = ("group", "instance") if factors.in_group[j] else ("instance", "group")
        right_minus_wrong[j] = normalised[right] - normalised[wrong]
    metrics["content_score"] = float(right_minus_wrong[factors.in_group].mean())
    metrics["style_score"] = float(right_minus_wrong[~factors.in_group].mean())
    metrics["disentanglement"] = (metrics["content_score"] + metrics["style_score"]) / 2
    return metrics


def shapes_disentanglement(
    model: GroupEncoder,
    data: GroupedDataset,
    *,
    seed: int = 0,
    names: Sequence[str] | None = None,
) -> dict[str, float]:
    """:func:`disentanglement_scores` of a model's codes of Shapes holdout groups.

    Args:
        model: a fitted :class:`~groupvae.models.GroupVAE` (for a VAE, the group code is
            the product of Normals of the members' posteriors).
        data: Shapes groups (see :func:`shapes_factors`).
        seed: seed of the halves and the predictors.
        names: restrict to these factors (default: all six).
    """
    factors = shapes_factors(data)
    if names is not None:
        keep = np.isin(factors.names, list(names))
        factors = Factors(
            tuple(np.asarray(factors.names)[keep]),
            factors.values[:, keep],
            factors.in_group[keep],
            factors.categorical[keep],
        )
    group_code = model.encode_groups(data).mean
    instance_code = model.encode_instances(data).mean
    return disentanglement_scores(group_code, instance_code, data.group, factors, seed=seed)


__all__ = [
    "Factors",
    "disentanglement_scores",
    "factor_score",
    "shapes_disentanglement",
    "shapes_factors",
]
