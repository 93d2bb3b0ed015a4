"""Checkpoint directories: ``config.json``, ``weights.safetensors``, ``metadata.json``
(and ``history.csv`` for a fitted model).

No code is pickled: the config rebuilds the module and the weights are plain tensors.
Directories are written atomically (see :func:`groupvae.io.atomic_directory`).
"""

from __future__ import annotations

import dataclasses
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
from groupvae.io import atomic_directory, default_permissions

SCHEMA_VERSION = 1
CONFIG, WEIGHTS, METADATA = "config.json", "weights.safetensors", "metadata.json"


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


def write_checkpoint(
    directory: Path,
    config: dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    metadata: dict[str, Any],
) -> None:
    """Write the three checkpoint files into ``directory`` (which must exist)."""
    (directory / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    save_file(tensors, str(directory / WEIGHTS))
    default_permissions(directory / WEIGHTS)  # safetensors writes 0600
    meta = {"schema_version": SCHEMA_VERSION, "versions": library_versions(), **metadata}
    (directory / METADATA).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


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
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint directory {directory} does not exist")
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
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{weights} is corrupt: {err}") from None
    return config, state, metadata


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


HISTORY = "history.csv"
_OWN_METADATA = (
    "seed", "train_config", "schema_version", "versions", "family", "model_class", "dataset",
)  # fmt: skip


def save_model(
    model: Any, directory: str | Path, *, metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``model``'s (a ``BaseModel``) checkpoint directory atomically; returns its path.

    Contents: ``config.json``, ``weights.safetensors``, ``metadata.json`` (the family,
    schema and library versions, seed, data set, training config, the model's
    ``extra_metadata`` and then ``metadata``) and ``history.csv`` when the model was
    fitted.
    """
    directory = Path(directory)
    train = model.train_config
    meta = {
        "family": model.family,
        "seed": model.seed,
        "dataset": model.dataset,
        "train_config": None if train is None else dataclasses.asdict(train),
        **model.extra_metadata,
        **(metadata or {}),
    }
    with atomic_directory(directory) as tmp:
        write_checkpoint(tmp, to_dict(model.config), model.module.state_dict(), meta)
        if model.history is not None:
            model.history.to_csv(tmp / HISTORY, index=False)
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
