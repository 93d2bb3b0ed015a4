"""Outlier groups: groups the model explains badly, by their importance-sampled
log-likelihood per observation and a robust z-score.

Each group's ``log p(x_G)`` is estimated by importance sampling with the encoders as
proposals (Burda et al. 2016, eq. 8, applied to a group:
:func:`groupvae.evaluation.likelihood.group_log_likelihoods`), divided by the group's
size to compare groups of different sizes, and scored against all groups by the robust
(modified) z-score of Iglewicz & Hoaglin (1993): ``z = (l - median) / (1.4826 MAD)``,
where the median absolute deviation ``MAD`` times 1.4826 is the standard deviation of a
Normal sample, and neither is moved by the outliers themselves. A group far below the
others (``z < -3.5`` is Iglewicz & Hoaglin's usual cut) fits the model much worse than
the typical group.

This score finds groups whose members the model explains badly *given their group
code*: an unusual spread, unusual relations between features. A group that is unusual
only as a whole (all its members shifted together) is explained by an unusual group
code, which the likelihood charges only once per group (``log p(u)``), shared by its
members; such a group is found by its **isolation** instead, the mean 2-Wasserstein
distance from its posterior to its ``k`` nearest other groups'
(:func:`~groupvae.evaluation.groups.distances.nearest_groups`), also as a robust
z-score (high = isolated). The table gives both.

Caveats: groups the model was trained on fit it better than held-out ones (the
generalisation gap), and the per-observation value still carries the group latent's
cost ``KL(q(u | x_G) || p(u))`` shared over fewer members in small groups; compare groups
of one kind, or read ``group_size`` beside the score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError
from groupvae.evaluation.groups.distances import nearest_groups
from groupvae.evaluation.likelihood import group_log_likelihoods

MAD_TO_STD = 1.4826
"""``1 / Phi^-1(3/4)``: the median absolute deviation of a Normal sample times this is
its standard deviation."""

MEAN_AD_TO_STD = 1.2533
"""``sqrt(pi / 2)``: the mean absolute deviation of a Normal sample times this is its
standard deviation (the fall-back scale when more than half the values are equal)."""


def robust_z(values: np.ndarray) -> np.ndarray:
    """The robust z-score of each value: ``(x - median) / (1.4826 MAD)`` (Iglewicz &
    Hoaglin 1993, *How to Detect and Handle Outliers*, the modified z-score).

    Where more than half the values are equal (``MAD = 0``), the scale is the mean
    absolute deviation from the median times 1.2533; where all are equal, every score is
    0.

    Args:
        values: ``(n,)`` finite numbers.

    Returns:
        ``(n,)`` float64 scores, in robust standard deviations from the median.

    Raises:
        DataError: for an empty array or values that are not finite.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0 or not np.isfinite(x).all():
        raise DataError("robust_z needs at least one value, all finite")
    centre = np.median(x)
    deviation = np.abs(x - centre)
    scale = MAD_TO_STD * np.median(deviation)
    if scale == 0:
        scale = MEAN_AD_TO_STD * deviation.mean()
    if scale == 0:
        return np.zeros_like(x)
    return (x - centre) / scale


def outlier_table(
    log_likelihood: np.ndarray,
    group_size: np.ndarray,
    group_ids: np.ndarray,
    isolation: np.ndarray | None = None,
) -> pd.DataFrame:
    """Rank groups by their log-likelihood per observation, lowest (most unusual) first.

    Args:
        log_likelihood: ``(n_groups,)`` ``log p(x_G)`` of each group (nats).
        group_size: ``(n_groups,)`` observations per group.
        group_ids: ``(n_groups,)`` the user's group ids.
        isolation: ``(n_groups,)`` each group's mean distance to its nearest other
            groups (latent units), or ``None``.

    Returns:
        One row per group, sorted by ``robust_z`` (lowest first): ``group``,
        ``group_size``, ``log_likelihood`` (nats per group), ``log_likelihood_per_obs``
        (nats per observation), ``robust_z`` (:func:`robust_z` of the latter), with
        ``isolation`` its value and ``isolation_z`` its robust z (high = isolated), and
        ``rank`` (1 = the most unusual group).

    Raises:
        DataError: for arrays of different lengths, sizes below 1 or values that are
            not finite.
    """
    log_likelihood = np.asarray(log_likelihood, dtype=np.float64)
    size = np.asarray(group_size)
    ids = np.asarray(group_ids, dtype=object)
    if not len(log_likelihood) == len(size) == len(ids):
        raise DataError(
            f"log_likelihood, group_size and group_ids must have one value per group, got "
            f"{len(log_likelihood)}, {len(size)} and {len(ids)}"
        )
    if (size < 1).any():
        raise DataError("every group needs at least one observation")
    per_obs = log_likelihood / size
    table = pd.DataFrame(
        {
            "group": ids,
            "group_size": size.astype(np.int64),
            "log_likelihood": log_likelihood,
            "log_likelihood_per_obs": per_obs,
            "robust_z": robust_z(per_obs),
        }
    )
    if isolation is not None:
        isolation = np.asarray(isolation, dtype=np.float64)
        if len(isolation) != len(ids):
            raise DataError(f"isolation must have one value per group, got {len(isolation)}")
        table["isolation"] = isolation
        table["isolation_z"] = robust_z(isolation)
    table = table.sort_values("robust_z", kind="stable").reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table


def group_outliers(
    model: Any,
    data: GroupedDataset | Any,
    *,
    n_samples: int = 100,
    seed: int = 0,
    k: int = 5,
) -> pd.DataFrame:
    """Every group of ``data`` ranked by how badly the model explains it
    (:func:`outlier_table` of the importance-sampled ``log p(x_G)``), with its isolation
    among the groups (the mean 2-Wasserstein distance to its ``k`` nearest other groups;
    for models with a group latent and at least 2 groups).

    Args:
        model: a fitted group VAE (:class:`~groupvae.evaluation.protocols.LikelihoodModel`).
        data: the groups (a :class:`GroupedDataset`, or an AnnData object the model
            reads: ``model.as_dataset``).
        n_samples: importance samples per group (``K``; 1 is the ELBO).
        seed: seed of the samples.
        k: nearest other groups that a group's isolation is measured against (at most
            ``n_groups - 1``).

    Returns:
        The :func:`outlier_table`, most unusual group first.

    Raises:
        DataError: for ``n_samples < 1`` or data that does not fit the model.
    """
    if hasattr(model, "as_dataset"):
        data = model.as_dataset(data)
    log_p = group_log_likelihoods(model, data, n_samples=n_samples, seed=seed)
    isolation = None
    if getattr(model, "has_group_latent", False) and data.n_groups > 1:
        post = model.encode_groups(data)
        near = nearest_groups(
            post.mean, np.exp(0.5 * np.asarray(post.logvar)), k=min(k, data.n_groups - 1)
        )
        isolation = near.distance.mean(axis=1)
    return outlier_table(log_p, data.group_sizes, data.group_ids, isolation)


__all__ = ["MAD_TO_STD", "group_outliers", "outlier_table", "robust_z"]
