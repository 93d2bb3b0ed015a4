"""The benchmark registry and ``groupvae benchmark NAME``, generated from it: every
benchmark listed with its description, its own ``--help``, and bad values refused in one
line before any training."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from groupvae.benchmarks.catalog import BENCHMARKS
from groupvae.benchmarks.exam_scores import ExamScoresBenchmark
from groupvae.benchmarks.multilevel import MultilevelBenchmark
from groupvae.benchmarks.runner import Protocol
from groupvae.cli import app
from groupvae.errors import ConfigError, UnknownNameError

runner = CliRunner()
NAMES = list(BENCHMARKS)


def _flat(text: str) -> str:
    """``--help`` output without its box drawing and line breaks."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_benchmark_help_lists_every_registered_benchmark_with_its_description():
    assert set(NAMES) == {
        "exam-scores",
        "mlvae-mnist",
        "cpvae",
        "ugvae",
        "multilevel",
        "group-analyses",
    }
    result = runner.invoke(app, ["benchmark", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    listed = _flat(result.output)
    for name, bench in BENCHMARKS.items():
        assert f"{name} {bench.description}" in listed


@pytest.mark.parametrize("name", NAMES)
def test_each_benchmark_has_its_help_and_the_shared_options(name):
    bench = BENCHMARKS[name]
    result = runner.invoke(app, ["benchmark", name, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    for flag in ("--jobs", "--out", "--set", "--quick", str(bench.out)):
        assert flag in text
    assert bench.seeds_flags[0] in text
    assert ("--models" in text) == ("models" in bench.common)
    assert ("--protocol" in text) == bool(bench.protocols)
    for option in bench.options:
        assert option.flag in text


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{seeds}", "0"], "must be >= 1, got 0"),
        (["--jobs", "0"], "--jobs must be >= 1, got 0"),
        (["--set", "nope=1"], "nope"),
        (["--set", "lr"], "key=value"),
    ],
)
def test_bad_values_are_one_line_before_any_training(name, args, message, tmp_path):
    bench = BENCHMARKS[name]
    args = [a.format(seeds=bench.seeds_flags[0]) for a in args]
    result = runner.invoke(app, ["benchmark", name, *args, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", [n for n in NAMES if "models" in BENCHMARKS[n].common])
def test_an_unknown_model_is_refused(name, tmp_path):
    result = runner.invoke(app, ["benchmark", name, "--models", "vae,nope"])
    assert result.exit_code == 2 and "unknown model 'nope'" in result.output


def test_configure_is_the_variant_with_the_changes_on_top():
    exam = BENCHMARKS["exam-scores"]
    paper = exam.configure("paper", epochs=2, seeds=1, sets=["lr=2e-3"], groups=60)
    assert paper == ExamScoresBenchmark(
        seeds=(0,), epochs=2, n_groups=60, overrides={"lr": "2e-3"}, protocol="paper",
        average_epochs=(1, 2),
    )  # fmt: skip
    assert exam.configure("fast", data=["noise_std=0"]).data == {"noise_std": 0}
    assert exam.configure("quick") == ExamScoresBenchmark.quick()
    with pytest.raises(ConfigError, match="--protocol must be default, quick, fast or paper"):
        exam.configure("nope")
    with pytest.raises(ConfigError, match="table must be"):
        exam.configure(table="nope")
    multilevel = BENCHMARKS["multilevel"]
    settings = multilevel.configure("quick", seeds=2, jobs=1, datasets="Chem97")
    assert (settings.splits, settings.seeds, settings.datasets) == ((0, 1), (0, 1), ("Chem97",))
    assert settings.overrides == MultilevelBenchmark.quick().overrides
    with pytest.raises(UnknownNameError, match="unknown model 'nope'"):
        multilevel.configure(models="vae,nope")
    with pytest.raises(TypeError, match="epochs"):
        multilevel.configure(epochs=3)  # multilevel has no --epochs
    ugvae = BENCHMARKS["ugvae"]
    assert ugvae.configure(models="ugvae,mlvae-random").models == ("ugvae", "mlvae-random")


def test_every_benchmark_declares_a_protocol_of_its_default_settings():
    for name, bench in BENCHMARKS.items():
        if name == "multilevel":  # its protocol loads the data sets
            continue
        protocol = bench.protocol(bench.configure())
        assert isinstance(protocol, Protocol) and protocol.runs and protocol.name.startswith(name)


def test_quick_and_another_protocol_are_refused():
    result = runner.invoke(app, ["benchmark", "exam-scores", "--quick", "--protocol", "paper"])
    assert result.exit_code == 2 and "choose one" in result.output
