"""Differential comparison of two sets of groups (condition A against B), per feature, in
the user's units, with scVI's "change" mode (Boyeau et al. 2019, *Deep generative models
for detecting differential expression in single cells*, bioRxiv 794289; scvi-tools'
``differential_expression(mode="change")``).

The effect of a feature is the difference of its decoded mean under the group codes of
set A and of set B. Its posterior is sampled: each of ``n_samples`` draws picks a group
of A and a group of B uniformly, draws a code from each one's posterior ``q(u | x_g)``,
and decodes both with **one shared instance code** ``v``, so that the draw differs only
by the group code (a paired comparison that averages over the observations' own
variation rather than confounding it). ``v`` is drawn from the prior ``N(0, I)``
(``instance="prior"``, the population of observations the model generates) or from the
instance posterior ``q(v | x)`` of an observation of either set picked uniformly
(``instance="data"``, the observations actually seen; needed for a mixture prior).

The effect is ``mean_A - mean_B`` in the user's units (``effect="difference"``: a
table's points, counts at a fixed library size) or, for counts, the log2 fold change
``log2((mean_A + c) / (mean_B + c))`` of the normalised expression (``effect="lfc"``,
``c`` = :data:`PSEUDOCOUNT`; scVI's default effect for counts). Per feature the table
gives the posterior mean and standard deviation of the effect and the probability that
its size exceeds a threshold ``delta`` the user sets, ``P(|effect| > delta)`` (the
"change" hypothesis; ``delta`` is 0.25 for a log2 fold change as in scvi-tools, and a
quarter of each feature's standard deviation in the data for a difference), with its
log-odds (scVI's Bayes factor).

Samples are drawn and decoded in chunks and the statistics accumulated (Chan et al.'s
pairwise update of means and variances), so memory is bounded by one chunk of
``chunk x n_features`` values whatever ``n_samples``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from groupvae.data.group_level import DEFAULT_LIBRARY_SIZE
from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers.transform import FeatureTransform
from groupvae.errors import ConfigError, DataError

EFFECTS = ("auto", "difference", "lfc")
"""``auto``: ``lfc`` for counts, ``difference`` otherwise."""
INSTANCE_CODES = ("prior", "data")
DEFAULT_LFC_DELTA = 0.25
"""scvi-tools' default threshold of a log2 fold change in "change" mode."""
DEFAULT_DIFFERENCE_DELTA = 0.25
"""Without ``delta``, a difference counts as a change beyond this fraction of the
feature's standard deviation in the data (in the user's units)."""
PSEUDOCOUNT = 1e-4
"""Added to normalised expression (counts per ``library_size``) before a log2 ratio."""
MAX_CHUNK_VALUES = 2**22
"""At most this many decoded values (``samples x features``) per chunk and set."""
COLUMNS = (
    "feature",
    "effect",
    "effect_std",
    "prob_change",
    "bayes_factor",
    "mean_a",
    "mean_b",
    "delta",
)


def resolve_groups(data: GroupedDataset, ids: Sequence[Any], name: str) -> np.ndarray:
    """The sorted indices in ``data`` of the groups the user calls ``ids`` (as written:
    ``7`` finds ``"7"``).

    Raises:
        DataError: for an id that is not a group of ``data`` (naming it), or fewer than
            2 distinct groups.
    """
    known = pd.Index(np.asarray(data.group_ids).astype(str))
    wanted = pd.unique(np.asarray(list(ids), dtype=object).astype(str))
    found = known.get_indexer(wanted)
    if (found < 0).any():
        missing = ", ".join(repr(str(w)) for w in wanted[found < 0][:5])
        shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        raise DataError(f"set {name}: {missing} not a group of the data; its groups are: {shown}")
    if len(found) < 2:
        raise DataError(f"set {name} needs at least 2 groups, got {len(found)}")
    return np.sort(found)


