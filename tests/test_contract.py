"""The one contract every model family keeps, parametrised over the whole ``MODELS``
registry (CPVAE included): shapes, a save/load round trip, a training step changes the
weights and an evaluation step does not, the same seed gives the same weights, and
``groupvae train`` trains exactly what the Python API trains."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import groupvae
from groupvae.cli import app
from groupvae.data import GroupedDataset, with_population
from groupvae.models import MODELS, BaseModel, Posterior, create
from groupvae.runs import evaluate_run, load_run
from helpers import make_images

FAST = {"epochs": 1, "groups_per_batch": 8, "batch_per_population": 8, "progress": False}
CPVAE_OPTIONS = {"shared_dim": 2, "private_dim": 2, "hidden": 8, "n_populations": 2}
GROUP_OPTIONS = {"instance_dim": 2, "hidden": 8, "likelihood": "bernoulli", "decoder": "mlp"}


@pytest.fixture(scope="module")
def data() -> GroupedDataset:
    """24 groups of binary 4x4 images, in two populations (even and odd groups)."""
    images = make_images(24, seed=3)
    return with_population(images, images.group % 2)


def build(name: str, seed: int = 0) -> BaseModel:
    options = CPVAE_OPTIONS if MODELS[name].family == "cpvae" else GROUP_OPTIONS
    return create(name, seed=seed, obs_shape=(1, 4, 4), **options)


def posteriors(model: BaseModel, data: GroupedDataset) -> dict[str, Posterior]:
    """Every ``encode_*`` of the model's family."""
    names = [n for n in dir(model) if n.startswith("encode_")]
    return {n: getattr(model, n)(data) for n in names}


def weights(model: BaseModel) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.module.state_dict().items()}


@pytest.mark.parametrize("name", list(MODELS))
def test_encoders_give_posteriors_of_the_documented_shapes(name, data):
    model = build(name)
    codes = posteriors(model, data)
    assert codes, f"{name} has no encode_* method"
    for what, post in codes.items():
        assert isinstance(post, Posterior)
        assert post.mean.shape == post.logvar.shape and post.mean.ndim == 2
        rows = data.n_groups if what == "encode_groups" else data.n_obs
        assert post.mean.shape[0] == rows, what
        assert np.isfinite(post.mean).all() and (post.std > 0).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_a_training_step_changes_the_weights_and_evaluation_does_not(name, data):
    model = build(name)
    before = weights(model)
    posteriors(model, data)  # inference
    assert all(torch.equal(before[k], v) for k, v in weights(model).items())
    model.fit(data, **FAST)
    after = weights(model)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "no weight moved in one epoch"
    assert model.history is not None and len(model.history) == 1
    assert np.isfinite(model.history["train_elbo_per_obs"]).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_the_same_seed_gives_the_same_weights(name, data):
    a = build(name, seed=4).fit(data, **FAST)
    b = build(name, seed=4).fit(data, **FAST)
    for key, value in weights(a).items():
        assert torch.equal(value, weights(b)[key]), key
    c = build(name, seed=5).fit(data, **FAST)
    assert any(not torch.equal(v, weights(c)[k]) for k, v in weights(a).items())


@pytest.mark.parametrize("name", list(MODELS))
def test_save_and_load_round_trip_through_the_one_loader(name, data, tmp_path):
    model = build(name).fit(data, **FAST)
    model.save(tmp_path / "run")
    loaded = groupvae.load(tmp_path / "run")
    assert type(loaded) is type(model) and loaded.family == MODELS[name].family
    assert loaded.config == model.config and loaded.train_config == model.train_config
    for what, post in posteriors(model, data).items():
        again = posteriors(loaded, data)[what]
        np.testing.assert_array_equal(post.mean, again.mean, err_msg=what)
        np.testing.assert_array_equal(post.logvar, again.logvar, err_msg=what)


# ---------------------------------------------------------- one settings resolver
API_EQUALS_CLI = [("mlvae", "exam-scores", ["--data", "n_groups=40"]),
                  ("cxvae", "exam-scores", ["--data", "n_groups=40"]),
                  ("cpvae", "grassy-mnist", ["--data", "n=120"])]  # fmt: skip


@pytest.mark.parametrize(("name", "dataset", "data_args"), API_EQUALS_CLI)
def test_the_api_and_the_cli_train_identical_weights(name, dataset, data_args, tmp_path):
    """``groupvae train NAME DATASET --seed 3`` against ``create(NAME, dataset=DATASET,
    seed=3).fit(train, holdout=hold)``: the same data set's and preset's defaults, the
    same seed, bit for bit the same weights."""
    from typer.testing import CliRunner

    out = tmp_path / "run"
    small = {"hidden": "8"} if name != "cpvae" else {"hidden": "8", "shared_dim": "3"}
    sets = [a for k, v in small.items() for a in ("--set", f"{k}={v}")]
    args = ["train", name, dataset, "--seed", "3", "--epochs", "1", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, *data_args, *sets, "--set", "progress=false"])
    assert result.exit_code == 0, result.output
    cli_model, train, hold = load_run(out)

    options = {k: v for k, v in (a.split("=") for a in data_args[1::2])}
    data = groupvae.data.DATASETS[dataset].build(seed=3, **{k: int(v) for k, v in options.items()})
    model = create(name, dataset=dataset, seed=3, **{k: int(v) for k, v in small.items()})
    if name == "cpvae":
        data = with_population(data, data.aux["population"])
    api_train, api_hold = model.split(data, 0.2, seed=3)
    np.testing.assert_array_equal(api_train.x, train.x)
    np.testing.assert_array_equal(api_hold.x, hold.x)
    model.fit(api_train, holdout=api_hold, epochs=1, progress=False)
    assert model.train_config == cli_model.train_config
    for key, value in weights(model).items():
        assert torch.equal(value, weights(cli_model)[key]), key


def test_evaluate_and_plot_work_on_a_cpvae_run(tmp_path):
    from typer.testing import CliRunner

    out = tmp_path / "cp"
    runner = CliRunner()
    args = ["train", "cpvae", "grassy-mnist", "--epochs", "1", "--out", str(out), "--data", "n=120"]
    result = runner.invoke(app, [*args, "--set", "hidden=8", "--set", "progress=false"])
    assert result.exit_code == 0, result.output
    metrics = evaluate_run(out)
    assert 0 <= metrics["accuracy"] <= 1 and np.isfinite(metrics["elbo_per_observation"])
    assert "shared_ari" in metrics and "private_vs_clean_corr" in metrics
    for kind in ("denoising", "cross-population"):
        result = runner.invoke(app, ["plot", kind, str(out)])
        assert result.exit_code == 0, result.output
        assert (out / f"{kind}.png").read_bytes()[:4] == b"\x89PNG"
    result = runner.invoke(app, ["plot", "swap", str(out)])
    assert result.exit_code == 2
    assert "drawn for group-vae models" in result.output and "denoising" in result.output
    result = runner.invoke(app, ["train", "cpvae", "mnist", "--holdout-labels", "8,9"])
    assert result.exit_code == 2 and "does not apply" in result.output
