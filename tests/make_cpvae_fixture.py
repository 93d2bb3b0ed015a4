"""Write the CPVAE checkpoint fixture ``tests/fixtures/cpvae-grassy``.

A tiny CPVAE (two populations, 4x4 images, hidden width 8) trained for one epoch, saved
by the code of its day, plus ``expected.json``: a few inputs and the outputs the model gave
on them. ``test_fixture.py`` checks that it still loads and gives the same outputs.

Run from the repository root, only when the checkpoint format changes on purpose::

    python tests/make_cpvae_fixture.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import groupvae
from groupvae.store.atomic import write_json

FIXTURE = Path(__file__).parent / "fixtures" / "cpvae-grassy"
EXPECTED = "expected.json"


def inputs() -> tuple[np.ndarray, np.ndarray]:
    """Eight 4x4 images in [0, 1] and their populations ``(8,)``."""
    rng = np.random.default_rng(7)
    x = rng.random((8, 1, 4, 4)).astype(np.float32)
    return x, np.array([0, 1] * 4, dtype=np.int64)


def training_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((64, 1, 4, 4)).astype(np.float32)
    population = np.repeat([0, 1], 32)
    x[population == 1] *= 0.5
    return x, population


def main() -> None:
    torch.set_num_threads(1)
    model = groupvae.models.create(
        "cpvae", seed=0, obs_shape=(1, 4, 4), shared_dim=2, private_dim=2, hidden=8,
        n_populations=2,
    )  # fmt: skip
    x, population = training_data()
    data = groupvae.data.GroupedDataset(
        x=x, group=np.arange(len(x)), aux={"population": population}, name="fixture"
    )
    model.fit(data, epochs=1, batch_per_population=8, progress=False)
    model.save(FIXTURE, overwrite=True)
    xi, pi = inputs()
    codes = model.encode(xi, pi)
    out = {
        "shared_mean": codes.shared.tolist(),
        "private_mean": codes.private.tolist(),
        "reconstruction": model.reconstruct(xi, pi).tolist(),
    }
    write_json(FIXTURE / EXPECTED, {"x": xi.tolist(), "population": pi.tolist(), "outputs": out})
    size = sum(p.stat().st_size for p in FIXTURE.iterdir())
    print(f"wrote {FIXTURE} ({size} bytes)")


if __name__ == "__main__":
    main()
