"""The ``--out`` policy of a run directory: what may be written where, who may write, and
when a run is finished.

A run directory is, while training runs (or after it was interrupted)::

    UNFINISHED            marker: the run is not complete; says how to resume
    run.json              the request (model, data set, seed, settings) to resume
    training/last.ckpt    the latest epoch checkpoint (atomic)
    training/log/         Lightning's CSV log

and once finished, a checkpoint (``config.json``, ``weights.safetensors``,
``metadata.json``, ``history.csv``; see :mod:`groupvae.store.checkpoint_files`) plus what
``evaluate`` and ``plot`` add (``metrics.json``, ``*.png``). The marker is removed only
after the checkpoint is complete, so a crash never leaves a half-written finished run.

**The manifest.** ``.groupvae-manifest.json`` (:data:`MANIFEST`, written atomically) lists
every file and folder groupvae wrote in the directory, each file with its SHA-256 once
written (``{"format": 1, "entries": {"config.json": "<hex>", "training/": null}}``).
Every writer records its outputs (:func:`record_output`; an entry is claimed before its
file is written, so a crash leaves nothing unlisted). Only a folder with a valid manifest
is a run, and ``--overwrite`` (:func:`clear_run`) removes exactly the manifest's entries
(and their leftover temporary files): any other name in the folder is refused, by name.
A checkpoint saved before manifests existed (``config.json``, ``weights.safetensors``,
``metadata.json`` and perhaps ``history.csv``, ``metrics.json``, nothing else) is a
*legacy* run: it loads, and ``--overwrite`` removes only those file names.

**The lock.** ``.groupvae.lock`` (:data:`LOCK`) is an OS file lock (``filelock``) that a
writer holds while it writes the directory (:func:`run_lock`: ``train`` for the whole run,
``save``, ``evaluate`` and the recording of figures while they write); beside it,
``.groupvae.lock.holder`` names the holder's pid and command. A second writer is refused
at once, naming that pid. The OS releases the lock when its process dies, so a dead
holder's lock (and its leftover holder file) never blocks. Under DDP only global rank 0
(:func:`is_global_zero`) writes, and only it takes the lock.

A path holding anything else is refused, naming what is there: groupvae never deletes a
file it did not write.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock, Timeout

from groupvae.errors import ConfigError
from groupvae.store.atomic import TEMPORARY, default_permissions, sha256, write_json, write_text

MARKER = "UNFINISHED"
REQUEST = "run.json"
TRAINING = "training"
CHECKPOINT_FILES = ("config.json", "weights.safetensors", "metadata.json", "history.csv")
OUTPUT_FILES = ("metrics.json",)
"""Files of a finished run besides its checkpoint (and its ``*.png`` figures)."""
MANIFEST = ".groupvae-manifest.json"
"""The list of what groupvae wrote in a run directory (see the module docstring)."""
MANIFEST_FORMAT = 1
LOCK = ".groupvae.lock"
"""The OS file lock a writer of a run directory holds (:func:`run_lock`)."""
LOCK_HOLDER = ".groupvae.lock.holder"
"""Beside the lock: ``{"pid": ..., "command": ...}`` of the process that holds it."""
HOUSEKEEPING = (MANIFEST, LOCK, LOCK_HOLDER)
"""groupvae's own files in every run directory: never a user's, never removed by a clear."""
LEGACY_FILES = (*CHECKPOINT_FILES, *OUTPUT_FILES)
"""What a checkpoint saved before manifests may hold (and ``--overwrite`` removes)."""
LEGACY_REQUIRED = CHECKPOINT_FILES[:3]

State = Literal["new", "unfinished", "finished"]
Entries = dict[str, str | None]
"""Manifest entries: a file's name -> its SHA-256 (``None`` until written), or a folder's
name with a trailing ``/`` -> ``None``."""

_TEMPORARY = re.compile(TEMPORARY)
_HELD = threading.local()


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(sorted(names)[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _entry(path: Path) -> str:
    """A directory entry's manifest key: its name, with ``/`` for a (real) folder."""
    return path.name + ("/" if path.is_dir() and not path.is_symlink() else "")


