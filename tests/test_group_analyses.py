"""Analyses of groups (``groupvae.evaluation.groups``), each against a known answer: a
hand-built pair of Gaussian posteriors for the 2-Wasserstein distance, the k nearest
groups against the full matrix, planted clusters, a planted outlier group, a planted
differential feature, a covariate that is a function of the codes, and new groups
encoded alone against encoded with the training data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.linalg import sqrtm
from sklearn.metrics import adjusted_rand_score

from groupvae.data import GroupedDataset
from groupvae.data.group_level import group_level_columns, pseudobulk
from groupvae.errors import ConfigError, DataError
from groupvae.evaluation.groups import (
    cluster_groups,
    covariate_scores,
    differential_groups,
    group_outliers,
    nearest_groups,
    new_group_codes,
    outlier_table,
    pairwise_distances,
    robust_z,
    wasserstein2,
)
from groupvae.models import Posterior, create


# ------------------------------------------------------------------ distances
def test_w2_of_a_hand_built_pair_of_diagonal_gaussians():
    # N((0, 0), diag(1, 1)) and N((3, 4), diag(4, 1)): ||m1 - m2||^2 = 9 + 16 = 25,
    # ||s1 - s2||^2 = (1 - 2)^2 + (1 - 1)^2 = 1, so W2 = sqrt(26).
    m1, s1 = np.array([0.0, 0.0]), np.array([1.0, 1.0])
    m2, s2 = np.array([3.0, 4.0]), np.array([2.0, 1.0])
    assert wasserstein2(m1, s1, m2, s2) == pytest.approx(np.sqrt(26.0), abs=1e-12)
    # Dowson & Landau's general form: tr(S1 + S2 - 2 (S2^1/2 S1 S2^1/2)^1/2)
    c1, c2 = np.diag(s1**2), np.diag(s2**2)
    root = sqrtm(c2)
    general = 25.0 + np.trace(c1 + c2 - 2 * np.real(sqrtm(root @ c1 @ root)))
    assert wasserstein2(m1, s1, m2, s2) ** 2 == pytest.approx(general, abs=1e-9)
    matrix = pairwise_distances(np.stack([m1, m2]), np.stack([s1, s2]))
    np.testing.assert_allclose(matrix, [[0, np.sqrt(26)], [np.sqrt(26), 0]], atol=1e-12)
    euclid = pairwise_distances(np.stack([m1, m2]), np.stack([s1, s2]), metric="euclidean")
    assert euclid[0, 1] == pytest.approx(5.0)


def posteriors(n: int = 300, dim: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, dim)), rng.uniform(0.1, 1.0, size=(n, dim))


@pytest.mark.parametrize("metric", ["w2", "euclidean"])
def test_k_nearest_groups_equal_the_full_matrix_argsort(metric):
    mean, std = posteriors()
    full = pairwise_distances(mean, std, metric=metric)
    near = nearest_groups(mean, std, k=7, metric=metric, chunk_rows=64)  # 5 chunks
    expected = np.argsort(full + np.diag(np.full(len(full), np.inf)), axis=1)[:, :7]
    np.testing.assert_array_equal(near.index, expected)
    np.testing.assert_allclose(near.distance, np.take_along_axis(full, expected, 1), atol=1e-12)
    # queries that are not reference groups: their k nearest among all of them
    q_mean, q_std = posteriors(20, seed=1)
    found = nearest_groups(mean, std, k=5, metric=metric, query_mean=q_mean, query_std=q_std)
    both = pairwise_distances(np.r_[q_mean, mean], np.r_[q_std, std], metric=metric)[:20, 20:]
    np.testing.assert_array_equal(found.index, np.argsort(both, axis=1)[:, :5])


def test_distance_bad_input_is_one_clear_error():
    mean, std = posteriors(10)
    with pytest.raises(DataError, match=r"k = 10 is larger than the number of other groups \(9\)"):
        nearest_groups(mean, std, k=10)
    with pytest.raises(DataError, match="k must be a whole number >= 1"):
        nearest_groups(mean, std, k=0)
    with pytest.raises(DataError, match="over the limit of 5"):
        pairwise_distances(mean, std, max_full=5)
    with pytest.raises(DataError, match="metric must be one of w2, euclidean"):
        pairwise_distances(mean, std, metric="cosine")
    with pytest.raises(DataError, match="n_clusters must be from 1 to the number of groups"):
        cluster_groups(mean, std, n_clusters=11)


@pytest.mark.parametrize(
    ("method", "max_full"), [("average", 2000), ("ward", 2000), ("average", 10)]
)  # trees, then k-means beyond max_full
def test_planted_clusters_of_groups_are_recovered(method, max_full):
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1, 2], 20)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    mean = centres[truth] + rng.normal(0, 0.5, (60, 2))
    std = np.full((60, 2), 0.3)
    found = cluster_groups(mean, std, n_clusters=3, method=method, max_full=max_full)
    assert adjusted_rand_score(truth, found.labels) == 1.0
    assert (found.linkage is None) == (max_full == 10)
    assert found.method == (method if max_full > 60 else "kmeans")
    # a far-off group: average linkage leaves it a cluster of its own
    far = cluster_groups(np.r_[mean, [[30.0, 30.0]]], np.r_[std, [[0.3, 0.3]]], n_clusters=4)
    assert (far.labels == far.labels[-1]).sum() == 1


# ------------------------------------------------------------------- outliers
def test_robust_z_by_hand():
    # median 3, absolute deviations 2, 1, 0, 1, 97: MAD 1, scale 1.4826
    z = robust_z(np.array([1.0, 2.0, 3.0, 4.0, 100.0]))
    np.testing.assert_allclose(z, np.array([-2, -1, 0, 1, 97]) / 1.4826)
    assert (robust_z(np.ones(4)) == 0).all()


def test_a_planted_outlier_among_synthetic_log_likelihoods_is_ranked_first():
    rng = np.random.default_rng(0)
    sizes = rng.integers(5, 50, 40)
    log_p = sizes * rng.normal(-10, 0.3, 40)
    log_p[17] = sizes[17] * -14.0  # 13 robust sds below the others per observation
    table = outlier_table(log_p, sizes, np.array([f"g{i}" for i in range(40)]))
    assert table.loc[0, "group"] == "g17" and table.loc[0, "robust_z"] < -5
    assert list(table["rank"]) == list(range(1, 41))
    assert (table["robust_z"].iloc[1:] > -3.5).all()
    isolation = np.ones(40)
    isolation[3] = 9.0
    table = outlier_table(log_p, sizes, np.arange(40), isolation)
    assert table.loc[table["isolation_z"].idxmax(), "group"] == 3


def shifted_groups(n_groups: int = 24, outlier: int = 5, seed: int = 0) -> GroupedDataset:
    """Groups whose members scatter around a group mean; one group's members are far
    from everything else."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(4, 9, n_groups)
    group = np.repeat(np.arange(n_groups), sizes)
    level = rng.normal(0, 1, (n_groups, 4))
    level[outlier] += 8.0
    x = level[group] + rng.normal(0, 0.5, (len(group), 4))
    return GroupedDataset(x=x, group=group, group_ids=np.array([f"g{i}" for i in range(n_groups)]))


