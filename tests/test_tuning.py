"""``groupvae tune``: tiny studies end to end (the study, the table of trials, the figures,
the best run that evaluate opens), pruned and failed trials, resuming after an interrupt,
processes sharing one storage, and the ``--out`` policy. Every study here trains a few
dozen steps on a table of 30 groups written by the test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

from groupvae.cli import app
from groupvae.errors import ConfigError
from groupvae.models import load
from groupvae.models.saved import load_run
from groupvae.tuning import tune
from groupvae.tuning.objective import FAIL_REASON, INTERRUPTED
from groupvae.tuning.problem import TrialData, TuneProblem
from groupvae.tuning.storage import StudyStorage

SHORT = ["--set", "max_steps=30", "--set", "validation_every=10"]
"""A trial of 30 optimiser steps with a validation check every 10."""
FAST = {"max_steps": 30, "validation_every": 10}


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """A CSV of 30 schools of 3-8 students, two features driven by a school level."""
    rng = np.random.default_rng(0)
    sizes = rng.integers(3, 9, size=30)
    school = np.repeat([f"s{i:02d}" for i in range(30)], sizes)
    level = np.repeat(rng.normal(size=30), sizes)
    n = len(school)
    path = tmp_path_factory.mktemp("data") / "scores.csv"
    a, b = level + rng.normal(0, 0.5, n), 2 * level + rng.normal(0, 0.5, n)
    pd.DataFrame({"school": school, "a": a, "b": b}).to_csv(path, index=False)
    return path


def _data(table: Path) -> list[str]:
    return ["--data", f"path={table}", "--data", "group=school", "--data", "features=a,b"]


def _options(table: Path) -> dict[str, str]:
    return {"path": str(table), "group": "school", "features": "a,b"}


def _study(out: Path, name: str = "mlvae-table") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


def _command(table: Path, out: Path, *extra: str) -> list[str]:
    return ["tune", "mlvae", "table", *_data(table), *SHORT, "--out", str(out), *extra]


def test_a_tiny_study_end_to_end_and_its_best_run_opens(table, tmp_path):
    out = tmp_path / "study"
    runner = CliRunner()
    result = runner.invoke(app, _command(table, out, "--trials", "3"))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "starts with 0 of 3 trials" in lines[0] and "searching lr=0.0001:0.01:log" in lines[0]
    trial_lines = [line for line in lines if line.startswith("trial ")]
    assert len(trial_lines) == 3 and "nats per observation; best" in trial_lines[0]
    assert "lr=" in trial_lines[0] and "group_dim=" in trial_lines[0]
    for name in ("study.db", "trials.csv", "history.png", "importances.png", "best.json"):
        assert (out / name).is_file(), name
    for figure in ("history.png", "importances.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    trials = pd.read_csv(out / "trials.csv")
    assert list(trials["number"]) == [0, 1, 2]
    defaults = trials.iloc[0]  # a new study starts with the table defaults
    assert bool(defaults["user_attrs_defaults"]) and defaults["params_lr"] == 3e-3
    assert (defaults["params_group_dim"], defaults["params_hidden"]) == (2, 64)
    assert "the default settings (trial 0): " in result.output
    assert set(trials["state"]) <= {"COMPLETE", "PRUNED"}
    assert {"params_lr", "params_group_dim", "params_hidden", "user_attrs_step"} <= set(trials)
    best = json.loads((out / "best.json").read_text())
    done = trials[trials["state"] == "COMPLETE"]
    assert best["trial"] == int(done.loc[done["value"].idxmax(), "number"])
    assert best["value"] == pytest.approx(done["value"].max())

    # the best run is an ordinary run with the best settings: evaluate, load, encode
    evaluated = runner.invoke(app, ["evaluate", str(out / "best"), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(evaluated.output[evaluated.output.index("{") :])
    assert metrics["elbo_per_observation"] == pytest.approx(best["run_holdout_elbo"])
    model = load(out / "best")
    assert model.config.hidden == best["params"]["hidden"]
    assert model.train_config.lr == pytest.approx(best["params"]["lr"])
    assert model.train_config.max_steps == 30
    encoded = runner.invoke(app, ["encode", str(out / "best"), "--out", str(tmp_path / "c.csv")])
    assert encoded.exit_code == 0, encoded.output

    # the same command with more trials continues the study
    again = runner.invoke(app, _command(table, out, "--trials", "4"))
    assert again.exit_code == 0, again.output
    assert "continues with 3 of 4 trials" in again.output
    assert len(pd.read_csv(out / "trials.csv")) == 4
    assert len(_study(out).trials) == 4


def test_trials_never_see_the_scored_holdout_groups(table, tmp_path):
    problem = TuneProblem.bound_to_file(
        model="mlvae", dataset="table", data_options=_options(table), seed=3
    )
    data = TrialData.load(problem)
    ids = {
        name: set(np.asarray(part.group_ids)[np.unique(part.group)].tolist())
        for name, part in (("fit", data.fit), ("val", data.validation), ("hold", data.holdout))
    }
    assert not ids["fit"] & ids["val"] and not (ids["fit"] | ids["val"]) & ids["hold"]
    assert len(ids["fit"] | ids["val"] | ids["hold"]) == 30
    assert len(ids["hold"]) == 6 and len(ids["val"]) == 5  # 20% of 30, then 20% of 24

    # the best run holds out exactly the groups the trials never saw
    result = tune(
        "mlvae", "table", tmp_path / "s", trials=1, data_options=_options(table), seed=3,
        overrides=FAST, progress=False, pruner="none",
    )  # fmt: skip
    _, _, hold = load_run(result.run_dir)
    assert set(np.asarray(hold.group_ids)[np.unique(hold.group)].tolist()) == ids["hold"]


def test_the_objective_is_the_validation_estimate_of_the_restored_weights(table, tmp_path):
    result = tune(
        "mlvae", "table", tmp_path / "s", trials=1, data_options=_options(table),
        overrides=FAST, progress=False, pruner="none", retrain=False,
    )  # fmt: skip
    trial = result.best
    problem = TuneProblem.bound_to_file(
        model="mlvae", dataset="table", data_options=_options(table), fixed=FAST
    )
    data = TrialData.load(problem)
    model, options = problem.create_model(data, {**FAST, **trial.params})
    model.fit(data.fit, holdout=data.validation, progress=False, **options)
    assert trial.value == model.extra_metadata["holdout_elbo"]["elbo_per_observation"]
    assert result.run_dir is None and not (tmp_path / "s" / "best").exists()


class AlwaysPrune(optuna.pruners.BasePruner):
    """Prunes every trial at its first reported check."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return True


