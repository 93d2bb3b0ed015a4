"""Mixed-type tables: each column's kind (declared or detected), the mixed likelihood
against a hand computation, decoded outputs in the user's units and ranges, save/load,
and the command line from ``train`` to ``translate``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.special import gammaln
from typer.testing import CliRunner

import groupvae
from groupvae.cli import app
from groupvae.config import ModelConfig
from groupvae.data.readers import FeatureTransform, read_table
from groupvae.errors import ConfigError, DataError
from groupvae.evaluation import group_log_likelihoods
from groupvae.models import create
from groupvae.modules.likelihoods import MixedLikelihood

COLUMNS = ["maths", "colour=blue", "colour=green", "colour=red", "passed=1", "visits"]


def mixed_frame(n_groups: int = 8, seed: int = 0) -> pd.DataFrame:
    """Students by school: a continuous score, a 3-level colour, a 0/1 pass, visit counts."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 7, size=n_groups)
    school = np.repeat([f"school-{i}" for i in range(n_groups)], sizes)
    n = len(school)
    return pd.DataFrame(
        {
            "student": np.arange(500, 500 + n),
            "school": school,
            "maths": 60 + 8 * rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "passed": rng.integers(0, 2, n),
            "visits": rng.poisson(3.0, n),
        }
    )


def read(frame: pd.DataFrame, **options) -> groupvae.data.GroupedDataset:
    return read_table(frame, group="school", id="student", counts="visits", **options)


# ------------------------------------------------------------------ column kinds


def test_kinds_are_detected_or_declared_and_make_the_layout():
    frame = mixed_frame().assign(
        smoker=lambda f: f["passed"] == 0,  # booleans: binary
        age=lambda f: 10 + f["visits"],  # non-negative integers: continuous
    )
    t = read(frame).transform
    assert t.kinds == ("continuous", "categorical", "binary", "counts", "binary", "continuous")
    assert t.layout == "continuous,categorical:3,binary,counts,binary,continuous"
    assert list(t.columns) == [*COLUMNS, "smoker=True", "age"]
    assert t.categories == {
        "colour": ["blue", "green", "red"],
        "passed": ["0", "1"],
        "smoker": ["False", "True"],
    }
    declared = read(frame, continuous="passed", binary="smoker").transform
    assert declared.kind_by_column["passed"] == "continuous"
    assert FeatureTransform.from_dict(t.to_dict()) == t


def test_codes_of_each_kind_in_model_units():
    frame = mixed_frame()
    data = read(frame)
    x = data.x.astype(np.float64)
    np.testing.assert_allclose(x[:, 0].mean(), 0, atol=1e-6)  # standardised
    np.testing.assert_array_equal(x[:, 1:4], pd.get_dummies(frame["colour"]).to_numpy())
    np.testing.assert_array_equal(x[:, 4], frame["passed"])
    np.testing.assert_array_equal(x[:, 5], frame["visits"])  # counts as they are
    np.testing.assert_allclose(data.transform.inverse(x)[:, 0], frame["maths"], rtol=1e-5)


@pytest.mark.parametrize(
    ("change", "options", "message"),
    [
        ({"visits": [-1, 2]}, {}, "counts column 'visits' has values that are not non-negative"),
        ({"visits": [1.5, 2]}, {}, "counts column 'visits' has values that are not non-negative"),
        ({}, {"binary": "colour"}, "binary column 'colour' has 3 distinct value(s)"),
        ({"passed": [1, 1]}, {"binary": "passed"}, "binary column 'passed' has 1 distinct"),
        ({}, {"binary": "visits"}, "declared both binary and counts"),
        ({}, {"categorical": "student"}, "categorical column(s) ['student'] are not among"),
        ({}, {"continuous": "colour"}, "feature 'colour' is not numeric"),
    ],
)
def test_a_declared_column_that_fits_no_kind_is_one_line(change, options, message):
    frame = mixed_frame()
    for col, values in change.items():  # the first rows take these values, the rest one
        frame[col] = frame[col].astype(type(values[0]))
        frame.loc[: len(values) - 1, col] = values
        frame.loc[len(values) :, col] = values[-1]
    with pytest.raises(DataError) as err:
        read(frame, **options)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_text_with_too_many_values_is_not_taken_for_a_category():
    frame = mixed_frame(n_groups=20).assign(maths=lambda f: f["maths"].round(3).astype(str))
    with pytest.raises(DataError, match=r"'maths' is text with \d+ distinct values .*categ"):
        read(frame)


