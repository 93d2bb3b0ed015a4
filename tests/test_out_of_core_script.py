"""perf/out_of_core.py's data at a tiny size: the table is grouped but not sorted, its
groups have 1-200 rows, the subset holds whole groups, the counts are an AnnData file
sorted by donor; a failed step is a row of the table, not a crash."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyarrow")
BENCHMARKS = Path(__file__).resolve().parents[1] / "perf"


@pytest.fixture(scope="module")
def ooc():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("out_of_core")
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_group_sizes_are_heavy_tailed_within_1_to_200(ooc):
    sizes = ooc.group_sizes(20_000, 38.0, np.random.default_rng(0))
    assert sizes.min() >= 1 and sizes.max() <= 200
    assert abs(sizes.mean() - 38.0) < 2
    assert np.median(sizes) < sizes.mean()  # a long right tail


def test_the_table_is_grouped_but_not_sorted_and_the_subset_is_whole_groups(ooc, tmp_path):
    sizes = ooc.group_sizes(300, 20.0, np.random.default_rng(1))
    path = tmp_path / "table.parquet"
    assert ooc.write_table(path, sizes, 4, seed=0) == sizes.sum()
    table = pd.read_parquet(path)
    assert list(table.columns) == ["g", "f0", "f1", "f2", "f3"]
    assert (table.dtypes.iloc[1:] == np.float32).all()
    np.testing.assert_array_equal(table["g"].value_counts().sort_index(), sizes)
    assert (np.diff(table["g"].to_numpy()) < 0).any()  # not sorted
    ordered = table.sort_values("g", kind="stable")
    ordered.to_parquet(tmp_path / "sorted.parquet", index=False)
    rows, groups = ooc.write_subset(tmp_path / "sorted.parquet", tmp_path / "sub.parquet", 20e3)
    subset = pd.read_parquet(tmp_path / "sub.parquet")
    assert (rows, groups) == (len(subset), subset["g"].nunique()) and 0 < rows < len(table)
    np.testing.assert_array_equal(subset["g"].value_counts().sort_index(),
                                  sizes[np.unique(subset["g"])])  # fmt: skip
    assert ooc.table_counts(tmp_path / "sub.parquet") == (rows, groups)


def test_the_counts_are_a_backed_anndata_sorted_by_donor(ooc, tmp_path):
    anndata = pytest.importorskip("anndata")
    path = tmp_path / "cells.h5ad"
    cells, nnz = ooc.write_cells(path, 3000, 40, 7, 0.05, seed=0)
    adata = anndata.read_h5ad(path, backed="r")
    assert adata.shape == (3000, 40) and cells == 3000
    donor = adata.obs["donor"].astype(str).to_numpy()
    assert (donor[:-1] <= donor[1:]).all() and len(set(donor)) == 7
    x = adata.X.to_memory().toarray()
    assert (x == np.round(x)).all() and (x >= 0).all()
    assert nnz == (x > 0).sum() and 0.03 < nnz / x.size < 0.07


def test_a_failed_step_is_a_row_of_the_table(ooc, tmp_path):
    row = ooc.Row("subset", "subset.parquet")
    assert ooc.timed_step(row, ooc.write_subset, tmp_path / "none", tmp_path / "s", 1e3) is None
    assert row.note.startswith("failed: ") and row.seconds is not None
    measured = ooc.run_measured([sys.executable, "-c", "raise SystemExit('no')"], tmp_path / "l")
    assert not measured.ok and measured.tail == "no"
    table = ooc.markdown([row, ooc.Row("x", "d", 2**20, 10, 2, 512, 1.0, 10.0)], 0.8)
    assert "| subset | subset.parquet |" in table and "| 0.50 |" in table
    assert "streaming / in-memory throughput on the same subset: 0.80" in table
