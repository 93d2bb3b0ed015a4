"""``groupvae evaluate``: a saved run's metrics on its holdout data, in ``metrics.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from groupvae.evaluation.metric_sets import FAMILY_METRICS
from groupvae.models.saved import load_run
from groupvae.store.atomic import write_json


def evaluate_run(run_dir: str | Path, *, seed: int = 0) -> dict[str, Any]:
    """Compute the family's and the data set's metrics on the run's holdout data.

    Writes ``run_dir/metrics.json`` atomically and returns the metrics, with the holdout
    ELBO per observation (and per group for group VAEs).

    Raises:
        CheckpointError: if the run is missing, corrupt or does not record its data.
        DataError: if the run's recorded data file changed since training.
        DiskError: if ``metrics.json`` cannot be written (full disk, read-only run
            directory); a previous ``metrics.json`` is left as it was.
    """
    model, _, hold = load_run(run_dir)
    name = model.extra_metadata["data"]["name"]
    metrics: dict[str, Any] = {"dataset": name, "model": model.config.model}
    metrics.update(FAMILY_METRICS[model.family](model, hold, name, seed))
    write_json(Path(run_dir) / "metrics.json", metrics)
    return metrics


__all__ = ["evaluate_run"]
