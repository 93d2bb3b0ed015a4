"""``groupvae prepare``: the command line of :func:`groupvae.runs.prepare.prepare`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from groupvae.runs.prepare import prepare


def _names(text: str | None) -> list[str] | None:
    """``a,b,c`` as ``["a", "b", "c"]`` (``None`` when not given)."""
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def prepare_command(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="CSV files, Parquet files or folders of Parquet files.",
            metavar="INPUT",
            show_default=False,
        ),
    ],
    group: Annotated[str, typer.Option(help="The column of the group ids.")],
    out: Annotated[Path, typer.Option(help="The group-sorted Parquet file to write.")],
    features: Annotated[
        str | None,
        typer.Option(
            help="Feature columns, written as float32, e.g. a,b,c (default: every numeric "
            "column but the group and --keep)."
        ),
    ] = None,
    keep: Annotated[
        str | None, typer.Option(help="Columns copied unchanged, e.g. an id column: id,label.")
    ] = None,
    memory_limit: Annotated[
        str, typer.Option(help="DuckDB's memory limit; the sort spills to disk beyond it.")
    ] = "2GB",
    threads: Annotated[int, typer.Option(help="DuckDB's threads.")] = 2,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the file already at --out (and its group index).")
    ] = False,
) -> None:
    """Rewrite INPUT sorted by group into one Parquet file, with bounded memory, and index
    its groups, for the streaming readers (--data streaming=true)."""
    prepared = prepare(
        inputs, group=group, out=out, features=_names(features), keep=_names(keep) or (),
        memory_limit=memory_limit, threads=threads, overwrite=overwrite,
    )  # fmt: skip
    typer.echo(prepared.summary())


__all__ = ["prepare_command"]