def test_a_pruned_trial_stops_at_a_validation_check(table, tmp_path):
    out = tmp_path / "s"
    with pytest.raises(ConfigError, match="no trial of the study completed"):
        tune(
            "mlvae", "table", out, trials=2, data_options=_options(table),
            overrides={"max_steps": 60, "validation_every": 10}, pruner=AlwaysPrune(),
            progress=False,
        )  # fmt: skip
    trials = _study(out).trials
    assert [t.state for t in trials] == [TrialState.PRUNED, TrialState.PRUNED]
    for trial in trials:
        assert list(trial.intermediate_values) == [1]  # pruned after the first check
        assert trial.user_attrs["pruned"].startswith("pruned at validation check 1: ")
        assert trial.user_attrs.get("step") is None  # the fit never finished
    table_rows = pd.read_csv(out / "trials.csv")
    assert list(table_rows["state"]) == ["PRUNED", "PRUNED"]  # written all the same


def test_failed_trials_are_recorded_with_their_reason_and_the_study_goes_on(table, tmp_path):
    grid = {"groups_per_batch": [1, 4], "lr": [1e-3, 1e6]}
    result = tune(
        "cxvae", "table", tmp_path / "s", trials=4, data_options=_options(table),
        space={"groups_per_batch": "1,4", "lr": "1e-3,1e6"}, default_space=False,
        overrides=FAST, sampler=optuna.samplers.GridSampler(grid, seed=0), progress=False,
    )  # fmt: skip
    by_params = {(t.params["groups_per_batch"], t.params["lr"]): t for t in result.study.trials}
    assert set(by_params) == {(1, 1e-3), (1, 1e6), (4, 1e-3), (4, 1e6)}
    assert by_params[(4, 1e-3)].state == TrialState.COMPLETE
    for params, reason in [
        ((1, 1e-3), "DataError: the group-adversarial regulariser needs 2 groups in every batch"),
        ((1, 1e6), "DataError: the group-adversarial regulariser needs 2 groups"),
        ((4, 1e6), "NonFiniteLossError: "),
    ]:
        trial = by_params[params]
        assert trial.state == TrialState.FAIL
        assert trial.user_attrs[FAIL_REASON].startswith(reason)
    assert result.best.number == by_params[(4, 1e-3)].number
    assert "user_attrs_fail_reason" in pd.read_csv(result.out / "trials.csv")


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _cli(args: list[str], **kwargs) -> subprocess.Popen:
    command = [sys.executable, "-u", "-m", "groupvae", *args]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(), **kwargs
    )


def test_an_interrupted_study_keeps_its_trials_and_the_same_command_continues(table, tmp_path):
    out = tmp_path / "s"
    args = ["tune", "mlvae", "table", *_data(table), "--set", "max_steps=300",
            "--set", "validation_every=50", "--pruner", "none", "--trials", "3",
            "--out", str(out)]  # fmt: skip
    process = _cli(args)
    seen = []
    assert process.stdout is not None
    for line in process.stdout:  # wait for the first trial, then interrupt the second
        seen.append(line)
        if line.startswith("trial 0 "):
            time.sleep(0.5)
            process.send_signal(signal.SIGINT)
            break
    rest = process.communicate(timeout=120)[0]
    output = "".join(seen) + rest
    assert process.returncode == 130, output
    assert "finished trial(s) are kept in" in output and "the same command continues" in output
    first = _study(out).trials
    assert first[0].state == TrialState.COMPLETE
    assert any(t.user_attrs.get(INTERRUPTED) for t in first[1:])  # recorded, not counted
    assert not [t for t in first if t.state == TrialState.RUNNING]
    assert len(pd.read_csv(out / "trials.csv")) == len(first)

    again = _cli(args)
    output = again.communicate(timeout=300)[0]
    assert again.returncode == 0, output
    assert "continues with 1 of 3 trials" in output
    trials = _study(out).trials
    counted = [t for t in trials if t.state.is_finished() and not t.user_attrs.get(INTERRUPTED)]
    assert len(counted) == 3 and (out / "best" / "weights.safetensors").is_file()


