"""``groupvae prepare``: input not sorted by group rewritten into one group-sorted Parquet
file by DuckDB, atomically, refusing bad input in one line."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("duckdb")

import groupvae
from groupvae.cli import app
from groupvae.errors import ConfigError, DataError, DiskError
from groupvae.runs import prepare as prepare_module
from groupvae.runs.prepare import prepare

runner = CliRunner()


def unsorted(n: int = 500, seed: int = 0) -> pd.DataFrame:
    """Rows of 40 groups in random order: an id, the group, two features, a label."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "school": rng.choice([f"s{i:02d}" for i in range(40)], n),
            "score": rng.normal(50, 10, n),
            "hours": rng.integers(0, 20, n),
            "label": rng.choice(["a", "b"], n),
        }
    )


def same_rows(written: pd.DataFrame, expected: pd.DataFrame) -> None:
    """``written`` holds the rows of ``expected`` (features as float32), in any order."""
    expected = expected[list(written.columns)].copy()
    for col in ("score", "hours"):
        if col in expected:
            expected[col] = expected[col].astype(np.float32)
    key = ["id"] if "id" in written else list(written.columns)
    left = written.sort_values(key).reset_index(drop=True)
    right = expected.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right, check_dtype=False, check_column_type=False)


def assert_sorted(frame: pd.DataFrame, group: str) -> None:
    """Every group's rows are together, in increasing order of the group."""
    values = frame[group].to_numpy()
    assert (values[:-1] <= values[1:]).all()


def test_prepare_sorts_an_unsorted_csv(tmp_path):
    frame = unsorted()
    frame.to_csv(tmp_path / "in.csv", index=False)
    before = (tmp_path / "in.csv").read_bytes()
    out = tmp_path / "sorted" / "out.parquet"
    done = prepare(tmp_path / "in.csv", group="school", out=out, keep=["id"])
    written = pd.read_parquet(out)
    assert list(written.columns) == ["school", "score", "hours", "id", "label"]
    assert written["score"].dtype == np.float32 and written["hours"].dtype == np.float32
    assert_sorted(written, "school")
    same_rows(written, frame)
    assert (done.rows, done.groups, done.bytes) == (500, 40, out.stat().st_size)
    assert done.columns == tuple(written.columns) and done.seconds > 0
    assert "500 rows, 40 groups, 5 columns" in done.summary()
    assert (tmp_path / "in.csv").read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir() if not p.name.endswith(".npz")) == [
        "out.parquet"
    ]  # no temporary file or spill folder left


def test_prepare_sorts_a_parquet_folder_with_the_features_named(tmp_path):
    frame = unsorted(seed=1)
    folder = tmp_path / "parts"
    (folder / "deeper").mkdir(parents=True)
    frame.iloc[:200].to_parquet(folder / "a.parquet", index=False)
    frame.iloc[200:].to_parquet(folder / "deeper" / "b.parquet", index=False)
    out = tmp_path / "out.parquet"
    done = prepare([folder], group="school", out=out, features=["score"], keep=["id"])
    written = pd.read_parquet(out)
    assert list(written.columns) == ["school", "score", "id"] and done.rows == 500
    assert written["score"].dtype == np.float32
    assert_sorted(written, "school")
    same_rows(written, frame)


def test_prepare_reads_several_inputs_and_integer_groups(tmp_path):
    frame = unsorted(seed=2).assign(school=lambda f: f["hours"] % 7)
    frame.iloc[:100].to_csv(tmp_path / "a.csv", index=False)
    frame.iloc[100:].to_parquet(tmp_path / "b.parquet", index=False)
    out = tmp_path / "out.parquet"
    done = groupvae.prepare([tmp_path / "a.csv", tmp_path / "b.parquet"], group="school",
                            out=out, features=["score"], keep=["id"])  # fmt: skip
    written = pd.read_parquet(out)
    assert done.groups == frame["school"].nunique() and len(written) == 500
    assert_sorted(written, "school")
    same_rows(written, frame)


def test_the_index_is_built_when_the_streaming_readers_are_there(tmp_path):
    pytest.importorskip("groupvae.data.ondisk")
    unsorted().to_csv(tmp_path / "in.csv", index=False)
    done = prepare(tmp_path / "in.csv", group="school", out=tmp_path / "out.parquet")
    assert done.index is not None and done.index.is_file()


def cli(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, ["prepare", *map(str, args)])
    return result.exit_code, result.output


