"""Checkpoint directories: ``config.json``, ``weights.safetensors``, ``metadata.json``
(and ``history.csv`` for a fitted model).

No code is pickled: the config rebuilds the module and the weights are plain tensors.
This module knows files, not model families: :meth:`groupvae.models.base.BaseModel.save`
and :func:`groupvae.models.factory.load` turn a model into these files and back.
Each file is written atomically (a temporary file, then a rename) under the
``UNFINISHED`` marker of :mod:`groupvae.store.run_directory`, which goes last; a directory that
still has the marker is refused by :func:`read_checkpoint`. ``metadata.json`` records the
SHA-256 of ``config.json`` and ``weights.safetensors``, so a config of another model
beside these weights is refused too; the run directory's manifest
(:data:`~groupvae.store.run_directory.MANIFEST`) records the SHA-256 of all four files,
``metadata.json`` included, so an edited (or emptied) ``metadata.json`` is refused as well.
A checkpoint saved before manifests (``metadata.json`` without a ``"manifest"`` entry, no
manifest file) is checked against ``metadata.json`` alone, as then.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from groupvae._version import __version__
from groupvae.errors import CheckpointError, ConfigError
from groupvae.store.atomic import default_permissions, sha256, write_text, write_with
from groupvae.store.run_directory import (
    MANIFEST,
    MARKER,
    claim,
    clear_run,
    forget,
    read_manifest,
    record_output,
    run_lock,
    run_state,
)

SCHEMA_VERSION = 1
CONFIG, WEIGHTS, METADATA = "config.json", "weights.safetensors", "metadata.json"
HISTORY = "history.csv"


def library_versions() -> dict[str, str]:
    """Versions of groupvae and the libraries that shape its numbers."""
    # deferred: scikit-learn is slow to import
    import sklearn

    return {
        "groupvae": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
    }


def write_checkpoint(
    directory: Path,
    config: dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    metadata: dict[str, Any],
) -> None:
    """Write the three checkpoint files into ``directory`` (which must exist), each
    atomically, ``metadata.json`` last with the SHA-256 of the others (and of a
    ``history.csv`` already there) and the name of the manifest that records them all."""
    write_text(directory / CONFIG, json.dumps(config, indent=2, sort_keys=True) + "\n")
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    write_with(directory / WEIGHTS, lambda tmp: save_file(tensors, str(tmp)))
    default_permissions(directory / WEIGHTS)  # safetensors writes 0600
    meta = {
        "schema_version": SCHEMA_VERSION,
        "versions": library_versions(),
        **metadata,
        "manifest": MANIFEST,
        "sha256": {
            name: sha256(directory / name)
            for name in (CONFIG, WEIGHTS, HISTORY)
            if (directory / name).is_file()
        },
    }
    write_text(directory / METADATA, json.dumps(meta, indent=2, sort_keys=True) + "\n")


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"{path.parent} is not a groupvae checkpoint: {path.name} is missing")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is corrupt: {err}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is corrupt: expected a JSON object")
    return data


def read_checkpoint(
    directory: str | Path,
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """Read ``(config, state_dict, metadata)`` from a checkpoint directory.

    Raises:
        CheckpointError: if the directory or a file is missing or corrupt, a file does
            not match the SHA-256 recorded in ``metadata.json`` or the manifest, or the
            schema version is newer than this groupvae understands.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint directory {directory} does not exist")
    if (directory / MARKER).exists():
        raise CheckpointError(
            f"{directory} is an unfinished run (training is running or was interrupted); "
            f"see {directory / MARKER} for how to resume it"
        )
    config = _read_json(directory / CONFIG)
    metadata = _read_json(directory / METADATA)
    schema = metadata.get("schema_version")
    if not isinstance(schema, int) or schema > SCHEMA_VERSION:
        raise CheckpointError(
            f"{directory} has checkpoint schema {schema!r}; this groupvae reads up to "
            f"{SCHEMA_VERSION}. Upgrade groupvae."
        )
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{directory} is not a groupvae checkpoint: {WEIGHTS} is missing")
    check_hashes(directory, metadata)
    check_manifest(directory, metadata)
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{weights} is corrupt: {err}") from None
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{weights} holds NaN or infinite weights ({', '.join(bad[:3])})")
    return config, state, metadata


def check_hashes(directory: Path, metadata: dict[str, Any]) -> None:
    """Compare the files' SHA-256 with those ``metadata.json`` records (checkpoints
    written before hashes were recorded have none to compare).

    Raises:
        CheckpointError: naming the file that does not match ``metadata.json``.
    """
    recorded = metadata.get("sha256")
    if recorded is None:
        return
    if not isinstance(recorded, dict):
        raise CheckpointError(f"{directory / METADATA} is corrupt: sha256 {recorded!r}")
    for name in (CONFIG, WEIGHTS, HISTORY):
        if name in recorded and not (directory / name).is_file():
            raise CheckpointError(f"{directory} is not a groupvae checkpoint: {name} is missing")
        if name in recorded and sha256(directory / name) != recorded[name]:
            raise CheckpointError(
                f"{directory / name} does not match {directory / METADATA} (its SHA-256 "
                "differs from the one recorded when the run was saved); restore the file "
                "that belongs to this run"
            )


