"""``groupvae train PRESET table|anndata --data streaming=...``: the streaming path from
the command line, the same weights as in memory, and its bad input in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from safetensors.torch import load_file
from typer.testing import CliRunner

from groupvae.cli import app
from groupvae.data.ondisk.choice import parse_size, should_stream
from groupvae.errors import DataError

runner = CliRunner()
TINY = ["--epochs", "2", "--set", "hidden=8", "--set", "progress=false"]


def _table(path, sorted_=True) -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(2, 9, 24)
    ids = rng.permutation(100)[:24]
    group = np.repeat(ids, sizes)
    if not sorted_:
        group = rng.permutation(group)
    frame = pd.DataFrame(
        {"g": group, "a": rng.normal(size=len(group)), "b": rng.random(len(group))}
    )
    frame.to_parquet(path) if str(path).endswith(".parquet") else frame.to_csv(path, index=False)


def _train(tmp_path, name: str, *data: str) -> dict:
    args = ["train", "mlvae", "table", "--out", tmp_path / name, *TINY]
    for option in data:
        args += ["--data", option]
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return load_file(tmp_path / name / "weights.safetensors")


def test_train_streams_a_table_to_the_weights_it_trains_in_memory(tmp_path):
    path = tmp_path / "t.parquet"
    _table(path)
    common = [f"path={path}", "group=g"]
    streamed = _train(tmp_path, "disk", *common, "streaming=true")
    memory = _train(tmp_path, "memory", *common, "streaming=false")
    auto = _train(tmp_path, "auto", *common, "stream_above=1KB")  # larger: streamed
    assert all((streamed[k] == memory[k]).all() for k in memory)
    assert all((auto[k] == memory[k]).all() for k in memory)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_streaming_an_unsorted_or_csv_table_names_groupvae_prepare(tmp_path, suffix):
    path = tmp_path / f"t{suffix}"
    _table(path, sorted_=False)
    args = ["train", "mlvae", "table", "--out", tmp_path / "run", *TINY,
            "--data", f"path={path}", "--data", "group=g", "--data", "streaming=true"]  # fmt: skip
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert "groupvae prepare" in result.output


def test_streaming_options_read_as_sizes_and_switches(tmp_path):
    assert parse_size("2GB") == 2 * 10**9 and parse_size("1MiB") == 1 << 20
    assert parse_size(500) == 500
    with pytest.raises(DataError, match="size such as 2GB"):
        parse_size("big")
    with pytest.raises(DataError, match="auto, true or false"):
        should_stream(tmp_path, "sometimes")
    (tmp_path / "f.parquet").write_bytes(b"x" * 2000)
    assert should_stream(tmp_path / "f.parquet", "auto", "1KB")
    assert not should_stream(tmp_path / "f.parquet", "auto", "1MB")
    assert should_stream(tmp_path / "f.parquet", True) and not should_stream(None, "auto")


def test_train_reads_a_backed_h5ad_to_the_weights_it_trains_in_memory(tmp_path):
    import anndata
    import scipy.sparse

    from groupvae.data.readers.h5ad import h5ad_ready

    rng = np.random.default_rng(0)
    donors = np.repeat([f"d{i:02d}" for i in rng.permutation(16)], rng.integers(2, 7, 16))
    counts = rng.poisson(1.0, (len(donors), 10)).astype(np.float32)
    obs = pd.DataFrame({"donor": donors}, index=[f"c{i}" for i in range(len(donors))])
    adata = anndata.AnnData(X=scipy.sparse.csr_matrix(counts), obs=obs)
    h5ad_ready(adata).write_h5ad(tmp_path / "cells.h5ad")

    def weights(name: str, *extra: str) -> dict:
        path = tmp_path / "cells.h5ad"
        args = ["train", "mlvae", "anndata", "--out", tmp_path / name, *TINY,
                "--data", f"path={path}", "--data", "group=donor", *extra]  # fmt: skip
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return load_file(tmp_path / name / "weights.safetensors")

    backed, memory = weights("backed", "--data", "backed=true"), weights("memory")
    assert all((backed[k] == memory[k]).all() for k in memory)
