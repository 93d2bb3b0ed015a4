"""``groupvae prepare``: rewrite a table that is not sorted by group into one group-sorted
Parquet file, with bounded memory (DuckDB's external sort), then index its groups.

The streaming readers (:mod:`groupvae.data.ondisk`) read a batch of whole groups as a few
contiguous range reads, which needs the rows of each group together. DuckDB sorts data
larger than memory by spilling to a temporary folder next to the output, under a memory
limit the user sets (``--memory-limit``).
"""

from __future__ import annotations

import errno
import shutil
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groupvae.data.ondisk import build_group_index, default_index_path
from groupvae.errors import ConfigError, DataError, GroupVAEError
from groupvae.store.atomic import atomic_path, disk_error

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
ROW_GROUP_SIZE = 65_536
"""Rows per Parquet row group of the output: the unit of a range read."""

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")  # fmt: skip


@dataclass(frozen=True)
class Prepared:
    """What :func:`prepare` wrote.

    Attributes:
        path: the group-sorted Parquet file.
        rows: its rows (observations).
        groups: its distinct groups.
        columns: its columns, the group column first.
        bytes: its size on disk (bytes).
        seconds: wall time of the whole preparation (s), index included.
        index: the group index written beside it, or ``None`` where the streaming
            readers (:mod:`groupvae.data.ondisk`) are not installed.
    """

    path: Path
    rows: int
    groups: int
    columns: tuple[str, ...]
    bytes: int
    seconds: float
    index: Path | None

    def summary(self) -> str:
        """The one line ``groupvae prepare`` prints."""
        index = f"; group index {self.index}" if self.index is not None else ""
        return (
            f"wrote {self.path} ({self.rows:,} rows, {self.groups:,} groups, "
            f"{len(self.columns)} columns, {human_size(self.bytes)} on disk, "
            f"{self.seconds:.1f} s{index})"
        )


def human_size(n: int) -> str:
    """``n`` bytes as ``"812 B"``, ``"3.4 KiB"``, ``"1.2 MiB"`` or ``"10.1 GiB"``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} B"


def _literal(text: str | Path) -> str:
    """``text`` as a SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def _ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _has_suffix(path: Path, suffixes: Sequence[str]) -> bool:
    return any(path.name.lower().endswith(s) for s in suffixes)


def source_sql(path: Path) -> str:
    """The DuckDB table function that reads ``path``: a CSV file, a Parquet file, or a
    folder of Parquet files (searched recursively).

    Raises:
        DataError: for a missing path, a folder without Parquet files, or another format.
    """
    if not path.exists():
        raise DataError(f"input {path} does not exist")
    if path.is_dir():
        if not any(p.is_file() for s in PARQUET_SUFFIXES for p in path.rglob(f"*{s}")):
            raise DataError(f"input folder {path} holds no .parquet files")
        files = [_literal(path / "**" / f"*{s}") for s in PARQUET_SUFFIXES
                 if any(path.rglob(f"*{s}"))]  # fmt: skip
        return f"read_parquet([{', '.join(files)}], union_by_name = true)"
    if _has_suffix(path, PARQUET_SUFFIXES):
        return f"read_parquet({_literal(path)})"
    if _has_suffix(path, CSV_SUFFIXES):
        return f"read_csv({_literal(path)})"
    raise DataError(
        f"input {path}: give a CSV file ({', '.join(CSV_SUFFIXES)}), a Parquet file or a "
        "folder of Parquet files"
    )