def test_a_planted_outlier_group_is_recovered_by_a_trained_model():
    data = shifted_groups()
    model = create("mlvae", obs_shape=(4,), seed=0, likelihood="gaussian", decoder="mlp",
                   group_dim=2, instance_dim=2, hidden=16)  # fmt: skip
    model.fit(data, epochs=60, lr=1e-2, progress=False, groups_per_batch=8)
    table = group_outliers(model, data, n_samples=20)
    assert table.loc[0, "group"] == "g5"
    assert table.loc[0, "robust_z"] < -3.5
    # the whole group is shifted: its code is also the farthest from the others'
    assert table.loc[table["isolation_z"].idxmax(), "group"] == "g5"


# ----------------------------------------------------------------- new groups
@pytest.mark.parametrize("preset", ["mlvae", "gvae", "cxvae"])
def test_a_new_group_gets_exactly_the_code_it_gets_with_the_training_data(preset):
    torch.set_num_threads(1)
    data = shifted_groups(30)
    train, new = data.subset_groups(np.arange(24)), data.subset_groups(np.arange(24, 30))
    model = create(preset, obs_shape=(4,), seed=0, likelihood="gaussian", decoder="mlp",
                   group_dim=3, instance_dim=2, hidden=16)  # fmt: skip
    together, alone = model.encode_groups(data), model.encode_groups(new)
    np.testing.assert_array_equal(together.mean[24:], alone.mean)
    np.testing.assert_array_equal(together.logvar[24:], alone.logvar)
    table = new_group_codes(model, train, new, k=3)
    np.testing.assert_array_equal(table[["u_0", "u_1", "u_2"]].to_numpy(), alone.mean)
    assert list(table["group"]) == [f"g{i}" for i in range(24, 30)] and not table["seen"].any()
    ref = model.encode_groups(train)
    expected = nearest_groups(ref.mean, np.exp(ref.logvar / 2), k=3, query_mean=alone.mean,
                              query_std=np.exp(alone.logvar / 2))  # fmt: skip
    np.testing.assert_array_equal(
        table["nearest_1"], np.asarray(train.group_ids)[expected.index[:, 0]]
    )
    with pytest.raises(DataError, match="larger than the number of reference groups"):
        new_group_codes(model, train, new, k=25)


