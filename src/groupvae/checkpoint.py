"""Checkpoint directories: ``config.json``, ``weights.safetensors``, ``metadata.json``
(and ``history.csv`` for a fitted model).

No code is pickled: the config rebuilds the module and the weights are plain tensors.
Each file is written atomically (a temporary file, then a rename) under the
``UNFINISHED`` marker of :mod:`groupvae.run_directory`, which goes last; a directory that
still has the marker is refused by :func:`load_model`. ``metadata.json`` records the
SHA-256 of ``config.json`` and ``weights.safetensors``, so a config of another model
beside these weights is refused too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from groupvae.config import TrainConfig, replace, to_dict
from groupvae.errors import CheckpointError
from groupvae.io import default_permissions, write_text, write_with

SCHEMA_VERSION = 1
CONFIG, WEIGHTS, METADATA = "config.json", "weights.safetensors", "metadata.json"
HISTORY = "history.csv"


def library_versions() -> dict[str, str]:
    """Versions of groupvae and the libraries that shape its numbers."""
    import numpy
    import sklearn

    from groupvae import __version__

    return {
        "groupvae": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
    }


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_checkpoint(
    directory: Path,
    config: dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    metadata: dict[str, Any],
) -> None:
    """Write the three checkpoint files into ``directory`` (which must exist), each
    atomically, ``metadata.json`` last with the SHA-256 of the others (and of a
    ``history.csv`` already there)."""
    write_text(directory / CONFIG, json.dumps(config, indent=2, sort_keys=True) + "\n")
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    write_with(directory / WEIGHTS, lambda tmp: save_file(tensors, str(tmp)))
    default_permissions(directory / WEIGHTS)  # safetensors writes 0600
    meta = {
        "schema_version": SCHEMA_VERSION,
        "versions": library_versions(),
        **metadata,
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
        CheckpointError: if the directory or a file is missing or corrupt, or the schema
            version is newer than this groupvae understands.
    """
    from groupvae.run_directory import MARKER

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


_OWN_METADATA = (
    "seed", "train_config", "schema_version", "versions", "family", "model_class", "dataset",
    "sha256",
)  # fmt: skip


def save_model(
    model: Any,
    directory: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model``'s (a ``BaseModel``) checkpoint directory; returns its path.

    Contents: ``config.json``, ``weights.safetensors``, ``metadata.json`` (the family,
    schema and library versions, seed, data set, training config, the model's
    ``extra_metadata``, then ``metadata``, then the files' SHA-256) and ``history.csv``
    when the model was fitted. Each file is written atomically under the ``UNFINISHED``
    marker, removed last.

    Raises:
        CheckpointError: if ``directory`` is a file, holds files groupvae did not write,
            or holds a run and ``overwrite`` is false.
    """
    from groupvae.errors import ConfigError
    from groupvae.run_directory import MARKER, clear_run, run_state

    directory = Path(directory)
    try:
        state = run_state(directory)
    except ConfigError as err:
        raise CheckpointError(str(err).replace("--out ", "")) from None
    if state != "new" and not overwrite:
        what = "a saved model" if state == "finished" else "an unfinished run"
        raise CheckpointError(f"{directory} holds {what}; pass overwrite=True to replace it")
    train = model.train_config
    meta = {
        "family": model.family,
        "seed": model.seed,
        "dataset": model.dataset,
        "train_config": None if train is None else dataclasses.asdict(train),
        **model.extra_metadata,
        **(metadata or {}),
    }
    if state == "finished":
        clear_run(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / MARKER).exists():  # a training run has its marker already
        write_text(directory / MARKER, "This checkpoint is being written.\n")
    if model.history is not None:
        write_with(directory / HISTORY, lambda tmp: model.history.to_csv(tmp, index=False))
    write_checkpoint(directory, to_dict(model.config), model.module.state_dict(), meta)
    (directory / MARKER).unlink()  # complete: the last step
    return directory


def family_of(metadata: dict[str, Any]) -> str:
    """The family a checkpoint's metadata records (checkpoints written before families
    were recorded: ``model_class`` ``"CPVAE"``, else a group VAE)."""
    if "family" in metadata:
        return str(metadata["family"])
    return "cpvae" if metadata.get("model_class") == "CPVAE" else "group-vae"


def load_model(directory: str | Path) -> Any:
    """Restore a model written by :func:`save_model`, of the family it records.

    Raises:
        CheckpointError: if the directory is missing, corrupt or mismatched.
    """
    from groupvae.errors import GroupVAEError
    from groupvae.models.families import FAMILIES

    config_dict, state, metadata = read_checkpoint(directory)
    try:
        cls = FAMILIES[family_of(metadata)]
    except GroupVAEError as err:
        raise CheckpointError(f"{directory}/metadata.json: {err}") from None
    try:
        config = replace(cls.config_class(), **config_dict)
    except GroupVAEError as err:
        raise CheckpointError(f"{directory}/config.json does not describe a model: {err}") from None
    seed = metadata.get("seed", 0)
    if not isinstance(seed, int):
        raise CheckpointError(f"{directory}/metadata.json is corrupt: seed {seed!r}")
    try:
        model = cls(config, seed=seed, dataset=metadata.get("dataset"))
    except Exception as err:  # an unknown part name, say
        raise CheckpointError(f"cannot rebuild the model of {directory}: {err}") from None
    load_state(model.module, state, str(directory))
    train = metadata.get("train_config")
    try:
        model.train_config = None if train is None else replace(TrainConfig(), **train)
    except GroupVAEError as err:
        raise CheckpointError(f"{directory}/metadata.json train_config: {err}") from None
    history = Path(directory) / HISTORY
    try:
        model.history = pd.read_csv(history) if history.is_file() else None
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{history} is corrupt: {err}") from None
    model.extra_metadata = {k: v for k, v in metadata.items() if k not in _OWN_METADATA}
    return model
