"""The floor under a training step on this machine, against issue 14's throughput targets.

Usage:
    python perf/step_floor.py [--groups 4096] [--threads 1] [--epochs 3]
        [--models mlvae gvae gvae-adv cxvae]

For each preset on Exam-Scores at 64 schools per step (about 1,535 students), in ms per
step:

- **Lightning, empty step**: ``Trainer.fit`` of a module whose ``training_step`` does
  nothing (manual optimisation, as our plan), over the preset's own data loader: the
  loop, the loader and the batch transfer that any step inside Lightning pays.
- **dense layers**: the preset's linear layers and activations alone, forward and, where
  the step needs their gradients, backward, at the shapes a real step gives them
  (recorded with forward hooks during one step, then replayed as independent
  operations; a frozen critic's weights get no gradient): the matrix products that no
  reduction of per-operation overhead removes. Each replayed operation still pays its
  own dispatch, so this is the floor of an eager step, not of a fused one.
- **kernels**: the same layers' kernels alone (each matrix product forward and the
  input, weight and bias gradients the step needs, each activation and its gradient),
  called one after another without autograd: what a step that fused every other
  operation away, and paid no dispatch for these, would still compute.
- **Adam**: the fused Adam steps of the model (and the critic) on their parameters.
- **fused floor**: Lightning + kernels + Adam; **floor**: Lightning + dense + Adam, the
  floor of an eager step; and the obs/s each allows.
- **full loop**: ``model.fit`` of the preset (mean epoch after the first).
- **target**: the ms per step that issue 14's obs/s target means (CxVAE 550k, ML-VAE and
  GVAE 2.5M, GVAE + adversarial 3 x 192k).

A target below the floor cannot be met by a step that runs these layers eagerly inside
Lightning on this machine. This is a benchmark script, not a test: nothing here asserts a
speed. It ends with the wall time and the machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import lightning as L
import torch
import torch.nn.functional as F
from throughput import EpochTimer, bare_step_seconds, fit_seconds
from torch import Tensor, nn

import groupvae
from groupvae.data.sampler import group_loader
from groupvae.store.machine import machine_info
from groupvae.training.plan import _adam, frozen

TARGET_OBS_PER_S = {
    "mlvae": 2_500_000,
    "gvae": 2_500_000,
    "gvae-adv": 3 * 192_000,
    "cxvae": 550_000,
}
"""Issue 14's targets, in observations per second of the full training loop."""


