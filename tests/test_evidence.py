"""Accumulating evidence (ML-VAE Fig. 6c): k-groups, classifier scores, oracle codes."""

from __future__ import annotations

import numpy as np
import pytest

from groupvae.data import GroupedDataset
from groupvae.errors import DataError
from groupvae.evaluation import (
    accumulating_evidence,
    classifier_scores,
    k_groups_by_label,
    label_entropy,
)
from groupvae.models import Posterior, create

N_CLASSES = 10


def labelled_groups(n_groups: int, *, noise: float, seed: int = 0) -> GroupedDataset:
    """Features ``[one-hot(class) + N(0, noise^2), N(0, 1) x 5]``, groups of 2-6 of a class."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 7, size=n_groups)
    group = np.repeat(np.arange(n_groups), sizes)
    labels = rng.integers(N_CLASSES, size=n_groups)[group]
    signal = np.eye(N_CLASSES)[labels] + noise * rng.standard_normal((len(group), N_CLASSES))
    x = np.c_[signal, rng.standard_normal((len(group), 5))]
    return GroupedDataset(x=x, group=group, labels=labels, name="oracle")


class OracleModel:
    """Content: the group mean of the class signal (evidence accumulates as 1/sqrt(k)).
    Style: the five noise columns of each observation (no class information)."""

    def encode_groups(self, data: GroupedDataset, **_: object) -> Posterior:
        counts = np.bincount(data.group)[:, None]
        mean = np.zeros((data.n_groups, N_CLASSES))
        np.add.at(mean, data.group, data.x[:, :N_CLASSES])
        return Posterior(mean / counts, np.zeros_like(mean))

    def encode_instances(self, data: GroupedDataset, **_: object) -> Posterior:
        style = data.x[:, N_CLASSES:]
        return Posterior(style, np.zeros_like(style))


# ------------------------------------------------------------------ k-groups
@pytest.mark.parametrize("k", [1, 3, 10])
def test_k_groups_keep_the_class_and_have_k_distinct_members(k):
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2, 3], [25, 9, 12, 40])[rng.permutation(86)]
    members = k_groups_by_label(labels, k, rng=np.random.default_rng(1))
    big = np.isin(labels, [c for c in range(4) if (labels == c).sum() >= k])
    assert members.shape == (big.sum(), k)
    assert (labels[members] == labels[members[:, :1]]).all()  # one class per group
    ordered = np.sort(members, axis=1)
    assert (np.diff(ordered, axis=1) > 0).all()  # distinct members
    np.testing.assert_array_equal(members[:, 0], np.flatnonzero(big))  # every anchor once
    np.testing.assert_array_equal(np.bincount(members.ravel(), minlength=86)[big], k)


def test_k_groups_are_seeded_and_random():
    labels = np.repeat(np.arange(3), 20)
    a = k_groups_by_label(labels, 5, rng=np.random.default_rng(0))
    b = k_groups_by_label(labels, 5, rng=np.random.default_rng(0))
    c = k_groups_by_label(labels, 5, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_k_groups_need_a_class_with_k_members():
    with pytest.raises(DataError, match="no class has 5"):
        k_groups_by_label(np.array([0, 0, 1, 1, 1]), 5, rng=np.random.default_rng(0))
    with pytest.raises(DataError, match="k must be >= 1"):
        k_groups_by_label(np.array([0, 1]), 0, rng=np.random.default_rng(0))


# ---------------------------------------------------------- classifier scores
def test_one_hot_codes_score_perfectly_and_noise_scores_chance():
    rng = np.random.default_rng(0)
    y_train, y_test = rng.integers(4, size=400), rng.integers(4, size=400)
    one_hot = classifier_scores(np.eye(4)[y_train], y_train, np.eye(4)[y_test], y_test, max_iter=40)
    assert one_hot["accuracy"] == 1.0
    assert one_hot["entropy"] < 0.05  # nats
    noise = classifier_scores(
        rng.standard_normal((400, 4)), y_train, rng.standard_normal((400, 4)), y_test, max_iter=40
    )
    assert abs(noise["accuracy"] - 0.25) < 0.1
    assert noise["entropy"] > 0.9 * label_entropy(y_test)  # no better than the frequencies


def test_a_class_unseen_in_training_counts_as_wrong_and_costly():
    x = np.eye(3)
    scores = classifier_scores(
        x[[0, 1] * 30], np.array([0, 1] * 30), x[[2]], np.array([2]), hidden=(8,), max_iter=20
    )
    assert scores["accuracy"] == 0.0
    assert scores["entropy"] > 30  # -log(machine epsilon) = 36 nats


def test_label_entropy_is_in_nats():
    assert label_entropy(np.array([0, 1, 2, 3])) == pytest.approx(np.log(4))
    assert label_entropy(np.zeros(5, dtype=int)) == 0.0


# ------------------------------------------------------------- whole metric
def test_content_accuracy_rises_with_k_and_style_stays_at_chance():
    data = labelled_groups(300, noise=0.7)
    metrics = accumulating_evidence(OracleModel(), data, ks=(1, 5), seed=0, max_iter=100)
    assert metrics["content_accuracy_k5"] > metrics["content_accuracy_k1"] + 0.15
    assert metrics["content_entropy_k5"] < metrics["content_entropy_k1"]
    assert metrics["content_accuracy_k5"] > 0.75
    for k in (1, 5):
        assert metrics[f"style_accuracy_k{k}"] < metrics["chance_accuracy"] + 0.1
    assert metrics["style_accuracy_k1"] == metrics["style_accuracy_k5"]  # same codes


def test_a_noiseless_one_hot_content_code_scores_one_at_every_k():
    data = labelled_groups(150, noise=0.0)
    metrics = accumulating_evidence(OracleModel(), data, ks=(1, 2), seed=0, max_iter=100)
    assert metrics["content_accuracy_k1"] == metrics["content_accuracy_k2"] == 1.0


def test_the_papers_protocol_trains_on_k_image_codes():
    data = labelled_groups(200, noise=1.0)
    metrics = accumulating_evidence(OracleModel(), data, ks=(1, 5), train_k=5, max_iter=50)
    assert set(metrics) >= {"content_accuracy_k1", "content_accuracy_k5", "style_entropy_k5"}


@pytest.mark.parametrize("name", ["vae", "cxvae"])
def test_runs_on_every_kind_of_model(name):
    data = labelled_groups(60, noise=0.5)
    sizes = {} if name == "vae" else {"group_dim": 3}
    model = create(name, obs_shape=(15,), hidden=8, instance_dim=2, **sizes)
    metrics = accumulating_evidence(model, data, ks=(1, 2), seed=0, hidden=(8,), max_iter=5)
    assert len(metrics) == 2 * 4 + 2
    assert all(
        0 <= metrics[f"{c}_accuracy_k{k}"] <= 1 for c in ("content", "style") for k in (1, 2)
    )


def test_needs_labels():
    data = GroupedDataset(x=np.zeros((4, 2)), group=np.array([0, 0, 1, 1]))
    with pytest.raises(DataError, match="labels"):
        accumulating_evidence(OracleModel(), data)
