"""Figures of runs on the user's own data (``groupvae plot curves|codes|reconstruction|
translation``), drawn from tiny table and AnnData runs; inapplicable figures are refused in
one line naming only the figures that apply."""

from __future__ import annotations

import re
import struct

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from groupvae.cli import app
from groupvae.data.readers import write_h5ad
from groupvae.errors import ConfigError, DataError
from groupvae.models.factory import load
from groupvae.plots import PLOTS
from groupvae.plots.own_data import column_values, draw_codes, draw_curves
from groupvae.plots.run_figures import applicable_plots
from groupvae.store.run_directory import read_manifest

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TABLE_KINDS = ("curves", "codes", "reconstruction", "translation")
FEATURE_KINDS = ("curves", "codes", "reconstruction")


def png_size(path) -> tuple[int, int]:
    """``(width, height)`` in pixels of a PNG file (from its IHDR chunk)."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC
    return struct.unpack(">II", head[16:24])


def check_figure(run, path) -> None:
    width, height = png_size(path)
    assert 300 <= width <= 3000 and 250 <= height <= 3000
    assert path.name in (read_manifest(run) or {})


def train(args: list[str]) -> None:
    args += ["--epochs", "2", "--set", "hidden=8", "--set", "progress=false"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("own-table")
    rng = np.random.default_rng(0)
    sizes = rng.integers(3, 7, size=10)
    school = np.repeat([f"s{i}" for i in range(10)], sizes)
    n = len(school)
    pd.DataFrame(
        {
            "student": np.arange(n),
            "school": school,
            "score": 50 + np.repeat(rng.normal(0, 3, 10), sizes) + rng.normal(0, 1, n),
            "hours": 10 + rng.normal(0, 2, n),
            "region": np.repeat(rng.choice(["north", "south"], 10), sizes),
            "sex": rng.choice(["F", "M"], n),
        }
    ).to_csv(tmp / "scores.csv", index=False)
    out = tmp / "run"
    train(
        [
            "train",
            "mlvae",
            "table",
            "--out",
            str(out),
            "--data",
            f"path={tmp / 'scores.csv'}",
            "--data",
            "group=school",
            "--data",
            "id=student",
            "--data",
            "features=score,hours,sex",
            "--data",
            "categorical=sex",
        ]
    )
    return out


@pytest.fixture(scope="module")
def anndata_run(tmp_path_factory):
    anndata = pytest.importorskip("anndata")
    tmp = tmp_path_factory.mktemp("own-anndata")
    rng = np.random.default_rng(1)
    donors = np.repeat([f"d{i}" for i in range(8)], 4)
    obs = pd.DataFrame(
        {
            "donor": donors,
            "batch": np.repeat(["b1", "b2"], 16),
            "n_genes": rng.integers(100, 200, 32),
        },
        index=[f"cell{i}" for i in range(32)],
    )
    x = rng.poisson(3.0, size=(32, 5)).astype(np.float32)
    write_h5ad(anndata.AnnData(X=x, obs=obs), tmp / "cells.h5ad")
    out = tmp / "run"
    train(
        [
            "train",
            "mlvae",
            "anndata",
            "--out",
            str(out),
            "--data",
            f"path={tmp / 'cells.h5ad'}",
            "--data",
            "group=donor",
            "--set",
            "group_dim=3",
        ]
    )
    return out


@pytest.mark.parametrize("kind", TABLE_KINDS)
def test_every_own_data_figure_of_a_table_run(table_run, kind):
    path = PLOTS[kind](table_run, None, seed=0)
    assert path == table_run / f"{kind}.png"
    check_figure(table_run, path)


@pytest.mark.parametrize("kind", FEATURE_KINDS)
def test_every_own_data_figure_of_an_anndata_run(anndata_run, kind):
    path = PLOTS[kind](anndata_run, None, seed=0)
    check_figure(anndata_run, path)


@pytest.mark.parametrize("color", ["region", "score"])
def test_plot_codes_colours_by_a_column_of_the_table(table_run, color):
    result = runner.invoke(
        app,
        [
            "plot",
            "codes",
            str(table_run),
            "--color",
            color,
            "--out",
            str(table_run / f"codes-{color}.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    check_figure(table_run, table_run / f"codes-{color}.png")


def test_plot_codes_colours_by_an_obs_column_of_an_h5ad_file(anndata_run):
    path = PLOTS["codes"](anndata_run, anndata_run / "codes-batch.png", color="batch")
    check_figure(anndata_run, path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["swap"],
            r"needs a run on images.*Plot one of translation, curves, codes, "
            r"reconstruction instead\.$",
        ),
        (
            ["codes", "--color", "nope"],
            r"'nope' is not a column of scores\.csv; its columns "
            r"are student, school, score",
        ),
        (["codes", "--color", "sex"], r"'sex' varies within groups and is not numeric"),
        (["curves", "--color", "region"], r"--color is an option of the codes figure"),
    ],
)
def test_refusals_are_one_line(table_run, tmp_path, args, message):
    out = tmp_path / "x.png"
    result = runner.invoke(app, ["plot", args[0], str(table_run), "--out", str(out), *args[1:]])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()


def test_translation_of_an_anndata_run_suggests_only_the_figures_that_apply(anndata_run):
    with pytest.raises(ConfigError, match=r"for exam-scores and table runs") as err:
        PLOTS["translation"](anndata_run, None)
    assert str(err.value).endswith("Plot one of curves, codes, reconstruction instead.")
    assert "\n" not in str(err.value)
    assert applicable_plots(load(anndata_run)) == list(FEATURE_KINDS)


def test_a_model_without_a_group_latent_gets_no_codes(table_run, tmp_path):
    csv = load(table_run).extra_metadata["data"]["file"]["path"]
    out = tmp_path / "vae"
    train(
        [
            "train",
            "vae",
            "table",
            "--out",
            str(out),
            "--data",
            f"path={csv}",
            "--data",
            "group=school",
            "--data",
            "features=score,hours",
        ]
    )
    with pytest.raises(ConfigError, match=r"no group latent.*Plot one of curves, reconstruction"):
        PLOTS["codes"](out, None)
    check_figure(out, PLOTS["reconstruction"](out, None))


def test_curves_mark_the_best_and_stopping_epochs(tmp_path):
    history = pd.DataFrame(
        {
            "epoch": range(6),
            "train_elbo_per_obs": -np.linspace(9, 4, 6),
            "val_elbo_per_obs": -np.array([9, 7, 5, 5.5, 6, 6.5]),
        }
    )
    record = {"best_epoch": 2, "best": -5.0, "stopped_epoch": 5, "monitor": "val_elbo_per_obs"}
    path = draw_curves(history, tmp_path / "c.png", early_stopping=record, title="t")
    assert png_size(path)[0] >= 300
    with pytest.raises(DataError, match="no train_elbo_per_obs or train_loss column"):
        draw_curves(pd.DataFrame({"epoch": [0]}), tmp_path / "d.png")


def test_column_values_are_constants_or_group_means():
    frame = pd.DataFrame({"g": ["a", "a", "b"], "k": ["x", "x", "y"], "v": [1.0, 3.0, 5.0]})
    ids = np.array(["b", "a"])
    assert column_values(frame, "g", "k", ids, "f")[0].tolist() == ["y", "x"]
    values, label = column_values(frame, "g", "v", ids, "f")
    assert values.tolist() == [5.0, 2.0] and label == "group mean of v"
    with pytest.raises(DataError, match="group 'c' of the run is not in f"):
        column_values(frame, "g", "v", np.array(["c"]), "f")


def test_codes_of_a_larger_group_latent_are_projected(tmp_path):
    codes = pd.DataFrame(np.random.default_rng(0).normal(size=(6, 4)), columns=list("abcd"))
    path = draw_codes(codes, np.arange(6), "size", tmp_path / "p.png")
    assert png_size(path)[0] >= 300