def test_the_jacobian_counts_only_the_standardised_columns():
    frame = mixed_frame()
    t = read(frame).transform
    assert t.log_jacobian == pytest.approx(-np.log(frame["maths"].std(ddof=0)))
    assert read(frame, standardise=False).transform.log_jacobian == 0.0


def test_a_record_without_kinds_reads_as_categorical_and_continuous():
    record = {"columns": ["x", "c=a", "c=b"], "mean": [1.0, 0, 0], "scale": [2.0, 1, 1],
              "features": ["x", "c"], "categories": {"c": ["a", "b"]}}  # fmt: skip
    t = FeatureTransform.from_dict(record)
    assert t.kinds == ("continuous", "categorical") and t.layout == "continuous,categorical:2"


# -------------------------------------------------------------- the likelihood


def test_mixed_log_likelihood_matches_a_hand_computation():
    frame = mixed_frame(n_groups=2).iloc[:6]
    data = read(frame)
    config = ModelConfig(obs_shape=data.obs_shape, likelihood="mixed",
                         columns=data.transform.layout, obs_std=0.7)  # fmt: skip
    lik = MixedLikelihood(config).double()
    with torch.no_grad():  # exactly, in float64
        lik.log_std.fill_(np.log(0.7))
        lik.log_theta.fill_(np.log(2.5))
    params = torch.randn(6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = lik.log_prob(torch.as_tensor(data.x, dtype=torch.float64), params).detach().numpy()

    x, p = data.x.astype(np.float64), params.numpy()
    s = 0.7
    normal = -0.5 * ((x[:, 0] - p[:, 0]) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)
    logits = p[:, 1:4]
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    categorical = log_softmax[np.arange(6), x[:, 1:4].argmax(1)]
    q = 1 / (1 + np.exp(-p[:, 4]))
    bernoulli = x[:, 4] * np.log(q) + (1 - x[:, 4]) * np.log(1 - q)
    k, mu, theta = x[:, 5], np.exp(p[:, 5]), 2.5
    nb = (gammaln(k + theta) - gammaln(theta) - gammaln(k + 1)
          + theta * np.log(theta / (theta + mu)) + k * np.log(mu / (theta + mu)))  # fmt: skip
    np.testing.assert_allclose(got, normal + categorical + bernoulli + nb, rtol=1e-10)


def test_the_likelihood_refuses_codes_outside_its_support():
    lik = MixedLikelihood(ModelConfig(obs_shape=(4,), likelihood="mixed",
                                      columns="categorical:2,binary,counts"))  # fmt: skip
    lik.check_data(np.array([[0, 1, 1, 3], [1, 0, 0, 0]], dtype=np.float32))
    for bad, what in (([1, 1, 1, 3], "one-hot"), ([0, 1, 0.5, 3], "binary"),
                      ([0, 1, 1, 2.5], "count")):  # fmt: skip
        with pytest.raises(DataError, match=what):
            lik.check_data(np.array([bad], dtype=np.float32))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"columns": "continuous,ordinal"}, "'ordinal' is not a column kind"),
        ({"columns": "categorical:0"}, "'categorical:0' is not a column kind"),
        ({"columns": "continuous,binary", "obs_shape": (3,)}, "obs_shape must be (2,)"),
        ({"likelihood": "mixed", "obs_shape": (2,)}, "likelihood='mixed' needs columns"),
    ],
)
def test_a_bad_column_layout_is_refused(fields, message):
    with pytest.raises(ConfigError) as err:
        create("mlvae", **fields)
    assert message in str(err.value)


# ------------------------------------------------------------------ the model


