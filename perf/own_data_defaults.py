"""Compare own-data training settings on real tables: the joint score of held-out groups
against the random-intercept model, split 0 (nats per observation, importance-sampled
with 100 samples).

    python perf/own_data_defaults.py DATASETS MODELS [OVERRIDES_JSON]
    python perf/own_data_defaults.py ScotsSec,Chem97 mlvae,cxvae '{"lr": 0.003}'

The comparisons quoted in ``models/defaults.py`` (``TABLE_TRAIN``, ``KL_WARMUP_EPOCHS``)
and docs/benchmarks/multilevel.md were made with this script on the commits named
there (lr: ``0f0a7a1``; patience and KL warm-up: ``ef2043a``), whose multilevel module
split the full tables (Chem97: all 2,410 schools). On later commits the module keeps
1,000 groups of Chem97 per split, so the same command scores other schools.
"""

import json
import sys
import time

from groupvae.benchmarks import multilevel as ml
from groupvae.evaluation.likelihood import group_log_likelihoods
from groupvae.models import create


def score(name: str, source: ml.Source, model_name: str, overrides: dict) -> str:
    """Train ``model_name`` with the table defaults (and ``overrides``) on split 0 of
    ``source``; one line: its joint score's gap to the random-intercept model."""
    bench = ml.MultilevelBenchmark(datasets=(name,))
    split = ml.split_data(bench, source, 0)
    anchor = ml.fit_random_intercept(split.fit_raw, split.fit_group)
    test = split.test
    ri = float(anchor.group_log_likelihoods(split.test_raw, test.group).sum() / test.n_obs)
    start = time.perf_counter()
    model = create(model_name, dataset="table", seed=0, obs_shape=split.train.obs_shape)
    model.fit(split.train, holdout=split.val, progress=False, **overrides)
    seconds = time.perf_counter() - start
    ll = group_log_likelihoods(model, test, n_samples=100, seed=0)
    ll = float((ll + test.group_sizes * test.transform.log_jacobian).sum() / test.n_obs)
    stop, config = model.extra_metadata["early_stopping"], model.train_config
    return (
        f"{name} s0 {model_name:8s} gap {ll - ri:+.4f} (ll {ll:.4f}, RI {ri:.4f}) "
        f"gpb {config.groups_per_batch} budget {config.max_steps} best {stop['best_step']} "
        f"stop {stop['stopped_step']} checks {stop['checks']} {seconds:.1f}s"
    )


def main() -> None:
    names, models = sys.argv[1].split(","), sys.argv[2].split(",")
    overrides = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    bench = ml.MultilevelBenchmark(datasets=tuple(names))
    for name, source in ml.sources(bench).items():
        for model_name in models:
            print(score(name, source, model_name, overrides), flush=True)


if __name__ == "__main__":
    main()
