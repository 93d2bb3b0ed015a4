"""Streaming whole groups from disk: the same batches, weights, DDP split and resume as
the data read into memory (small group-sorted files written here)."""

from __future__ import annotations

import signal

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from groupvae.data import GroupBatchSampler, GroupedDataset, group_loader
from groupvae.data.ondisk import OnDiskGroupedData, open_on_disk
from groupvae.data.readers.npz import read_npz
from groupvae.data.readers.table import read_table
from groupvae.data.sampler import (
    ContiguousGroupBatchSampler,
    _GroupBatchDataset,
    _OnDiskBatchDataset,
)
from groupvae.errors import TrainingInterrupted
from groupvae.models import create


def _frame(n_groups: int = 40, seed: int = 0) -> pd.DataFrame:
    """Group-sorted rows (contiguous groups, ids not in sorted order), 5 float features."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 9, n_groups)
    group = np.repeat(rng.permutation(1000)[:n_groups], sizes)
    features = {f"f{j}": (3 * rng.normal(size=len(group)) + j).astype(np.float32) for j in range(5)}
    return pd.DataFrame({"g": group, **features})


@pytest.fixture
def parquet(tmp_path):
    path = tmp_path / "t.parquet"
    _frame().to_parquet(path, row_group_size=10_000)
    return path


@pytest.fixture
def npy(tmp_path):
    frame = _frame()
    x = np.ascontiguousarray(frame.drop(columns="g").to_numpy())
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "g.npy", frame["g"].to_numpy())
    np.savez(tmp_path / "same.npz", x=x, group=frame["g"].to_numpy())
    return tmp_path


def _pairs(tmp_path, parquet, npy) -> dict[str, tuple[GroupedDataset, OnDiskGroupedData]]:
    return {
        "parquet": (
            read_table(parquet, group="g"),
            open_on_disk(parquet, group="g", row_cache=False),
        ),
        "parquet-row-cache": (
            read_table(parquet, group="g"),
            open_on_disk(parquet, group="g", row_cache=True),
        ),
        "npy": (
            read_npz(npy / "same.npz"),
            open_on_disk(npy / "x.npy", group=str(npy / "g.npy")),
        ),
    }


def _same(a, b) -> bool:
    return (
        all(
            torch.equal(getattr(a, k), getattr(b, k))
            for k in ("x", "group", "index", "group_index")
        )
        and a.n_groups == b.n_groups
    )


@pytest.mark.parametrize("fmt", ["parquet", "parquet-row-cache", "npy"])
@pytest.mark.parametrize(
    "options",
    [{}, {"max_group_size": 3}, {"shuffle": False}, {"shuffle": False, "max_group_size": 3},
     {"drop_last": True, "min_groups_per_batch": 2}],
)  # fmt: skip
def test_streaming_gives_the_batches_of_the_data_in_memory(fmt, options, tmp_path, parquet, npy):
    memory, disk = _pairs(tmp_path, parquet, npy)[fmt]
    assert disk.n_obs == memory.n_obs and disk.n_groups == memory.n_groups
    assert np.array_equal(disk.group_ids, memory.group_ids)
    assert np.array_equal(disk.group_sizes, memory.group_sizes)
    a_loader, b_loader = (
        group_loader(memory, 4, seed=5, **options),
        group_loader(disk, 4, seed=5, **options),
    )
    for epoch in (0, 3):  # (seed, epoch) order, as Lightning sets it
        a_loader.batch_sampler.set_epoch(epoch)
        b_loader.batch_sampler.set_epoch(epoch)
        a, b = list(a_loader), list(b_loader)
        assert len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))


def test_split_views_and_worker_processes_read_the_same_groups(parquet):
    memory, disk = read_table(parquet, group="g"), open_on_disk(parquet, group="g")
    (train, hold), (dtrain, dhold) = memory.split(0.25, seed=1), disk.split(0.25, seed=1)
    a = list(group_loader(train, 4, seed=2, max_group_size=4))
    b = list(group_loader(dtrain, 4, seed=2, max_group_size=4, num_workers=2,
                          prefetch_factor=2, persistent_workers=True))  # fmt: skip
    assert all(_same(x, y) for x, y in zip(a, b, strict=True))
    read = dhold.to_memory()
    assert np.array_equal(read.x, hold.x) and np.array_equal(read.group_ids, hold.group_ids)
    chunks = list(disk.iter_group_chunks(50))
    assert sum(c.n_obs for c in chunks) == disk.n_obs
    assert np.array_equal(np.concatenate([c.x for c in chunks]), memory.x)


def test_ddp_ranks_get_disjoint_whole_groups_as_in_memory(parquet):
    """Two ranks (simulated): each step's groups split between them as the in-memory
    sampler splits them, whole and disjoint, covering the step."""
    memory, disk = read_table(parquet, group="g"), open_on_disk(parquet, group="g")
    steps = {}
    for rank in (0, 1):
        sampler = ContiguousGroupBatchSampler(
            disk.group_sizes, disk.group_starts, 4, seed=7, max_group_size=5, num_replicas=2,
            rank=rank,
        )  # fmt: skip
        reference = GroupBatchSampler(memory.group, 4, seed=7, max_group_size=5,
                                      num_replicas=2, rank=rank)  # fmt: skip
        on_disk = [_OnDiskBatchDataset(disk).__getitems__(i) for i in sampler]
        in_memory = [_GroupBatchDataset(memory).__getitems__(i) for i in reference]
        assert all(_same(x, y) for x, y in zip(on_disk, in_memory, strict=True))
        steps[rank] = on_disk
    sizes = memory.group_sizes
    for b0, b1 in zip(steps[0], steps[1], strict=True):
        g0, g1 = set(b0.group_index.tolist()), set(b1.group_index.tolist())
        assert not g0 & g1
        for b in (b0, b1):  # whole groups (subsampled to 5)
            want = np.minimum(sizes[b.group_index.numpy()], 5)
            assert np.array_equal(np.bincount(b.group.numpy()), want)
    seen = [g for r in (0, 1) for b in steps[r] for g in b.group_index.tolist()]
    assert sorted(seen) == list(range(disk.n_groups))


def _fit(data, **options):
    train, hold = data.split(0.25, seed=0)
    model = create("mlvae", dataset="table", hidden=8, seed=3, data=train)
    return model.fit(train, holdout=hold, epochs=2, groups_per_batch=4, progress=False, **options)


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.module.state_dict().items()}


def test_streaming_trains_the_weights_of_the_data_in_memory(parquet):
    a = _weights(_fit(read_table(parquet, group="g")))
    b = _weights(_fit(open_on_disk(parquet, group="g")))
    assert all(torch.equal(a[k], b[k]) for k in a)


class _StopAfter(Callback):
    """Send SIGINT after the first epoch, as a user's Ctrl-C."""

    def on_train_epoch_end(self, trainer, module) -> None:
        if trainer.current_epoch == 0:
            signal.raise_signal(signal.SIGINT)


