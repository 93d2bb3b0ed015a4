"""The shared benchmark runner on a tiny protocol whose task only does arithmetic."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from groupvae.benchmarks.parallel import run_tasks
from groupvae.benchmarks.runner import Protocol, Run, mean_std, run_protocol, summarise
from groupvae.errors import ConfigError
from groupvae.store.machine import machine_info


def _fake_task(model: str, scale: float, *, seed: int, run_dir: Path) -> dict[str, Any]:
    """A 'run': writes its directory and returns a score made of its model and seed."""
    run_dir.mkdir(parents=True, exist_ok=True)
    calls = run_dir / "calls"
    calls.write_text(str(int(calls.read_text()) + 1 if calls.exists() else 1))
    return {"score": scale * (len(model) + seed), "missing": float("nan")}


@dataclass(frozen=True)
class _Bench:
    models: tuple[str, ...] = ("ab", "abcd")
    seeds: tuple[int, ...] = (0, 1, 2)
    scale: float = 1.0
    jobs: int = 1
    overrides: dict[str, Any] = field(default_factory=dict)


def _protocol(bench: _Bench) -> Protocol:
    runs = [Run(m, {"model": m}, _fake_task, (m, bench.scale)) for m in bench.models]

    def tabulate(rows: pd.DataFrame, summary: pd.DataFrame) -> str:
        cells = [
            f"| {m} | {mean_std(r[('score', 'mean')], r[('score', 'std')], 2)} |"
            for m, r in summary.iterrows()
        ]
        return "\n".join(["| model | score |", "|---|---|", *cells])

    def figures(out: Path, rows: pd.DataFrame, summary: pd.DataFrame) -> list[Path]:
        path = out / "figure.txt"
        assert len(rows) == len(bench.seeds) * len(bench.models) and len(summary) == len(runs)
        path.write_text(str(sorted(p.name for p in (out / "runs").iterdir())))
        return [path]

    return Protocol(
        "fake",
        bench,
        runs,
        tabulate,
        metrics=("score",),
        figures=figures,
        describe=lambda row: f"{row['model']} seed {row['seed']}",
        record={"units": "none"},
    )


def _calls(out: Path) -> dict[str, int]:
    return {p.name: int((p / "calls").read_text()) for p in sorted((out / "runs").iterdir())}


def test_rows_per_run_and_seed_and_the_files(tmp_path):
    lines: list[str] = []
    runs = run_protocol(_protocol(_Bench()), tmp_path, echo=lines.append)
    assert list(runs["model"]) == ["ab"] * 3 + ["abcd"] * 3
    assert list(runs["seed"]) == [0, 1, 2] * 2
    assert list(runs["score"]) == [2.0, 3.0, 4.0, 4.0, 5.0, 6.0]
    assert (runs["seconds"] >= 0).all()
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["benchmark"] == "fake" and results["complete"] is True
    assert results["settings"]["seeds"] == [0, 1, 2] and results["units"] == "none"
    assert results["machine"]["cpu_count"] == machine_info()["cpu_count"]
    assert len(results["runs"]) == 6 and results["runs"][0]["missing"] is None
    assert results["summary"]["ab"]["score_mean"] == pytest.approx(3.0)
    assert results["summary"]["abcd"]["score_std"] == pytest.approx(1.0)
    assert results["figures"] == ["figure.txt"]
    csv = pd.read_csv(tmp_path / "results.csv")
    assert len(csv) == 6 and {"model", "seed", "score", "seconds"} <= set(csv.columns)
    assert "| abcd | 5.00 ± 1.00 |" in (tmp_path / "table.md").read_text()
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(summary["model"]) == ["ab", "abcd"] and "score_mean" in summary.columns
    assert "abcd-seed2" in (tmp_path / "figure.txt").read_text()
    assert sum(line.startswith("[") for line in lines) == 6


def test_resume_skips_finished_runs_and_reruns_on_new_settings(tmp_path):
    bench = _Bench(seeds=(0, 1))
    run_protocol(_protocol(bench), tmp_path, echo=lambda *_: None)
    lines: list[str] = []
    more = replace(bench, seeds=(0, 1, 2), jobs=2, models=("abcd", "ab"))  # only selection
    runs = run_protocol(_protocol(replace(more, jobs=1)), tmp_path, echo=lines.append)
    assert len(runs) == 6 and "reusing 4 finished run(s)" in lines[0]
    assert _calls(tmp_path) == {f"{m}-seed{s}": 1 for m in ("ab", "abcd") for s in range(3)}
    assert list(runs["model"][:3]) == ["abcd"] * 3  # the protocol's order, reused or not
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    other = _protocol(replace(more, jobs=1, scale=2.0))
    with pytest.raises(ConfigError, match=r"other settings \(scale: 1.0 -> 2.0\).*--overwrite"):
        run_protocol(other, tmp_path, echo=lambda *_: None)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before  # nothing written
    (tmp_path / "notes.txt").write_text("mine")
    lines.clear()
    run_protocol(other, tmp_path, echo=lines.append, overwrite=True)
    assert set(_calls(tmp_path).values()) == {1}  # started over: every run folder made anew
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["runs"][0]["score"] == pytest.approx(2.0 * 4) and len(results["runs"]) == 6
    (old,) = tmp_path.glob("results.json.old-*")
    assert len(json.loads(old.read_text())["runs"]) == 6 and old.name in lines[0]
    assert (tmp_path / "notes.txt").read_text() == "mine"  # not the runner's file


def test_a_corrupt_results_file_is_set_aside_and_the_benchmark_goes_on(tmp_path):
    for text in ("{not json", '["a list"]', '{"settings": {}, "runs": 3}'):
        (tmp_path / "results.json").write_text(text)
        lines: list[str] = []
        runs = run_protocol(_protocol(_Bench(seeds=(0,))), tmp_path, echo=lines.append)
        assert len(runs) == 2 and "not a benchmark record: set aside as" in lines[0]
        aside = sorted(tmp_path.glob("results.json.corrupt-*"), key=lambda p: p.stat().st_mtime)
        assert aside[-1].read_text() == text
        assert json.loads((tmp_path / "results.json").read_text())["complete"] is True


def test_a_run_folder_without_a_row_is_the_runners_and_starts_afresh(tmp_path):
    """What an interrupted worker left (a half-made run, its other files) goes first."""
    folder = tmp_path / "runs" / "ab-seed0"
    (folder / "training").mkdir(parents=True)
    for name in ("config.json", "UNFINISHED", "epoch_errors.csv", "calls"):
        (folder / name).write_text("5")
    run_protocol(_protocol(_Bench(models=("ab",), seeds=(0,))), tmp_path, echo=lambda *_: None)
    assert sorted(p.name for p in folder.iterdir()) == ["calls"]
    assert (folder / "calls").read_text() == "1"


def test_summarise_is_mean_and_sample_std_in_run_order():
    runs = pd.DataFrame(
        {
            "model": ["b", "b", "b", "a"],
            "seed": [0, 1, 2, 0],
            "accuracy": [0.90, 0.92, 0.97, 0.99],
            "name": ["x"] * 4,
        }
    )
    summary = summarise(runs, ["model"])
    assert list(summary.index) == ["b", "a"]
    assert list(summary.columns) == [("accuracy", "mean"), ("accuracy", "std")]
    assert summary.loc["b", ("accuracy", "mean")] == pytest.approx(0.93)
    assert summary.loc["b", ("accuracy", "std")] == pytest.approx(
        np.std([0.90, 0.92, 0.97], ddof=1)
    )
    assert np.isnan(summary.loc["a", ("accuracy", "std")])
    assert mean_std(0.5, float("nan"), 1, scale=100) == "50.0 ± 0.0"
    assert mean_std(float("nan"), 0.1, 2) == "—"


# ------------------------------------------------------------ parallel workers
def _pid_then_sleep(folder: str, name: str, seconds: float) -> dict[str, Any]:
    """A worker task: write this process's id to ``folder/name``, then sleep."""
    Path(folder, name).write_text(str(os.getpid()))
    time.sleep(seconds)
    return {"name": name}


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("stop", ["caller", "sigterm"])
def test_a_stopped_parallel_benchmark_leaves_no_worker_running(stop, tmp_path):
    """The caller stops after the first result, or SIGTERM reaches the benchmark: the
    worker still busy with a long task is terminated, not left training."""
    tasks = [(str(tmp_path), "quick", 0.0), (str(tmp_path), "slow", 120.0)]
    results = run_tasks(_pid_then_sleep, tasks, jobs=2)
    assert next(results)["name"] == "quick"
    assert _wait_for(lambda: (tmp_path / "slow").exists())
    slow = int((tmp_path / "slow").read_text())
    assert _alive(slow)
    start = time.monotonic()
    if stop == "caller":
        results.close()
    else:
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
    assert _wait_for(lambda: not _alive(slow), timeout=20.0)
    assert time.monotonic() - start < 20.0
    results.close()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone again


def test_an_interrupted_protocol_says_what_it_kept(tmp_path):
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        if line.startswith("[1/"):
            raise KeyboardInterrupt  # as Ctrl-C while the first result is reported

    with pytest.raises(KeyboardInterrupt):
        run_protocol(_protocol(_Bench(seeds=(0,))), tmp_path, echo=echo)
    assert "1 finished run(s) are kept" in lines[-1]
    assert len(json.loads((tmp_path / "results.json").read_text())["runs"]) == 1
