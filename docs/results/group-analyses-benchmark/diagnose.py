"""Why the group VAE's differential comparison misses the planted features: does its
group code carry the condition at all?

For each simulated data set and seed it fits exactly the benchmark's model (the same
data, settings and seed as ``groupvae benchmark group-analyses``, so the same weights on
one thread), then reports

* ``active``: the group code's active units (Burda et al. 2016: the variance over groups
  of the posterior means above 0.01), of ``group_dim``;
* ``condition from codes`` / ``from pseudobulk``: the cross-validated accuracy (5 folds,
  logistic regression) of telling set A's groups from set B's, from the group codes'
  means and from the pseudobulk profiles (chance 0.5): whether the condition that moves
  the differential features is in the representation at all.

Run from the repository root (a few minutes on two cores):
``PYTHONPATH=src python docs/results/group-analyses-benchmark/diagnose.py``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from groupvae.benchmarks.group_analyses import (
    DATASET,
    MODEL_OVERRIDES,
    GroupAnalysesBenchmark,
    model_data,
    simulate,
)
from groupvae.data.group_level import pseudobulk
from groupvae.evaluation.active_units import active_units
from groupvae.models import create, split_settings

CASES = [("gaussian", 20, "high"), ("gaussian", 200, "high"), ("counts", 200, "high")]


def condition_accuracy(features: np.ndarray, in_a: np.ndarray, seed: int) -> float:
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(cross_val_score(model, features, in_a, cv=folds).mean())


def main() -> None:
    torch.set_num_threads(1)
    bench = GroupAnalysesBenchmark()
    print("| data | members | noise | seed | active | condition from codes | from pseudobulk |")
    print("|---|---|---|---|---|---|---|")
    for kind, size, noise in CASES:
        for seed in bench.seeds:
            sim = simulate(bench, kind, size, noise, seed)
            data, validation = model_data(sim)
            model_over, train_over = split_settings("mlvae", MODEL_OVERRIDES.get(kind, {}))
            model = create("mlvae", dataset=DATASET[kind], data=data, seed=seed, **model_over)
            model.fit(data, holdout=validation, progress=False, **train_over)
            codes = model.encode_groups(data).mean
            sets = np.r_[sim.set_a, sim.set_b]
            in_a = np.r_[np.ones(len(sim.set_a)), np.zeros(len(sim.set_b))].astype(int)
            bulk = pseudobulk(data.x, data.group, data.n_groups, counts=kind == "counts")
            print(
                f"| {kind} | {size} | {noise} | {seed} | {active_units(codes)} of "
                f"{codes.shape[1]} | {condition_accuracy(codes[sets], in_a, seed):.2f} | "
                f"{condition_accuracy(bulk[sets], in_a, seed):.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