def test_an_interrupted_streaming_fit_resumes_bit_identically(parquet, tmp_path):
    data = open_on_disk(parquet, group="g")
    train, hold = data.split(0.25, seed=0)
    options = {"holdout": hold, "epochs": 3, "groups_per_batch": 4, "progress": False}
    full = create("mlvae", dataset="table", hidden=8, seed=3, data=train).fit(train, **options)
    stopped = create("mlvae", dataset="table", hidden=8, seed=3, data=train)
    with pytest.raises(TrainingInterrupted):
        stopped.fit(train, checkpoint_dir=tmp_path / "ck", callbacks=[_StopAfter()], **options)
    resumed = create("mlvae", dataset="table", hidden=8, seed=3, data=train)
    resumed.fit(train, checkpoint_dir=tmp_path / "ck", resume=True, **options)
    a, b = _weights(full), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.history.equals(full.history)


def _cells(tmp_path, sparse: bool):
    """A small AnnData store of counts, cells sorted by donor, as .h5ad and .zarr."""
    import anndata
    import scipy.sparse

    from groupvae.data.readers.h5ad import h5ad_ready

    rng = np.random.default_rng(0)
    sizes = rng.integers(2, 9, 30)
    donors = np.repeat([f"d{i:02d}" for i in rng.permutation(30)], sizes)
    counts = rng.poisson(1.0, (len(donors), 12)).astype(np.float32)
    obs = pd.DataFrame({"donor": donors}, index=[f"c{i}" for i in range(len(donors))])
    adata = anndata.AnnData(X=scipy.sparse.csr_matrix(counts) if sparse else counts, obs=obs)
    adata = h5ad_ready(adata)
    adata.write_h5ad(tmp_path / "cells.h5ad")
    adata.write_zarr(tmp_path / "cells.zarr")
    return tmp_path / "cells.h5ad", tmp_path / "cells.zarr"


