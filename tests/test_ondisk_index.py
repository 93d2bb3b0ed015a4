"""The group index of data on disk, and bad input refused in one line."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from groupvae.data.ondisk import (
    build_group_index,
    default_index_path,
    load_group_index,
    open_on_disk,
)
from groupvae.errors import DataError


def _frame(groups=("b", "a", "c"), sizes=(3, 2, 4)) -> pd.DataFrame:
    group = np.repeat(np.asarray(groups), sizes)
    return pd.DataFrame({"g": group, "f": np.arange(len(group), dtype=np.float32)})


def _one_line(info) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_index_holds_each_groups_rows_and_is_saved_beside_the_data(tmp_path):
    path = tmp_path / "t.parquet"
    _frame().to_parquet(path, row_group_size=2)  # groups span row groups
    index = build_group_index(path, group="g")
    assert index.group_ids.tolist() == ["b", "a", "c"]
    assert index.offsets.tolist() == [0, 3, 5, 9] and index.n_rows == 9
    saved = index.save()
    assert saved == default_index_path(path) == tmp_path / "t.parquet.groupindex.npz"
    loaded = load_group_index(path, group="g")
    assert loaded.group_ids.tolist() == ["b", "a", "c"]
    assert np.array_equal(loaded.offsets, index.offsets)
    assert load_group_index(path, group="other") is None


def test_a_folder_index_lives_in_the_folder(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    frame = _frame()
    frame.iloc[:4].to_parquet(folder / "part-0.parquet")
    frame.iloc[4:].to_parquet(folder / "part-1.parquet")
    index = build_group_index(folder, group="g")
    assert index.offsets.tolist() == [0, 3, 5, 9]
    assert index.save() == folder / "_groupindex.npz"
    data = open_on_disk(folder, group="g", standardise=False)
    assert data.read_groups(np.array([0])).x.ravel().tolist() == [3.0, 4.0]  # group "a"


def test_an_unsorted_file_names_groupvae_prepare(tmp_path):
    path = tmp_path / "t.parquet"
    _frame(("a", "b", "a"), (2, 2, 2)).to_parquet(path)
    with pytest.raises(DataError, match=r"not sorted by 'g'.*groupvae prepare") as info:
        build_group_index(path, group="g")
    _one_line(info)


def test_a_stale_index_is_refused(tmp_path):
    path = tmp_path / "t.parquet"
    _frame().to_parquet(path)
    open_on_disk(path, group="g")  # builds and saves the index
    _frame(sizes=(3, 2, 5)).to_parquet(path)
    with pytest.raises(DataError, match="changed since its group index was built") as info:
        open_on_disk(path, group="g")
    assert "size" in _one_line(info)


def test_a_missing_chunk_is_refused(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    frame = _frame()
    frame.iloc[:4].to_parquet(folder / "part-0.parquet")
    frame.iloc[4:].to_parquet(folder / "part-1.parquet")
    data = open_on_disk(folder, group="g", row_cache=False)
    os.remove(folder / "part-1.parquet")
    with pytest.raises(DataError, match=r"missing or unreadable.*part-1") as info:
        data.to_memory()
    _one_line(info)
    with pytest.raises(DataError, match="changed since its group index"):
        open_on_disk(folder, group="g")  # the folder's files changed
    (folder / "part-1.parquet").write_bytes(b"not parquet")
    os.remove(folder / "_groupindex.npz")
    with pytest.raises(DataError, match=r"missing or unreadable.*part-1") as info:
        open_on_disk(folder, group="g")
    _one_line(info)


def test_a_wrong_group_column_is_refused(tmp_path):
    path = tmp_path / "t.parquet"
    _frame().to_parquet(path)
    with pytest.raises(DataError, match=r"no group column 'school'.*g, f") as info:
        open_on_disk(path, group="school")
    _one_line(info)
    with pytest.raises(DataError, match="no column 'school'"):
        build_group_index(path, group="school")
    np.save(tmp_path / "x.npy", np.zeros((9, 2), np.float32))
    np.save(tmp_path / "g.npy", np.zeros(8, np.int64))
    with pytest.raises(DataError, match="one id per row") as info:
        open_on_disk(tmp_path / "x.npy", group=str(tmp_path / "g.npy"))
    _one_line(info)


def test_missing_group_ids_and_text_features_are_refused(tmp_path):
    frame = _frame()
    frame.loc[4, "g"] = None
    frame.to_parquet(tmp_path / "m.parquet")
    with pytest.raises(DataError, match="missing for rows 4"):
        build_group_index(tmp_path / "m.parquet", group="g")
    frame = _frame().assign(word="x")
    frame.to_parquet(tmp_path / "w.parquet")
    with pytest.raises(DataError, match="numeric feature columns"):
        open_on_disk(tmp_path / "w.parquet", group="g")


def test_an_unwritable_data_folder_keeps_the_index_at_the_fallback(tmp_path):
    path = tmp_path / "ro" / "t.parquet"
    path.parent.mkdir()
    _frame().to_parquet(path)
    path.parent.chmod(0o555)
    try:
        if os.access(path.parent, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        fallback = tmp_path / "run" / "groupindex.npz"
        open_on_disk(path, group="g", fallback_index=fallback)
        assert fallback.is_file()
        assert open_on_disk(path, group="g", fallback_index=fallback).n_groups == 3
    finally:
        path.parent.chmod(0o755)


def test_the_same_bytes_written_again_keep_their_index(tmp_path):
    path = tmp_path / "t.parquet"
    _frame().to_parquet(path)
    build_group_index(path, group="g").save()
    os.utime(path, ns=(1, 1))  # a copy without its times: same size and hashes
    assert load_group_index(path, group="g").n_groups == 3