def _columns(con: Any, source: str) -> dict[str, str]:
    """The columns of ``source`` and their DuckDB types, in order."""
    return {
        row[0]: str(row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    }


def select_list(
    columns: dict[str, str], group: str, features: Sequence[str] | None, keep: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The output's SELECT expressions and column names: the group column first, then the
    features cast to float32 (``FLOAT``), then the ``keep`` columns unchanged.

    Without ``features``, every numeric column other than the group and ``keep`` is a
    feature, and every other column is kept unchanged.

    Raises:
        DataError: for an unknown group, feature or kept column, or a feature that is not
            numbers.
    """
    known = ", ".join(columns)
    for kind, names in (("group", [group]), ("feature", features or []), ("keep", keep)):
        for name in names:
            if name not in columns:
                raise DataError(f"unknown {kind} column {name!r}; the input's columns: {known}")
    if features is None:
        rest = [c for c in columns if c != group and c not in keep]
        features = [c for c in rest if columns[c].upper().startswith(_NUMERIC)]
        keep = [*keep, *(c for c in rest if c not in features)]
    for name in features:
        if not columns[name].upper().startswith(_NUMERIC):
            raise DataError(f"feature column {name!r} holds {columns[name]}, not numbers")
    exprs = [_ident(group)]
    exprs += [f"CAST({_ident(f)} AS FLOAT) AS {_ident(f)}" for f in features if f != group]
    exprs += [_ident(k) for k in keep if k != group and k not in features]
    names = [group, *(f for f in features if f != group)]
    names += [k for k in keep if k != group and k not in features]
    return exprs, names


def check_paths(inputs: Sequence[Path], out: Path, *, overwrite: bool) -> None:
    """Refuse an output that would read or replace an input, or replace a file unasked.

    Raises:
        ConfigError: for ``out`` without a ``.parquet`` suffix, ``out`` equal to an input
            or inside an input folder, a folder at ``out``, or an existing ``out``
            without ``overwrite``.
    """
    if out.suffix.lower() != ".parquet":
        raise ConfigError(f"--out {out} must end in .parquet")
    full = out.resolve()
    for path in inputs:
        source = path.resolve()
        if full == source or source in full.parents:
            raise ConfigError(f"--out {out} is the input {path}; write the sorted copy elsewhere")
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give the output's file name")
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise ConfigError(f"--out {out} already exists; add --overwrite to replace it")


def _input_bytes(inputs: Sequence[Path]) -> int:
    """The inputs' size on disk (bytes): about what the sorted copy needs."""
    total = 0
    for path in inputs:
        files = path.rglob("*") if path.is_dir() else [path]
        total += sum(f.stat().st_size for f in files if f.is_file())
    return total


def copy_sorted(con: Any, query: str, tmp: Path) -> None:
    """Run DuckDB's ``COPY (query) TO tmp`` as one zstd Parquet file (the external sort)."""
    con.execute(
        f"COPY ({query}) TO {_literal(tmp)} "
        f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_SIZE})"
    )


def _as_os_error(err: Exception) -> OSError | None:
    """The ``OSError`` a DuckDB error stands for (a full disk), else ``None``."""
    if isinstance(err, OSError):
        return err
    text = str(err)
    if "No space left on device" in text or "disk is full" in text.lower():
        return OSError(errno.ENOSPC, "No space left on device")
    return None


