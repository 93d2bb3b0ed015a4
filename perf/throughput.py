"""Training throughput of every preset on Exam-Scores, in observations per second.

Usage:
    python perf/throughput.py [--groups 4096] [--epochs 3] [--threads 1]
        [--accelerator cpu] [--models mlvae cxvae ...]
    python perf/throughput.py --breakdown [--groups 4096] [--models ...]
    python perf/throughput.py --scaling [--obs-per-step 2048] [--steps 32]
    python perf/throughput.py --time-to-quality [--seconds 30] [--groups 32768] [--lr]
        [--critic-lr] [--groups-per-batch] [--kl-warmup-epochs]

Default: one row per preset (observations/s and groups/s of ``model.fit`` over the timed
epochs, excluding the first, warm-up epoch, and the device the weights trained on: the
GPU check is ``--accelerator auto`` on a machine with one), 64 groups per step. ``--breakdown``: per
preset, the milliseconds per step of the data loader alone, of the bare step (the
training plan's updates called directly: one inference, critic update, model update with
fused Adam, the epoch sums), and of the full training loop in Lightning; the rest is
Lightning's own cost. ``--scaling``: obs/s of the full loop for groups of 2 to 1,024
members of equal size at a fixed number of observations per step. ``--time-to-quality``:
CxVAE (its Exam-Scores defaults) trained on 80% of ``--groups`` schools (s = 1) until
``--seconds`` of training have passed (checked after every step), then its holdout
v-prediction error (x 100), against the Bayes-optimal limit: the exact posterior's error
on the same holdout schools, scored by the same code (``bayes_optimal_metrics``);
``--lr``, ``--critic-lr``, ``--groups-per-batch`` and ``--kl-warmup-epochs`` override
the data set's training defaults. Each mode ends with the wall time and the machine.
This is a benchmark script, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from lightning.pytorch.callbacks import Callback

import groupvae
from groupvae.config import to_dict
from groupvae.data.sampler import group_loader
from groupvae.models import MODELS
from groupvae.store.machine import machine_info
from groupvae.training.plan import EpochMeans, _adam, frozen

SCALING_SIZES = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
SCALING_MODELS = ("mlvae", "gvae", "gvae-adv", "cxvae")
GROUP_MODELS = tuple(m for m in MODELS if m != "cpvae")
"""The presets that train on Exam-Scores' schools (CPVAE's batches are populations)."""


class EpochTimer(Callback):
    """Records the wall time of each training epoch, and the device training ran on."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.device = "?"

    def on_train_epoch_start(self, trainer, module) -> None:
        self.device = str(module.device)  # where accelerator="auto" put the weights
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, module) -> None:
        self.times.append(time.perf_counter() - self._start)


def fit_seconds(
    name: str,
    data,
    epochs: int,
    threads: int,
    accelerator: str,
    groups_per_batch: int = 64,
    timer: EpochTimer | None = None,
) -> float:
    """Seconds per epoch of ``model.fit`` (mean over the epochs after the first)."""
    timer = timer or EpochTimer()
    model = groupvae.models.create(name, dataset="exam-scores")
    model.fit(
        data,
        epochs=epochs,
        groups_per_batch=groups_per_batch,
        progress=False,
        num_threads=threads,
        accelerator=accelerator,
        lr=1e-3,
        callbacks=[timer],
    )
    timed = timer.times[1:] or timer.times
    return sum(timed) / len(timed)


def bare_step_seconds(name: str, data, threads: int, passes: int = 2) -> float:
    """Seconds per pass of the training plan's updates called directly, no Lightning."""
    torch.set_num_threads(threads)
    module = groupvae.models.create(name, dataset="exam-scores").module.train()
    batches = list(group_loader(data, 64, seed=0))
    model_opt = _adam(module.model_parameters(), 1e-3)
    critic = module.critic_parameters()
    critic_opt = _adam(critic, 1e-3) if critic else None
    means = EpochMeans()

    def step(batch) -> None:
        inference = None
        if critic_opt is not None:
            inference = module.inference(batch)
            critic_loss = module.critic_loss(batch, inference)
            critic_opt.zero_grad()
            critic_loss.backward()
            critic_opt.step()
        with frozen(critic):
            out = module(batch, inference=inference)
        model_opt.zero_grad()
        out.loss.backward()
        model_opt.step()
        means.add(out.scalars(), out.n_groups)

    for batch in batches[:4]:
        step(batch)
    start = time.perf_counter()
    for _ in range(passes):
        for batch in batches:
            step(batch)
    return (time.perf_counter() - start) / passes


def loader_seconds(data, passes: int = 2) -> float:
    """Seconds per pass of the training data loader alone."""
    loader = group_loader(data, 64, seed=0)
    start = time.perf_counter()
    for _ in range(passes):
        for _batch in loader:
            pass
    return (time.perf_counter() - start) / passes


