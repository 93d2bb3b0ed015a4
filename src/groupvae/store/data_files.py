"""Fingerprints of the user's data files, so that a run is bound to the data it was
trained on (:func:`groupvae.models.saved.load_run` and ``train --resume`` refuse a file
that changed since).

A file's fingerprint is its absolute path, size in bytes and SHA-256; a folder's (an
image folder) is its file count, total size and a SHA-256 over its files' sorted
relative paths, sizes and SHA-256s. Both are computed in 1 MiB chunks.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from groupvae.errors import DataError
from groupvae.store.atomic import sha256


def fingerprint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The fingerprint of a data file or folder.

    Returns:
        ``{"path": absolute path, "kind": "file" | "folder", "size": bytes,
        "sha256": hex}``, and for a folder ``"files"``: how many files it holds
        (hidden files and folders are skipped).

    Raises:
        DataError: if ``path`` does not exist or cannot be read.
    """
    path = Path(path).expanduser().absolute()
    try:
        if path.is_file():
            return {
                "path": str(path), "kind": "file", "size": path.stat().st_size,
                "sha256": sha256(path),
            }  # fmt: skip
        if path.is_dir():
            digest, size, count = hashlib.sha256(), 0, 0
            files = sorted(
                p for p in path.rglob("*")
                if p.is_file() and not any(s.startswith(".") for s in p.relative_to(path).parts)
            )  # fmt: skip
            for f in files:
                n = f.stat().st_size
                line = f"{f.relative_to(path).as_posix()}\0{n}\0{sha256(f)}\n"
                digest.update(line.encode())
                size, count = size + n, count + 1
            return {
                "path": str(path), "kind": "folder", "size": size, "files": count,
                "sha256": digest.hexdigest(),
            }  # fmt: skip
    except OSError as err:
        raise DataError(f"cannot read the data {path}: {err.strerror or err}") from None
    raise DataError(f"the data {path} does not exist")


def changes(recorded: dict[str, Any], current: dict[str, Any]) -> str | None:
    """What changed between two fingerprints of the same data, in words (``None``: the
    same): its kind, size (or file count), or content."""
    if recorded.get("kind") != current.get("kind"):
        return f"it was a {recorded.get('kind')}, it is now a {current.get('kind')}"
    if recorded.get("files") != current.get("files"):
        return f"it held {recorded.get('files')} files, it now holds {current.get('files')}"
    if recorded.get("size") != current.get("size"):
        return f"its size changed from {recorded.get('size')} to {current.get('size')} bytes"
    if recorded.get("sha256") != current.get("sha256"):
        return f"its content changed (same size, {current.get('size')} bytes, other SHA-256)"
    return None


def check_unchanged(recorded: dict[str, Any], what: str, hint: str = "") -> None:
    """Refuse data that is gone or changed since ``recorded`` was taken.

    Args:
        recorded: a :func:`fingerprint`.
        what: who asks, for the message (e.g. ``"cannot evaluate runs/a"``).
        hint: appended to the message of a changed file (what to do instead).

    Raises:
        DataError: naming the file and what changed (size or content), or that it is gone.
    """
    path = recorded["path"]
    if not Path(path).exists():
        raise DataError(f"{what}: its data {path} is gone (it was {recorded.get('size')} bytes)")
    change = changes(recorded, fingerprint(path))
    if change is not None:
        raise DataError(
            f"{what}: its data {path} changed since the run was trained ({change}); "
            f"the run is bound to the data it was trained on{hint}"
        )


__all__ = ["changes", "check_unchanged", "fingerprint"]
