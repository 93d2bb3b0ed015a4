"""Training throughput of one process against Lightning DDP on several CPU processes.

Runs ``groupvae train PRESET exam-scores`` once per process count (``--set devices=N
--set strategy=ddp``; gloo on CPU), each in a fresh temporary run directory, and prints
training observations per second from the run's recorded ``fit_seconds`` (the whole
``fit``, process start-up of the extra ranks included), with the machine.

    python perf/ddp_throughput.py [--preset mlvae] [--groups 16384] [--epochs 4]
        [--groups-per-batch 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from groupvae.data import make_exam_scores
from groupvae.store.machine import machine_info


def run(preset: str, groups: int, epochs: int, devices: int, threads: int, per_step: int) -> float:
    """Seconds of ``fit`` for one training run on ``devices`` processes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "groupvae", "train", preset, "exam-scores"]
        cmd += ["--out", str(out), "--epochs", str(epochs), "--data", f"n_groups={groups}"]
        cmd += ["--set", "progress=false", "--set", f"num_threads={threads}"]
        cmd += ["--set", f"groups_per_batch={per_step}"]
        if devices > 1:
            cmd += ["--set", f"devices={devices}", "--set", "strategy=ddp"]
        subprocess.run(cmd, check=True, capture_output=True)
        return float(json.loads((out / "metadata.json").read_text())["fit_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="mlvae")
    parser.add_argument("--groups", type=int, default=16_384)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument(
        "--groups-per-batch", type=int, default=64, help="groups per step on each process"
    )
    args = parser.parse_args()
    data = make_exam_scores(args.groups, seed=0)
    n_train = int(data.n_obs * 0.8)  # the run trains on 80% of the schools
    print(json.dumps(machine_info(), sort_keys=True))
    print(
        f"{args.preset}, {args.groups} schools, {args.epochs} epochs, ~{n_train} train obs, "
        f"{args.groups_per_batch} schools per step and process"
    )
    print("| processes | fit seconds | obs/s |")
    print("|---|---|---|")
    for devices in args.devices:
        seconds = run(
            args.preset, args.groups, args.epochs, devices, args.threads, args.groups_per_batch
        )
        print(f"| {devices} | {seconds:.1f} | {n_train * args.epochs / seconds:,.0f} |")


if __name__ == "__main__":
    main()
