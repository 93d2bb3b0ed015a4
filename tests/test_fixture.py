"""The checkpoint kept in ``tests/fixtures`` must go on loading and giving its outputs.

If this fails after a deliberate change of the checkpoint format, add a migration in
``groupvae.store.checkpoint_files`` rather than regenerating the fixture with ``make_fixture.py``.
"""

from __future__ import annotations

import json

import numpy as np

import groupvae
from groupvae.store.checkpoint_files import SCHEMA_VERSION
from make_fixture import EXPECTED, FIXTURE, outputs


def test_fixture_loads_and_gives_the_recorded_outputs():
    expected = json.loads((FIXTURE / EXPECTED).read_text())
    model = groupvae.load(FIXTURE)
    assert model.config.model == "mlvae" and model.config.group_encoder == "poe"
    assert model.train_config is not None and model.train_config.epochs == 1
    assert model.history["epoch"].tolist() == [0]
    x = np.array(expected["x"], dtype=np.float32)
    group = np.array(expected["group"])
    got = outputs(model, x, group)
    assert got.keys() == expected["outputs"].keys()
    for key, value in expected["outputs"].items():
        np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-6, err_msg=key)


def test_fixture_is_small_and_of_a_readable_schema():
    metadata = json.loads((FIXTURE / "metadata.json").read_text())
    assert metadata["schema_version"] <= SCHEMA_VERSION
    assert sum(p.stat().st_size for p in FIXTURE.iterdir()) < 16_000


def test_cpvae_fixture_made_before_the_one_contract_still_loads_and_gives_its_outputs():
    """``tests/fixtures/cpvae-grassy`` was written by the CPVAE code of its own family,
    before the families shared one contract (no ``family`` key in its metadata)."""
    from make_cpvae_fixture import EXPECTED as CP_EXPECTED
    from make_cpvae_fixture import FIXTURE as CP_FIXTURE

    expected = json.loads((CP_FIXTURE / CP_EXPECTED).read_text())
    assert "family" not in json.loads((CP_FIXTURE / "metadata.json").read_text())
    model = groupvae.load(CP_FIXTURE)
    assert isinstance(model, groupvae.CPVAE) and model.family == "cpvae"
    assert model.train_config is not None and model.train_config.batch_per_population == 8
    assert model.history is not None and model.history["epoch"].tolist() == [0]
    x = np.array(expected["x"], dtype=np.float32)
    population = np.array(expected["population"])
    codes = model.encode(x, population)
    got = {
        "shared_mean": codes.shared,
        "private_mean": codes.private,
        "reconstruction": model.reconstruct(x, population),
    }
    for key, value in expected["outputs"].items():
        np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-6, err_msg=key)