def _safe_key(key: object) -> bool:
    name = key.removesuffix("/") if isinstance(key, str) else ""
    return name not in ("", ".", "..", *HOUSEKEEPING) and "/" not in name and "\0" not in name


# ------------------------------------------------------------------ the manifest
def read_manifest(path: str | os.PathLike[str]) -> Entries | None:
    """The manifest entries of the run directory ``path``, or ``None`` if it has none.

    Raises:
        ConfigError: if the manifest is unreadable or not a manifest (names outside the
            directory included), naming it.
    """
    file = Path(path) / MANIFEST
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{file} is corrupt ({err}); groupvae cannot tell its files") from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("format") != MANIFEST_FORMAT
        or not isinstance(entries, dict)
        or not all(_safe_key(k) for k in entries)
        or not all(v is None or isinstance(v, str) for v in entries.values())
    ):
        raise ConfigError(f"{file} is corrupt (not a format-{MANIFEST_FORMAT} manifest)")
    return entries


def _write_manifest(path: Path, entries: Entries) -> None:
    write_json(path / MANIFEST, {"format": MANIFEST_FORMAT, "entries": entries})


def _record(path: Path, entries: Entries) -> None:
    """Merge ``entries`` into the manifest of ``path``, creating it if there is none."""
    _write_manifest(path, {**(read_manifest(path) or {}), **entries})


def forget(path: str | os.PathLike[str], keys: Iterable[str]) -> None:
    """Drop ``keys`` (``"x/"`` for a folder) from the manifest of ``path``, if it has one."""
    path = Path(path)
    manifest = read_manifest(path)
    if manifest is not None:
        _write_manifest(path, {k: v for k, v in manifest.items() if k not in set(keys)})


def claim(path: str | os.PathLike[str], names: Iterable[str]) -> None:
    """Record ``names`` (``"x/"`` for a folder) in the manifest of ``path`` before they are
    written, creating the manifest if there is none: the directory becomes a run."""
    _record(Path(path), dict.fromkeys(names))


def record_output(run_dir: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Record the file or folder ``path`` that groupvae wrote in the run ``run_dir``, with
    a file's SHA-256, so that ``--overwrite`` removes it with the run.

    Does nothing when ``path`` is not directly in ``run_dir`` (a figure written
    elsewhere), or ``run_dir`` has no manifest (a checkpoint saved before manifests).
    Takes the run's lock (:func:`run_lock`) while it writes the manifest.

    Raises:
        ConfigError: if another process holds the run's lock, or the manifest is corrupt.
    """
    run_dir, path = Path(run_dir), Path(path)
    if not (run_dir / MANIFEST).is_file() or path.parent.resolve() != run_dir.resolve():
        return
    with run_lock(run_dir, "record"):
        if path.is_file() and not path.is_symlink():
            _record(run_dir, {path.name: sha256(path)})
        elif path.exists():
            _record(run_dir, {_entry(path): None})


def _leftover(name: str, ours: Iterable[str]) -> bool:
    """Whether ``name`` is a temporary file an atomic write of one of ``ours`` left."""
    match = _TEMPORARY.match(name)
    return match is not None and match["name"] in {*ours, *HOUSEKEEPING}


# ------------------------------------------------------------------ the --out policy
def run_state(path: str | os.PathLike[str]) -> State:
    """``"new"`` (absent, or empty but for groupvae's housekeeping files), ``"unfinished"``
    or ``"finished"``.

    Raises:
        ConfigError: if ``path`` is a file, holds files its manifest does not list (or,
            without a manifest, is not a legacy checkpoint), naming them; or if its
            manifest is corrupt.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path} is a file, not a directory; choose another --out")
    if not path.exists():
        return "new"
    entries = [_entry(p) for p in path.iterdir() if p.name not in HOUSEKEEPING]
    if not entries:
        return "new"
    try:
        manifest = read_manifest(path)
    except ConfigError as err:
        raise ConfigError(
            f"--out {path}: {err}; groupvae will not touch it: choose another --out"
        ) from None
    if manifest is not None:
        ours = [k.removesuffix("/") for k in manifest]
        foreign = [e for e in entries if e not in manifest and not _leftover(e, ours)]
        is_run = True
    else:  # saved before manifests: only a complete checkpoint is a run
        foreign = [e for e in entries if e not in LEGACY_FILES and not _leftover(e, LEGACY_FILES)]
        is_run = all((path / name).is_file() for name in LEGACY_REQUIRED)
    if foreign or not is_run:
        what = "a groupvae run and other files" if is_run else "files that are not a groupvae run"
        raise ConfigError(
            f"--out {path} holds {what} ({_listing(foreign if is_run else entries)}); groupvae "
            "will not touch them: choose another --out"
        )
    return "unfinished" if (path / MARKER).exists() else "finished"


def _check_writable(path: Path) -> None:
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"--out {path}: {parent} is a file, so no directory can be made there")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {path}: {parent} is not writable; choose another --out")


