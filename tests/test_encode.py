"""Latents out (``get_latent_representation``, ``groupvae encode``) and translations in the
user's units (``groupvae translate``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from groupvae.cli import app
from groupvae.data.readers import FeatureTransform, read_table
from groupvae.models import create
from groupvae.runs.export import translated_rows

runner = CliRunner()


def frame(n_groups: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 7, size=n_groups)
    school = np.repeat([f"s{i}" for i in range(n_groups)], sizes)
    effect = rng.normal(0, 3, n_groups)[np.repeat(np.arange(n_groups), sizes)]
    n = len(school)
    return pd.DataFrame(
        {
            "student": np.arange(1000, 1000 + n),
            "school": school,
            "score": 50 + effect + rng.normal(0, 1, n),
            "hours": 10 + rng.normal(0, 2, n),
        }
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("encode")
    frame().to_csv(tmp / "scores.csv", index=False)
    out = tmp / "run"
    args = ["train", "cxvae", "table", "--out", str(out), "--epochs", "2", "--set", "hidden=8"]
    args += ["--data", f"path={tmp / 'scores.csv'}", "--data", "group=school"]
    args += ["--data", "id=student", "--data", "features=score,hours"]
    args += ["--set", "progress=false"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return tmp, out


def test_get_latent_representation_is_indexed_by_the_users_ids():
    data = read_table(frame(), group="school", id="student")
    model = create("mlvae", dataset="table", obs_shape=data.obs_shape, seed=0)
    groups = model.get_latent_representation(data, level="group")
    inst = model.get_latent_representation(data, level="instance", with_std=True)
    assert list(groups.index) == [f"s{i}" for i in sorted(range(10), key=str)]
    assert groups.index.name == "group" and list(groups.columns) == ["u_0", "u_1"]
    assert list(inst.index) == list(frame()["student"]) and inst.index.name == "row_id"
    assert list(inst["group"]) == list(frame()["school"])
    np.testing.assert_allclose(inst[["v_0", "v_1"]], model.encode_instances(data).mean)
    assert (inst[["v_0_std", "v_1_std"]] > 0).all().all()
    sample = model.get_latent_representation(data, level="instance", give_mean=False)
    assert not np.allclose(sample[["v_0", "v_1"]], inst[["v_0", "v_1"]])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_encode_writes_one_row_per_observation_and_per_group(run, suffix):
    tmp, out = run
    codes = tmp / f"codes{suffix}"
    result = runner.invoke(app, ["encode", str(out), "--out", str(codes)])
    assert result.exit_code == 0, result.output
    if suffix == ".csv":
        table = pd.read_csv(codes, dtype={"row_id": str})
    else:
        table = pd.read_parquet(codes)
    inst, groups = table[table.level == "instance"], table[table.level == "group"]
    # the ids as the training CSV wrote them (read as text)
    assert list(inst["row_id"]) == list(frame()["student"].astype(str))
    assert sorted(groups["group"]) == sorted(frame()["school"].unique())
    assert {"v_0", "v_0_std", "u_0", "u_1_std"} <= set(table.columns)


def test_encode_new_rows_uses_the_runs_transform(run):
    tmp, out = run
    new = frame(seed=1).iloc[:7]
    new.to_csv(tmp / "new.csv", index=False)
    codes = tmp / "new-codes.csv"
    result = runner.invoke(app, ["encode", str(out), "--data", f"path={tmp / 'new.csv'}",
                                 "--out", str(codes)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (pd.read_csv(codes).level == "instance").sum() == 7


def test_translate_writes_the_source_rows_in_user_units(run):
    tmp, out = run
    path = tmp / "translated.csv"
    args = ["translate", str(out), "--source", "s1", "--target", "s2", "--out", str(path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(path)
    src = frame()[frame()["school"] == "s1"]
    assert list(rows["row_id"]) == list(src["student"]) and list(rows.columns[1:]) == [
        "score",
        "hours",
    ]
    # user units: scores near 50, not standardised values near 0
    assert abs(rows["score"].mean() - 50) < 15


def test_translation_is_the_models_decoding_mapped_back_by_the_transform(run):
    from groupvae import load

    tmp, out = run
    model = load(out)
    t = FeatureTransform.from_dict(model.extra_metadata["feature_transform"])
    data = read_table(tmp / "scores.csv", group="school", id="student", transform=t)
    rows = translated_rows(model, data, "s1", "s2")
    src = data.subset_groups(np.array([list(data.group_ids).index("s1")]))
    tgt = data.subset_groups(np.array([list(data.group_ids).index("s2")]))
    u = np.repeat(model.encode_groups(tgt).mean, src.n_obs, 0)
    decoded = model.decode(u, model.encode_instances(src).mean)  # model units
    np.testing.assert_allclose(rows[["score", "hours"]], t.inverse(decoded))
    frame = model.translate(src, u)  # the same, as the user's table
    assert frame.index.name == "row_id" and list(frame.index) == list(rows["row_id"])
    np.testing.assert_allclose(frame[["score", "hours"]], t.inverse(decoded))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "nope", "--target", "s2", "--out", "x.csv"], "is not a group of the data"),
        (["--source", "s1", "--target", "s2", "--out", "x.txt"], "must end in .csv or .parquet"),
    ],
)
def test_translate_bad_input_is_one_line(run, args, message):
    _, out = run
    result = runner.invoke(app, ["translate", str(out), *args])
    assert result.exit_code == 2 and message in result.output
