"""A tiny end-to-end run of the Exam-Scores benchmark (CxVAE Table 1, Fig. 3)."""

from __future__ import annotations

import json

from groupvae.benchmarks.exam_scores import METRIC_NAMES, ExamScoresBenchmark, run_benchmark


def test_a_tiny_run_writes_the_table_and_figure_in_process(tmp_path):
    bench = ExamScoresBenchmark(models=("vae", "mlvae"), seeds=(0,), n_groups=200, epochs=1, jobs=1)
    lines: list[str] = []
    runs = run_benchmark(bench, tmp_path, echo=lines.append)
    assert list(runs["model"]) == ["vae", "mlvae"]
    assert runs[list(METRIC_NAMES)].notna().any().all()
    for name in ("results.json", "results.csv", "table.md", "translation.png"):
        assert (tmp_path / name).stat().st_size > 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["settings"]["n_groups"] == 200
    assert "| mlvae |" in (tmp_path / "table.md").read_text()


def test_a_second_call_with_the_same_settings_trains_nothing(tmp_path):
    bench = ExamScoresBenchmark(models=("mlvae",), seeds=(0,), n_groups=120, epochs=1, jobs=1)
    first = run_benchmark(bench, tmp_path, echo=lambda *_: None)
    weights = next((tmp_path / "runs" / "mlvae-seed0").rglob("*.safetensors"))
    stamp = weights.stat().st_mtime_ns
    lines: list[str] = []
    again = run_benchmark(bench, tmp_path, echo=lines.append)
    assert "reusing 1 finished run(s)" in lines[0]
    assert weights.stat().st_mtime_ns == stamp  # not retrained
    assert again[list(METRIC_NAMES)].equals(first[list(METRIC_NAMES)])
    summary = json.loads((tmp_path / "results.json").read_text())["summary"]
    assert summary["mlvae"]["translation_error_mean"] == first["translation_error"].item()