def test_the_command_says_what_it_wrote(tmp_path):
    unsorted().to_csv(tmp_path / "in.csv", index=False)
    args = [tmp_path / "in.csv", "--group", "school", "--out", tmp_path / "o.parquet"]
    args += ["--features", "score,hours", "--memory-limit", "200MB", "--threads", "1"]
    code, output = cli(*args)
    assert code == 0, output
    assert output.count("\n") == 1 and "500 rows, 40 groups, 3 columns" in output
    assert " on disk, " in output and output.rstrip().endswith((" s)", ".npz)"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv", "--group", "school"], "missing.csv does not exist"),
        (["in.csv", "--group", "class"], "unknown group column 'class'; the input's columns: id,"),
        (["in.csv", "--group", "school", "--features", "score,weight"], "unknown feature column"),
        (["in.csv", "--group", "school", "--features", "label"], "'label' holds VARCHAR, not"),
        (["in.csv", "--group", "school", "--memory-limit", "lots"], "--memory-limit 'lots'"),
        (["in.txt.bz2", "--group", "school"], "give a CSV file"),
    ],
)
def test_bad_input_is_refused_in_one_line(tmp_path, args, message):
    unsorted().to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "in.txt.bz2").write_text("x")
    args = [tmp_path / args[0], *args[1:], "--out", tmp_path / "out.parquet"]
    code, output = cli(*args)
    assert code == 2 and output.count("\n") == 1 and message in output, output
    assert not (tmp_path / "out.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "in.txt.bz2"]


def test_an_existing_output_or_the_input_itself_is_kept(tmp_path):
    frame = unsorted()
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    out = tmp_path / "out.parquet"
    out.write_bytes(b"precious")
    code, output = cli(tmp_path / "in.parquet", "--group", "school", "--out", out)
    assert code == 2 and "already exists; add --overwrite" in output
    assert out.read_bytes() == b"precious"
    before = (tmp_path / "in.parquet").read_bytes()
    for target in (tmp_path / "in.parquet", tmp_path / "." / "in.parquet"):
        code, output = cli(tmp_path / "in.parquet", "--group", "school", "--out", target,
                           "--overwrite")  # fmt: skip
        assert code == 2 and "is the input" in output and output.count("\n") == 1
    assert (tmp_path / "in.parquet").read_bytes() == before
    code, output = cli(tmp_path / "in.parquet", "--group", "school", "--out", out, "--overwrite")
    assert code == 0, output
    assert_sorted(pd.read_parquet(out), "school")


def test_an_output_inside_an_input_folder_is_refused(tmp_path):
    (tmp_path / "parts").mkdir()
    unsorted().to_parquet(tmp_path / "parts" / "a.parquet", index=False)
    with pytest.raises(ConfigError, match="is the input"):
        prepare(tmp_path / "parts", group="school", out=tmp_path / "parts" / "sorted.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"holds no \.parquet files"):
        prepare(tmp_path / "empty", group="school", out=tmp_path / "o.parquet")


def test_a_full_disk_leaves_no_temporary_file_and_the_old_output(tmp_path, monkeypatch):
    unsorted().to_csv(tmp_path / "in.csv", index=False)
    before = (tmp_path / "in.csv").read_bytes()

    def full(con, query, tmp: Path) -> None:
        tmp.write_bytes(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(prepare_module, "copy_sorted", full)
    out = tmp_path / "out.parquet"
    with pytest.raises(DiskError, match=r"no space left on device \(needs about [\d,]+ bytes, "):
        prepare(tmp_path / "in.csv", group="school", out=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
    assert (tmp_path / "in.csv").read_bytes() == before
    out.write_bytes(b"an older copy")
    code, output = cli(tmp_path / "in.csv", "--group", "school", "--out", out, "--overwrite")
    assert code == 2 and output.count("\n") == 1 and "bytes free); it is left as it was" in output
    assert out.read_bytes() == b"an older copy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.parquet"]


def test_duckdbs_own_full_disk_error_is_a_disk_error(tmp_path, monkeypatch):
    import duckdb

    unsorted().to_csv(tmp_path / "in.csv", index=False)

    def full(con, query, tmp: Path) -> None:
        raise duckdb.IOException('IO Error: Could not write file "x": No space left on device')

    monkeypatch.setattr(prepare_module, "copy_sorted", full)
    with pytest.raises(DiskError, match="no space left on device"):
        prepare(tmp_path / "in.csv", group="school", out=tmp_path / "out.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_a_read_only_output_folder_is_one_line(tmp_path, monkeypatch):
    unsorted().to_csv(tmp_path / "in.csv", index=False)

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "out"))

    monkeypatch.setattr(prepare_module.tempfile, "mkdtemp", refuse)
    code, output = cli(tmp_path / "in.csv", "--group", "school", "--out", tmp_path / "o.parquet")
    assert code == 2 and output.count("\n") == 1 and "read-only or not writable" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
