"""Training on several devices: Lightning DDP with two CPU processes (gloo).

Each worker is started as a launcher such as ``torchrun`` would start it (``LOCAL_RANK``,
``WORLD_SIZE``, ... in its environment), so Lightning's DDP strategy joins it to the
process group instead of re-running pytest.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from lightning.pytorch.callbacks import Callback

from groupvae.config import TrainConfig
from groupvae.data import GroupBatchSampler, make_exam_scores
from groupvae.data.sampler import _GroupBatchDataset
from groupvae.models import create
from groupvae.training.epoch_checkpoints import position_seed
from groupvae.training.fit import run_trainer
from groupvae.training.plan import TrainingPlan

WORLD = 2


@pytest.mark.parametrize("min_groups", [1, 2])
@pytest.mark.parametrize("n_groups", [17, 40, 64])
def test_ranks_share_every_group_once_per_epoch(n_groups, min_groups):
    """Whole groups, disjoint across ranks, each seen once per epoch; ranks yield as many
    batches; a step's observations are balanced across ranks."""
    rng = np.random.default_rng(0)
    group = np.repeat(np.arange(n_groups), rng.integers(1, 30, size=n_groups))
    samplers = [
        GroupBatchSampler(group, 4, seed=3, min_groups_per_batch=min_groups, num_replicas=2, rank=r)
        for r in range(WORLD)
    ]
    for epoch in range(3):
        for s in samplers:
            s.set_epoch(epoch)
        batches = [list(s) for s in samplers]
        assert len(batches[0]) == len(batches[1]) == len(samplers[0])
        seen = []
        for step in zip(*batches, strict=True):
            loads = []
            for rows in step:
                groups = np.unique(group[rows])
                assert len(groups) >= min_groups
                assert sorted(rows) == np.flatnonzero(np.isin(group, groups)).tolist()  # whole
                seen += groups.tolist()
                loads.append(len(rows))
            if len(step[0]) and max(np.bincount(group)) < min(loads):
                assert max(loads) - min(loads) <= max(np.bincount(group))  # balanced by obs
        assert sorted(seen) == list(range(n_groups))  # every group exactly once


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Recorder(Callback):
    """Keeps each rank's batch rows and the gradients every optimiser step saw."""

    def __init__(self) -> None:
        self.rows: list[list[int]] = []
        self.grads: list[dict[str, torch.Tensor]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.rows.append(batch.index.tolist())

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        stepped = {id(p) for group in optimizer.param_groups for p in group["params"]}
        self.grads.append(
            {
                n: p.grad.detach().clone()
                for n, p in pl_module.module.named_parameters()
                if id(p) in stepped and p.grad is not None
            }
        )


def _data():
    return make_exam_scores(8, seed=1)


def _config(preset: str) -> TrainConfig:
    return TrainConfig(epochs=1, groups_per_batch=2, lr=1e-3, seed=5, progress=False)


def _model(preset: str):
    model = create(preset, dataset="exam-scores", hidden=8, seed=0)
    model.module.double()
    return model


def _loader(model, config):
    loader = model.train_loader(_data(), config)
    loader.dataset.x = loader.dataset.x.double()
    return loader


def _worker(rank: int, preset: str, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(WORLD),
        NODE_RANK="0", LOCAL_RANK=str(rank), RANK=str(rank),
    )  # fmt: skip
    torch.set_num_threads(1)
    config = TrainConfig(**{**_config(preset).__dict__, "devices": WORLD, "strategy": "ddp"})
    model = _model(preset)
    loader = _loader(model, config)
    recorder = _Recorder()
    plan = TrainingPlan(model.module, config, 1, model._schedules(config))
    run_trainer(plan, loader, config, callbacks=[recorder])
    torch.save({"rows": recorder.rows, "grads": recorder.grads}, Path(out) / f"rank{rank}.pt")


def _reference(preset: str, rows: list[list[int]]) -> list[dict[str, torch.Tensor]]:
    """One process: the gradients of the mean loss over the union of the ranks' groups,
    each rank's part computed with the noise that rank drew (position-seeded), as the
    plan makes a step: one inference, the critic's update on its detached samples, then
    the model's loss on the same inference with the updated critic."""
    from groupvae.training.plan import frozen

    config = _config(preset)
    model = _model(preset)
    module = model.module
    dataset = _GroupBatchDataset(_data())
    dataset.x = dataset.x.double()
    batches = [dataset.__getitems__(r) for r in rows]
    total = sum(b.n_groups for b in batches)
    weights = [b.n_groups / total for b in batches]
    critic = module.critic_parameters()
    inferences, states = [], []
    for rank, (w, batch) in enumerate(zip(weights, batches, strict=True)):
        torch.manual_seed(position_seed(config.seed, 0, 0, 0, rank))  # rank's own stream
        inferences.append(module.inference(batch))
        if critic:
            (w * module.critic_loss(batch, inferences[-1])).backward()
        states.append(torch.get_rng_state())
    out = []
    if critic:
        out.append({n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None})
        torch.optim.Adam(critic, lr=config.lr).step()
    module.zero_grad()
    schedules = TrainingPlan(module, config, 1, model._schedules(config)).weights()
    with frozen(critic):
        for w, b, inference, state in zip(weights, batches, inferences, states, strict=True):
            torch.set_rng_state(state)
            (w * module(b, inference=inference, **schedules).loss).backward()
    stepped = {id(p) for p in module.model_parameters()}
    grads = {n: p.grad.clone() for n, p in module.named_parameters() if id(p) in stepped}
    return [*out, grads]


@pytest.mark.parametrize("preset", ["mlvae", "cxvae"])
def test_one_ddp_step_has_the_single_process_gradient(preset, tmp_path):
    """Two gloo processes, 8 schools, 2 per rank and step: the DDP-averaged gradient of
    every optimiser step (CxVAE: the critic's, then the model's) equals the gradient a
    single process computes on the union of both ranks' groups (float64)."""
    mp.spawn(_worker, args=(preset, _free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    first_step_rows = [rank["rows"][0] for rank in ranks]
    assert not set(first_step_rows[0]) & set(first_step_rows[1])  # disjoint groups
    expected = _reference(preset, first_step_rows)
    n_optimisers = len(expected)
    for rank in ranks:
        for got, want in zip(rank["grads"][:n_optimisers], expected, strict=True):
            assert set(got) == set(want)
            for name, grad in got.items():
                torch.testing.assert_close(grad, want[name], rtol=1e-6, atol=1e-9, msg=name)