def test_jobs_run_worker_processes_that_share_the_study(table, tmp_path):
    out = tmp_path / "s"
    result = CliRunner().invoke(app, _command(table, out, "--trials", "4", "--jobs", "2"))
    assert result.exit_code == 0, result.output
    trials = _study(out).trials
    assert len(trials) == 4 and all(t.state.is_finished() for t in trials)
    workers = {t.user_attrs["worker"]["pid"] for t in trials}
    assert len(workers) == 2 and os.getpid() not in workers


def test_two_commands_share_one_storage(table, tmp_path):
    journal = tmp_path / "shared.journal"
    shared = ["--trials", "5", "--storage", str(journal)]
    processes = [
        _cli(["tune", "mlvae", "table", *_data(table), *SHORT, *shared, "--out", str(tmp_path / n)])
        for n in ("a", "b")
    ]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal))
    )
    trials = optuna.load_study(study_name="mlvae-table", storage=storage).trials
    assert len(trials) == 5  # exactly the trials asked for, between the two
    assert len({t.user_attrs["worker"]["pid"] for t in trials}) == 2
    for name in ("a", "b"):
        assert (tmp_path / name / "best" / "weights.safetensors").is_file()
        assert not (tmp_path / name / "study.db").exists()


def test_out_policy_refuses_other_files_and_other_studies(table, tmp_path):
    runner = CliRunner()
    theirs = tmp_path / "thesis"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("mine")
    refused = runner.invoke(app, _command(table, theirs, "--trials", "1"))
    assert refused.exit_code == 2
    assert "holds files that are not a groupvae study (thesis.tex)" in refused.output
    assert (theirs / "thesis.tex").read_text() == "mine" and len(list(theirs.iterdir())) == 1

    out = tmp_path / "s"
    assert runner.invoke(app, _command(table, out, "--trials", "1")).exit_code == 0
    (out / "notes.txt").write_text("mine")
    other = runner.invoke(app, _command(table, out, "--trials", "2", "--set", "beta=2"))
    assert other.exit_code == 2 and "holds a study of other settings (fixed:" in other.output
    same = runner.invoke(app, _command(table, out, "--trials", "1"))
    assert same.exit_code == 0, same.output
    assert "continues with 1 of 1 trials" in same.output and "kept " in same.output
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("nope=1:2", "--space nope=1:2: unknown field 'nope'; tunable fields: "),
        ("hidden=64:16", "--space hidden=64:16: the range of hidden is empty"),
        ("lr=0:1e-2:log", "--space lr=0:1e-2:log: a log range needs low > 0"),
    ],
)
def test_bad_space_input_ends_in_one_line(table, tmp_path, space, message):
    result = CliRunner().invoke(
        app, _command(table, tmp_path / "s", "--trials", "1", "--space", space)
    )
    assert result.exit_code == 2
    assert result.output.startswith("error: --space ")
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_storage_urls_and_journal_files_resolve_or_are_refused(tmp_path):
    embedded = StudyStorage.resolve(None, tmp_path / "s")
    assert embedded.url == f"sqlite:///{(tmp_path / 's' / 'study.db').resolve()}"
    assert embedded.local_file is not None
    journal = StudyStorage.resolve(str(tmp_path / "study.journal"), tmp_path / "s")
    assert journal.journal == str((tmp_path / "study.journal").resolve())
    server = StudyStorage.resolve("postgresql://me:secret@db/tune", tmp_path / "s")
    assert server.local_file is None and "secret" not in server.describe()
    with pytest.raises(ConfigError, match="in-memory SQLite database"):
        StudyStorage.resolve("sqlite:///:memory:", tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        StudyStorage.resolve(str(tmp_path / "nowhere" / "study.journal"), tmp_path)
    with pytest.raises(ConfigError, match="cannot open the study's storage"):
        StudyStorage.resolve("nosuchdb://x/y", tmp_path).open()


def test_timeout_starts_no_trial_after_it_and_keeps_the_study(table, tmp_path):
    options = {"data_options": _options(table), "overrides": FAST, "progress": False}
    first = tune("mlvae", "table", tmp_path / "s", trials=1, **options)
    later = tune("mlvae", "table", tmp_path / "s", trials=3, timeout=1e-6, **options)
    assert len(later.study.trials) == 1 and later.best.number == first.best.number
    assert later.model is None and later.run_dir == tmp_path / "s" / "best"  # kept
