"""Typed configs, ``key=value`` overrides, and resolving presets through the registries."""

from __future__ import annotations

import dataclasses
import json

import pytest

from groupvae.config import (
    ModelConfig,
    TrainConfig,
    parse_overrides,
    replace,
    split_overrides,
    to_dict,
)
from groupvae.data.datasets import DATASETS, DatasetSpec
from groupvae.errors import ConfigError, GroupVAEError, UnknownNameError
from groupvae.models import (
    FAMILIES,
    FAMILY_PARTS,
    MODELS,
    PARTS,
    build_config,
    create,
    defaults,
)
from groupvae.models.defaults import Defaults


# ------------------------------------------------------------------ replace
@pytest.mark.parametrize(
    ("config", "field", "text", "value"),
    [
        (ModelConfig(), "hidden", "16", 16),
        (ModelConfig(), "hidden", " 16 ", 16),
        (ModelConfig(), "obs_std", "0.5", 0.5),
        (ModelConfig(), "obs_std", "2", 2.0),
        (ModelConfig(), "learn_obs_std", "true", True),
        (ModelConfig(), "obs_shape", "[1, 28, 28]", (1, 28, 28)),
        (ModelConfig(), "obs_shape", "3", (3,)),
        (ModelConfig(), "group_encoder", "poe", "poe"),
        (TrainConfig(), "critic_lr", "none", None),
        (TrainConfig(), "critic_lr", "1e-3", 1e-3),
        (TrainConfig(), "max_group_size", "null", None),
        (TrainConfig(), "max_group_size", "12", 12),
        (TrainConfig(), "devices", "auto", "auto"),
        (TrainConfig(), "devices", "2", 2),
        (TrainConfig(), "progress", "false", False),
    ],
)
def test_replace_coerces_strings_to_the_field_type(config, field, text, value):
    out = replace(config, **{field: text})
    assert getattr(out, field) == value and type(getattr(out, field)) is type(value)


@pytest.mark.parametrize(
    ("config", "overrides", "message"),
    [
        (ModelConfig(), {"hiden": 3}, r"unknown ModelConfig field\(s\) \['hiden'\]; known: model"),
        (TrainConfig(), {"epoch": 3}, r"unknown TrainConfig field\(s\) \['epoch'\]"),
        (ModelConfig(), {"hidden": "abc"}, "hidden needs a value of type"),
        (ModelConfig(), {"hidden": "1.5"}, "hidden needs a value of type"),
        (ModelConfig(), {"learn_obs_std": "1"}, "learn_obs_std needs"),
        (ModelConfig(), {"obs_shape": "1x28"}, "obs_shape needs"),
        (ModelConfig(), {"hidden": 0}, "hidden >= 1"),
        (ModelConfig(), {"obs_std": -1.0}, "obs_std > 0"),
        (ModelConfig(), {"instance_dim": 0}, "instance_dim >= 1"),
        (ModelConfig(), {"group_dim": 0}, "group_encoder 'none' goes with group_dim 0"),
        (ModelConfig(), {"group_encoder": "none"}, "group_encoder 'none' goes with group_dim 0"),
        (TrainConfig(), {"epochs": 0}, "epochs must be >= 1, got 0"),
        (TrainConfig(), {"lr": "0"}, "lr must be a number > 0"),
        (TrainConfig(), {"lr": "NaN"}, r"lr must be float \(finite\), got nan"),
        (TrainConfig(), {"lr": "Infinity"}, r"lr must be float \(finite\), got inf"),
        (TrainConfig(), {"critic_lr": -1}, "critic_lr must be a number > 0"),
        (TrainConfig(), {"num_threads": 0}, "num_threads must be >= 1, got 0"),
        (TrainConfig(), {"seed": -1}, "seed must be >= 0, got -1"),
        (TrainConfig(), {"devices": 0}, "devices must be >= 1"),
        (ModelConfig(), {"group_dim": 2.5}, "group_dim must be int, got 2.5"),
        (ModelConfig(), {"obs_shape": (-1,)}, "obs_shape must be a tuple of whole sizes >= 1"),
        (ModelConfig(), {"obs_std": float("nan")}, r"obs_std must be float \(finite\)"),
    ],
)
def test_replace_rejects_unknown_fields_and_bad_values(config, overrides, message):
    with pytest.raises(ConfigError, match=message):
        replace(config, **overrides)


