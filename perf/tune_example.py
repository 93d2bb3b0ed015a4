"""Tuned against default settings on one multilevel table, with the random-intercept
model as the anchor (docs/guide/tuning.md).

Writes the table the multilevel benchmark prepares for a split (``ScotsSec`` by default:
schools of one student dropped, integer-grid features dequantised, seeded by the split)
as a CSV, then, with the command line, as a user would:

1. ``groupvae train PRESET table --data path=CSV ...`` (the table defaults);
2. ``groupvae tune PRESET table --data path=CSV ... --trials N`` (the best trial trained
   again as ``best/``);
3. ``groupvae evaluate`` of both runs: importance-sampled ``log p(x_G)`` of the run's
   holdout schools (the same schools for both: same seed), in nats per student of the
   raw (dequantised) scores;

and fits the random-intercept model by maximum likelihood on the run's training schools
and scores its exact log-likelihood on the same holdout schools. Prints a Markdown table
with each step's wall time and the machine.

    python perf/tune_example.py [--dataset ScotsSec] [--preset mlvae] [--trials 20]
        [--jobs 1] [--split 0] [--out runs/tune-example]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from groupvae.benchmarks.multilevel import SOURCES, load_source, prepare
from groupvae.evaluation.random_intercept import fit_random_intercept
from groupvae.store.machine import machine_info


def groupvae(*args: str) -> float:
    """Run ``groupvae ARGS`` (output shown); its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "groupvae", *args], check=True)
    return time.perf_counter() - start


def anchor(frame: pd.DataFrame, group: str, features: list[str], held: list[str]) -> float:
    """The random-intercept model fitted on the schools not in ``held``: its exact
    log-likelihood per student of the ``held`` schools (nats)."""
    test = frame[group].astype(str).isin({str(g) for g in held})
    fit, score = frame[~test], frame[test]
    model = fit_random_intercept(fit[features].to_numpy(np.float64), pd.factorize(fit[group])[0])
    per_school = model.group_log_likelihoods(
        score[features].to_numpy(np.float64), pd.factorize(score[group])[0]
    )
    return float(per_school.sum() / len(score))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ScotsSec", choices=sorted(SOURCES))
    parser.add_argument("--preset", default="mlvae")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--split", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/tune-example"))
    args = parser.parse_args()

    group, features = SOURCES[args.dataset][2], list(SOURCES[args.dataset][3])
    frame, notes = prepare(load_source(args.dataset), group, tuple(features), args.split)
    args.out.mkdir(parents=True, exist_ok=True)
    csv = args.out / f"{args.dataset}-split{args.split}.csv"
    frame.to_csv(csv, index=False)
    data = ["--data", f"path={csv}", "--data", f"group={group}"]
    data += ["--data", f"features={','.join(features)}", "--seed", str(args.split)]

    default_run, study = args.out / "default", args.out / "tuned"
    seconds = {
        "train (defaults)": groupvae(
            "train", args.preset, "table", *data, "--out", str(default_run), "--overwrite"
        )
    }
    seconds["tune"] = groupvae(
        "tune", args.preset, "table", *data, "--trials", str(args.trials),
        "--jobs", str(args.jobs), "--out", str(study),
    )  # fmt: skip
    for run in (default_run, study / "best"):
        seconds[f"evaluate {run.name}"] = groupvae("evaluate", str(run))

    held = json.loads((default_run / "metadata.json").read_text())["data"]["holdout_groups"]
    tuned_held = json.loads((study / "best" / "metadata.json").read_text())["data"]
    assert tuned_held["holdout_groups"] == held, "the two runs hold out other schools"
    key = "log_likelihood_per_observation_raw_units"

    def score(run: Path) -> float:
        return float(json.loads((run / "metrics.json").read_text())[key])

    scores = {
        "random intercept (ML, exact)": anchor(frame, group, features, held),
        f"{args.preset}, table defaults": score(default_run),
        f"{args.preset}, tuned ({args.trials} trials)": score(study / "best"),
    }
    trials = pd.read_csv(study / "trials.csv")
    best = json.loads((study / "best.json").read_text())
    base = scores["random intercept (ML, exact)"]
    print(f"\n{args.dataset} split {args.split}: {notes}")
    print(f"{len(held)} holdout schools; trials by state: {trials.state.value_counts().to_dict()}")
    print(f"best trial {best['trial']}: {best['params']}")
    print("\n| model | log-lik per holdout student (nats) | minus random intercept |")
    print("|---|---|---|")
    for name, value in scores.items():
        print(f"| {name} | {value:.4f} | {value - base:+.4f} |")
    print("\n| step | wall time (s) |\n|---|---|")
    for step, value in seconds.items():
        print(f"| {step} | {value:.0f} |")
    print(f"\nmachine: {json.dumps(machine_info())}")


if __name__ == "__main__":
    main()
