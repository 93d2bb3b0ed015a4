"""Search spaces for ``groupvae tune``: the defaults per family and data shape, and the
``--space`` entries (one-line refusals for bad ones)."""

from __future__ import annotations

import pytest

from groupvae.config import TrainConfig
from groupvae.errors import ConfigError
from groupvae.models import create
from groupvae.models.defaults import DataShape
from groupvae.models.search_space import (
    Choice,
    Range,
    default_search_space,
    describe_space,
    parse_space,
    search_space,
)

TABLE = DataShape(n_groups=40, n_obs=400, median_group_size=10)


def _space(preset: str, shape: DataShape = TABLE, **model_fields):
    model = create(preset, dataset="table", obs_shape=(2,), **model_fields)
    train = model.resolved_train_config(None)
    return model, train, default_search_space(model.family, model.config, train, shape)


def test_default_space_of_a_table_searches_the_documented_fields():
    _, train, space = _space("mlvae")
    assert list(space) == [
        "lr", "group_dim", "instance_dim", "hidden", "groups_per_batch", "kl_warmup_epochs",
    ]  # fmt: skip
    assert space["lr"] == Range(1e-4, 1e-2, log=True)
    assert space["group_dim"] == Range(1, 4, integer=True)  # 2 features: small codes
    assert space["hidden"] == Range(16, 256, log=True, integer=True)
    gpb = space["groups_per_batch"]
    assert gpb.integer and gpb.low == max(2, train.groups_per_batch // 4)
    assert gpb.high == min(4 * train.groups_per_batch, TABLE.n_groups // 2)
    epochs = -(-train.max_steps // -(-TABLE.n_groups // train.groups_per_batch))
    assert space["kl_warmup_epochs"] == Range(0, epochs // 20, integer=True)


def test_default_space_follows_the_preset_and_the_data_shape():
    _, _, vae = _space("vae")
    assert "group_dim" not in vae and "regulariser_weight" not in vae
    _, _, cx = _space("cxvae")
    assert cx["regulariser_weight"] == Range(1.0, 1e4, log=True)
    image = create("mlvae", dataset="mnist")
    train = image.resolved_train_config(None)
    big = default_search_space("group-vae", image.config, train, DataShape(500, 3000, 6))
    assert big["group_dim"] == Range(2, 32, log=True, integer=True)
    assert big["hidden"] == Range(64, 1024, log=True, integer=True)
    assert big["groups_per_batch"].high == 4 * train.groups_per_batch  # 500 groups: room
    few = default_search_space("group-vae", image.config, train, DataShape(10, 60, 6))
    assert few["groups_per_batch"].high == 5  # at most half the groups
    ug = create("ugvae", dataset="mnist")
    ug_space = default_search_space(
        "group-vae", ug.config, ug.resolved_train_config(None), DataShape(500, 3000, 6)
    )
    assert "groups_per_batch" not in ug_space  # random groups of 128: no group batches
    cp = create("cpvae", dataset="grassy-mnist")
    cp_space = default_search_space(
        "cpvae", cp.config, cp.resolved_train_config(None), DataShape(500, 3000, 1)
    )
    assert set(cp_space) == {"lr", "shared_dim", "private_dim", "hidden", "batch_per_population"}


def test_space_entries_become_ranges_and_choices():
    model, train, _ = _space("mlvae")
    space = parse_space(
        [
            "lr=1e-4:1e-2:log",
            "hidden=16:64",
            "group_encoder=poe,mean",
            "max_group_size=none,64",
            "learn_obs_std=true,false",
            "beta=0.5:2",
        ],
        model.config,
        train,
    )
    assert space["lr"] == Range(1e-4, 1e-2, log=True)
    assert space["hidden"] == Range(16, 64, integer=True)
    assert space["group_encoder"] == Choice(("poe", "mean"))
    assert space["max_group_size"] == Choice((None, 64))
    assert space["learn_obs_std"] == Choice((True, False))
    assert space["beta"] == Range(0.5, 2.0)
    assert describe_space(space)["lr"] == "0.0001:0.01:log"
    assert describe_space(space)["max_group_size"] == "none,64"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("foo=1:2", "unknown field 'foo'; tunable fields: "),
        ("group_dim=3:3", "the range of group_dim is empty"),
        ("lr=1e-2:1e-4", "the range of lr is empty"),
        ("kl_warmup_epochs=0:10:log", "a log range needs low > 0, got 0"),
        ("lr=-1:1:log", "a log range needs low > 0"),
        ("lr=0:1", "lr must be a number > 0"),
        ("group_dim=1.5:3", "group_dim takes whole numbers, got 1.5"),
        ("likelihood=1:2", "likelihood is not a number; give its choices as a,b,c"),
        ("seed=1:3", "seed describes the data, the preset or the machine"),
        ("lr=a:b", "'a' is not a number"),
        ("lr=1e-4:1e-2:exp", "a range is low:high or low:high:log"),
        ("lr=nan:1", "the ends of a range must be finite"),
        ("hidden=32", "give two or more choices"),
        ("hidden=32,32", "give two or more choices"),
        ("group_encoder=poe,nope", "--space group_encoder=poe,nope"),
        ("lr", "--space needs key=low:high[:log] or key=a,b,c"),
        ("lr=", "--space needs key=low:high[:log] or key=a,b,c"),
    ],
)
def test_bad_space_entries_are_refused_in_one_line(entry, message):
    model, train, _ = _space("mlvae")
    with pytest.raises(ConfigError, match=None) as info:
        parse_space([entry], model.config, train)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_field_is_searched_or_fixed_not_both():
    model, train, _ = _space("mlvae")
    with pytest.raises(ConfigError, match="--space and --set both name lr"):
        search_space("group-vae", model.config, train, TABLE, entries=["lr=1e-3:1e-2"],
                     fixed={"lr": "1e-3"})  # fmt: skip
    with pytest.raises(ConfigError, match="lr is given twice"):
        parse_space(["lr=1e-3:1e-2", "lr=1e-4:1e-3"], model.config, train)
    space = search_space(
        "group-vae", model.config, train, TABLE, entries=["hidden=8,16"], fixed={"lr": "1e-3"}
    )
    assert "lr" not in space and space["hidden"] == Choice((8, 16))
    only = search_space(
        "group-vae", model.config, train, TABLE, entries=["hidden=8,16"], defaults=False
    )
    assert list(only) == ["hidden"]


def test_train_config_of_the_space_checks_its_own_fields():
    model, _, _ = _space("mlvae")
    space = parse_space(["max_steps=100:200", "lr_schedule=constant,cosine"], model.config,
                        TrainConfig())  # fmt: skip
    assert space["max_steps"] == Range(100, 200, integer=True)
    assert space["lr_schedule"] == Choice(("constant", "cosine"))