def test_configs_are_frozen_and_round_trip_through_json():
    config = ModelConfig(obs_shape=[1, 4, 4], group_encoder="poe")
    assert config.obs_shape == (1, 4, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.hidden = 3  # type: ignore[misc]
    for c in (config, TrainConfig(critic_lr=1e-3, devices="auto")):
        restored = replace(type(c)(), **json.loads(json.dumps(to_dict(c))))
        assert restored == c


def test_parse_and_split_overrides():
    pairs = parse_overrides(["hidden=16", " lr =1e-3", "obs_shape=[1,4,4]", "model=a=b"])
    assert pairs == {"hidden": "16", "lr": "1e-3", "obs_shape": "[1,4,4]", "model": "a=b"}
    model, train = split_overrides(pairs)
    assert model == {"hidden": "16", "obs_shape": "[1,4,4]", "model": "a=b"}
    assert train == {"lr": "1e-3"}
    assert replace(ModelConfig(), **model).obs_shape == (1, 4, 4)
    assert replace(TrainConfig(), **train).lr == 1e-3


@pytest.mark.parametrize("pair", ["hidden", "=3", " =3"])
def test_parse_overrides_needs_key_value(pair):
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides([pair])


def test_split_overrides_names_unknown_settings():
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['hiden'\]; model fields"):
        split_overrides({"hiden": "3", "lr": "1"})


# ------------------------------------------------------------- build_config
def test_model_registry_holds_every_paper_model():
    assert set(MODELS) == {
        "vae",
        "beta-vae",
        "mlvae",
        "gvae",
        "gvae-adv",
        "cxvae",
        "gmvae",
        "ugvae",
        "cpvae",
    }


@pytest.mark.parametrize("name", list(MODELS))
def test_every_preset_resolves_to_its_parts(name):
    config = build_config(name)
    assert config.model == name
    for field, value in MODELS[name].parts.items():
        assert getattr(config, field) == value
    for part, registry in FAMILY_PARTS[MODELS[name].family].items():
        assert getattr(config, part) in registry


def test_build_config_precedence(monkeypatch):
    """ModelConfig defaults < data set defaults < preset parts < explicit overrides."""
    spec = DatasetSpec(build=lambda seed=0: None, description="test")
    monkeypatch.setitem(DATASETS._items, "test-set", spec)
    fields = {"hidden": 7, "group_encoder": "deepsets", "beta": 2.0}
    row = Defaults("test-set", "group-vae", model=fields)
    monkeypatch.setattr(defaults, "DEFAULTS", (*defaults.DEFAULTS, row))
    config = build_config("mlvae", dataset="test-set")
    assert config.hidden == 7  # data set default beats the ModelConfig default
    assert config.group_encoder == "poe"  # the preset beats the data set
    assert config.n_hidden == ModelConfig().n_hidden  # untouched fields keep the default
    config = build_config("mlvae", dataset="test-set", hidden=5, group_encoder="mean")
    assert (config.hidden, config.group_encoder, config.beta) == (5, "mean", 2.0)


def test_dataset_defaults_fit_each_preset():
    exam = build_config("cxvae", dataset="exam-scores")
    assert (exam.decoder, exam.group_dim, exam.instance_dim) == ("exam-scores", 2, 1)
    vae = build_config("vae", dataset="exam-scores")
    assert (vae.decoder, vae.group_dim, vae.group_encoder) == ("mlp", 0, "none")
    mnist = build_config("gvae", dataset="mnist", obs_shape=(1, 28, 28))
    assert (mnist.likelihood, mnist.hidden, mnist.obs_shape) == ("bernoulli", 512, (1, 28, 28))


@pytest.mark.parametrize("part", list(PARTS))
def test_unknown_part_name_lists_the_known_ones(part):
    registry = PARTS[part]
    with pytest.raises(UnknownNameError, match=r"unknown .* 'nope'; known: ") as info:
        build_config("gvae", **{part: "nope"})
    assert all(name in str(info.value) for name in registry)


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        (lambda: create("nope"), "model"),
        (lambda: build_config("nope"), "model"),
        (lambda: create("gvae", dataset="nope"), "dataset"),
    ],
    ids=["create", "build_config", "dataset"],
)
def test_unknown_model_or_dataset_name(call, kind):
    with pytest.raises(UnknownNameError, match=f"unknown {kind} 'nope'; known: ") as info:
        call()
    assert isinstance(info.value, GroupVAEError) and isinstance(info.value, KeyError)
    assert not str(info.value).startswith('"')  # shown plainly, not quoted like a KeyError


def test_create_rejects_unknown_fields_and_misfitting_parts():
    with pytest.raises(ConfigError, match="unknown ModelConfig field"):
        create("gvae", hiden=3)
    with pytest.raises(ConfigError, match="exam-scores decoder needs group_dim=2"):
        create("gvae", dataset="exam-scores", instance_dim=2)
    with pytest.raises(ConfigError, match="conditional' needs a group encoder"):
        create("vae", instance_encoder="conditional")


def test_every_defaults_row_names_a_known_data_set_family_and_preset():
    for row in defaults.DEFAULTS:
        assert row.dataset == defaults.EVERY or row.dataset in DATASETS, row
        assert row.family in FAMILY_PARTS, row
        if isinstance(row.presets, tuple):
            assert set(row.presets) <= set(MODELS), row
            assert {MODELS[p].family for p in row.presets} == {row.family}, row
        assert set(row.model) <= {f.name for f in dataclasses.fields(config_class(row))}, row
        assert set(row.training) <= {f.name for f in dataclasses.fields(TrainConfig)}, row


def config_class(row: defaults.Defaults) -> type:
    return FAMILIES[row.family].config_class


def test_later_rows_of_the_defaults_table_win(monkeypatch):
    rows = (
        Defaults("exam-scores", "group-vae", model={"hidden": 5}, training={"lr": 0.5}),
        Defaults("exam-scores", "group-vae", ("mlvae",), model={"hidden": 6}),
        Defaults("exam-scores", "group-vae", defaults.NO_GROUP_LATENT, model={"hidden": 7}),
    )
    monkeypatch.setattr(defaults, "DEFAULTS", rows)
    mlvae = defaults.lookup("exam-scores", "group-vae", "mlvae", True)
    assert mlvae == ({"hidden": 6}, {"lr": 0.5})
    assert defaults.lookup("exam-scores", "group-vae", "vae", False)[0] == {"hidden": 7}
    assert defaults.lookup("exam-scores", "cpvae", "cpvae", False) == ({}, {})
    with pytest.raises(UnknownNameError, match="unknown dataset 'nope'"):
        defaults.lookup("nope", "group-vae", "mlvae", True)
