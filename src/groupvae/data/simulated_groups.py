"""Simulated grouped data with known answers about the groups: which groups belong
together, which are outliers, and which features differ between two sets of groups
(``groupvae benchmark group-analyses``).

Each group ``g`` has a level ``mu_g`` (``(n_features,)``), built from a 2-d group factor
``z_g`` and a condition:

* **clusters**: ``n_clusters`` centres ``c_k = radius (cos 2 pi k / K, sin 2 pi k / K)``
  evenly on a circle; a group of cluster ``k`` has ``z_g = c_k + spread e_g``,
  ``e_g ~ N(0, I_2)`` (``spread`` is the *between-group spread* within a cluster);
* **planted outliers**: ``n_outliers`` more groups (cluster ``j mod K`` for the ``j``-th)
  with ``z_g = c_k + spread e_g + shift spread c_k / |c_k|``: a group of the cluster,
  then moved outward, away from every other cluster, by ``shift`` times the
  between-group spread;
* **differential features**: the regular groups are split into sets A and B (alternate
  groups within each cluster, so the sets are balanced across clusters; outliers are in
  neither set; half the validation groups are like A's); in set A the
  ``n_differential`` features of ``differential`` (chosen at random) are moved by
  ``effect`` (sign at random), nothing else differs;
* ``mu_g = L z_g + [g in A] beta``, with ``L = sqrt(n_features / 2) Q`` and ``Q`` a random
  ``(n_features, 2)`` matrix of orthonormal columns, so a unit of the factor moves the
  features by one unit root-mean-square.

Each observation ``i`` of group ``g`` adds a 2-d instance factor ``v_i ~ N(0, I_2)``
through another such loading ``M`` (``instance_scale`` root-mean-square per feature):

* ``kind="gaussian"`` (a table): ``x_i = mu_g + M v_i + noise_std eps_i``,
  ``eps_i ~ N(0, I)``;
* ``kind="counts"`` (cells x genes): gene ``j``'s rate is
  ``rho_ij = softmax_j(b_j + log_fold (mu_g + M v_i)_j)`` (``b_j ~ N(0, 1)`` the genes'
  abundances), the library size ``l_i ~ LogNormal(log library_size, 0.3)``, and
  ``x_ij ~ NegativeBinomial(mean l_i rho_ij, dispersion)`` (a Gamma-Poisson mixture, as
  scVI's likelihood); ``noise_std`` is unused and a smaller ``library_size`` is more
  noise.

Every group has ``group_size`` members. ``validation`` holds ``n_validation`` more
regular groups from the same generator, never scored (the early stopping of a model
fitted to ``data``). Everything is drawn from one ``numpy.random.Generator`` seeded by
``seed``, and vectorised (no loop over groups or observations).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError

KINDS = ("gaussian", "counts")
FACTOR_DIM = 2
"""Dimensions of the group factor ``z_g`` and of the instance factor ``v_i``."""
LIBRARY_LOG_STD = 0.3
"""Spread of the log library size of a cell around ``log(library_size)``."""


@dataclass(frozen=True)
class SimulatedGroups:
    """A simulated data set and its known answers.

    Attributes:
        data: the scored groups: ``x`` ``(n_groups * group_size, n_features)`` (float
            values, or counts for ``kind="counts"``), ``u`` the true ``(n_groups, 2)``
            factors ``z_g``, ``aux["level"]`` ``(n_obs, n_features)`` each observation's
            group level ``mu_g``; group ids ``g000, g001, ...``.
        validation: ``n_validation`` more regular groups (ids ``v000, ...``).
        cluster: ``(n_groups,)`` int64 true cluster of each group (an outlier's is the
            cluster it was moved away from).
        outliers: ``(n_outliers,)`` int64 indices of the planted outlier groups.
        set_a, set_b: int64 indices of the two sets of regular groups compared.
        differential: ``(n_features,)`` bool, the features that differ between the sets.
        level: ``(n_groups, n_features)`` float64 true group levels ``mu_g``.
        kind: ``"gaussian"`` or ``"counts"``.
    """

    data: GroupedDataset
    validation: GroupedDataset
    cluster: np.ndarray
    outliers: np.ndarray
    set_a: np.ndarray
    set_b: np.ndarray
    differential: np.ndarray
    level: np.ndarray
    kind: str

    @property
    def regular(self) -> np.ndarray:
        """``(n_groups,)`` bool: the groups that are not planted outliers."""
        mask = np.ones(self.data.n_groups, dtype=bool)
        mask[self.outliers] = False
        return mask


def _loading(rng: np.random.Generator, n_features: int) -> np.ndarray:
    """``(n_features, 2)``: ``sqrt(n_features / 2)`` times orthonormal columns."""
    q, _ = np.linalg.qr(rng.standard_normal((n_features, FACTOR_DIM)))
    return q * np.sqrt(n_features / FACTOR_DIM)


def _observations(
    rng: np.random.Generator,
    kind: str,
    level: np.ndarray,
    group_size: int,
    instance: np.ndarray,
    abundance: np.ndarray,
    *,
    instance_scale: float,
    noise_std: float,
    library_size: float,
    log_fold: float,
    dispersion: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, group)`` of groups with levels ``level`` ``(n, n_features)``, ``group_size``
    members each."""
    n = len(level)
    group = np.repeat(np.arange(n), group_size)
    v = rng.standard_normal((len(group), FACTOR_DIM))
    signal = level[group] + instance_scale * v @ instance.T
    if kind == "gaussian":
        return signal + noise_std * rng.standard_normal(signal.shape), group
    logits = abundance + log_fold * signal
    rate = np.exp(logits - logits.max(axis=1, keepdims=True))
    rate /= rate.sum(axis=1, keepdims=True)
    library = np.exp(np.log(library_size) + LIBRARY_LOG_STD * rng.standard_normal(len(group)))
    mean = library[:, None] * rate
    lam = rng.gamma(dispersion, mean / dispersion)  # NB(mean, dispersion) as Gamma-Poisson
    return rng.poisson(lam).astype(np.float64), group


