"""The training step's device-side bookkeeping: non-finite losses and epoch means."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from groupvae.data import GroupedDataset, make_exam_scores
from groupvae.errors import GroupVAEError, NonFiniteLossError
from groupvae.models import create
from groupvae.training.plan import EpochMeans, FiniteGuard


@pytest.mark.parametrize("name", ["gvae", "cxvae"])
def test_a_non_finite_step_is_skipped_and_raises_at_the_end_of_the_epoch(name):
    data = make_exam_scores(32, seed=0)
    x = data.x.copy()
    x[data.group == 5] = 1e20  # one school's scores overflow the squared error
    model = create(name, dataset="exam-scores", hidden=8, seed=0)
    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    with pytest.raises(NonFiniteLossError, match=r"became (nan|inf) at epoch 0, step [0-7]\b"):
        model.fit(GroupedDataset(x=x, group=data.group), epochs=3, groups_per_batch=4, lr=1e-2)
    after = model.module.state_dict()
    assert all(torch.isfinite(v).all() for v in after.values())  # no NaN weights left
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the other steps ran


def test_finite_guard_names_the_first_bad_step():
    guard = FiniteGuard("training loss")
    flags = [guard.record(torch.tensor(v), step) for step, v in enumerate([1.0, 2.0], start=10)]
    assert [float(f) for f in flags] == [0.0, 0.0]
    guard.check(epoch=0)  # nothing to report
    losses = [3.0, float("inf"), float("nan")]
    flags = [guard.record(torch.tensor(v), step) for step, v in enumerate(losses, start=12)]
    assert [float(f) for f in flags] == [0.0, 1.0, 1.0]
    with pytest.raises(NonFiniteLossError, match=r"training loss became inf at epoch 4, step 13"):
        guard.check(epoch=4)
    guard.check(epoch=5)  # forgotten after the report


def test_epoch_means_are_group_weighted_batch_means():
    means = EpochMeans()
    rng = np.random.default_rng(0)
    values, weights = rng.normal(size=(5, 2)), [3, 1, 4, 1, 5]
    for (a, b), w in zip(values, weights, strict=True):
        means.add({"a": torch.tensor(a), "b": torch.tensor(b)}, w)
    got = means.pop()
    want = np.average(values, axis=0, weights=weights)
    assert list(got) == ["a", "b"]
    np.testing.assert_allclose([float(got["a"]), float(got["b"])], want, rtol=1e-12)
    assert means.pop() == {}  # a new epoch starts empty


def test_finite_guard_flags_non_finite_gradients_of_a_finite_loss():
    guard = FiniteGuard("critic loss")
    ok = [torch.ones(3), torch.zeros(2, 2)]
    assert float(guard.record(torch.tensor(1.0), 0, ok)) == 0.0
    bad = [torch.ones(3), torch.tensor([[0.0, float("nan")], [0.0, 0.0]])]
    assert float(guard.record(torch.tensor(2.0), 1, bad)) == 1.0
    with pytest.raises(NonFiniteLossError, match="gradient of the critic loss became non-finite"):
        guard.check(epoch=0)


def test_finite_guard_leaves_gradients_bit_for_bit_and_flags_float64_infinity():
    guard = FiniteGuard("training loss")
    grads = [torch.randn(4, 3), torch.randn(5, dtype=torch.float64) * 1e300]
    before = [g.clone() for g in grads]
    assert float(guard.record(torch.tensor(1.0), 0, grads)) == 0.0
    assert all(torch.equal(g, b) for g, b in zip(grads, before, strict=True))
    grads[1][2] = float("-inf")
    flag = guard.record(torch.tensor(1.0), 1, grads)
    assert flag.shape == () and flag.dtype == torch.float32 and float(flag) == 1.0
    with pytest.raises(NonFiniteLossError, match="step 1"):
        guard.check(epoch=0)


def test_epoch_means_refuse_a_change_of_terms_within_an_epoch():
    means = EpochMeans()
    means.add({"a": torch.tensor(1.0)}, 1)
    with pytest.raises(GroupVAEError, match="logged terms changed"):
        means.add({"b": torch.tensor(1.0)}, 1)