class TimeBudget(Callback):
    """Stops training once ``seconds`` of training steps have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.spent, self.steps = seconds, 0.0, 0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.spent += time.perf_counter() - self._start
        self.steps += 1
        if self.spent >= self.seconds:
            trainer.should_stop = True


def time_to_quality(args) -> None:
    from groupvae.evaluation.exam_scores import bayes_optimal_metrics, exam_scores_metrics

    noise_std = 1.0
    data = groupvae.data.make_exam_scores(args.groups, noise_std=noise_std, seed=0)
    train, holdout = data.split(0.2, seed=0)
    budget = TimeBudget(args.seconds)
    model = groupvae.models.create("cxvae", dataset="exam-scores", seed=0)
    start = time.perf_counter()
    chosen = {
        "lr": args.lr,
        "critic_lr": args.critic_lr,
        "groups_per_batch": args.groups_per_batch,
        "kl_warmup_epochs": args.kl_warmup_epochs,
    }
    options = {k: v for k, v in chosen.items() if v is not None}
    model.fit(
        train,
        epochs=1000,
        progress=False,
        num_threads=args.threads,
        callbacks=[budget],
        **options,
    )
    wall = time.perf_counter() - start
    metrics = exam_scores_metrics(model, holdout, seed=0)
    epochs = len(model.history)
    print(
        f"CxVAE on Exam-Scores (s = 1), {train.n_groups} training schools, seed 0: "
        f"{budget.steps} steps ({epochs} epochs, the last one cut short), {budget.spent:.1f}s "
        f"in training steps, {wall:.1f}s of fit wall time; settings "
        f"{json.dumps(to_dict(model.train_config))}"
    )
    limit = bayes_optimal_metrics(holdout, noise_std=noise_std, seed=0)["v_prediction_error"]
    v_error = metrics["v_prediction_error"]
    print(
        f"v-prediction error x100: {v_error:.1f}; Bayes-optimal (exact posterior, same "
        f"holdout schools, targets and regressors): {limit:.1f}; gap {v_error - limit:+.1f}"
    )
    print(json.dumps({k: round(v, 2) for k, v in metrics.items()}))


def presets(args) -> None:
    data = groupvae.data.make_exam_scores(args.groups, seed=0)
    print(
        f"Exam-Scores: {data.n_groups} groups, {data.n_obs} observations; 64 groups per batch; "
        f"{args.epochs} epochs (first is warm-up); torch threads {args.threads}; "
        f"accelerator {args.accelerator}"
    )
    print(f"{'model':<10} {'obs/s':>10} {'groups/s':>10} {'trained on':>11}")
    for name in args.models:
        timer = EpochTimer()
        seconds = fit_seconds(name, data, args.epochs, args.threads, args.accelerator, timer=timer)
        print(
            f"{name:<10} {data.n_obs / seconds:>10.0f} {data.n_groups / seconds:>10.0f} "
            f"{timer.device:>11}",
            flush=True,
        )


def breakdown(args) -> None:
    data = groupvae.data.make_exam_scores(args.groups, seed=0)
    steps = len(group_loader(data, 64, seed=0))
    print(
        f"Exam-Scores: {data.n_groups} groups, {data.n_obs} observations, {steps} steps of 64 "
        f"groups per epoch; ms per step; torch threads {args.threads}"
    )
    print(
        f"{'model':<10} {'loader':>8} {'bare step':>10} {'full loop':>10} {'Lightning':>10} "
        f"{'bare obs/s':>11} {'loop obs/s':>11}"
    )
    for name in args.models:
        load = loader_seconds(data) / steps
        bare = bare_step_seconds(name, data, args.threads) / steps
        full = fit_seconds(name, data, args.epochs, args.threads, args.accelerator) / steps
        rest = full - bare - load
        print(
            f"{name:<10} {load * 1e3:>8.2f} {bare * 1e3:>10.2f} {full * 1e3:>10.2f} "
            f"{rest * 1e3:>10.2f} {data.n_obs / steps / bare:>11.0f} "
            f"{data.n_obs / steps / full:>11.0f}",
            flush=True,
        )


def scaling(args) -> None:
    n_obs = args.obs_per_step * args.steps
    print(
        f"equal group sizes; {args.obs_per_step} observations per step, {args.steps} steps per "
        f"epoch; {args.epochs} epochs (first is warm-up); obs/s of the full training loop; "
        f"torch threads {args.threads}"
    )
    models = [m for m in args.models if m in SCALING_MODELS] or list(SCALING_MODELS)
    print(f"{'group size':>10} {'groups/step':>11} " + " ".join(f"{m:>10}" for m in models))
    for size in SCALING_SIZES:
        per_step = max(2, args.obs_per_step // size)
        data = groupvae.data.make_exam_scores(
            max(2, n_obs // size), seed=0, min_size=size, mean_extra=0
        )
        cells = []
        for name in models:
            seconds = fit_seconds(name, data, args.epochs, args.threads, args.accelerator, per_step)
            cells.append(f"{data.n_obs / seconds:>10.0f}")
        print(f"{size:>10} {per_step:>11} " + " ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument(
        "--models", nargs="+", default=list(GROUP_MODELS), choices=list(GROUP_MODELS)
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--breakdown", action="store_true")
    mode.add_argument("--scaling", action="store_true")
    mode.add_argument("--time-to-quality", action="store_true")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--lr", type=float, default=None, help="time-to-quality: Adam lr")
    parser.add_argument("--critic-lr", type=float, default=None, help="time-to-quality")
    parser.add_argument("--groups-per-batch", type=int, default=None, help="time-to-quality")
    parser.add_argument("--kl-warmup-epochs", type=int, default=None, help="time-to-quality")
    parser.add_argument("--obs-per-step", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=32)
    args = parser.parse_args()
    start = time.perf_counter()
    if args.breakdown:
        breakdown(args)
    elif args.scaling:
        scaling(args)
    elif args.time_to_quality:
        time_to_quality(args)
    else:
        presets(args)
    print(f"wall time {time.perf_counter() - start:.1f}s; machine: {json.dumps(machine_info())}")


if __name__ == "__main__":
    main()