def _first_lines(err: Exception) -> str:
    """DuckDB's error in one line: its first line and the line naming the column."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    column = [line for line in lines[1:] if line.startswith("Error when converting")]
    return "; ".join(lines[:1] + column[:1])


def _counts(con: Any, tmp: Path, group: str) -> tuple[int, int, int]:
    """Rows, distinct groups and rows without a group of the written file."""
    g = _ident(group)
    sql = f"SELECT count(*), count(DISTINCT {g}), count(*) - count({g}) FROM read_parquet(?)"
    rows, groups, missing = con.execute(sql, [str(tmp)]).fetchone()
    return int(rows), int(groups), int(missing)


def _connect(memory_limit: str, threads: int, spill: Path) -> Any:
    """A DuckDB connection with bounded memory that spills to ``spill``."""
    try:
        import duckdb  # deferred: an optional dependency (the io extra)
    except ImportError:
        raise ConfigError(
            'groupvae prepare needs DuckDB: pip install "groupvae[io]" (or duckdb)'
        ) from None
    if threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET memory_limit = {_literal(memory_limit)}")
    except duckdb.Error:
        con.close()
        raise ConfigError(
            f"--memory-limit {memory_limit!r} is not a size like 3GB or 500MB"
        ) from None
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET temp_directory = {_literal(spill)}")
    con.execute("SET preserve_insertion_order = false")
    return con


def prepare(
    inputs: str | Path | Sequence[str | Path],
    *,
    group: str,
    out: str | Path,
    features: Sequence[str] | None = None,
    keep: Sequence[str] = (),
    memory_limit: str = "2GB",
    threads: int = 2,
    overwrite: bool = False,
) -> Prepared:
    """Write the rows of ``inputs`` sorted by ``group`` to the Parquet file ``out``.

    DuckDB sorts with at most ``memory_limit`` of memory, spilling to a temporary folder
    next to ``out`` (removed after); the file is written to a temporary name in ``out``'s
    folder and renamed when complete, then its groups are indexed
    (:func:`groupvae.data.ondisk.build_group_index`). Rows of one group keep no
    particular order (it may differ between two runs with several ``threads``).

    Args:
        inputs: CSV files, Parquet files or folders of Parquet files (read together,
            columns matched by name).
        group: the column of the group ids (kept as it is: text or integers).
        out: the ``.parquet`` file to write.
        features: the feature columns, written as float32; default every numeric column
            other than ``group`` and ``keep``.
        keep: columns copied unchanged (e.g. an id column); without ``features``, every
            column that is not numbers is kept too.
        memory_limit: DuckDB's memory limit, e.g. ``"2GB"``. Measured: the process
            peaks at about this plus 0.25 GB DuckDB uses beyond it, plus the
            interpreter's 0.4 GB under the CLI (which imports torch).
        threads: DuckDB's threads.
        overwrite: replace an existing ``out`` (and its group index).

    Returns:
        What was written (:class:`Prepared`; :meth:`Prepared.summary` says it in one line).

    Raises:
        DataError: for a missing input, an unknown column, a feature that is not numbers,
            rows without a group, or an input DuckDB cannot read.
        ConfigError: for a bad ``out`` (see :func:`check_paths`), ``memory_limit`` or
            ``threads``, or DuckDB not installed.
        DiskError: when the disk fills: the temporary file is removed and ``out`` left as
            it was; the message says the space needed and free.
    """
    start = time.perf_counter()
    paths = [Path(p) for p in ([inputs] if isinstance(inputs, (str, Path)) else inputs)]
    if not paths:
        raise ConfigError("give at least one input file or folder")
    out = Path(out)
    sources = [source_sql(p) for p in paths]
    check_paths(paths, out, overwrite=overwrite)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        spill = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".duckdb-tmp", dir=out.parent))
    except OSError as err:  # a read-only folder, a full disk
        raise disk_error(out, err) from None
    try:
        con = _connect(memory_limit, threads, spill)
        try:
            rows, groups, names = _write_sorted(con, sources, out, group, features, keep, paths)
        finally:
            con.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    if overwrite:
        with suppress(OSError):
            default_index_path(out).unlink(missing_ok=True)  # the replaced file's index
    # one streaming pass over the group column; the index goes beside the file
    index = build_group_index(out, group=group, fmt="parquet").save()
    seconds = time.perf_counter() - start
    return Prepared(out, rows, groups, tuple(names), out.stat().st_size, seconds, index)


def _write_sorted(
    con: Any,
    sources: list[str],
    out: Path,
    group: str,
    features: Sequence[str] | None,
    keep: Sequence[str],
    paths: list[Path],
) -> tuple[int, int, list[str]]:
    """Sort ``sources`` into ``out`` (atomically); its rows, groups and column names."""
    import duckdb  # deferred: checked by _connect

    source = " UNION ALL BY NAME ".join(f"SELECT * FROM {s}" for s in sources)
    source = f"({source})" if len(sources) > 1 else sources[0]
    try:
        exprs, names = select_list(_columns(con, source), group, features, list(keep))
        query = f"SELECT {', '.join(exprs)} FROM {source} ORDER BY {_ident(group)}"
        with atomic_path(out) as tmp:
            copy_sorted(con, query, tmp)
            rows, groups, missing = _counts(con, tmp, group)
            if missing:
                raise DataError(f"{missing:,} rows have no value in the group column {group!r}")
    except GroupVAEError:
        raise
    except (OSError, duckdb.Error) as err:
        full = _as_os_error(err)
        if full is not None:
            raise disk_error(out, full, 2 * _input_bytes(paths)) from None
        if isinstance(err, duckdb.OutOfMemoryException):
            raise ConfigError(
                "DuckDB ran out of --memory-limit; raise it or lower --threads"
            ) from None
        raise DataError(f"cannot read the input: {_first_lines(err)}") from None
    return rows, groups, names


__all__ = ["Prepared", "prepare"]
