"""``groupvae evaluate``: a saved run's metrics on its holdout data, in ``metrics.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from groupvae.evaluation.metric_sets import FAMILY_METRICS
from groupvae.models.saved import load_run
from groupvae.store.atomic import write_json
from groupvae.store.run_directory import record_output, run_lock


def evaluate_run(run_dir: str | Path, *, seed: int = 0) -> dict[str, Any]:
    """Compute the family's and the data set's metrics on the run's holdout data.

    Writes ``run_dir/metrics.json`` atomically, under the run's lock, records it in the
    run's manifest, and returns the metrics, with the holdout ELBO per observation (and
    per group for group VAEs).

    Raises:
        ConfigError: if another process is writing ``run_dir`` (naming its pid).
        CheckpointError: if the run is missing, corrupt or does not record its data.
        DataError: if the run's recorded data file changed since training.
        DiskError: if ``metrics.json`` cannot be written (full disk, read-only run
            directory); a previous ``metrics.json`` is left as it was.
    """
    model, _, hold = load_run(run_dir)
    name = model.extra_metadata["data"]["name"]
    metrics: dict[str, Any] = {"dataset": name, "model": model.config.model}
    metrics.update(FAMILY_METRICS[model.family](model, hold, name, seed))
    path = Path(run_dir) / "metrics.json"
    with run_lock(run_dir, "evaluate"):
        write_json(path, metrics)
        record_output(run_dir, path)
    return metrics


__all__ = ["evaluate_run"]
