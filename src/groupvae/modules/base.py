"""The contract of every model family's module: the mathematics, as in scvi-tools.

:class:`BaseModule` is scvi-tools' three-part module: ``inference(batch)`` returns a
typed record of posteriors and samples, ``generative(inference, batch)`` the likelihood
parameters, ``loss(batch, inference, params)`` the one
:class:`~groupvae.objectives.loss_output.LossOutput`; the module also owns its
importance-sampled ``log_marginal_likelihood`` and, where it has one, its critic. The
training plan (:mod:`groupvae.training.plan`) sees modules only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from groupvae.objectives.loss_output import LossOutput

T = TypeVar("T", bound=nn.Module)


def seeded_module(build: Callable[[], T], seed: int) -> T:
    """``build()`` with torch's global RNG seeded by ``seed``, and restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


class BaseModule(nn.Module):
    """``inference`` / ``generative`` / ``loss`` of one model family.

    Subclasses implement the three parts, :meth:`check_batch` and
    :meth:`log_marginal_likelihood`; ``forward`` chains them. A family with an
    adversarial critic overrides :meth:`critic_loss` and :meth:`critic_parameters`.
    """

    def check_batch(self, batch: Any) -> None:
        """Raise :class:`~groupvae.errors.DataError` if ``batch`` does not fit the module."""
        raise NotImplementedError

    def inference(self, batch: Any, *, sample: bool = True) -> Any:
        """The posteriors of ``batch`` and (``sample``) reparameterised samples, else means."""
        raise NotImplementedError

    def generative(self, inference: Any, batch: Any) -> Tensor:
        """Likelihood parameters ``(n_obs, *obs_shape)`` of ``batch`` given ``inference``."""
        raise NotImplementedError

    def loss(
        self, batch: Any, inference: Any, params: Tensor, *, with_regulariser: bool = True,
        **weights: float,
    ) -> LossOutput:  # fmt: skip
        """The objective's terms; ``weights`` are the training plan's schedules."""
        raise NotImplementedError

    def log_marginal_likelihood(self, batch: Any, *, n_samples: int = 100) -> Tensor:
        """Importance-sampled ``log p(x_G)`` of every group of ``batch`` (nats), ``(n_groups,)``."""
        raise NotImplementedError

    def forward(
        self,
        batch: Any,
        *,
        inference: Any = None,
        with_regulariser: bool = True,
        **weights: float,
    ) -> LossOutput:
        """``loss(inference(batch), generative(...))`` of one batch, with sampling; a
        given ``inference`` of ``batch`` (the one the critic's update saw) is reused."""
        inf = self.inference(batch) if inference is None else inference
        params = self.generative(inf, batch)
        return self.loss(batch, inf, params, with_regulariser=with_regulariser, **weights)

    def critic_loss(self, batch: Any, inference: Any = None) -> Tensor | None:
        """The critic's loss on detached codes (of ``inference`` if given, else of a new
        inference of ``batch``), or ``None`` without a critic."""
        return None

    def critic_parameters(self) -> list[nn.Parameter]:
        """Parameters updated by the critic's optimiser (none by default)."""
        return []

    def model_parameters(self) -> list[nn.Parameter]:
        """Parameters of the encoders, decoders and likelihood (not of the critic)."""
        critic = {id(p) for p in self.critic_parameters()}
        return [p for p in self.parameters() if id(p) not in critic]


__all__ = ["BaseModule", "seeded_module"]
