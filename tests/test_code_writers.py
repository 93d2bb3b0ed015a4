"""Codes written chunk by chunk (``ParquetCodeWriter``, ``ZarrCodeWriter``,
``groupvae encode --out codes.parquet|codes.zarr``): the same codes as in memory, and
nothing half-written left behind."""

from __future__ import annotations

import errno

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from groupvae.cli import app
from groupvae.data import GroupedDataset
from groupvae.data.grouped import group_ranges
from groupvae.errors import ConfigError, DiskError
from groupvae.models import create
from groupvae.runs.chunked_codes import group_chunks, write_codes
from groupvae.runs.code_writers import ParquetCodeWriter, ZarrCodeWriter
from groupvae.runs.export import latent_table

pytest.importorskip("pyarrow")
zarr = pytest.importorskip("zarr")
runner = CliRunner()


def chunks_of(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


def codes(n: int = 250, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "group": rng.integers(0, 9, n),
            "row": np.arange(n),
            "v_0": rng.normal(size=n).astype(np.float32),
            "v_1": rng.normal(size=n).astype(np.float32),
        }
    )


def test_parquet_chunks_read_back_as_the_whole_table(tmp_path):
    frame, path = codes(), tmp_path / "codes.parquet"
    with ParquetCodeWriter(path) as writer:
        for chunk in chunks_of(frame, 64):
            writer.write(chunk)
    assert writer.rows == len(frame)
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)
    assert [p.name for p in tmp_path.iterdir()] == ["codes.parquet"]


def test_zarr_chunks_read_back_as_the_whole_arrays(tmp_path):
    frame, path = codes(), tmp_path / "codes.zarr"
    with ZarrCodeWriter(path, chunk_rows=50, attrs={"what": "test"}) as writer:
        for chunk in chunks_of(frame, 64):
            ids = np.array([f"r{i}" for i in chunk["row"]], dtype=object)
            writer.write("instance", {"v": chunk[["v_0", "v_1"]].to_numpy(), "row_id": ids})
    store = zarr.open_group(path, mode="r")
    np.testing.assert_array_equal(store["instance/v"][:], frame[["v_0", "v_1"]].to_numpy())
    assert list(store["instance/row_id"][:]) == [f"r{i}" for i in frame["row"]]
    assert store.attrs["what"] == "test"
    assert [p.name for p in tmp_path.iterdir()] == ["codes.zarr"]


@pytest.mark.parametrize("suffix", [".parquet", ".zarr"])
def test_an_exception_midway_leaves_no_output_and_no_temporary_file(tmp_path, suffix):
    path = tmp_path / f"codes{suffix}"
    frame = codes()
    writer_class = ParquetCodeWriter if suffix == ".parquet" else ZarrCodeWriter
    with pytest.raises(KeyboardInterrupt), writer_class(path) as writer:
        for i, chunk in enumerate(chunks_of(frame, 64)):
            if i == 2:
                raise KeyboardInterrupt
            if suffix == ".parquet":
                writer.write(chunk)
            else:
                writer.write("instance", {"v": chunk[["v_0"]].to_numpy()})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".parquet", ".zarr"])
def test_a_full_disk_keeps_the_old_output(tmp_path, suffix):
    path = tmp_path / f"codes{suffix}"
    if suffix == ".parquet":
        path.write_bytes(b"older codes")
    else:
        zarr.open_group(path, mode="w").attrs["old"] = True
    writer_class = ParquetCodeWriter if suffix == ".parquet" else ZarrCodeWriter
    with (
        pytest.raises(DiskError, match="no space left on device"),
        writer_class(path, overwrite=True),
    ):
        raise OSError(errno.ENOSPC, "No space left on device")
    if suffix == ".parquet":
        assert path.read_bytes() == b"older codes"
    else:
        assert zarr.open_group(path, mode="r").attrs["old"] is True
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_existing_outputs_are_kept_unless_asked(tmp_path):
    (tmp_path / "c.parquet").write_bytes(b"mine")
    with pytest.raises(ConfigError, match="already exists; add --overwrite"):
        ParquetCodeWriter(tmp_path / "c.parquet")
    (tmp_path / "photos.zarr").mkdir()
    (tmp_path / "photos.zarr" / "cat.jpg").write_bytes(b"cat")
    with pytest.raises(ConfigError, match="already exists"):
        ZarrCodeWriter(tmp_path / "photos.zarr")
    with pytest.raises(ConfigError, match="not a Zarr store"):
        ZarrCodeWriter(tmp_path / "photos.zarr", overwrite=True)
    assert (tmp_path / "photos.zarr" / "cat.jpg").read_bytes() == b"cat"
    old = tmp_path / "old.zarr"
    zarr.open_group(old, mode="w").attrs["old"] = True
    with ZarrCodeWriter(old, overwrite=True) as writer:
        writer.write("group", {"u": np.ones((3, 2), np.float32)})
    assert "old" not in zarr.open_group(old, mode="r").attrs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.parquet", "old.zarr", "photos.zarr"]


def test_group_ranges_hold_whole_groups():
    assert group_ranges(np.array([3, 3, 3, 10, 1]), 6) == [(0, 2), (2, 3), (3, 4), (4, 5)]
    assert group_ranges(np.array([1, 1, 1]), 100) == [(0, 3)]