def simulate_groups(
    kind: str = "gaussian",
    *,
    group_size: int = 20,
    n_clusters: int = 3,
    groups_per_cluster: int = 16,
    n_outliers: int = 3,
    n_validation: int = 12,
    n_features: int = 30,
    n_differential: int = 6,
    radius: float = 1.0,
    spread: float = 0.25,
    shift: float = 6.0,
    effect: float = 0.5,
    instance_scale: float = 1.0,
    noise_std: float = 1.0,
    library_size: float = 1000.0,
    log_fold: float = 0.5,
    dispersion: float = 10.0,
    seed: int = 0,
) -> SimulatedGroups:
    """Simulate groups with planted clusters, outliers and differential features (see
    the module docstring for the model).

    Args:
        kind: ``"gaussian"`` (a table of float features) or ``"counts"``.
        group_size: members of every group.
        n_clusters: ``K``, at least 2.
        groups_per_cluster: regular groups per cluster, at least 2.
        n_outliers: planted outlier groups (``0`` for none).
        n_validation: regular groups of ``validation`` (at least 1).
        n_features: features (genes), at least 4.
        n_differential: features that differ between sets A and B, from 1 to
            ``n_features - 1``.
        radius: distance of the cluster centres from the origin (factor units).
        spread: between-group standard deviation within a cluster (factor units).
        shift: an outlier's move away from its cluster, in multiples of ``spread``.
        effect: the size of the difference of a differential feature (feature units:
            the features' group levels have a root-mean-square of about
            ``sqrt((radius^2 + 2 spread^2) / 2)``).
        instance_scale: root-mean-square of the instance factor's effect per feature.
        noise_std: the Gaussian noise of a table's observations.
        library_size: counts: the median total count of a cell.
        log_fold: counts: the factor of the levels on the log scale of the rates.
        dispersion: counts: the negative binomial's inverse dispersion ``theta``
            (variance ``mean + mean^2 / theta``).
        seed: seed of the ``numpy.random.Generator``.

    Returns:
        :class:`SimulatedGroups`: the data, the validation groups and the answers.

    Raises:
        DataError: for an unknown ``kind`` or a size or scale out of range.
    """
    if kind not in KINDS:
        raise DataError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if group_size < 1 or n_clusters < 2 or groups_per_cluster < 2 or n_validation < 1:
        raise DataError(
            "group_size and n_validation must be >= 1, n_clusters and groups_per_cluster >= 2"
        )
    if n_outliers < 0 or n_features < 4 or not 1 <= n_differential < n_features:
        raise DataError("n_outliers must be >= 0, n_features >= 4, 1 <= n_differential < it")
    positive = {"radius": radius, "spread": spread, "library_size": library_size}
    positive |= {"dispersion": dispersion, "log_fold": log_fold}
    bad = [k for k, v in positive.items() if not v > 0]
    bad += [k for k, v in {"noise_std": noise_std, "instance_scale": instance_scale}.items()
            if not v >= 0]  # fmt: skip
    if bad or shift < 0 or effect < 0:
        raise DataError(f"scales must be positive (noise and shifts >= 0): {bad or 'shift/effect'}")

    rng = np.random.default_rng(seed)
    loading, instance = _loading(rng, n_features), _loading(rng, n_features)
    abundance = rng.standard_normal(n_features)
    angle = 2 * np.pi * np.arange(n_clusters) / n_clusters
    centres = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)

    n_regular = n_clusters * groups_per_cluster
    cluster = np.r_[
        np.repeat(np.arange(n_clusters), groups_per_cluster), np.arange(n_outliers) % n_clusters
    ].astype(np.int64)
    z = centres[cluster] + spread * rng.standard_normal((len(cluster), FACTOR_DIM))
    outliers = np.arange(n_regular, n_regular + n_outliers, dtype=np.int64)
    z[outliers] += shift * spread * centres[cluster[outliers]] / radius  # outward

    position = np.tile(np.arange(groups_per_cluster), n_clusters)  # within its cluster
    set_a = np.flatnonzero(position % 2 == 0).astype(np.int64)
    set_b = np.flatnonzero(position % 2 == 1).astype(np.int64)
    differential = np.zeros(n_features, dtype=bool)
    differential[rng.choice(n_features, n_differential, replace=False)] = True
    beta = np.where(differential, effect * rng.choice([-1.0, 1.0], n_features), 0.0)
    level = z @ loading.T
    level[set_a] += beta

    z_val = centres[np.arange(n_validation) % n_clusters]
    z_val = z_val + spread * rng.standard_normal((n_validation, FACTOR_DIM))
    level_val = z_val @ loading.T
    level_val[(np.arange(n_validation) // n_clusters) % 2 == 0] += beta  # half in set A
    options = dict(
        instance_scale=instance_scale, noise_std=noise_std, library_size=library_size,
        log_fold=log_fold, dispersion=dispersion,
    )  # fmt: skip
    x, group = _observations(rng, kind, level, group_size, instance, abundance, **options)
    x_val, group_val = _observations(
        rng, kind, level_val, group_size, instance, abundance, **options
    )
    features = tuple(f"{'gene' if kind == 'counts' else 'f'}{j:02d}" for j in range(n_features))
    data = GroupedDataset(
        x=x, group=group, u=z, aux={"level": level[group].astype(np.float32)},
        group_ids=np.array([f"g{i:03d}" for i in range(len(z))]),
        name=f"simulated-{kind}", feature_names=features,
    )  # fmt: skip
    validation = GroupedDataset(
        x=x_val, group=group_val, u=z_val,
        group_ids=np.array([f"v{i:03d}" for i in range(n_validation)]),
        name=f"simulated-{kind}-validation", feature_names=features,
    )  # fmt: skip
    return SimulatedGroups(
        data, validation, cluster, outliers, set_a, set_b, differential, level, kind
    )


__all__ = ["FACTOR_DIM", "KINDS", "SimulatedGroups", "simulate_groups"]