def check_manifest(directory: Path, metadata: dict[str, Any]) -> None:
    """Compare the checkpoint files' SHA-256 (``metadata.json``'s included) with those the
    run directory's manifest records. A checkpoint saved before manifests has neither a
    manifest nor a ``"manifest"`` entry in ``metadata.json``: nothing to compare.

    Raises:
        CheckpointError: if the manifest is missing (``metadata.json`` names one) or
            corrupt, records no SHA-256 for a checkpoint file, or a file does not match it
            (naming the file).
    """
    try:
        manifest = read_manifest(directory)
    except ConfigError as err:
        raise CheckpointError(str(err)) from None
    if manifest is None:
        if "manifest" in metadata:
            raise CheckpointError(
                f"{directory} is not a complete checkpoint: its {MANIFEST} (the SHA-256 of "
                "its files) is missing"
            )
        return
    history = (directory / HISTORY).is_file() or HISTORY in manifest
    for name in (METADATA, CONFIG, WEIGHTS, *([HISTORY] if history else [])):
        recorded = manifest.get(name)
        if not isinstance(recorded, str):
            raise CheckpointError(
                f"{directory / MANIFEST} records no SHA-256 of {name}, so the checkpoint "
                "cannot be checked; save it again"
            )
        if not (directory / name).is_file():
            raise CheckpointError(f"{directory} is not a groupvae checkpoint: {name} is missing")
        if sha256(directory / name) != recorded:
            raise CheckpointError(
                f"{directory / name} does not match {directory / MANIFEST} (its SHA-256 "
                "differs from the one recorded when the run was saved); restore the file "
                "that belongs to this run"
            )


def load_state(module: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Load ``state`` into ``module`` strictly, with a clear error on any mismatch."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"the weights in {where} do not match their config: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, wrong shape {wrong[:5]}"
        )
    module.load_state_dict(state)


def save_checkpoint(
    directory: str | Path,
    *,
    config: dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    metadata: dict[str, Any],
    history: pd.DataFrame | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a checkpoint directory; returns its path.

    Contents: ``config.json``, ``weights.safetensors``, ``metadata.json`` (``metadata``,
    then the schema and library versions and the files' SHA-256) and ``history.csv`` if
    ``history`` is given. Each file is written atomically under the ``UNFINISHED``
    marker, removed last.

    Every file is recorded in the directory's manifest (claimed before it is written,
    with its SHA-256 after), under the directory's lock
    (:func:`~groupvae.store.run_directory.run_lock`).

    Raises:
        CheckpointError: if ``directory`` is a file, holds files groupvae did not write,
            or holds a run and ``overwrite`` is false.
        ConfigError: if another process is writing ``directory`` (naming its pid).
    """
    directory = Path(directory)
    _check_target(directory, overwrite)  # before the lock creates anything
    with run_lock(directory, "save"):
        state = _check_target(directory, overwrite)
        if state == "finished":
            clear_run(directory)
        names = [MARKER, *([HISTORY] if history is not None else []), CONFIG, WEIGHTS, METADATA]
        claim(directory, names)
        if not (directory / MARKER).exists():  # a training run has its marker already
            write_text(directory / MARKER, "This checkpoint is being written.\n")
        if history is not None:
            write_with(directory / HISTORY, lambda tmp: history.to_csv(tmp, index=False))
        write_checkpoint(directory, config, state_dict, metadata)
        for name in names[1:]:
            record_output(directory, directory / name)
        (directory / MARKER).unlink()  # complete: the last step
        forget(directory, [MARKER])
    return directory


def _check_target(directory: Path, overwrite: bool) -> str:
    """The run state of ``directory``, if a checkpoint may be saved there."""
    try:
        state = run_state(directory)
    except ConfigError as err:
        raise CheckpointError(str(err).replace("--out ", "")) from None
    if state != "new" and not overwrite:
        what = "a saved model" if state == "finished" else "an unfinished run"
        raise CheckpointError(f"{directory} holds {what}; pass overwrite=True to replace it")
    return state


def read_history(directory: str | Path) -> pd.DataFrame | None:
    """The ``history.csv`` of a checkpoint directory, or ``None`` if it has none.

    Raises:
        CheckpointError: if the file is corrupt.
    """
    history = Path(directory) / HISTORY
    try:
        return pd.read_csv(history) if history.is_file() else None
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{history} is corrupt: {err}") from None