class EmptyStep(L.LightningModule):
    """A Lightning module whose training step does nothing (manual optimisation)."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.weight = nn.Parameter(torch.zeros(1))

    def training_step(self, batch, batch_idx) -> None:
        return None

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return _adam([self.weight], 1e-3)


def lightning_seconds(data, epochs: int) -> float:
    """Seconds per epoch of Lightning's loop over ``data``'s loader with an empty step
    (mean over the epochs after the first)."""
    timer = EpochTimer()
    trainer = L.Trainer(
        max_epochs=max(2, epochs),
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(EmptyStep(), group_loader(data, 64, seed=0))
    timed = timer.times[1:]
    return sum(timed) / len(timed)


@dataclass(frozen=True)
class DenseCall:
    """One call of a linear layer or activation in a training step."""

    layer: nn.Module
    shape: torch.Size
    input_grad: bool
    """The input required gradients (the backward computes them)."""
    weight_grad: bool
    """The layer's parameters required gradients (a frozen critic's do not)."""


def record_dense_calls(name: str, data) -> tuple[nn.Module, list[DenseCall]]:
    """Every linear layer and activation one training step calls, with its input shape
    and which gradients its backward computes."""
    module = groupvae.models.create(name, dataset="exam-scores").module.train()
    batch = next(iter(group_loader(data, 64, seed=0)))
    calls: list[DenseCall] = []

    def hook(layer: nn.Module, args: tuple) -> None:
        weight_grad = any(p.requires_grad for p in layer.parameters())
        calls.append(DenseCall(layer, args[0].shape, args[0].requires_grad, weight_grad))

    dense = [m for m in module.modules() if isinstance(m, nn.Linear | nn.ReLU)]
    handles = [m.register_forward_pre_hook(hook) for m in dense]
    try:
        inference = None
        critic = module.critic_parameters()
        if critic:
            inference = module.inference(batch)
            module.critic_loss(batch, inference)
        with frozen(critic):
            module(batch, inference=inference)
    finally:
        for handle in handles:
            handle.remove()
    return module, calls


def _per_call(fn: Callable[[], None], repeats: int) -> float:
    for _ in range(3):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def _replay(call: DenseCall, x: Tensor) -> Tensor:
    if isinstance(call.layer, nn.ReLU):
        return F.relu(x)
    weight, bias = call.layer.weight, call.layer.bias
    if not call.weight_grad:
        weight, bias = weight.detach(), None if bias is None else bias.detach()
    return F.linear(x, weight, bias)


def dense_seconds(calls: list[DenseCall], repeats: int = 200) -> float:
    """Seconds of the recorded layers forward, and backward where the step needs their
    gradients, each on its own input of the recorded shape."""
    inputs = [torch.randn(c.shape, requires_grad=c.input_grad) for c in calls]
    params = [p for c in calls for p in c.layer.parameters()]

    def step() -> None:
        for p in params:
            p.grad = None
        outputs = [_replay(c, x) for c, x in zip(calls, inputs, strict=True)]
        tracked = [y for y in outputs if y.requires_grad]
        torch.autograd.backward(tracked, [torch.ones_like(y) for y in tracked])

    return _per_call(step, repeats)


def _kernels(call: DenseCall, x: Tensor) -> list[Callable[[], Tensor]]:
    """The kernels of one recorded call, forward and the backward it needs, as closures
    over tensors of the recorded shapes (no autograd)."""
    if isinstance(call.layer, nn.ReLU):
        y = F.relu(x)
        backward = [lambda: torch.ops.aten.threshold_backward(y, x, 0.0)]
        return [lambda: F.relu(x), *(backward if call.input_grad else [])]
    weight, bias = call.layer.weight.detach(), call.layer.bias
    bias = None if bias is None else bias.detach()
    out_grad = torch.randn(*x.shape[:-1], weight.shape[0])
    kernels = [lambda: F.linear(x, weight, bias)]
    if call.input_grad:
        kernels.append(lambda: out_grad @ weight)
    if call.weight_grad:
        kernels.append(lambda: out_grad.t() @ x)
        if bias is not None:
            kernels.append(lambda: out_grad.sum(0))
    return kernels


def kernel_seconds(calls: list[DenseCall], repeats: int = 200) -> float:
    """Seconds of the recorded layers' kernels alone (matrix products, bias and
    activation gradients), called one after another without autograd: what a step
    that fused everything else away would still compute."""
    kernels = [k for c in calls for k in _kernels(c, torch.randn(c.shape))]

    def step() -> None:
        for kernel in kernels:
            kernel()

    with torch.no_grad():
        return _per_call(step, repeats)


def adam_seconds(module: nn.Module, repeats: int = 200) -> float:
    """Seconds of the step's fused Adam updates (model, and critic if any)."""
    groups = [module.model_parameters(), module.critic_parameters()]
    optimisers = [_adam(params, 1e-3) for params in groups if params]
    for params in groups:
        for p in params:
            p.grad = torch.randn_like(p)

    def step() -> None:
        for optimiser in optimisers:
            optimiser.step()

    return _per_call(step, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--models", nargs="+", default=list(TARGET_OBS_PER_S), choices=list(TARGET_OBS_PER_S)
    )
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    data = groupvae.data.make_exam_scores(args.groups, seed=0)
    steps = len(group_loader(data, 64, seed=0))
    per_step = data.n_obs / steps
    print(
        f"Exam-Scores: {data.n_groups} schools, {per_step:.0f} students per step of 64 "
        f"schools; ms per step; torch threads {args.threads}"
    )
    lightning = lightning_seconds(data, args.epochs) / steps
    print(
        f"{'model':<9} {'target':>7} {'Lightning':>9} {'kernels':>7} {'dense':>7} {'Adam':>6} "
        f"{'fused floor':>11} {'floor':>6} {'bare':>6} {'loop':>6} "
        f"{'fused floor obs/s':>17} {'floor obs/s':>11} {'loop obs/s':>10}"
    )
    for name in args.models:
        module, calls = record_dense_calls(name, data)
        kernels = kernel_seconds(calls)
        dense = dense_seconds(calls)
        adam = adam_seconds(module)
        fused_floor = lightning + kernels + adam
        floor = lightning + dense + adam
        bare = bare_step_seconds(name, data, args.threads) / steps
        loop = fit_seconds(name, data, args.epochs, args.threads, "cpu") / steps
        target = per_step / TARGET_OBS_PER_S[name]
        print(
            f"{name:<9} {target * 1e3:>7.2f} {lightning * 1e3:>9.2f} {kernels * 1e3:>7.2f} "
            f"{dense * 1e3:>7.2f} {adam * 1e3:>6.2f} {fused_floor * 1e3:>11.2f} "
            f"{floor * 1e3:>6.2f} {bare * 1e3:>6.2f} {loop * 1e3:>6.2f} "
            f"{per_step / fused_floor:>17.0f} {per_step / floor:>11.0f} {per_step / loop:>10.0f}",
            flush=True,
        )
    print(f"wall time {time.perf_counter() - start:.1f}s; machine: {json.dumps(machine_info())}")


if __name__ == "__main__":
    main()
