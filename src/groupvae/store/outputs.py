"""Files the user names with ``--out`` (``groupvae encode``, ``translate``, ``plot``):
an existing file is replaced only when asked (``--overwrite``), and a run directory's
own files never are.

A run directory's own files are those :mod:`groupvae.store.run_directory` writes to
load and resume it: ``config.json``, ``weights.safetensors``, ``metadata.json``,
``history.csv``, ``run.json``, ``UNFINISHED``, the manifest and lock files and everything
under ``training/``.
Writing over one of them would leave a run that no longer loads (or resumes).
"""

from __future__ import annotations

import os
from pathlib import Path

from groupvae.errors import ConfigError
from groupvae.store.run_directory import (
    CHECKPOINT_FILES,
    HOUSEKEEPING,
    MANIFEST,
    MARKER,
    REQUEST,
    TRAINING,
)

RUN_FILES = (*CHECKPOINT_FILES, REQUEST, MARKER, *HOUSEKEEPING)
"""A run directory's own files (besides ``training/``), never written over by an output."""


def _is_run(folder: Path) -> bool:
    """Whether ``folder`` holds a groupvae run (finished, unfinished or just requested)."""
    return any((folder / name).is_file() for name in (MARKER, REQUEST, MANIFEST, "metadata.json"))


def run_owning(path: str | os.PathLike[str]) -> Path | None:
    """The run directory of which ``path`` is one of the own files, else ``None``.

    ``path``'s folder is resolved (links, ``..``), its name is not: a link named
    ``--out`` is itself replaced, not the file it points to.
    """
    path = Path(path)
    full = path.parent.resolve() / path.name
    if full.name in RUN_FILES and _is_run(full.parent):
        return full.parent
    for folder in full.parents:
        if folder.name == TRAINING and _is_run(folder.parent):
            return folder.parent
    return None


def check_output(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check that an output may be written at ``path`` (before anything is computed).

    Args:
        path: the file the user named.
        overwrite: whether an existing file there may be replaced.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigError: for a folder; for one of a run directory's own files (even with
            ``overwrite``); for an existing file without ``overwrite``.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--out {path} is a directory; give the output's file name")
    run = run_owning(path)
    if run is not None:
        raise ConfigError(
            f"--out {path} is a file of the run {run}, which needs it to load; groupvae "
            "never writes over a run's own files, even with --overwrite: choose another --out"
        )
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise ConfigError(f"--out {path} already exists; add --overwrite to replace it")
    return path


__all__ = ["RUN_FILES", "check_output", "run_owning"]
