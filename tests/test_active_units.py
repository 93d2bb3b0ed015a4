"""Active units and KL per dimension (oracle tests), and their place in ``evaluate``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from groupvae.errors import DataError
from groupvae.evaluation.active_units import (
    active_units,
    kl_per_dimension,
    latent_summary,
    unit_activity,
)


def test_identity_code_is_all_active_and_constant_code_is_collapsed():
    rng = np.random.default_rng(0)
    identity = rng.normal(size=(500, 4))  # every unit varies with the input, variance ~1
    assert active_units(identity) == 4
    constant = np.tile(rng.normal(size=(1, 4)), (500, 1))
    assert active_units(constant) == 0
    summary = latent_summary("shared", constant)
    assert summary == {"active_units_shared": 0, "collapsed_shared": True, "dim_shared": 4}


def test_activity_is_the_variance_of_the_means_and_the_threshold_is_strict():
    mean = np.zeros((101, 3))
    mean[:, 0] = np.linspace(-1, 1, 101)
    mean[:, 1] = 0.05 * np.linspace(-1, 1, 101)  # variance 0.05^2 * 0.34 < 0.01
    mean[:, 2] = 0.5 * np.linspace(-1, 1, 101)
    expected = np.var(mean, axis=0, ddof=1)
    np.testing.assert_allclose(unit_activity(mean), expected)
    assert active_units(mean) == 2
    assert active_units(mean, threshold=expected[2]) == 1  # strictly above


def test_kl_per_dimension_closed_form():
    mean = np.array([[0.0, 1.0], [0.0, -1.0]])
    logvar = np.array([[0.0, math.log(4.0)], [0.0, math.log(4.0)]])
    # KL(N(m, s^2) || N(0, 1)) = 0.5 (m^2 + s^2 - 1 - log s^2)
    expected = [0.0, 0.5 * (1 + 4 - 1 - math.log(4.0))]
    np.testing.assert_allclose(kl_per_dimension(mean, logvar), expected)
    summary = latent_summary("instance", mean, logvar)
    assert summary["kl_instance"] == pytest.approx(sum(expected))
    assert summary["kl_per_dim_instance"] == pytest.approx(expected)
    assert summary["active_units_instance"] == 1 and not summary["collapsed_instance"]


def test_kl_matches_the_objectives_standard_normal_kl():
    import torch

    from groupvae.objectives.kl import kl_normal_standard

    rng = np.random.default_rng(1)
    mean, logvar = rng.normal(size=(50, 6)), rng.normal(size=(50, 6))
    torch_kl = kl_normal_standard(torch.tensor(mean), torch.tensor(logvar)).numpy()
    assert kl_per_dimension(mean, logvar).sum() == pytest.approx(torch_kl.mean())


def test_bad_shapes_raise_one_clear_error():
    with pytest.raises(DataError, match="shape"):
        active_units(np.zeros(5))
    with pytest.raises(DataError, match="n >= 2"):
        active_units(np.zeros((1, 3)))
    with pytest.raises(DataError, match="logvar"):
        kl_per_dimension(np.zeros((4, 2)), np.zeros((4, 3)))


@pytest.mark.parametrize(
    ("preset", "latents"), [("mlvae", {"group", "instance"}), ("vae", {"instance"})]
)
def test_evaluate_reports_active_units_of_each_latent(tmp_path, preset, latents):
    from groupvae.runs import evaluate_run, train_run

    run = tmp_path / preset
    train_run(
        preset, "exam-scores", run, epochs=1, data_options={"n_groups": 64}, progress=False
    )  # fmt: skip
    metrics = evaluate_run(run)
    for name in ("group", "instance"):
        assert (f"active_units_{name}" in metrics) == (name in latents)
    for name in latents:
        assert 0 <= metrics[f"active_units_{name}"] <= metrics[f"dim_{name}"]
        assert len(metrics[f"kl_per_dim_{name}"]) == metrics[f"dim_{name}"]
        assert metrics[f"kl_{name}"] == pytest.approx(sum(metrics[f"kl_per_dim_{name}"]))


def test_evaluate_reports_cpvae_shared_and_private_active_units(tmp_path):
    from groupvae.runs import evaluate_run, train_run

    run = tmp_path / "cp"
    train_run(
        "cpvae", "grassy-mnist", run, epochs=1,
        overrides={"hidden": 8, "batch_per_population": 8}, data_options={"n": 100},
        progress=False,
    )  # fmt: skip
    metrics = evaluate_run(run)
    assert metrics["dim_shared"] == 100 and metrics["dim_private"] == 25
    for name in ("shared", "private"):
        assert 0 <= metrics[f"active_units_{name}"] <= metrics[f"dim_{name}"]
        assert metrics[f"collapsed_{name}"] == (metrics[f"active_units_{name}"] == 0)
    assert metrics["n_classified"] == 20 and "shared_ari_std" in metrics
