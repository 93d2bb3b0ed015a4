"""Whether a reader streams its file from disk or reads it into memory
(``--data streaming=auto|true|false``, ``--data stream_above=2GB``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from groupvae.errors import DataError

UNITS = {"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
         "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}  # fmt: skip
DEFAULT_ABOVE = 2 * 10**9
"""Stream above 2 GB on disk, or a quarter of the machine's memory if that is less."""


def parse_size(value: int | float | str) -> int:
    """Bytes of ``2GB``, ``500MiB`` or a number.

    Raises:
        DataError: for a size that does not read as one.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return int(value)
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?I?B?)\s*", str(value).upper())
    if not match or match.group(2) not in UNITS:
        raise DataError(f"stream_above must be a size such as 2GB or 500MiB, got {value!r}")
    return int(float(match.group(1)) * UNITS[match.group(2)])


def default_threshold() -> int:
    """:data:`DEFAULT_ABOVE`, or a quarter of the physical memory if that is less."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return DEFAULT_ABOVE
    return min(DEFAULT_ABOVE, memory // 4)


def size_on_disk(path: Path) -> int:
    """Bytes of a file, or of every file in a folder."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def should_stream(
    path: str | os.PathLike[str] | None,
    streaming: bool | str = "auto",
    stream_above: int | float | str | None = None,
) -> bool:
    """Whether to stream ``path``: always (``true``), never (``false``), or with
    ``auto`` when it is larger than ``stream_above`` (default
    :func:`default_threshold`).

    Raises:
        DataError: for another ``streaming`` value or a bad size.
    """
    value = str(streaming).lower()
    if value not in ("auto", "true", "false"):
        raise DataError(f"streaming must be auto, true or false, got {streaming!r}")
    if value != "auto" or path is None:
        return value == "true"
    above = default_threshold() if stream_above is None else parse_size(stream_above)
    return size_on_disk(Path(path).expanduser()) > above


__all__ = ["DEFAULT_ABOVE", "default_threshold", "parse_size", "should_stream", "size_on_disk"]