class _Moments:
    """Running mean and sum of squared deviations per feature (Chan, Golub & LeVeque
    1979's pairwise update), over chunks of samples."""

    def __init__(self, width: int) -> None:
        self.n = 0
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)

    def add(self, values: np.ndarray) -> None:
        m = len(values)
        mean = values.mean(axis=0)
        m2 = ((values - mean) ** 2).sum(axis=0)
        total = self.n + m
        delta = mean - self.mean
        self.mean = self.mean + delta * (m / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * m / total)
        self.n = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.n - 1, 1))


def _observed_scale(model: Any, data: GroupedDataset, library_size: float) -> np.ndarray:
    """``(n_features,)`` each feature's standard deviation in the data, in the user's
    units (normalised counts for a count model, a table's recorded units)."""
    x = data.x.reshape(data.n_obs, -1).astype(np.float64)
    if getattr(model, "has_count_likelihood", False):
        totals = x.sum(axis=1, keepdims=True)
        x = library_size * x / np.where(totals > 0, totals, 1.0)
    else:
        recorded = getattr(model, "extra_metadata", {}).get("feature_transform")
        if recorded is not None:
            x = FeatureTransform.from_dict(recorded).inverse(x)
    return x.std(axis=0)


def differential_groups(
    model: Any,
    data: GroupedDataset | Any,
    set_a: Sequence[Any],
    set_b: Sequence[Any],
    *,
    n_samples: int = 1000,
    delta: float | None = None,
    effect: str = "auto",
    instance: str = "prior",
    library_size: float = DEFAULT_LIBRARY_SIZE,
    seed: int = 0,
) -> pd.DataFrame:
    """Per feature, the effect of set A's group codes against set B's, its posterior
    spread and the probability that its size exceeds ``delta`` (see the module
    docstring).

    Args:
        model: a fitted group VAE with a group latent (``encode_groups``,
            ``encode_instances``, ``decode_user_units``, ``feature_names``).
        data: the groups (a :class:`GroupedDataset`, or an AnnData object the model
            reads).
        set_a, set_b: the user's ids of at least 2 groups each, no group in both.
        n_samples: posterior draws of the effect.
        delta: the size of a change worth reporting, in the effect's units; default
            0.25 for ``lfc``, a quarter of each feature's standard deviation in the data
            for ``difference``.
        effect: ``"difference"`` (user units), ``"lfc"`` (log2 fold change, count
            models only) or ``"auto"`` (``lfc`` for counts, else ``difference``).
        instance: where the shared instance codes come from: ``"prior"`` or ``"data"``.
        library_size: the library size counts are decoded at.
        seed: seed of the draws (a ``numpy.random.Generator``).

    Returns:
        One row per feature, sorted by the size of the effect (largest first):
        ``feature``, ``effect`` and ``effect_std`` (posterior mean and standard
        deviation), ``prob_change`` (``P(|effect| > delta)``), ``bayes_factor``
        (``log(p / (1 - p))``, p clipped to ``[1e-6, 1 - 1e-6]``), ``mean_a``, ``mean_b``
        (the decoded means in user units) and ``delta``. ``attrs`` records ``effect``,
        ``instance``, ``n_samples``, ``set_a``, ``set_b``.

    Raises:
        DataError: for an unknown group id, a set of fewer than 2 groups, a group in
            both sets, ``n_samples < 2`` or a ``delta`` that is not positive.
        ConfigError: for a model without a group latent, an unknown ``effect`` or
            ``instance``, ``lfc`` for a model that is not of counts, or prior instance
            codes for a model whose instance prior is a mixture.
    """
    if not getattr(model, "has_group_latent", False):
        raise ConfigError("a differential comparison of groups needs a model with a group latent")
    if effect not in EFFECTS:
        raise ConfigError(f"effect must be one of {', '.join(EFFECTS)}, got {effect!r}")
    if instance not in INSTANCE_CODES:
        raise ConfigError(f"instance must be one of {', '.join(INSTANCE_CODES)}, got {instance!r}")
    counts = bool(getattr(model, "has_count_likelihood", False))
    if effect == "auto":
        effect = "lfc" if counts else "difference"
    if effect == "lfc" and not counts:
        raise ConfigError("effect='lfc' is for count models (negative-binomial); use difference")
    if instance == "prior" and getattr(model, "has_mixture_prior", False):
        raise ConfigError("the model's instance prior is a mixture: use instance='data'")
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise DataError(f"n_samples must be a whole number >= 2, got {n_samples!r}")
    if delta is not None and not (np.isfinite(delta) and delta > 0):
        raise DataError(f"delta must be a positive number, got {delta!r}")
    if hasattr(model, "as_dataset"):
        data = model.as_dataset(data)
    a = resolve_groups(data, set_a, "A")
    b = resolve_groups(data, set_b, "B")
    both = np.intersect1d(a, b)
    if len(both):
        ids = np.asarray(data.group_ids)[both[:5]].tolist()
        raise DataError(f"groups {ids} are in both sets; each group belongs to one set")

    union = np.union1d(a, b)
    sub = data.subset_groups(union)  # renumbered 0 .. len(union) - 1 in sorted order
    a_pos, b_pos = np.searchsorted(union, a), np.searchsorted(union, b)
    post = model.encode_groups(sub)
    u_mean, u_std = post.mean, np.exp(0.5 * post.logvar)
    if instance == "data":
        inst = model.encode_instances(sub)
        v_mean, v_std = inst.mean, np.exp(0.5 * inst.logvar)
    else:
        v_dim = model.encode_instances(sub.subset_groups(np.array([0]))).mean.shape[1]
    features = model.feature_names(sub)
    width = len(features)
    if delta is None:
        scale = _observed_scale(model, sub, library_size)
        limit = (
            np.full(width, DEFAULT_LFC_DELTA)
            if effect == "lfc"
            else np.maximum(DEFAULT_DIFFERENCE_DELTA * scale, np.finfo(float).tiny)
        )
    else:
        limit = np.full(width, float(delta))

    rng = np.random.default_rng(seed)
    moments, mean_a, mean_b = _Moments(width), _Moments(width), _Moments(width)
    beyond = np.zeros(width)
    chunk = max(1, min(n_samples, MAX_CHUNK_VALUES // max(width, 1)))
    for start in range(0, n_samples, chunk):  # chunks of draws, not groups or cells
        m = min(chunk, n_samples - start)
        ga, gb = rng.choice(a_pos, m), rng.choice(b_pos, m)
        ua = u_mean[ga] + u_std[ga] * rng.standard_normal((m, u_mean.shape[1]))
        ub = u_mean[gb] + u_std[gb] * rng.standard_normal((m, u_mean.shape[1]))
        if instance == "data":
            cells = rng.integers(0, len(v_mean), m)
            v = v_mean[cells] + v_std[cells] * rng.standard_normal((m, v_mean.shape[1]))
        else:
            v = rng.standard_normal((m, v_dim))
        xa = model.decode_user_units(ua, v, library_size=library_size)
        xb = model.decode_user_units(ub, v, library_size=library_size)
        draws = np.log2((xa + PSEUDOCOUNT) / (xb + PSEUDOCOUNT)) if effect == "lfc" else xa - xb
        moments.add(draws)
        mean_a.add(xa)
        mean_b.add(xb)
        beyond += (np.abs(draws) > limit).sum(axis=0)

    prob = beyond / n_samples
    clipped = np.clip(prob, 1e-6, 1 - 1e-6)
    table = pd.DataFrame(
        {
            "feature": features,
            "effect": moments.mean,
            "effect_std": moments.std,
            "prob_change": prob,
            "bayes_factor": np.log(clipped / (1 - clipped)),
            "mean_a": mean_a.mean,
            "mean_b": mean_b.mean,
            "delta": limit,
        }
    )
    order = np.argsort(-np.abs(table["effect"].to_numpy()), kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    ids = np.asarray(data.group_ids)
    table.attrs.update(
        effect=effect,
        instance=instance,
        n_samples=int(n_samples),
        set_a=ids[a].astype(str).tolist(),
        set_b=ids[b].astype(str).tolist(),
    )
    return table


__all__ = [
    "COLUMNS",
    "DEFAULT_DIFFERENCE_DELTA",
    "DEFAULT_LFC_DELTA",
    "EFFECTS",
    "INSTANCE_CODES",
    "PSEUDOCOUNT",
    "differential_groups",
    "resolve_groups",
]
