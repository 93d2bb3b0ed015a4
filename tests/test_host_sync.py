"""A training step reads nothing back from the device (no host synchronisation).

On a GPU, ``Tensor.item``, ``bool``, ``float``, ``int`` and ``tolist`` of a device tensor
wait for the device. Here, on the CPU, every such call inside ``training_step`` is
counted by patching ``torch.Tensor``; the group-size checks run once per batch on the
host, before the batch moves to the device, and must still raise their clear errors.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader

from groupvae.config import TrainConfig
from groupvae.data.batch import GroupBatch
from groupvae.data.populations import PopulationBatch
from groupvae.errors import DataError
from groupvae.models import create
from groupvae.objectives.cpvae import population_weights
from groupvae.training.fit import run_trainer
from groupvae.training.plan import TrainingPlan
from helpers import GROUP_PRESETS, flat_batch, random_groups

READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__")


class CountingPlan(TrainingPlan):
    """The training plan, counting the host reads of tensors inside each step."""

    reads: Counter

    def training_step(self, batch, batch_idx):
        originals = {name: getattr(torch.Tensor, name) for name in READS}

        def counted(name, method):
            def read(tensor, *args, **kwargs):
                self.reads[name] += 1
                return method(tensor, *args, **kwargs)

            return read

        for name, method in originals.items():
            setattr(torch.Tensor, name, counted(name, method))
        try:
            return super().training_step(batch, batch_idx)
        finally:
            for name, method in originals.items():
                setattr(torch.Tensor, name, method)


def tiny_batch(n_obs: int = 40, n_groups: int = 6) -> GroupBatch:
    gen = torch.Generator().manual_seed(1)
    group = random_groups(n_obs, n_groups, gen)
    return flat_batch(torch.randn(n_obs, 3, generator=gen), group, n_groups)


def train_steps(name: str, batches: list[GroupBatch]) -> CountingPlan:
    module = create(name, obs_shape=(3,), hidden=8, critic_hidden=8, seed=0).module
    config = TrainConfig(epochs=1, lr=1e-3, progress=False)
    plan = CountingPlan(module, config, steps_per_epoch=len(batches))
    plan.reads = Counter()
    run_trainer(plan, DataLoader(batches, batch_size=None), config)
    return plan


@pytest.mark.parametrize("name", GROUP_PRESETS)
def test_a_training_step_reads_nothing_back_from_the_device(name):
    plan = train_steps(name, [tiny_batch(), tiny_batch()])
    assert plan.model_steps == 2
    assert dict(plan.reads) == {}


@pytest.mark.parametrize("objective", ["mi", "elbo"])
def test_a_cpvae_training_step_reads_nothing_back_from_the_device(objective):
    module = create(
        "cpvae",
        obs_shape=(3,),
        n_populations=2,
        shared_dim=2,
        private_dim=2,
        hidden=8,
        objective=objective,
        seed=0,
    ).module
    module.population_sizes.copy_(torch.tensor([30.0, 10.0]))
    gen = torch.Generator().manual_seed(2)
    population = torch.tensor([0, 1] * 4)  # 4 rows of each: the loader's `largest`
    batches = [
        PopulationBatch(torch.randn(8, 3, generator=gen), population, torch.arange(8), 4)
        for _ in range(2)
    ]
    config = TrainConfig(epochs=1, lr=1e-3, progress=False)
    plan = CountingPlan(module, config, steps_per_epoch=len(batches))
    plan.reads = Counter()
    run_trainer(plan, DataLoader(batches, batch_size=None), config)
    assert plan.model_steps == 2
    assert dict(plan.reads) == {}


def test_population_weights_still_refuse_an_empty_population_outside_a_step():
    with pytest.raises(DataError, match="at least one observation"):
        population_weights(torch.tensor([0, 0]), torch.tensor([2.0, 0.0]))


def test_the_patch_counts_a_host_read():
    # The counter sees a read: a step that calls bool() on a tensor is counted.
    class Reading(CountingPlan):
        def _train_step(self, batch, batch_idx):
            bool(batch.x.sum() > 0)
            super()._train_step(batch, batch_idx)

    module = create("mlvae", obs_shape=(3,), hidden=8, seed=0).module
    config = TrainConfig(epochs=1, lr=1e-3, progress=False)
    plan = Reading(module, config, steps_per_epoch=1)
    plan.reads = Counter()
    run_trainer(plan, DataLoader([tiny_batch()], batch_size=None), config)
    assert plan.reads["__bool__"] == 1


def test_the_host_check_still_refuses_one_member_groups_for_a_regulariser():
    group = torch.tensor([0, 0, 1, 2, 2])  # group 1 has one member
    batch = flat_batch(torch.randn(5, 3), group, 3)
    with pytest.raises(DataError, match="at least two members per group"):
        train_steps("cxvae", [batch])


def test_the_host_check_still_refuses_an_empty_group():
    group = torch.tensor([0, 0, 2, 2])  # group 1 of 3 is empty
    batch = flat_batch(torch.randn(4, 3), group, 3)
    with pytest.raises(DataError, match="no members"):
        train_steps("mlvae", [batch])
