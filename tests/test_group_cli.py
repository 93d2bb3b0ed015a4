"""``groupvae encode --out codes.h5ad`` and ``groupvae analyse KIND RUN`` end to end, on a
tiny table run and a tiny AnnData run (each test writes its own small files)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from groupvae.cli import app
from groupvae.data.readers import write_h5ad
from groupvae.runs.analyses import ANALYSES

anndata = pytest.importorskip("anndata")
runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"
TINY = ["--epochs", "2", "--set", "hidden=8", "--set", "progress=false"]


def invoke(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def refused(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    return result.output


def scores(n_groups: int = 12, seed: int = 0, first: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 7, n_groups)
    ids = [f"s{i:02d}" for i in range(first, first + n_groups)]
    region = rng.choice(["north", "south"], n_groups)
    effect = rng.normal(0, 3, n_groups) + np.where(region == "north", 4.0, 0.0)
    n = int(sizes.sum())
    return pd.DataFrame(
        {
            "student": [f"{first}-{i}" for i in range(n)],
            "school": np.repeat(ids, sizes),
            "region": np.repeat(region, sizes),
            "budget": np.repeat(rng.normal(100, 20, n_groups), sizes),
            "maths": 50 + np.repeat(effect, sizes) + rng.normal(0, 1, n),
            "reading": 50 + rng.normal(0, 2, n),
        }
    )


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("group-table")
    scores().to_csv(tmp / "scores.csv", index=False)
    scores(4, seed=1, first=50).to_csv(tmp / "new.csv", index=False)
    invoke("train", "mlvae", "table", "--out", tmp / "run", *TINY,
           "--data", f"path={tmp / 'scores.csv'}", "--data", "group=school",
           "--data", "id=student", "--data", "features=maths,reading")  # fmt: skip
    return tmp, tmp / "run"


def cells(n_donors: int = 8, first: int = 0, seed: int = 0):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 6, n_donors)
    n = int(sizes.sum())
    obs = pd.DataFrame(
        {
            "donor": np.repeat([f"d{i}" for i in range(first, first + n_donors)], sizes),
            "condition": np.repeat(np.tile(["treated", "control"], n_donors // 2), sizes),
            "age": np.repeat(rng.integers(20, 80, n_donors), sizes).astype(float),
            "cell_type": rng.choice(["T", "B"], n),
        },
        index=[f"c{first}-{i}" for i in range(n)],
    )
    adata = anndata.AnnData(X=rng.poisson(3.0, (n, 6)).astype(np.float32), obs=obs)
    adata.var_names = [f"gene{j}" for j in range(6)]
    return adata


@pytest.fixture(scope="module")
def anndata_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("group-anndata")
    write_h5ad(cells(), tmp / "cells.h5ad")
    write_h5ad(cells(4, first=100, seed=1), tmp / "new.h5ad")
    invoke("train", "mlvae", "anndata", "--out", tmp / "run", *TINY,
           "--data", f"path={tmp / 'cells.h5ad'}", "--data", "group=donor")  # fmt: skip
    return tmp, tmp / "run"


# --------------------------------------------------------------------- encode
def test_encode_writes_h5ad_files_that_anndata_reads_back(table_run, anndata_run):
    for tmp, run, group, n_groups in ((*table_run, "school", 12), (*anndata_run, "donor", 8)):
        invoke("encode", run, "--out", tmp / "codes.h5ad")
        observations = anndata.read_h5ad(tmp / "codes.h5ad")
        groups = anndata.read_h5ad(tmp / "codes.groups.h5ad")
        assert observations.obsm["X_groupvae"].shape[0] == observations.n_obs
        assert observations.obsm["X_groupvae_std"].shape == observations.obsm["X_groupvae"].shape
        assert group in observations.obs.columns
        assert groups.n_obs == n_groups and "group_size" in groups.obs.columns
        assert groups.obsm["X_groupvae"].shape[0] == n_groups
    table = anndata.read_h5ad(table_run[0] / "codes.h5ad")
    assert list(table.obs_names[:2]) == ["0-0", "0-1"]  # the id column, as written
    assert {"region", "budget"} <= set(anndata.read_h5ad(table_run[0] / "codes.groups.h5ad").obs)
    cells_ = anndata.read_h5ad(anndata_run[0] / "codes.h5ad")
    assert list(cells_.obs_names) == list(cells().obs_names)
    donors = anndata.read_h5ad(anndata_run[0] / "codes.groups.h5ad")
    assert set(donors.obs.columns) == {"donor", "condition", "age", "group_size"}


def test_encode_h5ad_never_replaces_a_file_without_overwrite(table_run):
    tmp, run = table_run
    (tmp / "mine.groups.h5ad").write_text("the user's own file")
    message = refused("encode", run, "--out", tmp / "mine.h5ad")
    assert "mine.groups.h5ad already exists; add --overwrite" in message
    assert not (tmp / "mine.h5ad").exists()
    assert (tmp / "mine.groups.h5ad").read_text() == "the user's own file"
    invoke("encode", run, "--out", tmp / "mine.h5ad", "--overwrite")
    assert anndata.read_h5ad(tmp / "mine.groups.h5ad").n_obs == 12


# -------------------------------------------------------------------- analyse
ARGS = {
    "distances": ["--k", "3", "--clusters", "2"],
    "outliers": ["--samples", "5", "--top", "3"],
    "covariates": ["--folds", "2"],
}


def analyse(tmp, run, kind, *args, name=None):
    out = tmp / f"{name or kind}.csv"
    invoke("analyse", kind, run, "--out", out, *args)
    assert (tmp / f"{name or kind}.png").read_bytes().startswith(PNG)
    return pd.read_csv(out)


def test_every_analysis_of_a_table_run(table_run):
    tmp, run = table_run
    near = analyse(tmp, run, "distances", *ARGS["distances"])
    assert len(near) == 12 * 3 and set(near.columns) >= {"group", "neighbour", "w2", "cluster"}
    assert (near["group"] != near["neighbour"]).all()
    out = analyse(tmp, run, "outliers", *ARGS["outliers"])
    assert list(out["rank"]) == list(range(1, 13)) and out["held_out"].sum() == 2
    cov = analyse(tmp, run, "covariates", *ARGS["covariates"])
    assert set(cov["column"]) == {"region", "budget"}  # not the model's inputs or ids
    assert set(cov["representation"]) == {"group codes", "pseudobulk", "chance"}
    new = analyse(tmp, run, "new-groups", "--new", tmp / "new.csv", "--k", "2")
    assert list(new["group"]) == ["s50", "s51", "s52", "s53"] and not new["seen"].any()
    diff = analyse(tmp, run, "differential", "--by", "region", "--a", "north", "--b", "south",
                   "--samples", "50")  # fmt: skip
    assert set(diff["feature"]) == {"maths", "reading"}
    assert (diff["prob_change"].between(0, 1)).all()
    ids = analyse(tmp, run, "differential", "--a", "s00,s01", "--b", "s02,s03", "--samples", "20",
                  name="by-ids")  # fmt: skip
    assert len(ids) == 2


def test_every_analysis_of_an_anndata_run(anndata_run):
    tmp, run = anndata_run
    matrix = analyse(tmp, run, "distances", "--matrix", "--metric", "euclidean")
    assert matrix.shape == (8, 10) and np.allclose(np.diag(matrix.iloc[:, 2:].to_numpy()), 0)
    assert len(analyse(tmp, run, "outliers", *ARGS["outliers"])) == 8
    cov = analyse(tmp, run, "covariates", *ARGS["covariates"])
    assert set(cov["column"]) == {"condition", "age"}
    new = analyse(tmp, run, "new-groups", "--new", tmp / "new.h5ad", "--k", "3")
    assert list(new["group"]) == ["d100", "d101", "d102", "d103"]
    diff = analyse(tmp, run, "differential", "--by", "condition", "--a", "treated",
                   "--b", "control", "--samples", "40")  # fmt: skip
    assert set(diff["feature"]) == {f"gene{j}" for j in range(6)}
    assert (diff["delta"] == 0.25).all()  # a log2 fold change for counts


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["differential", "--a", "s00,s99", "--b", "s02,s03"], "'s99' not a group of the data"),
        (["differential", "--a", "s00", "--b", "s02,s03"], "set A needs at least 2 groups"),
        (["distances", "--k", "12"], "k = 12 is larger than the number of other groups (11)"),
        (["outliers", "--k", "3"], "--k is not an option of outliers; it takes: --samples, --top"),
        (["new-groups"], "new-groups needs the new data: --new FILE"),
        (["covariates", "--columns", "maths"], "vary within groups"),
        (["clusters"], "unknown analysis 'clusters'"),
    ],
)
def test_analyse_bad_input_is_one_line(table_run, args, message):
    tmp, run = table_run
    kind, *rest = args
    assert message in refused("analyse", kind, run, "--out", tmp / "bad.csv", *rest)
    assert not (tmp / "bad.csv").exists() and not (tmp / "bad.png").exists()


def test_analyse_never_replaces_a_file_without_overwrite(table_run):
    tmp, run = table_run
    (tmp / "taken.png").write_text("the user's figure")
    message = refused("analyse", "distances", run, "--out", tmp / "taken.csv")
    assert "taken.png already exists; add --overwrite" in message
    assert not (tmp / "taken.csv").exists()
    invoke("analyse", "distances", run, "--out", tmp / "taken.csv", "--overwrite")
    assert (tmp / "taken.png").read_bytes().startswith(PNG)


def test_every_analysis_is_a_cli_kind():
    assert set(ANALYSES) == {"distances", "outliers", "new-groups", "covariates", "differential"}


def test_a_model_without_a_group_latent_has_group_posteriors_but_no_differential(table_run):
    tmp, _ = table_run
    run = tmp / "vae-run"
    invoke("train", "vae", "table", "--out", run, *TINY, "--data", f"path={tmp / 'scores.csv'}",
           "--data", "group=school", "--data", "features=maths,reading")  # fmt: skip
    near = analyse(tmp, run, "distances", "--k", "2", name="vae-distances")
    assert len(near) == 12 * 2  # the product of each school's members' posteriors
    message = refused("analyse", "differential", run, "--out", tmp / "vae-de.csv",
                      "--a", "s00,s01", "--b", "s02,s03")  # fmt: skip
    assert "decodes group codes" in message and "without a group latent" in message
