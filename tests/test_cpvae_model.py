"""CPVAE data, the Algorithm 1 sampler, fitting, encoding, reconstructing and checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import groupvae
from groupvae.data import (
    DATASETS,
    GroupedDataset,
    PopulationBatchSampler,
    make_grassy_mnist,
    make_population_dataset,
    population_of,
    stratified_split,
    subset_rows,
    with_population,
)
from groupvae.data.grassy_mnist import add_digits, random_crops, superimpose
from groupvae.errors import CheckpointError, ConfigError, DataError
from groupvae.models import CPVAE, GroupVAE, create

FAST = {"epochs": 1, "batch_per_population": 8, "progress": False, "lr": 1e-2}


def two_populations(n: int = 60, seed: int = 0) -> GroupedDataset:
    """``(1, 4, 4)`` images: a shared random background plus a population-specific bar."""
    rng = np.random.default_rng(seed)
    population = rng.integers(0, 2, size=n)
    x = 0.3 * rng.random((n, 1, 4, 4))
    x[population == 0, 0, 1, :] += 0.6
    x[population == 1, 0, :, 2] += 0.6
    return GroupedDataset(
        x=x.astype(np.float32),
        group=np.arange(n),
        labels=population,
        aux={"population": population},
        name="bars",
    )


def small_model(**kw) -> CPVAE:
    base = dict(obs_shape=(1, 4, 4), shared_dim=2, private_dim=2, hidden=8, n_populations=2)
    return create("cpvae", **{**base, **kw})


# ------------------------------------------------------------------ sampler
def test_every_batch_holds_m_members_of_every_population():
    population = np.array([0] * 3 + [1] * 10 + [2] * 5)
    sampler = PopulationBatchSampler(population, 4, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 2  # ceil(18 / (3 * 4))
    seen = set()
    for _ in range(3):
        for batch in sampler:
            assert len(batch) == 12
            np.testing.assert_array_equal(population[batch], np.repeat([0, 1, 2], 4))
            seen.update(batch)
    assert seen == set(range(18))  # small populations are recycled, none is skipped
    again = list(PopulationBatchSampler(population, 4, seed=0))
    assert all(np.array_equal(a, b) for a, b in zip(again, batches, strict=True))
    with pytest.raises(DataError, match="no observations"):
        PopulationBatchSampler(np.array([0, 2]), 2)


def test_stratified_split_and_population_keys():
    data = two_populations()
    train, hold = stratified_split(population_of(data, "population"), 0.25, seed=0)
    assert len(np.intersect1d(train, hold)) == 0 and len(train) + len(hold) == data.n_obs
    sub = subset_rows(data, hold)
    assert set(np.unique(sub.aux["population"])) == {0, 1}
    np.testing.assert_array_equal(population_of(data, "labels"), data.labels)
    with pytest.raises(DataError, match="known"):
        population_of(data, "nope")


# --------------------------------------------------------------------- data
def test_grassy_mnist_is_seeded_and_keeps_clean_digits_and_backgrounds():
    a = make_grassy_mnist(n=40, seed=3, digit_weight=None)  # opaque ink digits
    b = make_grassy_mnist(n=40, seed=3, digit_weight=None)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.x.shape == (40, 1, 28, 28) and a.x.min() >= 0 and a.x.max() <= 1
    np.testing.assert_array_equal(a.aux["population"], (a.labels >= 5).astype(int))
    np.testing.assert_allclose(a.x, superimpose(a.aux["clean"], a.aux["background"]), atol=1e-6)
    assert not np.array_equal(a.x, make_grassy_mnist(n=40, seed=4, digit_weight=None).x)


def test_added_digits_follow_the_contrastive_pca_recipe():
    digit = np.array([[[[0.0, 1.0], [0.5, 1.0]]]], dtype=np.float32)
    grass = np.array([[[[0.4, 0.0], [1.0, 1.0]]]], dtype=np.float32)
    np.testing.assert_allclose(add_digits(digit, grass, 0.25), (0.25 * digit + grass) / 1.25)
    with pytest.raises(DataError, match="digit weight"):
        add_digits(digit, grass, 0.0)
    a = make_grassy_mnist(n=40, seed=3, digit_weight=0.25)
    np.testing.assert_array_equal(a.x, make_grassy_mnist(n=40, seed=3, digit_weight=0.25).x)
    np.testing.assert_allclose(
        a.x, add_digits(a.aux["clean"], a.aux["background"], 0.25), atol=1e-6
    )
    assert a.x.min() >= 0 and a.x.max() <= 1
    np.testing.assert_array_equal(a.x, make_grassy_mnist(n=40, seed=3).x)  # the default
    ink = make_grassy_mnist(n=40, seed=3, digit_weight=None)
    np.testing.assert_array_equal(a.aux["background"], ink.aux["background"])  # same crops


def test_random_crops_are_windows_of_the_image():
    rng = np.random.default_rng(0)
    image = np.arange(100.0).reshape(10, 10)
    crops = random_crops(image, 5, 3, rng=rng)
    for crop in crops:
        r, c = divmod(int(crop[0, 0]), 10)
        np.testing.assert_array_equal(crop, image[r : r + 3, c : c + 3])


def test_registered_population_data_sets():
    assert {"grassy-mnist", "grassy-mnist-classes", "mnist-classes"} <= set(DATASETS)
    data = make_population_dataset("uci-digits", label="labels")
    np.testing.assert_array_equal(data.aux["population"], data.labels)


# ---------------------------------------------------------------- the model
def test_fit_encode_reconstruct_and_classify():
    data = two_populations()
    model = small_model()
    before = [p.detach().clone() for p in model.module.parameters()]
    model.fit(data, **FAST)
    assert any(
        not torch.equal(a, b) for a, b in zip(before, model.module.parameters(), strict=True)
    )
    assert model.history is not None and np.isfinite(model.history["train_loss"]).all()
    assert model.module.population_sizes.tolist() == np.bincount(data.aux["population"]).tolist()
    trained = [p.detach().clone() for p in model.module.parameters()]
    codes = model.encode(data)
    assert codes.shared.shape == (60, 2) and codes.private.shape == (60, 2)
    shared, private = model.encode_shared(data), model.encode_private(data)
    np.testing.assert_array_equal(shared.mean, codes.shared)
    np.testing.assert_array_equal(private.mean, codes.private)
    assert shared.logvar.shape == (60, 2) and private.logvar.shape == (60, 2)
    for part in ("full", "private", "shared"):
        for ignore in ("prior-mean", "drop"):
            assert model.reconstruct(data, part=part, ignore=ignore).shape == (60, 1, 4, 4)
    crossed = model.reconstruct(data, decoder_population=1)
    own = model.reconstruct(data)
    ones = data.aux["population"] == 1
    np.testing.assert_allclose(crossed[ones], own[ones], atol=1e-6)
    assert not np.allclose(crossed[~ones], own[~ones])
    pop = data.aux["population"]
    same = model.reconstruct(data, encoder_population=pop, decoder_population=pop)
    np.testing.assert_allclose(same, own, atol=1e-6)
    other = model.reconstruct(data, encoder_population=1 - pop, decoder_population=1 - pop)
    assert not np.allclose(other, crossed)
    ll = model.log_marginal_likelihoods(data, n_samples=3)
    assert ll.shape == (60, 2) and np.isfinite(ll).all()
    assert model.classify(data, n_samples=3).shape == (60,)
    for a, b in zip(trained, model.module.parameters(), strict=True):
        assert torch.equal(a, b)  # evaluation does not change the weights


def test_fit_with_elbo_a_user_schedule_and_holdout():
    data = two_populations()
    model = small_model(objective="elbo", aggregation="concat")
    model.fit(data, holdout=data, alpha_schedule=lambda p: 2.0, **FAST)
    assert "val_elbo_per_obs" in model.history
    mi = small_model().fit(data, alpha_schedule=lambda p: 1.0 + p, **{**FAST, "epochs": 2})
    alphas = mi.history["train_alpha"].tolist()
    assert alphas[0] < alphas[1] < 2.0


def test_same_seed_same_weights_and_array_input():
    data = two_populations()
    a = small_model().fit(data, **FAST)
    plain = GroupedDataset(x=data.x, group=data.group, labels=data.labels, name="bars")
    b = small_model().fit(with_population(plain, plain.labels), **FAST)
    for p, q in zip(a.module.parameters(), b.module.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    with pytest.raises(DataError, match="GroupedDataset"):
        small_model().fit(data.x, **FAST)  # fit takes a GroupedDataset only
    with pytest.raises(DataError, match="population"):
        small_model().fit(plain, **FAST)  # no aux population recorded
    np.testing.assert_array_equal(
        a.encode(data.x, data.aux["population"]).private, a.encode(data).private
    )
    with pytest.raises(DataError, match="population"):
        a.encode(data.x)


def test_string_population_keys_are_rejected():
    """Populations come from ``aux["population"]`` or an ``(n,)`` array, not a key name."""
    data, model = two_populations(), small_model()
    for method in (model.encode, model.encode_shared, model.encode_private, model.reconstruct):
        with pytest.raises(DataError):
            method(data, "labels")
        with pytest.raises(DataError):
            method(data.x, "labels")


def test_save_load_round_trip(tmp_path):
    data = two_populations()
    model = small_model(alpha_schedule="linear", alpha_end=3.0).fit(data, **FAST)
    model.save(tmp_path / "run", metadata={"note": "x"})
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["family"] == "cpvae"
    assert isinstance(groupvae.load(tmp_path / "run"), CPVAE)
    loaded = CPVAE.load(tmp_path / "run")
    assert isinstance(loaded, CPVAE)
    assert loaded.config == model.config and loaded.train_config == model.train_config
    assert loaded.extra_metadata["note"] == "x"
    np.testing.assert_array_equal(loaded.encode(data).private, model.encode(data).private)
    np.testing.assert_array_equal(loaded.reconstruct(data), model.reconstruct(data))
    torch.testing.assert_close(loaded.module.population_sizes, model.module.population_sizes)
    create("vae", obs_shape=(1, 4, 4)).save(tmp_path / "vae")
    other = CPVAE.load(tmp_path / "vae")  # dispatch by the recorded family, not the class
    assert isinstance(other, GroupVAE) and not isinstance(other, CPVAE)
    assert other.family == "group-vae"


def test_wrong_shapes_and_populations_fail_clearly():
    data = two_populations()
    with pytest.raises(DataError, match="obs_shape"):
        small_model(obs_shape=(1, 5, 5)).fit(data, **FAST)
    with pytest.raises(DataError, match="n_populations"):
        small_model(n_populations=2).fit(with_population(data, data.aux["population"] + 1), **FAST)


def test_run_directory_train_load_evaluate(tmp_path):
    from groupvae.evaluation.cpvae import cpvae_metrics
    from groupvae.plots import PLOTS
    from groupvae.runs import evaluate_run, load_run, train_run

    run = tmp_path / "run"
    train_run(
        "cpvae", "grassy-mnist", run, epochs=1,
        overrides={"hidden": "16", "batch_per_population": 8},
        data_options={"n": 100}, progress=False,
    )  # fmt: skip
    model, train, hold = load_run(run)
    assert isinstance(model, CPVAE)
    assert model.config.hidden == 16 and train.n_obs + hold.n_obs == 100
    metrics = cpvae_metrics(model, hold, seed=0, is_samples=2)
    assert {"shared_ari", "private_ari", "accuracy", "private_vs_clean_corr"} <= set(metrics)
    metrics = evaluate_run(run)
    assert {"shared_ari", "private_ari", "accuracy", "private_vs_clean_corr"} <= set(metrics)
    assert (run / "metrics.json").is_file()
    assert groupvae.load(run).family == "cpvae"  # a CPVAE run: the family it records
    with pytest.raises(CheckpointError):
        groupvae.load(tmp_path)  # not a run at all
    figs = tmp_path / "figs"
    paths = [PLOTS[k](run, figs / f"{k}.png") for k in ("denoising", "cross-population")]
    assert all(p.is_file() for p in paths)
    with pytest.raises(ConfigError, match="unknown setting"):
        train_run("cpvae", "grassy-mnist", run, overrides={"nope": 1})
    with pytest.raises(ConfigError, match="holdout-labels"):
        train_run(
            "cpvae", "grassy-mnist", tmp_path / "held", epochs=1, data_options={"n": 100},
            holdout_labels=[0], progress=False,
        )  # fmt: skip
