"""A tiny end-to-end run of the UG-VAE benchmark (Table 1 protocol, domain alignment)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from groupvae.benchmarks.ugvae import UGVAEBenchmark, model_spec, n_test_batches, run_benchmark
from groupvae.models import GroupVAE
from test_mlvae_mnist_benchmark import tiny_mnist  # noqa: F401  (a fixture)


def test_a_tiny_run_writes_the_tables_figures_and_runs(tiny_mnist, tmp_path):  # noqa: F811
    bench = UGVAEBenchmark(
        models=("ugvae", "mlvae-random", "gmvae"),
        domain_models=("ugvae",),
        seeds=(0,),
        epochs=1,
        holdout=0.5,
        n_batches=6,
        batch_size=32,
        jobs=1,
        overrides={"hidden": 16},
    )
    lines: list[str] = []
    runs = run_benchmark(bench, tmp_path, echo=lines.append)
    assert list(zip(runs["experiment"], runs["model"], strict=True)) == [
        ("mnist", "ugvae"),
        ("mnist", "mlvae-random"),
        ("mnist", "gmvae"),
        ("digit-domains", "ugvae"),
    ]
    for name in ("results.json", "results.csv", "table.md", "fig3_ugvae.png"):
        assert (tmp_path / name).stat().st_size > 0
    for name in ("fig4_mlvae_random.png", "fig14_structured_tsne.png", "fig5b_domain_tsne.png"):
        assert (tmp_path / name).stat().st_size > 0
    csv = pd.read_csv(tmp_path / "results.csv")
    accuracies = csv.filter(regex="_(train|test)$").to_numpy(dtype=float)
    finite = accuracies[np.isfinite(accuracies)]
    assert finite.size and ((finite >= 0) & (finite <= 1)).all()
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["paper_table_1"]["black/blond"]["rbf"] == [1.0, 0.98]
    table = lines[-2]  # then the wall-time line
    assert "even/odd/random | rbf SVM" in table and "mnist/uci/mixed" in table
    assert "beta swap: translations classified as the other domain" in table
    assert "| even/odd/random | test batches | 9 | 9 | 9 |" in table  # half of 3 x 6
    assert "| active units, group latent | |" in table
    assert csv.loc[csv["model"] == "gmvae", "active_units_group"].isna().all()  # no beta
    assert (csv["active_units_instance"] <= 10).all()
    assert lines[0].startswith("[1/4]") and "seed 0" in lines[0]
    domain_run = csv[csv["experiment"] == "digit-domains"].iloc[0]
    assert 0 <= domain_run["transfer_rate"] <= 1
    # The ablation is ML-VAE's parts on UG-VAE's architecture, trained on random batches.
    ablation = GroupVAE.load(tmp_path / "runs" / "mnist-mlvae-random-seed0")
    assert (ablation.config.model, ablation.config.group_encoder) == ("mlvae", "poe")
    assert (ablation.config.prior, ablation.config.hidden) == ("normal", 16)
    assert ablation.train_config.random_groups == 128
    codes = np.load(tmp_path / "runs" / "digit-domains-ugvae-seed0" / "codes.npz")
    assert codes["kinds"].tolist() == ["mnist", "uci", "mixed"]
    # Again with the same settings: nothing is trained, the figures come from the saved runs.
    (tmp_path / "fig3_ugvae.png").unlink()
    lines.clear()
    again = run_benchmark(bench, tmp_path, echo=lines.append)
    assert "reusing 4 finished run(s)" in lines[0]
    assert not any(line.startswith("[") for line in lines)
    assert (tmp_path / "fig3_ugvae.png").stat().st_size > 0
    assert again["transfer_rate"].equals(runs["transfer_rate"])


def test_model_specs_and_quick_settings():
    assert model_spec("ugvae") == ("ugvae", {})
    preset, overrides = model_spec("mlvae-random")
    assert preset == "mlvae" and overrides["random_groups"] == 128
    assert overrides["backbone"] == "dense" and overrides["likelihood"] == "gaussian-sigmoid"
    assert n_test_batches("even/odd", 100) == 100 and n_test_batches("a/b/c", 5) == 8
    quick, default = UGVAEBenchmark.quick(), UGVAEBenchmark()
    assert quick.epochs < default.epochs == 50 and default.batch_size == 128
