"""perf/step_floor.py records the dense layers a real training step calls.

The floor it reports is only as good as that record: every linear layer and activation
of the step, at the shapes the step gives them, with the gradients the step computes (a
frozen critic's weights get none). Nothing here times anything.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import groupvae

BENCHMARKS = Path(__file__).resolve().parents[1] / "perf"


@pytest.fixture(scope="module")
def step_floor():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("step_floor")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def data():
    return groupvae.data.make_exam_scores(128, seed=0)


def _first_batch_rows(data) -> int:
    from groupvae.data.sampler import group_loader

    return int(next(iter(group_loader(data, 64, seed=0))).x.shape[0])


def test_mlvae_records_both_encoders(step_floor, data):
    _, calls = step_floor.record_dense_calls("mlvae", data)
    linear = [c for c in calls if isinstance(c.layer, nn.Linear)]
    relu = [c for c in calls if isinstance(c.layer, nn.ReLU)]
    assert (len(linear), len(relu)) == (6, 4)  # two MLPs of three layers (known decoder)
    rows = _first_batch_rows(data)
    assert all(c.shape[0] == rows for c in calls)
    assert all(c.weight_grad for c in linear)
    assert not linear[0].input_grad  # the data needs no gradient


def test_cxvae_critic_is_frozen_in_the_model_pass(step_floor, data):
    module, calls = step_floor.record_dense_calls("cxvae", data)
    critic = {id(p) for p in module.critic_parameters()}
    critic_calls = [
        c for c in calls
        if isinstance(c.layer, nn.Linear) and id(c.layer.weight) in critic
    ]  # fmt: skip
    trained = [c.weight_grad for c in critic_calls]
    # The critic's update computes its weights' gradients; the model's pass through the
    # same layers (the critic frozen) does not.
    assert True in trained and False in trained
    assert trained.index(False) == len(trained) // 2


def test_kernels_match_the_layers(step_floor, data):
    _, calls = step_floor.record_dense_calls("mlvae", data)
    for call in calls:
        x = torch.randn(call.shape)
        kernels = step_floor._kernels(call, x)
        with torch.no_grad():
            out = kernels[0]()
            torch.testing.assert_close(out, call.layer(x))
        if isinstance(call.layer, nn.Linear):
            expected = 1 + call.input_grad + (2 if call.weight_grad else 0)
            assert len(kernels) == expected
