"""New groups: the codes of groups that training never saw, and their nearest known
groups, in one pass of the amortised group encoder (no retraining).

A group VAE's group posterior ``q(u | x_G)`` is a function of the group's own members
only (a product of Normals, an average or a Deep Sets encoder, evaluated per group by
segment operations), so a new group's code is exactly the code it would get if it were
encoded together with the training data (``tests/test_group_analyses.py`` checks this
bit for bit). A model whose group representation is a learned lookup table per group
(scvi-tools' MrVI: ``nn.Embedding(n_sample, ...)``) must be retrained instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError
from groupvae.evaluation.groups.distances import nearest_groups


def code_columns(mean: np.ndarray, std: np.ndarray, prefix: str = "u") -> pd.DataFrame:
    """``(n, d)`` posterior means and stds as columns ``u_0 .. u_{d-1}``, ``u_0_std ..``."""
    cols = [f"{prefix}_{j}" for j in range(mean.shape[1])]
    return pd.concat(
        [pd.DataFrame(mean, columns=cols), pd.DataFrame(std, columns=[f"{c}_std" for c in cols])],
        axis=1,
    )


def new_group_codes(
    model: Any,
    reference: GroupedDataset | Any,
    new: GroupedDataset | Any,
    *,
    k: int = 5,
    metric: str = "w2",
) -> pd.DataFrame:
    """Encode the groups of ``new`` and find each one's ``k`` nearest groups of
    ``reference`` (e.g. the training data) by the distance between their posteriors
    (:func:`~groupvae.evaluation.groups.distances.nearest_groups`).

    Args:
        model: a fitted group VAE (``encode_groups``).
        reference: the known groups (a :class:`GroupedDataset`, or an AnnData object the
            model reads).
        new: the new groups, read the way the reference was (a run's transform and
            categories for a table: ``groupvae.models.saved.run_data``).
        k: nearest reference groups per new group, at most ``reference.n_groups``.
        metric: ``"w2"`` (2-Wasserstein between posteriors) or ``"euclidean"`` (means).

    Returns:
        One row per new group, in sorted-id order: ``group``, ``group_size``,
        ``seen`` (whether the id also names a reference group), the code ``u_*`` and
        its ``u_*_std``, then ``nearest_1 .. nearest_k`` (the reference groups' ids,
        nearest first) and ``<metric>_1 .. <metric>_k`` (their distances, latent
        units).

    Raises:
        DataError: for ``k`` out of range, or data that does not fit the model.
    """
    if hasattr(model, "as_dataset"):
        reference, new = model.as_dataset(reference), model.as_dataset(new)
    if not isinstance(new, GroupedDataset) or not isinstance(reference, GroupedDataset):
        raise DataError("new_group_codes needs GroupedDatasets or AnnData objects")
    ref = model.encode_groups(reference)
    post = model.encode_groups(new)
    found = nearest_groups(
        ref.mean,
        np.exp(0.5 * ref.logvar),
        k=k,
        metric=metric,
        query_mean=post.mean,
        query_std=np.exp(0.5 * post.logvar),
    )
    ref_ids = np.asarray(reference.group_ids, dtype=object)
    ids = np.asarray(new.group_ids, dtype=object)
    seen = np.isin(ids.astype(str), ref_ids.astype(str))
    table = pd.DataFrame({"group": ids, "group_size": new.group_sizes, "seen": seen})
    table = pd.concat([table, code_columns(post.mean, np.exp(0.5 * post.logvar))], axis=1)
    near = {f"nearest_{j + 1}": ref_ids[found.index[:, j]] for j in range(k)}
    dist = {f"{metric}_{j + 1}": found.distance[:, j] for j in range(k)}
    return pd.concat([table, pd.DataFrame({**near, **dist})], axis=1)


__all__ = ["code_columns", "new_group_codes"]