def dataset(n_groups: int = 30, seed: int = 0) -> GroupedDataset:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 12, n_groups)
    group = rng.permutation(np.repeat(np.arange(n_groups) * 10, sizes))  # not sorted
    x = rng.normal(size=(len(group), 3)).astype(np.float32)
    row_id = np.arange(len(group)) + 1000
    return GroupedDataset(x=x, group=group, aux={"row_id": row_id})


def test_chunks_cover_every_group_once():
    data = dataset()
    chunks = list(group_chunks(data, 40))
    assert len(chunks) > 3 and sum(c.n_obs for c in chunks) == data.n_obs
    ids = np.concatenate([c.group_ids for c in chunks])
    np.testing.assert_array_equal(ids, data.group_ids)


@pytest.mark.parametrize("suffix", [".parquet", ".zarr"])
def test_codes_written_in_chunks_equal_the_in_memory_codes(tmp_path, suffix):
    data = dataset()
    model = create("mlvae", dataset="table", obs_shape=data.obs_shape, seed=0)
    whole = latent_table(model, data)
    written = write_codes(model, data, tmp_path / f"codes{suffix}", rows_per_chunk=40)
    assert (written.n_obs, written.n_groups) == (data.n_obs, data.n_groups)
    assert written.chunks > 3
    inst = whole[whole.level == "instance"].set_index("row_id").sort_index()
    groups = whole[whole.level == "group"].set_index("group").sort_index()
    if suffix == ".parquet":
        table = pd.read_parquet(written.path)
        assert list(table.columns) == list(whole.columns)
        got = table[table.level == "instance"].set_index("row_id").sort_index()
        got_groups = table[table.level == "group"].set_index("group").sort_index()
        np.testing.assert_allclose(got[["v_0", "v_1_std"]], inst[["v_0", "v_1_std"]], atol=1e-6)
        np.testing.assert_array_equal(got["group"], inst["group"])
        np.testing.assert_allclose(got_groups[["u_0", "u_1"]], groups[["u_0", "u_1"]], atol=1e-6)
        assert list(table.level) == ["instance"] * data.n_obs + ["group"] * data.n_groups
        return
    store = zarr.open_group(written.path, mode="r")
    order = np.argsort(store["instance/row_id"][:])
    v = store["instance/v"][:][order]
    np.testing.assert_allclose(v, inst[["v_0", "v_1"]].to_numpy(), atol=1e-6)
    np.testing.assert_array_equal(store["instance/group"][:][order], inst["group"])
    np.testing.assert_array_equal(store["group/group"][:], groups.index)
    np.testing.assert_allclose(store["group/u"][:], groups[["u_0", "u_1"]], atol=1e-6)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 1-epoch ML-VAE run on a 40-school table written here."""
    tmp = tmp_path_factory.mktemp("codes")
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "school": rng.choice([f"s{i}" for i in range(40)], n),
            "score": rng.normal(50, 10, n),
            "hours": rng.normal(10, 2, n),
        }
    )
    frame.to_csv(tmp / "t.csv", index=False)
    args = ["train", "mlvae", "table", "--out", str(tmp / "run"), "--epochs", "1"]
    args += ["--data", f"path={tmp / 't.csv'}", "--data", "group=school", "--data", "id=id"]
    args += ["--set", "hidden=8", "--set", "progress=false"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return tmp, tmp / "run"


def test_encode_to_parquet_gives_the_codes_of_encode_to_csv(run):
    tmp, out = run
    for name in ("codes.csv", "codes.parquet", "codes.zarr"):
        args = ["encode", str(out), "--out", str(tmp / name), "--rows-per-chunk", "64"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "300 observations, 40 groups" in result.output
    csv = pd.read_csv(tmp / "codes.csv", dtype={"row_id": str, "group": str})
    table = pd.read_parquet(tmp / "codes.parquet")
    assert list(table.columns) == list(csv.columns)
    key = ["level", "group", "row_id"]
    left = csv.sort_values(key).reset_index(drop=True)
    right = table.sort_values(key).reset_index(drop=True)
    codes = [c for c in csv.columns if c not in key]
    np.testing.assert_allclose(right[codes].to_numpy(float), left[codes].to_numpy(float),
                               atol=1e-5)  # fmt: skip
    assert list(right["row_id"].fillna("-")) == list(left["row_id"].fillna("-"))
    result = runner.invoke(app, ["encode", str(out), "--out", str(tmp / "codes.parquet")])
    assert result.exit_code == 2 and "add --overwrite" in result.output
    store = zarr.open_group(tmp / "codes.zarr", mode="r")
    assert store["instance/v"].shape == (300, 2) and store["group/u"].shape == (40, 2)


@pytest.mark.parametrize("suffix", [".parquet", ".zarr"])
def test_a_read_only_folder_is_one_disk_error(tmp_path, suffix, monkeypatch):
    from groupvae.runs import code_writers

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path))

    monkeypatch.setattr(code_writers.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(code_writers.tempfile, "mkdtemp", refuse)
    writer_class = ParquetCodeWriter if suffix == ".parquet" else ZarrCodeWriter
    with (
        pytest.raises(DiskError, match="read-only or not writable"),
        writer_class(tmp_path / f"codes{suffix}"),
    ):
        pass
    assert list(tmp_path.iterdir()) == []
