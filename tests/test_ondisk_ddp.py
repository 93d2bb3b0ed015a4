"""Two gloo processes train on data streamed from disk: each step's whole groups are
split between the ranks as the in-memory sampler splits them (disjoint, covering)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.multiprocessing as mp
from lightning.pytorch.callbacks import Callback

from groupvae.config import TrainConfig
from groupvae.data import GroupBatchSampler
from groupvae.data.ondisk import open_on_disk
from groupvae.data.readers.table import read_table
from groupvae.models import create
from groupvae.training.fit import run_trainer
from groupvae.training.plan import TrainingPlan

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Rows(Callback):
    """Keeps the file rows of each batch a rank trains on."""

    def __init__(self) -> None:
        self.rows: list[list[int]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.rows.append(batch.index.tolist())


def _worker(rank: int, path: str, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(WORLD),
        NODE_RANK="0", LOCAL_RANK=str(rank), RANK=str(rank),
    )  # fmt: skip
    torch.set_num_threads(1)
    data = open_on_disk(path, group="g")
    config = TrainConfig(epochs=1, groups_per_batch=3, lr=1e-3, seed=5, progress=False,
                         devices=WORLD, strategy="ddp")  # fmt: skip
    model = create("mlvae", dataset="table", hidden=8, seed=0, data=data)
    loader = model.train_loader(data, config)
    recorder = _Rows()
    plan = TrainingPlan(model.module, config, len(loader), model._schedules(config))
    run_trainer(plan, loader, config, callbacks=[recorder])
    torch.save(recorder.rows, Path(out) / f"rank{rank}.pt")


def test_two_ddp_processes_stream_disjoint_whole_groups(tmp_path):
    rng = np.random.default_rng(0)
    sizes = rng.integers(2, 7, 20)
    group = np.repeat(rng.permutation(100)[:20], sizes)
    frame = pd.DataFrame({"g": group, "a": rng.normal(size=len(group)),
                          "b": rng.normal(size=len(group))})  # fmt: skip
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    open_on_disk(path, group="g")  # the index, built once before the ranks start
    mp.spawn(_worker, args=(str(path), _free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    memory = read_table(path, group="g")
    for r, rows in enumerate(ranks):
        sampler = GroupBatchSampler(memory.group, 3, seed=5, num_replicas=WORLD, rank=r)
        assert rows == [b.tolist() for b in sampler]  # as in memory
    seen = []
    for step in zip(*ranks, strict=True):
        groups = [set(memory.group[rows].tolist()) for rows in step]
        assert not groups[0] & groups[1]
        for rows, g in zip(step, groups, strict=True):  # whole groups
            assert sorted(rows) == np.flatnonzero(np.isin(memory.group, list(g))).tolist()
        seen += [*groups[0], *groups[1]]
    assert sorted(seen) == list(range(memory.n_groups))
