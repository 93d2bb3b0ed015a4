"""Atomic file writes: write to a temporary file in the same folder, then rename.

Every atomic write goes through :func:`write_with`, which turns a fault of the machine
(a full disk, a read-only or foreign folder, torch's failed ``torch.save``) into one
:class:`~groupvae.errors.DiskError` naming the path, after removing the temporary file:
the file it was to replace is left as it was.

The temporary file is ``.<name>.<8 random characters>.tmp`` beside ``<name>``
(:data:`TEMPORARY`); one is left behind only when the process is killed mid-write.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from groupvae.errors import DiskError, GroupVAEError

_TORCH_WRITE_FAILURES = ("inline_container", "PytorchStreamWriter", "file write failed")
"""Words of the ``RuntimeError`` that ``torch.save`` raises when its write fails."""

TEMPORARY = r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$"
"""The pattern of :func:`atomic_path`'s temporary names; group ``name`` is the target's."""


def sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_permissions(path: str | os.PathLike[str]) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would, under the current umask.

    ``tempfile`` (and ``safetensors``) create private files (0600) and folders (0700); a
    saved run should be as readable as any other file its user writes.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if Path(path).is_dir() else 0o666) & ~umask)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        default_permissions(tmp_path)
        os.replace(tmp_path, path)
    finally:
        with suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def _free_bytes(path: Path) -> int | None:
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def disk_error(path: Path, err: BaseException, size: int | None = None) -> DiskError:
    """The one-line :class:`DiskError` for a failed write of ``path``.

    Args:
        path: the file that was to be written.
        err: the ``OSError`` (or torch's ``RuntimeError``) of the failed write.
        size: the bytes the write needed, where known.
    """
    code = getattr(err, "errno", None)
    free = _free_bytes(path)
    if code in (errno.ENOSPC, errno.EDQUOT) or not isinstance(err, OSError):
        full = isinstance(err, OSError)
        reason = "no space left on device" if full else "the write failed: is the disk full?"
        needs = [f"needs about {size:,} bytes"] if size is not None else []
        needs += [f"{free:,} bytes free"] if free is not None else []
        reason += f" ({', '.join(needs)})" if needs else ""
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
        where = getattr(err, "filename", None) or path.parent
        reason = f"{where} is read-only or not writable by you ({os.strerror(code)})"
    else:
        reason = getattr(err, "strerror", None) or str(err).strip().splitlines()[0]
    kept = "it is left as it was" if path.exists() else "nothing was written"
    return DiskError(f"cannot write {path}: {reason}; {kept}")


def write_with(
    path: str | os.PathLike[str], writer: Callable[[Path], Any], *, size: int | None = None
) -> None:
    """Call ``writer(tmp_path)`` and rename the result onto ``path`` atomically.

    Args:
        path: the file to write (its folder is made if missing).
        writer: writes the content to the temporary path it is given.
        size: the bytes the content needs, where known (for the message of a full disk).

    Raises:
        DiskError: if the disk is full, the folder is read-only or not writable, or
            ``torch.save`` failed to write; the temporary file is removed and ``path``
            is left as it was.
    """
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            writer(tmp)
    except GroupVAEError:
        raise
    except OSError as err:
        raise disk_error(path, err, size) from None
    except RuntimeError as err:
        if not any(word in str(err) for word in _TORCH_WRITE_FAILURES):
            raise
        raise disk_error(path, err, size) from None


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`write_with` for the errors)."""
    write_with(path, lambda tmp: tmp.write_text(text), size=len(text.encode()))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")
