"""Write the checkpoint fixture ``tests/fixtures/mlvae-exam-scores``.

A tiny ML-VAE (hidden width 8) trained for one epoch on 16 Exam-Scores schools, saved
with ``GroupVAE.save``, plus ``expected.json``: a few inputs and the outputs the model gave
on them when saved. ``test_fixture.py`` checks that the checkpoint still loads and gives
the same outputs, so a change that breaks old checkpoints is caught.

Run from the repository root, only when the checkpoint format changes on purpose::

    python tests/make_fixture.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import groupvae
from groupvae.store.atomic import write_json

FIXTURE = Path(__file__).parent / "fixtures" / "mlvae-exam-scores"
EXPECTED = "expected.json"


def inputs() -> tuple[np.ndarray, np.ndarray]:
    """Three schools of four students: ``x: (12, 1)`` and ids ``(12,)``."""
    data = groupvae.data.make_exam_scores(3, min_size=4, mean_extra=0.0, seed=7)
    return data.x, data.group


def outputs(model: groupvae.GroupVAE, x: np.ndarray, group: np.ndarray) -> dict[str, list]:
    groups = model.encode_groups(x, group)
    instances = model.encode_instances(x, group)
    return {
        "group_mean": groups.mean.tolist(),
        "group_logvar": groups.logvar.tolist(),
        "instance_mean": instances.mean.tolist(),
        "instance_logvar": instances.logvar.tolist(),
        "reconstruction": model.reconstruct(x, group).tolist(),
    }


def main() -> None:
    torch.set_num_threads(1)
    train = groupvae.data.make_exam_scores(16, seed=0)
    model = groupvae.models.create("mlvae", dataset="exam-scores", hidden=8, seed=0)
    model.fit(train, epochs=1, groups_per_batch=8, lr=1e-2, progress=False)
    model.save(FIXTURE, overwrite=True)
    x, group = inputs()
    write_json(
        FIXTURE / EXPECTED,
        {"x": x.tolist(), "group": group.tolist(), "outputs": outputs(model, x, group)},
    )
    size = sum(p.stat().st_size for p in FIXTURE.iterdir())
    print(f"wrote {FIXTURE} ({size} bytes)")


if __name__ == "__main__":
    main()
