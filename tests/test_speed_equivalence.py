"""The optimised training step computes the same mathematics as a plain eager step.

The training plan shares one inference between the critic's and the model's update,
computes no critic gradients in the model's update, sends joint and marginal pairs
through the critic as one batch, uses fused Adam and checks losses on the device. Here,
in float64, one step of the plan (inside Lightning) is compared with a plain step written
out in the test: the same random draws in the same order, the critic's loss with its
joint and marginal critic calls made separately, a for-loop Adam update of the critic,
and the model's loss and gradients by ``torch.autograd.grad`` over every parameter.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from groupvae.config import TrainConfig
from groupvae.models import create
from groupvae.nn.segment import (
    leave_one_out_mean,
    sample_member_of_other_group,
    sample_other_member,
)
from groupvae.objectives.mine import donsker_varadhan
from groupvae.objectives.regularisers import GroupAdversarial, PairwiseAdversarial
from groupvae.training.fit import run_trainer
from groupvae.training.plan import TrainingPlan
from helpers import GROUP_PRESETS, flat_batch, random_groups

LR = 1e-2
SEED = 3


def tiny_module(name: str) -> torch.nn.Module:
    return create(name, obs_shape=(3,), hidden=8, critic_hidden=8, seed=0).module.double()


def float64_batch():
    gen = torch.Generator().manual_seed(1)
    group = random_groups(40, 6, gen)
    x = torch.randn(40, 3, generator=gen, dtype=torch.float64)
    return flat_batch(x, group, 6)


def slow_regulariser(reg: torch.nn.Module, x, v, group, n_groups) -> torch.Tensor:
    """The MINE estimates with separate joint and marginal critic calls (CxVAE eq. 2-3)."""
    if isinstance(reg, PairwiseAdversarial):
        same = sample_other_member(group, n_groups)
        other = sample_member_of_other_group(group, n_groups)
        t_joint = reg.critic(torch.cat([x, v[same]], -1)).squeeze(-1)
        t_marginal = reg.critic(torch.cat([x, v[other]], -1)).squeeze(-1)
    else:
        assert isinstance(reg, GroupAdversarial)
        rest = leave_one_out_mean(reg.t_alpha(x), group, n_groups)
        other = sample_member_of_other_group(group, n_groups)
        t_joint = reg.t_beta(torch.cat([rest, v], -1)).squeeze(-1)
        t_marginal = reg.t_beta(torch.cat([rest, v[other]], -1)).squeeze(-1)
    return donsker_varadhan(t_joint, t_marginal)


def plain_step(module, batch) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(losses, gradients by parameter name)`` of one plain eager step."""
    torch.manual_seed(SEED)
    named = dict(module.named_parameters())
    critic = {id(p) for p in module.critic_parameters()}
    inf = module.inference(batch)
    losses, grads = {}, {}
    x = batch.x.flatten(1)
    if module.regulariser is not None:
        critic_loss = -slow_regulariser(
            module.regulariser, x, inf.v.detach(), batch.group, batch.n_groups
        )
        names = [k for k, p in named.items() if id(p) in critic]
        critic_grads = torch.autograd.grad(critic_loss, [named[k] for k in names])
        for k, g in zip(names, critic_grads, strict=True):
            named[k].grad = g
            grads[k] = g
        torch.optim.Adam([named[k] for k in names], lr=LR, foreach=False).step()
        losses["critic"] = critic_loss.detach()
    out = module.loss(batch, inf, module.generative(inf, batch), with_regulariser=False)
    loss = out.loss
    if module.regulariser is not None:
        reg = slow_regulariser(module.regulariser, x, inf.v, batch.group, batch.n_groups)
        loss = loss + module.config.regulariser_weight * reg
    names = [k for k, p in named.items() if id(p) not in critic]
    for k, g in zip(names, torch.autograd.grad(loss, [named[k] for k in names]), strict=True):
        grads[k] = g
    losses["model"] = loss.detach()
    return losses, grads


class RecordingPlan(TrainingPlan):
    """The training plan, recording the losses it optimises; seeded just before the step
    (the data loader draws from the global generator when it starts)."""

    def on_train_batch_start(self, batch, batch_idx):
        torch.manual_seed(SEED)

    def _update(self, optimiser, loss, guard):
        self.seen[guard] = loss.detach().clone()
        super()._update(optimiser, loss, guard)


def optimised_step(module, batch) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(losses, gradients by parameter name)`` of one step of the training plan."""
    config = TrainConfig(epochs=1, lr=LR, progress=False)
    plan = RecordingPlan(module, config, steps_per_epoch=1)
    plan.seen = {}
    run_trainer(plan, DataLoader([batch], batch_size=None), config)
    return plan.seen, {k: p.grad for k, p in module.named_parameters()}


@pytest.mark.parametrize("name", GROUP_PRESETS)
def test_optimised_step_matches_a_plain_eager_step_in_float64(name):
    batch = float64_batch()
    reference = tiny_module(name)
    optimised = tiny_module(name)
    optimised.load_state_dict(reference.state_dict())
    want_losses, want_grads = plain_step(reference, batch)
    got_losses, got_grads = optimised_step(optimised, batch)
    assert set(got_losses) == set(want_losses)
    for key, want in want_losses.items():
        torch.testing.assert_close(got_losses[key], want, rtol=1e-8, atol=1e-8)
    assert set(got_grads) == set(want_grads)
    for key, want in want_grads.items():
        assert got_grads[key] is not None, key
        torch.testing.assert_close(got_grads[key], want, rtol=1e-8, atol=1e-8, msg=key)