@pytest.mark.parametrize("sparse", [False, True])
def test_anndata_stores_stream_the_batches_of_the_data_in_memory(sparse, tmp_path):
    from groupvae.data.readers.h5ad import read_h5ad

    h5ad, zarr = _cells(tmp_path, sparse)
    memory = read_h5ad(h5ad, group="donor")
    for path in (h5ad, zarr):
        disk = open_on_disk(path, group="donor")
        assert disk.feature_names == memory.feature_names
        a = list(group_loader(memory, 4, seed=1, max_group_size=3))
        b = list(group_loader(disk, 4, seed=1, max_group_size=3))
        assert all(_same(x, y) for x, y in zip(a, b, strict=True))


def test_a_backed_h5ad_trains_the_weights_of_the_data_in_memory(tmp_path):
    from groupvae.data.readers.h5ad import read_h5ad

    h5ad, _ = _cells(tmp_path, sparse=True)

    def fit(data):
        model = create("mlvae", dataset="anndata", hidden=8, seed=3, likelihood="negative-binomial",
                       obs_shape=data.obs_shape)  # fmt: skip
        return _weights(model.fit(data, epochs=2, groups_per_batch=4, progress=False))

    a, b = fit(read_h5ad(h5ad, group="donor")), fit(open_on_disk(h5ad, group="donor"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_zarr_store_keeps_its_index_beside_it_and_reopens(tmp_path):
    _, zarr = _cells(tmp_path, sparse=False)
    first = open_on_disk(zarr, group="donor")
    assert (tmp_path / "cells.zarr.groupindex.npz").is_file()
    again = open_on_disk(zarr, group="donor")  # the saved index matches the store
    assert np.array_equal(again.group_ids, first.group_ids)


def test_a_row_cache_is_written_once_and_follows_the_data(parquet):
    first = open_on_disk(parquet, group="g", row_cache=True)
    copies = list(parquet.parent.glob("t.parquet.rows-*.npy"))
    assert len(copies) == 1 and first.store.path == copies[0]
    written = copies[0].stat().st_mtime_ns
    again = open_on_disk(parquet, group="g", row_cache=True)
    assert copies[0].stat().st_mtime_ns == written and again.transform == first.transform
    other = open_on_disk(parquet, group="g", features="f0,f1", row_cache=True)
    assert len(list(parquet.parent.glob("t.parquet.rows-*.npy"))) == 2  # other columns
    assert other.obs_shape == (2,)
    _frame(seed=1).to_parquet(parquet, row_group_size=10_000)  # the data changes
    (parquet.parent / "t.parquet.groupindex.npz").unlink()
    open_on_disk(parquet, group="g", row_cache=True)
    now = list(parquet.parent.glob("t.parquet.rows-*.npy"))
    assert len(now) == 2 and copies[0] not in now  # the old copy of the same columns is gone