def request_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for each setting of a request that changed."""
    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


def start_run(
    path: str | os.PathLike[str],
    request: dict[str, Any],
    *,
    resume_command: str,
    overwrite: bool = False,
    resume: bool = False,
) -> None:
    """Check the ``--out`` policy, then mark ``path`` as an unfinished run of ``request``.

    - A new path is created; an unfinished run needs ``resume`` (with the same request)
      or ``overwrite``; a finished run needs ``overwrite``.
    - With ``overwrite`` the previous run's files (its manifest's entries) go.
    - The caller should hold the run's lock (:func:`run_lock`) from here to the end.

    Raises:
        ConfigError: for a file, a foreign or unwritable path, a run that is there
            without ``resume`` / ``overwrite``, nothing to resume, or a resume with other
            settings than the run started with.
    """
    path = Path(path)
    state = run_state(path)
    _check_writable(path)
    if resume:
        if state != "unfinished":
            hint = " (use --overwrite to train it again)" if state == "finished" else ""
            raise ConfigError(f"--resume: {path} holds no unfinished run, it is {state}{hint}")
        old = _read_request(path)
        changed = request_differences(old, request)
        if changed:
            raise ConfigError(
                f"--resume: {path} was started with other settings ({'; '.join(changed)}); "
                "resume with the settings it started with, or --overwrite"
            )
        return
    if state != "new" and not overwrite:
        if state == "unfinished":
            raise ConfigError(
                f"--out {path} holds an unfinished run; continue it with --resume or "
                "replace it with --overwrite"
            )
        raise ConfigError(
            f"--out {path} holds a finished run; pass --overwrite to replace it, or "
            "choose another --out"
        )
    if state != "new":
        clear_run(path)
    path.mkdir(parents=True, exist_ok=True)
    claim(path, [REQUEST, MARKER, TRAINING + "/"])
    write_json(path / REQUEST, request)
    write_text(
        path / MARKER,
        "This run is not finished (training is running, or was interrupted).\n"
        f"Resume it with:\n  {resume_command}\n",
    )


def _read_request(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / REQUEST).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot resume {path}: {REQUEST} is unreadable ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"cannot resume {path}: {REQUEST} is corrupt")
    return data


def _remove(entry: Path, folder: bool) -> None:
    if entry.is_symlink() or (entry.is_file() and not folder):
        entry.unlink()
    elif entry.is_dir() and folder:
        shutil.rmtree(entry)


def clear_run(path: str | os.PathLike[str]) -> None:
    """Remove the files groupvae wrote in a run directory, and only those: its manifest's
    entries (their leftover temporary files included), or for a run saved before
    manifests, its :data:`LEGACY_FILES`. The emptied manifest stays.

    Raises:
        ConfigError: if the manifest is corrupt.
    """
    path = Path(path)
    manifest = read_manifest(path)
    keys = list(manifest) if manifest is not None else list(LEGACY_FILES)
    names = [k.removesuffix("/") for k in keys]
    for key in keys:
        _remove(path / key.removesuffix("/"), folder=key.endswith("/"))
    for entry in path.iterdir():
        if entry.is_file() and _leftover(entry.name, names) and entry.name not in HOUSEKEEPING:
            entry.unlink()
    if manifest is not None:
        _write_manifest(path, {})


def finish_run(path: str | os.PathLike[str]) -> None:
    """Mark a run whose checkpoint is complete as finished, then drop its training
    folder and request (and their manifest entries)."""
    path = Path(path)
    (path / MARKER).unlink(missing_ok=True)
    shutil.rmtree(path / TRAINING, ignore_errors=True)
    (path / REQUEST).unlink(missing_ok=True)
    forget(path, [MARKER, TRAINING + "/", REQUEST])


# ------------------------------------------------------------------ the lock
def _holder(path: Path) -> str:
    """Who holds the lock of ``path``, from its holder file (if that is current)."""
    try:
        data = json.loads((path / LOCK_HOLDER).read_text())
        pid, command = int(data["pid"]), str(data.get("command", "a command"))
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return "another groupvae process (pid not yet recorded)"
    try:
        os.kill(pid, 0)  # alive? (a dead holder's file can outlive it)
    except PermissionError:
        pass  # alive, another user's
    except OSError:
        return "another groupvae process (pid not yet recorded)"
    return f"groupvae {command}, pid {pid}"


@contextmanager
def run_lock(path: str | os.PathLike[str], command: str) -> Iterator[None]:
    """Hold the run directory's lock (:data:`LOCK`, created with ``path`` if need be)
    while the block writes it; ``command`` (``"train"``, ``"save"``, ...) is recorded
    with this process's pid in :data:`LOCK_HOLDER` for whoever is refused.

    Re-entrant within a thread (``train`` holds it while ``save`` writes the checkpoint);
    a no-op on the DDP processes that are not global rank 0. A directory it made and
    that is still empty at the end (a refused ``train``) is removed again.

    Raises:
        ConfigError: at once, if another process (or another lock object of this one)
            holds the lock, naming the holder's pid; or if ``path`` cannot be made.
    """
    path = Path(path)
    held: set[str] = _HELD.__dict__.setdefault("paths", set())
    key = str(path.resolve())
    if key in held or not is_global_zero():
        yield
        return
    _check_writable(path)
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path / LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(
            f"{path} is being written by {_holder(path)}; wait for it to end, or choose "
            "another directory"
        ) from None
    held.add(key)
    try:
        with suppress(OSError):
            default_permissions(path / LOCK)
        write_json(path / LOCK_HOLDER, {"pid": os.getpid(), "command": command})
        yield
    finally:
        held.discard(key)
        (path / LOCK_HOLDER).unlink(missing_ok=True)
        if created and {p.name for p in path.iterdir()} <= {LOCK}:  # made for nothing
            with suppress(OSError):
                (path / LOCK).unlink()  # still held: a newcomer makes a new lock file
                path.rmdir()
        lock.release()


def is_global_zero() -> bool:
    """Whether this process is the first of a (Lightning DDP) launch: the only one that
    writes the run directory. The processes Lightning starts for the other devices
    (``LOCAL_RANK`` > 0) and other nodes (``NODE_RANK`` > 0) only train."""
    return all(os.environ.get(k, "0") in ("", "0") for k in ("LOCAL_RANK", "NODE_RANK", "RANK"))


def checkpoint_dir(path: str | os.PathLike[str]) -> Path:
    """The folder of a run's epoch checkpoints and training log."""
    return Path(path) / TRAINING