@pytest.fixture(scope="module")
def fitted():
    data = read(mixed_frame())
    model = create("mlvae", dataset="table", data=data, seed=0, hidden=8)
    model.fit(data, epochs=2, progress=False)
    return model, data


def test_a_mixed_table_gets_the_mixed_likelihood_and_a_gaussian_one_is_refused():
    data = read(mixed_frame())
    model = create("mlvae", dataset="table", data=data)
    assert (model.config.likelihood, model.config.columns) == ("mixed", data.transform.layout)
    gaussian = create("mlvae", dataset="table", obs_shape=data.obs_shape)
    with pytest.raises(DataError, match=r"colour \(categorical\).*likelihood='mixed'"):
        gaussian.preflight(data, progress=False)


def test_decoded_outputs_are_in_the_users_units_ids_and_ranges(fitted):
    model, data = fitted
    recon = model.reconstruct(data)
    assert list(recon.columns) == COLUMNS and recon.index.name == "row_id"
    assert list(recon.index) == list(mixed_frame()["student"])
    assert abs(recon["maths"].mean() - 60) < 20  # points, not standardised values
    u = model.encode_groups(data).mean[(data.group + 1) % data.n_groups]
    moved = model.translate(data, u)
    assert list(moved.columns) == COLUMNS and list(moved.index) == list(recon.index)
    for frame in (recon, moved):
        probs = frame[["colour=blue", "colour=green", "colour=red", "passed=1"]].to_numpy()
        assert ((probs >= 0) & (probs <= 1)).all() and (frame["visits"] >= 0).all()
        np.testing.assert_allclose(frame.filter(like="colour=").sum(axis=1), 1.0, rtol=1e-6)


def test_categorical_probabilities_sum_to_one_even_for_large_logits():
    data = read(mixed_frame())
    model = create("mlvae", dataset="table", data=data, seed=1)
    with torch.no_grad():
        model.module.decoder.net[-1].weight.mul_(100.0)
    recon = model.reconstruct(data)
    colours = recon.filter(like="colour=").to_numpy()
    assert ((colours >= 0) & (colours <= 1)).all() and (colours.max(1) > 0.99).mean() > 0.5
    np.testing.assert_allclose(colours.sum(axis=1), 1.0, rtol=1e-6)


def test_save_and_load_give_identical_log_likelihoods(fitted, tmp_path):
    model, data = fitted
    model.save(tmp_path / "run")
    loaded = groupvae.load(tmp_path / "run")
    assert loaded.config.columns == model.config.columns
    before = group_log_likelihoods(model, data, n_samples=8, seed=3)
    after = group_log_likelihoods(loaded, data, n_samples=8, seed=3)
    np.testing.assert_array_equal(before, after)
    pd.testing.assert_frame_equal(loaded.reconstruct(data), model.reconstruct(data))


# --------------------------------------------------------------- command line


def test_cli_trains_a_mixed_table_and_translates_in_the_users_columns(tmp_path):
    frame = mixed_frame()
    frame.to_csv(tmp_path / "mixed.csv", index=False)
    run = tmp_path / "run"
    args = ["train", "mlvae", "table", "--out", str(run), "--epochs", "2"]
    args += ["--data", f"path={tmp_path / 'mixed.csv'}", "--data", "group=school"]
    args += ["--data", "id=student", "--data", "counts=visits"]
    args += ["--set", "progress=false", "--set", "hidden=8"]
    runner = CliRunner()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert config["likelihood"] == "mixed"
    assert config["columns"] == "continuous,categorical:3,binary,counts"

    out = tmp_path / "translated.csv"
    args = ["translate", str(run), "--source", "school-1", "--target", "school-2"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out)
    assert list(rows.columns) == ["row_id", *COLUMNS]
    assert list(rows["row_id"]) == list(frame.loc[frame["school"] == "school-1", "student"])
    np.testing.assert_allclose(rows.filter(like="colour=").sum(axis=1), 1.0, rtol=1e-5)
    assert rows[["passed=1"]].stack().between(0, 1).all() and (rows["visits"] >= 0).all()
