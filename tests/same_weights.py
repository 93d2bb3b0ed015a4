"""Short seeded trainings whose weights are recorded in ``fixtures/same_weights.json``.

``test_same_weights.py`` retrains them and compares: a refactoring that changes no
behaviour must give the same weights bit for bit (on the machine that recorded them;
elsewhere float32 kernels may round differently in the last bits, and the test compares
per-tensor sums within 1e-4). Also recorded: the resolved model and training settings of
every preset on every data set, which must not change either.

Run from the repository root, only when training changes on purpose::

    python tests/same_weights.py
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

import groupvae
from groupvae.config import to_dict

RECORD = Path(__file__).parent / "fixtures" / "same_weights.json"
PRESETS = ("vae", "mlvae", "gvae", "gvae-adv", "cxvae", "gmvae", "ugvae", "cpvae")


def machine() -> str:
    """The CPU (name, family, model and a digest of its instruction-set flags, which
    choose the float kernels), its architecture and torch's version: where bit identity
    is expected."""
    fields = {"model name": platform.processor(), "cpu family": "", "model": "", "flags": ""}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key in fields and not fields[key]:
                fields[key] = value
    except OSError:
        pass
    flags = hashlib.sha256(fields["flags"].encode()).hexdigest()[:12]
    cpu = f"{fields['model name']} (family {fields['cpu family']}, model {fields['model']})"
    return f"{platform.machine()} | {cpu} | flags {flags} | torch {torch.__version__}"


def images(n: int, seed: int) -> groupvae.data.GroupedDataset:
    """``n`` random 28x28 images in [0, 1], 10 classes (also the populations), groups of 4."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    return groupvae.data.GroupedDataset(
        x=rng.random((n, 1, 28, 28), dtype=np.float32),
        group=np.arange(n) // 4,
        labels=labels,
        aux={"population": labels},
        name="synthetic-images",
    )


def train(preset: str) -> Any:
    """A seeded two-epoch fit of ``preset``: Exam-Scores for the tabular presets, random
    images with the ``mnist`` defaults (UG-VAE's architecture, CPVAE's set-up) else."""
    torch.set_num_threads(1)
    common = {"epochs": 2, "progress": False, "num_threads": 1}
    if preset in ("vae", "mlvae", "gvae", "gvae-adv", "cxvae"):
        data = groupvae.data.make_exam_scores(48, seed=3)
        model = groupvae.models.create(preset, dataset="exam-scores", seed=1)
        return model.fit(data, groups_per_batch=16, **common)
    data = images(256, seed=3)
    model = groupvae.models.create(preset, dataset="mnist", seed=1)
    if preset == "cpvae":
        return model.fit(data, batch_per_population=8, **common)
    return model.fit(data, random_groups=64, **common)


def weights(model: Any) -> dict[str, Any]:
    """SHA-256 of the state dict's bytes (keys sorted) and each tensor's float64 sum."""
    state = model.module.state_dict()
    digest = hashlib.sha256()
    sums = {}
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(key.encode())
        digest.update(tensor.numpy().tobytes())
        sums[key] = float(tensor.double().sum())
    return {"sha256": digest.hexdigest(), "sums": sums}


def resolved_settings() -> dict[str, Any]:
    """``preset/dataset`` -> the resolved model config and training config."""
    from groupvae.models import resolved_train_config

    out = {}
    for preset in groupvae.models.MODELS:
        for dataset in groupvae.data.DATASETS:
            model = groupvae.models.create(preset, dataset=dataset)
            train = resolved_train_config(model)
            out[f"{preset}/{dataset}"] = {
                "model": to_dict(model.config),
                "train": dataclasses.asdict(train),
            }
    return out


def main() -> None:
    record = {
        "machine": machine(),
        "weights": {preset: weights(train(preset)) for preset in PRESETS},
        "settings": resolved_settings(),
    }
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"wrote {RECORD}")


if __name__ == "__main__":
    main()
