"""The ``--out`` policy of a run directory: what may be written where, and when a run is
finished.

A run directory is, while training runs (or after it was interrupted)::

    UNFINISHED            marker: the run is not complete; says how to resume
    run.json              the request (model, data set, seed, settings) to resume
    training/last.ckpt    the latest epoch checkpoint (atomic)
    training/log/         Lightning's CSV log

and once finished, a checkpoint (``config.json``, ``weights.safetensors``,
``metadata.json``, ``history.csv``; see :mod:`groupvae.store.checkpoint_files`) plus what
``evaluate`` and ``plot`` add (``metrics.json``, ``*.png``). The marker is removed only
after the checkpoint is complete, so a crash never leaves a half-written finished run.

A path holding anything else is refused, naming what is there: groupvae never deletes a
file it did not write.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Literal

from groupvae.errors import ConfigError
from groupvae.store.atomic import write_json, write_text

MARKER = "UNFINISHED"
REQUEST = "run.json"
TRAINING = "training"
CHECKPOINT_FILES = ("config.json", "weights.safetensors", "metadata.json", "history.csv")
OUTPUT_FILES = ("metrics.json",)
"""Files of a finished run besides its checkpoint (and its ``*.png`` figures)."""

State = Literal["new", "unfinished", "finished"]


def _ours(name: str) -> bool:
    """Whether a run directory's entry ``name`` is one groupvae writes."""
    known = {MARKER, REQUEST, TRAINING, *CHECKPOINT_FILES, *OUTPUT_FILES}
    return name in known or name.endswith(".png") or (name.startswith(".") and ".tmp" in name)


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(sorted(names)[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def run_state(path: str | os.PathLike[str]) -> State:
    """``"new"`` (absent or empty), ``"unfinished"`` or ``"finished"``.

    Raises:
        ConfigError: if ``path`` is a file, or holds files groupvae did not write (they
            are named).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path} is a file, not a directory; choose another --out")
    if not path.exists():
        return "new"
    entries = [p.name + ("/" if p.is_dir() else "") for p in path.iterdir()]
    if not entries:
        return "new"
    foreign = [e for e in entries if not _ours(e.rstrip("/"))]
    is_run = any(e.rstrip("/") in (MARKER, "metadata.json") for e in entries)
    if foreign or not is_run:
        what = "a groupvae run and other files" if is_run else "files that are not a groupvae run"
        raise ConfigError(
            f"--out {path} holds {what} ({_listing(foreign or entries)}); groupvae will not "
            "touch them: choose another --out"
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
    - With ``overwrite`` the previous run's files (only those groupvae writes) go.

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


def clear_run(path: Path) -> None:
    """Remove the files groupvae writes in a run directory (and only those)."""
    for entry in path.iterdir():
        if not _ours(entry.name):
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def finish_run(path: str | os.PathLike[str]) -> None:
    """Mark a run whose checkpoint is complete as finished, then drop its training
    folder and request."""
    path = Path(path)
    (path / MARKER).unlink(missing_ok=True)
    shutil.rmtree(path / TRAINING, ignore_errors=True)
    (path / REQUEST).unlink(missing_ok=True)


def is_global_zero() -> bool:
    """Whether this process is the first of a (Lightning DDP) launch: the only one that
    writes the run directory. The processes Lightning starts for the other devices
    (``LOCAL_RANK`` > 0) and other nodes (``NODE_RANK`` > 0) only train."""
    return all(os.environ.get(k, "0") in ("", "0") for k in ("LOCAL_RANK", "NODE_RANK", "RANK"))


def checkpoint_dir(path: str | os.PathLike[str]) -> Path:
    """The folder of a run's epoch checkpoints and training log."""
    return Path(path) / TRAINING
