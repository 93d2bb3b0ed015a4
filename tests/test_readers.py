"""Readers of your own data (table, npz, anndata, image-folder), on small files the tests
write, and their bad-input errors: one line naming the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from groupvae.data import DATASETS
from groupvae.data.readers import (
    FeatureTransform,
    read_h5ad,
    read_image_folder,
    read_npz,
    read_table,
)
from groupvae.data.readers import write_h5ad as save_h5ad
from groupvae.errors import DataError


def scores_frame(n_groups: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 6, size=n_groups)
    school = np.repeat([f"school-{i}" for i in range(n_groups)], sizes)
    n = len(school)
    return pd.DataFrame(
        {
            "school": school,
            "normexam": rng.normal(5.0, 2.0, n),
            "standLRT": rng.normal(-1.0, 0.5, n),
            "sex": rng.choice(["F", "M"], n),
            "type": rng.choice(["a", "b", "c"], n),
        },
        index=pd.Index(np.arange(100, 100 + n), name="student"),
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    return scores_frame()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_file_keeps_ids_standardises_and_round_trips_user_units(tmp_path, frame, suffix):
    path = tmp_path / f"scores{suffix}"
    (frame.reset_index().to_csv if suffix == ".csv" else frame.reset_index().to_parquet)(path)
    data = read_table(path, group="school", features="normexam,standLRT", id="student")
    assert data.obs_shape == (2,)
    assert list(data.group_ids) == sorted(frame["school"].unique())
    assert list(data.group_ids[data.group]) == list(frame["school"])
    # a CSV's ids are its text as written; a Parquet file's keep their stored type
    written = frame.index.astype(str) if suffix == ".csv" else frame.index
    assert list(data.aux["row_id"]) == list(written)
    np.testing.assert_allclose(data.x.mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(data.x.std(0), 1.0, atol=1e-5)
    raw = frame[["normexam", "standLRT"]].to_numpy()
    np.testing.assert_allclose(data.transform.inverse(data.x), raw, rtol=1e-5, atol=1e-5)


def test_categorical_features_are_one_hot_and_recorded(frame):
    data = read_table(frame, group="school", features=["normexam", "sex"], categorical="sex")
    t = data.transform
    assert t.columns == ("normexam", "sex=F", "sex=M")
    assert t.categories == {"sex": ["F", "M"]}
    np.testing.assert_array_equal(data.x[:, 1], (frame["sex"] == "F").to_numpy())
    assert FeatureTransform.from_dict(t.to_dict()) == t


def test_labels_population_and_integer_group_column(frame):
    frame = frame.assign(school=frame["school"].str[-1].astype(int) * 7)
    data = read_table(frame, group="school", features="normexam", labels="type", population="sex")
    assert list(data.group_ids) == sorted(frame["school"].unique())
    assert set(data.labels) <= {0, 1, 2} and set(data.aux["population"]) <= {0, 1}


def test_jacobian_matches_the_closed_form_of_a_scaled_normal():
    # x ~ N(m, s^2) is z = (x - m) / s ~ N(0, 1): log p(x) = log p(z) - log s.
    m, s = 3.0, 2.5
    t = FeatureTransform(("x",), (m,), (s,))
    x = np.array([[1.0], [3.0], [7.5]])
    z = t.forward(x)[:, 0].astype(np.float64)
    log_pz = -0.5 * (z**2 + np.log(2 * np.pi))
    exact = -0.5 * (((x[:, 0] - m) / s) ** 2 + np.log(2 * np.pi * s**2))
    np.testing.assert_allclose(log_pz + t.log_jacobian, exact, rtol=1e-6)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"group": "class"}, "has no column(s) ['class']; its columns are: school, normexam"),
        ({"group": "school", "features": "normexam,age"}, "no column(s) ['age']"),
        ({"group": "school", "features": "normexam,sex", "continuous": "sex"}, "declare it categ"),
        ({}, "needs the group column"),
        ({"group": "school", "missing": "guess"}, "missing must be one of"),
    ],
)
def test_table_bad_input_names_the_fix(frame, options, message):
    with pytest.raises(DataError) as err:
        read_table(frame, **options)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_values_are_an_error_or_dropped_with_a_count(frame):
    frame.loc[frame.index[:3], "normexam"] = np.nan
    with pytest.raises(DataError, match=r"3 rows have missing values .*missing=drop"):
        read_table(frame, group="school", features="normexam")
    notes: list[str] = []
    data = read_table(frame, group="school", features="normexam", missing="drop", echo=notes.append)
    assert data.n_obs == len(frame) - 3 and "dropped 3 of" in notes[0]


def test_a_file_that_is_not_what_its_suffix_says(tmp_path):
    fake = tmp_path / "scores.parquet"
    fake.write_text("school,x\na,1\n")
    with pytest.raises(DataError, match=r"is not a readable Parquet file"):
        read_table(fake, group="school")
    (tmp_path / "scores.txt").write_text("school,x\na,1\n")
    with pytest.raises(DataError, match=r"reads .csv, .parquet"):
        read_table(tmp_path / "scores.txt", group="school")
    with pytest.raises(DataError, match=r"does not exist"):
        read_table(tmp_path / "none.csv", group="school")


def test_npz_reader_and_its_errors(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    group = np.repeat(np.array(["a", "b", "c", "d"]), 5)
    np.savez(tmp_path / "d.npz", x=x, group=group, labels=np.arange(20) % 2)
    data = read_npz(tmp_path / "d.npz")
    np.testing.assert_array_equal(data.x, x)
    assert list(data.group_ids) == ["a", "b", "c", "d"] and data.labels.sum() == 10
    assert read_npz(tmp_path / "d.npz", standardise=True).transform.columns == ("x0", "x1", "x2")
    np.savez(tmp_path / "e.npz", x=x)
    with pytest.raises(DataError, match=r"no array\(s\) \['group'\]; its arrays are: x"):
        read_npz(tmp_path / "e.npz")
    (tmp_path / "f.npz").write_text("not a zip")
    with pytest.raises(DataError, match=r"is not a readable .npz archive"):
        read_npz(tmp_path / "f.npz")


def write_h5ad(path, sparse: bool):
    anndata = pytest.importorskip("anndata")
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, size=(12, 5)).astype(np.float32)
    obs = pd.DataFrame(  # pandas' default strings: write_h5ad makes them writable
        {"donor": np.repeat(["d1", "d2", "d3"], 4), "cell_type": np.tile(["T", "B"], 6)},
        index=[f"cell{i}" for i in range(12)],
    )
    adata = anndata.AnnData(X=sp.csr_matrix(counts) if sparse else counts, obs=obs)
    adata.layers["counts"] = counts * 2
    save_h5ad(adata, path)
    return counts


@pytest.mark.parametrize("sparse", [False, True])
def test_anndata_reader_dense_sparse_and_layer(tmp_path, sparse):
    counts = write_h5ad(tmp_path / "cells.h5ad", sparse)
    data = read_h5ad(tmp_path / "cells.h5ad", group="donor", labels="cell_type")
    np.testing.assert_array_equal(data.x, counts)
    assert list(data.group_ids) == ["d1", "d2", "d3"] and data.aux["row_id"][0] == "cell0"
    layer = read_h5ad(tmp_path / "cells.h5ad", group="donor", layer="counts")
    np.testing.assert_array_equal(layer.x, counts * 2)


def test_anndata_errors_name_the_fix(tmp_path):
    write_h5ad(tmp_path / "cells.h5ad", False)
    with pytest.raises(DataError, match=r"has no 'sample'; its .obs columns are: donor, cell_type"):
        read_h5ad(tmp_path / "cells.h5ad", group="sample")
    with pytest.raises(DataError, match=r"has no layer 'raw'; its layers are: counts"):
        read_h5ad(tmp_path / "cells.h5ad", group="donor", layer="raw")
    (tmp_path / "fake.h5ad").write_text("hello")
    with pytest.raises(DataError, match=r"is not a readable .h5ad file"):
        read_h5ad(tmp_path / "fake.h5ad", group="donor")


def write_images(root, n_groups: int = 3, per_group: int = 2):
    from PIL import Image

    rng = np.random.default_rng(0)
    for g in range(n_groups):
        (root / f"person{g}").mkdir(parents=True)
        for k in range(per_group):
            pixels = rng.integers(0, 256, size=(10, 12, 3), dtype=np.uint8)
            suffix = "png" if k % 2 == 0 else "jpg"
            Image.fromarray(pixels).save(root / f"person{g}" / f"{k}.{suffix}")


def test_image_folder_reader_grey_rgb_and_labels(tmp_path):
    root = tmp_path / "faces"
    write_images(root)
    grey = read_image_folder(root, size=8)
    assert grey.x.shape == (6, 1, 8, 8) and grey.x.min() >= 0 and grey.x.max() <= 1
    assert list(grey.group_ids) == ["person0", "person1", "person2"]
    assert grey.aux["row_id"][0] == "person0/0.png"
    labels = pd.DataFrame({"path": grey.aux["row_id"], "label": ["x", "y"] * 3})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    rgb = read_image_folder(root, size=6, mode="rgb", labels=tmp_path / "labels.csv")
    assert rgb.x.shape == (6, 3, 6, 6) and list(rgb.labels) == [0, 1] * 3


def test_image_folder_errors_name_the_fix(tmp_path):
    (tmp_path / "empty" / "g").mkdir(parents=True)
    with pytest.raises(DataError, match=r"holds no images: put them in one folder per group"):
        read_image_folder(tmp_path / "empty")
    (tmp_path / "empty" / "g" / "broken.png").write_text("not an image")
    with pytest.raises(DataError, match=r"cannot read image .*broken.png"):
        read_image_folder(tmp_path / "empty")


def test_readers_are_registered_datasets_and_build_from_options(tmp_path, frame):
    frame.to_csv(tmp_path / "s.csv")
    data = DATASETS["table"].build(seed=0, path=str(tmp_path / "s.csv"), group="school",
                                   features="normexam,standLRT")  # fmt: skip
    assert data.obs_shape == (2,)
    assert {"table", "npz", "anndata", "image-folder"} <= set(DATASETS)
    assert all(DATASETS[n].shape_from_data for n in ("table", "npz", "anndata", "image-folder"))


def test_cli_trains_on_a_table_and_records_the_transform(tmp_path):
    import json

    from typer.testing import CliRunner

    from groupvae.cli import app

    frame = scores_frame(12)
    frame.to_csv(tmp_path / "s.csv")
    run = tmp_path / "run"
    args = ["train", "mlvae", "table", "--out", str(run), "--epochs", "1"]
    args += ["--data", f"path={tmp_path / 's.csv'}", "--data", "group=school"]
    args += ["--data", "features=normexam,sex", "--data", "categorical=sex"]
    args += ["--set", "progress=false", "--set", "hidden=8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["feature_transform"]["columns"] == ["normexam", "sex=F", "sex=M"]
    assert json.loads((run / "config.json").read_text())["obs_shape"] == [3]
    assert meta["train_config"]["epochs"] == 1  # what the user set is what runs


def test_cli_refuses_one_row_groups_where_the_regulariser_needs_pairs(tmp_path):
    from typer.testing import CliRunner

    from groupvae.cli import app

    frame = scores_frame(8).reset_index(drop=True)
    frame.loc[0, "school"] = "alone"
    frame.to_csv(tmp_path / "s.csv", index=False)
    args = ["train", "gvae-adv", "table", "--out", str(tmp_path / "run"), "--epochs", "1"]
    args += ["--data", f"path={tmp_path / 's.csv'}", "--data", "group=school"]
    args += ["--data", "features=normexam", "--set", "progress=false"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "have one member" in result.output and "'alone'" in result.output
    assert "Traceback" not in result.output


def test_cli_trains_on_an_image_folder_with_the_datas_shape(tmp_path):
    import json

    from typer.testing import CliRunner

    from groupvae.cli import app

    write_images(tmp_path / "faces", n_groups=5, per_group=3)
    run = tmp_path / "run"
    args = ["train", "mlvae", "image-folder", "--out", str(run), "--epochs", "1"]
    args += ["--data", f"path={tmp_path / 'faces'}", "--data", "size=4", "--data", "mode=rgb"]
    args += ["--set", "progress=false", "--set", "hidden=8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((run / "config.json").read_text())["obs_shape"] == [3, 4, 4]