# ----------------------------------------------------------------- covariates
def test_a_covariate_that_the_codes_determine_is_predicted_and_noise_is_not():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(80, 3))
    covariates = pd.DataFrame(
        {
            "age": 40 + 10 * codes[:, 0] + rng.normal(0, 0.5, 80),
            "site": np.where(codes[:, 1] > 0, "north", "south"),
            "coin": rng.choice(["heads", "tails"], 80),
        }
    )
    table = covariate_scores({"codes": codes, "noise": rng.normal(size=(80, 5))}, covariates)
    score = table.set_index(["column", "representation"])["mean"]
    assert score["age", "codes"] > 0.95 and score["age", "noise"] < 0.2
    assert score["site", "codes"] > 0.9 and score["coin", "codes"] < 0.75
    assert set(table["metric"]) == {"r2", "accuracy"} and (table["folds"] == 5).all()
    assert score["age", "chance"] <= 0.0


def test_group_level_columns_and_pseudobulk_by_hand():
    frame = pd.DataFrame({"donor": ["a", "a", "b"], "age": [30, 30, 50], "cell": ["T", "B", "T"]})
    level = group_level_columns(frame, np.array([0, 0, 1]), 2)
    assert list(level.columns) == ["donor", "age"] and list(level["age"]) == [30, 50]
    x = np.array([[1.0, 3.0], [3.0, 1.0], [2.0, 2.0]])
    np.testing.assert_allclose(pseudobulk(x, np.array([0, 0, 1]), 2), [[2, 2], [2, 2]])
    counts = pseudobulk(x, np.array([0, 0, 1]), 2, counts=True, library_size=4.0)
    np.testing.assert_allclose(counts, np.log1p([[2.0, 2.0], [2.0, 2.0]]))


# --------------------------------------------------------------- differential
class LinearModel:
    """A model with a known decoder: feature ``j``'s mean is ``W[j] u + v_0``; only
    feature 3 depends on the group code. Group ``g``'s posterior is ``N(+2, 0.1^2)`` for
    the first half of the groups and ``N(-2, 0.1^2)`` for the others."""

    has_group_latent = True
    has_count_likelihood = False
    has_mixture_prior = False

    def __init__(self, n_features: int = 10) -> None:
        self.weight = np.zeros((1, n_features))
        self.weight[0, 3] = 1.5
        self.n_features = n_features

    def encode_groups(self, data: GroupedDataset) -> Posterior:
        ids = np.asarray(data.group_ids)
        mean = np.where(ids < 10, 2.0, -2.0)[:, None]
        return Posterior(mean, np.full_like(mean, 2 * np.log(0.1)))

    def encode_instances(self, data: GroupedDataset) -> Posterior:
        return Posterior(np.zeros((data.n_obs, 1)), np.zeros((data.n_obs, 1)))

    def decode_user_units(self, u, v, library_size=1e4):
        return u @ self.weight + v[:, :1]

    def feature_names(self, data=None):
        return [f"f{j}" for j in range(self.n_features)]


def test_a_planted_differential_feature_is_found_with_its_effect():
    group = np.repeat(np.arange(20), 3)
    data = GroupedDataset(x=np.zeros((60, 10)), group=group)
    table = differential_groups(LinearModel(), data, range(10), range(10, 20), n_samples=400,
                                delta=1.0)  # fmt: skip
    top = table.iloc[0]
    # effect 1.5 * (2 - (-2)) = 6, posterior spread 1.5 * sqrt(2) * 0.1 ~ 0.21
    assert top["feature"] == "f3" and top["effect"] == pytest.approx(6.0, abs=0.05)
    assert top["effect_std"] == pytest.approx(1.5 * np.sqrt(2) * 0.1, rel=0.15)
    assert top["prob_change"] == 1.0 and (table["prob_change"].iloc[1:] == 0).all()
    assert np.allclose(table["effect"].iloc[1:], 0.0)
    assert table.attrs["set_a"] == [str(i) for i in range(10)]


def test_differential_bad_input_is_one_clear_error():
    data = GroupedDataset(x=np.zeros((60, 10)), group=np.repeat(np.arange(20), 3))
    model = LinearModel()
    with pytest.raises(DataError, match=r"set A: '99' not a group of the data"):
        differential_groups(model, data, [1, 99], [10, 11])
    with pytest.raises(DataError, match="set B needs at least 2 groups, got 1"):
        differential_groups(model, data, [1, 2], [10])
    with pytest.raises(DataError, match=r"groups \[2\] are in both sets"):
        differential_groups(model, data, [1, 2], [2, 10])
    with pytest.raises(ConfigError, match="effect='lfc' is for count models"):
        differential_groups(model, data, [1, 2], [10, 11], effect="lfc")
