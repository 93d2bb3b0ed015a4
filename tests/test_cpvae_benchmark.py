"""CPVAE evaluation metrics (oracle tests), figures, run directories and a tiny benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest

from groupvae.benchmarks.cpvae import CPVAEBenchmark, run_benchmark
from groupvae.errors import DataError
from groupvae.evaluation.cnn import SmallCNN, train_cnn_classifier
from groupvae.evaluation.cpvae import (
    classification_accuracy,
    denoising_errors,
    image_correlation,
    kmeans_ari,
    population_ari,
)
from groupvae.plots.cpvae import draw_denoising, draw_latent_tsne


def test_ari_oracles():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    identity = np.eye(3)[labels] + 0.01 * rng.normal(size=(60, 3))
    assert kmeans_ari(identity, labels) == pytest.approx(1.0)
    assert abs(kmeans_ari(rng.normal(size=(60, 3)), labels)) < 0.15
    population = np.tile([0, 1], 30)
    out = population_ari(identity, labels, population)
    assert set(out) == {"population_0", "population_1", "mean", "std", "min", "max"}
    assert out["mean"] == pytest.approx(1.0) and out["std"] == 0.0
    with pytest.raises(DataError, match="restarts"):
        population_ari(identity, labels, population, restarts=0)
    with pytest.raises(DataError, match="two classes"):
        kmeans_ari(identity, np.zeros(60))


def test_ari_restarts_average_kmeans_seeds():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(4), 15)
    codes = np.eye(4)[labels] + 0.8 * rng.normal(size=(60, 4))  # a noisy clustering
    population = np.tile([0, 1], 30)
    out = population_ari(codes, labels, population, seed=3, restarts=4)
    per_seed = [population_ari(codes, labels, population, seed=3 + r)["mean"] for r in range(4)]
    assert out["mean"] == pytest.approx(np.mean(per_seed))
    assert out["std"] == pytest.approx(np.std(per_seed, ddof=1))
    assert out["min"] == pytest.approx(min(per_seed)) and out["max"] == pytest.approx(max(per_seed))


def test_classification_and_denoising_metrics():
    ll = np.array([[0.0, -1.0], [-3.0, -2.0], [1.0, 2.0]])
    assert classification_accuracy(ll, np.array([0, 1, 0])) == pytest.approx(2 / 3)
    clean = np.zeros((2, 1, 2, 2))
    errors = denoising_errors(clean + 0.5, clean + 0.1, clean + 0.3, clean, clean + 0.3)
    assert errors["private_vs_clean_mse"] == pytest.approx(0.01)
    assert errors["noisy_vs_clean_mse"] == pytest.approx(0.25)
    assert errors["shared_vs_background_mse"] == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    digit = rng.random((3, 1, 4, 4))
    assert image_correlation(0.5 * digit + 0.2, digit) == pytest.approx([1.0, 1.0, 1.0])
    assert image_correlation(-digit, digit) == pytest.approx([-1.0, -1.0, -1.0])


def test_cnn_reference_learns_an_easy_task():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    x = rng.random((200, 1, 28, 28)).astype(np.float32) * 0.2
    x[y == 1, :, :14] += 0.8
    out = train_cnn_classifier(x[:150], y[:150], x[150:], y[150:], epochs=2, seed=0)
    assert out["accuracy"] > 0.9


def test_cnn_is_sized_from_the_images():
    import torch

    net = SmallCNN((3, 20, 36), 4)
    assert net(torch.zeros(2, 3, 20, 36)).shape == (2, 4)
    assert net.net[-1].out_features == 4 and net.net[0].in_channels == 3
    with pytest.raises(DataError, match="too small"):
        SmallCNN((1, 3, 3), 2)


def test_figures_are_written(tmp_path):
    rng = np.random.default_rng(0)
    imgs = [rng.random((4, 1, 28, 28)) for _ in range(5)]
    path = draw_denoising(*imgs[:4], tmp_path / "d.png", clean=imgs[4])
    assert path.stat().st_size > 0
    codes = rng.normal(size=(30, 3))
    draw_latent_tsne({"a": codes, "b": codes}, np.arange(30) % 3, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 0


def test_tiny_benchmark_writes_tables_and_figures(tmp_path):
    bench = CPVAEBenchmark(
        n_digits=200,
        epochs=1,
        class_epochs=1,
        batch_per_population=8,
        class_batch_per_population=2,
        is_samples=2,
        n_classify=20,
        cnn_epochs=1,
        tsne_points=30,
        jobs=1,
    )
    runs = run_benchmark(bench, tmp_path, echo=lambda *_: None)
    assert len(runs) == 11
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["paper_table_2"]["mnist-classes"]["anneal"] == 99.5
    table = (tmp_path / "table.md").read_text()
    assert "Table 1" in table and "Table 2" in table and "| 99.5 |" in table
    for name in ("denoising.png", "denoising_no_mi.png", "latent_tsne.png", "cross_population.png"):
        assert (tmp_path / name).is_file()


def _finished(bench: CPVAEBenchmark, seeds: tuple[int, ...]) -> dict:
    """A results.json in which every run of ``seeds`` has finished (nothing to train)."""
    from dataclasses import asdict, replace

    from groupvae.benchmarks.cpvae import runs

    rows = []
    for seed in seeds:
        for run in runs(bench):
            row = {**run.key, "seed": seed}
            if run.key["method"] == "anneal" and run.key["dataset"] == "mnist-classes":
                row["accuracy"] = (0.5, 0.7)[seed]
            if run.key["method"] == "vae":
                row["shared_ari"] = 0.1 * seed
            if run.key["method"] == "cpvae-no-mi":
                row.update(shared_ari=0.01, active_units_shared=0, collapsed_shared=float(seed))
            rows.append(row)
    settings = json.loads(json.dumps(asdict(replace(bench, seeds=seeds))))
    return {"settings": settings, "runs": rows}


def test_seeds_reuse_finished_runs_and_aggregate(tmp_path):
    from groupvae.benchmarks.cpvae import run_seeds

    bench = CPVAEBenchmark(jobs=1)
    (tmp_path / "results.json").write_text(json.dumps(_finished(bench, (0, 1))))
    messages = []
    runs = run_seeds(bench, (0, 1), tmp_path, echo=messages.append)  # trains nothing
    assert len(runs) == 22 and sorted(runs["seed"].unique()) == [0, 1]
    assert "reusing 22 finished run(s)" in messages[0]
    table = (tmp_path / "table.md").read_text()
    assert f"| 60.0 ± {100 * np.std([0.5, 0.7], ddof=1):.1f} |" in table
    assert "| 0.0500 ± 0.0707 |" in table  # the VAE's shared ARI over the two seeds
    assert "| cpvae-no-mi | 0.0 ± 0.0 | 0.0100 ± 0.0000 **collapsed** |" in table
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["settings"]["seeds"] == [0, 1] and results["complete"] is True
    anneal = results["summary"]["2/mnist-classes/anneal"]
    assert anneal["accuracy_mean"] == pytest.approx(0.6)
    assert (tmp_path / "summary.csv").is_file() and (tmp_path / "results.csv").is_file()
    from typer.testing import CliRunner

    from groupvae.cli import app

    args = ["benchmark", "cpvae", "--seeds", "2", "--jobs", "1", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)  # the same settings: reuses every run
    assert result.exit_code == 0, result.output
    assert "reusing 22 finished run(s)" in result.output and "60.0 ± 14.1" in result.output


def test_runs_made_with_other_settings_are_not_reused(tmp_path):
    from groupvae.benchmarks.cpvae import protocol
    from groupvae.benchmarks.runner import finished_rows

    bench = CPVAEBenchmark(digit_weight=None)
    (tmp_path / "results.json").write_text(json.dumps(_finished(bench, (0,))))
    assert len(finished_rows(protocol(bench), tmp_path)) == 11
    assert len(finished_rows(protocol(CPVAEBenchmark(digit_weight=None, jobs=3)), tmp_path)) == 11
    assert finished_rows(protocol(CPVAEBenchmark(digit_weight=0.25)), tmp_path) == {}
    assert finished_rows(protocol(CPVAEBenchmark(digit_weight=None, epochs=3)), tmp_path) == {}
    assert finished_rows(protocol(bench), tmp_path / "missing") == {}


def test_mnist_classes_are_the_clean_digits_of_grassy_mnist():
    from groupvae.data.datasets import DATASETS

    options = {"n": 60, "scale": 0.25, "digit_weight": 0.25}
    grassy = DATASETS["grassy-mnist-classes"].build(seed=3, **options)
    clean = DATASETS["mnist-classes"].build(seed=3, **options)
    np.testing.assert_array_equal(clean.x, grassy.aux["clean"])
    np.testing.assert_array_equal(clean.aux["population"], grassy.labels)
    np.testing.assert_array_equal(clean.group, grassy.group)
    assert clean.name == "mnist-classes" and not np.array_equal(clean.x, grassy.x)


def test_cpvae_data_sets_default_to_a_fixed_observation_scale():
    from groupvae.models import create
    from groupvae.models.defaults import CPVAE_OBS_STD
    from groupvae.modules.cpvae import CPVAEConfig

    for dataset in ("grassy-mnist", "grassy-mnist-classes", "mnist-classes"):
        model = create("cpvae", dataset=dataset, objective="elbo")
        assert (model.config.obs_std, model.config.learn_obs_std) == (CPVAE_OBS_STD, False)
        assert not any(p.requires_grad for p in model.module.likelihood.parameters())
    old = create("cpvae", dataset="grassy-mnist", objective="elbo", learn_obs_std=True)
    assert old.config.learn_obs_std and CPVAEConfig().learn_obs_std  # the config's own default
