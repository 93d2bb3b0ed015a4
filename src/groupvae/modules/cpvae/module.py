"""The CPVAE module: the mathematics of the Cross-population VAE.

Generative model (eq. 1): ``z ~ N(0, I)``, ``t ~ N(0, I)``,
``x | z, t ~ p(g(f_s(z), f_k(t)))`` for a member of population ``k``, with a shared
decoder ``f_s`` and one private decoder ``f_k`` per population. Inference (eq. 2):
``q(z, t | x) = q_s(z | x) q_k(t | x)``, one network with two outputs: a shared head for
``z`` and a per-population head for ``t``. The ``K`` private heads and decoders are
stacked (:class:`~groupvae.nn.stacked.StackedMLP`): one batched call per layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from groupvae.data.populations import PopulationBatch
from groupvae.errors import DataError
from groupvae.modules.backbones import BACKBONES
from groupvae.modules.base import BaseModule
from groupvae.modules.cpvae.config import CPVAEConfig
from groupvae.modules.likelihoods import LIKELIHOODS
from groupvae.nn.mlp import MLP
from groupvae.nn.stacked import StackedMLP
from groupvae.objectives.cpvae import cpvae_objective
from groupvae.objectives.kl import kl_normal_standard, normal_log_prob, standard_normal_log_prob
from groupvae.objectives.loss_output import LossOutput
from groupvae.registry import Registry


@dataclass
class CPVAEInference:
    """What :meth:`CPVAEModule.inference` infers (CPVAE eq. 2).

    Attributes:
        z_mean, z_logvar, z: ``(n, shared_dim)`` the shared posterior ``q_s(z | x)`` and
            its sample (or mean).
        t_mean, t_logvar, t: ``(n, private_dim)`` the private posterior ``q_k(t | x)`` of
            each row's own population and its sample (or mean).
        t_mean_all, t_logvar_all: ``(K, n, private_dim)`` every population's private
            posterior of every row (the fictitious codes of CPVAE Algorithm 1), or ``None``.
    """

    z_mean: Tensor
    z_logvar: Tensor
    z: Tensor
    t_mean: Tensor
    t_logvar: Tensor
    t: Tensor
    t_mean_all: Tensor | None = None
    t_logvar_all: Tensor | None = None


class AdditiveDecoder(nn.Module):
    """``g(f_s(z), f_k(t)) = f_s(z) + f_k(t)``: the paper's aggregation (eq. 1).

    ``f_s``: MLP ``shared_dim -> obs_dim``; ``f_k``: stacked MLPs ``private_dim -> obs_dim``.
    A part left out (``None``) contributes nothing: ``g(a, None) = a``.
    """

    def __init__(self, config: CPVAEConfig) -> None:
        super().__init__()
        obs_dim = math.prod(config.obs_shape)
        c = config
        self.shared = MLP(c.shared_dim, obs_dim, c.hidden, c.n_hidden)
        self.private = StackedMLP(c.n_populations, c.private_dim, obs_dim, c.hidden, c.n_hidden)

    def combine(self, a: Tensor | None, b: Tensor | None) -> Tensor:
        """``g(a, b)``: ``a, b: (..., d)`` (broadcast), either may be ``None``."""
        if a is None and b is None:
            raise ValueError("combine needs at least one part")
        if a is None or b is None:
            return a if b is None else b  # type: ignore[return-value]
        return a + b


class ConcatDecoder(nn.Module):
    """``g(a, b) = W [a; b] + c``: the decoders output ``hidden`` features each (ReLU),
    and a shared linear layer maps their concatenation to the observation. A part left
    out (``None``) is replaced by zeros."""

    def __init__(self, config: CPVAEConfig) -> None:
        super().__init__()
        c = config
        self.shared = MLP(c.shared_dim, c.hidden, c.hidden, max(c.n_hidden - 1, 0))
        self.shared.append(nn.ReLU())
        self.private = StackedMLP(
            c.n_populations,
            c.private_dim,
            c.hidden,
            c.hidden,
            max(c.n_hidden - 1, 0),
            out_activation=True,
        )
        self.head = nn.Linear(2 * c.hidden, math.prod(c.obs_shape))

    def combine(self, a: Tensor | None, b: Tensor | None) -> Tensor:
        """``g(a, b)``: ``a, b: (..., hidden)`` (broadcast), either may be ``None``."""
        if a is None and b is None:
            raise ValueError("combine needs at least one part")
        a = torch.zeros_like(b) if a is None else a  # type: ignore[arg-type]
        b = torch.zeros_like(a) if b is None else b
        shape = torch.broadcast_shapes(a.shape[:-1], b.shape[:-1])
        a, b = a.expand(*shape, a.shape[-1]), b.expand(*shape, b.shape[-1])
        return self.head(torch.cat([a, b], -1))


AGGREGATIONS: Registry[type[nn.Module]] = Registry("aggregation")
AGGREGATIONS.add("add", AdditiveDecoder)
AGGREGATIONS.add("concat", ConcatDecoder)


class CPVAEModule(BaseModule):
    """``inference`` / ``generative`` / ``loss`` of a CPVAE built from ``config``.

    Attributes:
        trunk: feature extractor shared by the two encoder heads (``BACKBONES``).
        shared_encoder: ``q_s(z | x)`` head (parameters ``phi_s``).
        private_encoders: ``K`` stacked ``q_k(t | x)`` heads (``phi_k``).
        decoder: the aggregation with ``f_s`` (``decoder.shared``, ``theta_s``) and the
            ``K`` stacked ``f_k`` (``decoder.private``, ``theta_k``).
        likelihood: ``p(x | g(.))`` (Gaussian with learned ``Psi``, or Bernoulli).
        population_sizes: buffer ``(K,)``, the ``n_k`` of the training data (set by
            ``fit``; eq. 4's ``N`` and ``n_k``).
    """

    population_sizes: Tensor

    def __init__(self, config: CPVAEConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.trunk, feat_dim = BACKBONES[c.backbone](c.obs_shape, c.hidden, c.channels)
        self.shared_encoder = MLP(feat_dim, 2 * c.shared_dim, c.hidden, c.n_hidden)
        self.private_encoders = StackedMLP(
            c.n_populations, feat_dim, 2 * c.private_dim, c.hidden, c.n_hidden
        )
        self.decoder = AGGREGATIONS[c.aggregation](c)
        self.likelihood = LIKELIHOODS[c.likelihood](c)
        self.register_buffer("population_sizes", torch.ones(c.n_populations))

    @property
    def n_populations(self) -> int:
        return self.config.n_populations

    def check_batch(self, batch: PopulationBatch) -> None:
        """Raise :class:`DataError` if ``batch.x`` or ``batch.population`` do not fit."""
        self.check_input(batch.x, batch.population)

    def check_step_batch(self, batch: PopulationBatch, *, with_regulariser: bool = True) -> None:
        """Check a training or validation batch once, on the host (the step then runs
        under :func:`~groupvae.nn.segment.trusted_groups`, without device reads).

        Raises:
            DataError: as :meth:`check_input`.
        """
        self.check_input(batch.x, batch.population)

    def check_input(self, x: Tensor, population: Tensor) -> None:
        """Raise :class:`DataError` if ``x`` or ``population`` do not fit this model."""
        if tuple(x.shape[1:]) != self.config.obs_shape:
            raise DataError(
                f"x must have shape (n, {', '.join(map(str, self.config.obs_shape))}) for this "
                f"model, got {tuple(x.shape)}"
            )
        if population.shape != (x.shape[0],):
            raise DataError(f"population must have shape ({x.shape[0]},)")
        if x.shape[0] and (
            int(population.min()) < 0 or int(population.max()) >= self.n_populations
        ):
            raise DataError(f"population ids must lie in [0, {self.n_populations})")

    def _split(self, out: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = out.chunk(2, dim=-1)
        return mean, logvar.clamp_min(self.config.min_logvar)

    def inference(
        self, batch: PopulationBatch, *, sample: bool = True, all_private: bool | None = None
    ) -> CPVAEInference:
        """Encode ``batch.x: (n, *obs_shape)`` of populations ``batch.population: (n,)``
        (CPVAE eq. 2).

        Args:
            batch: the rows and their populations ``int64 in [0, K)``.
            sample: draw reparameterised samples; otherwise use the means.
            all_private: also infer every population's private posterior of every row
                (the fictitious codes ``q_k(t~ | x_j)`` of CPVAE Algorithm 1), in one
                call; by default when training with the ``mi`` objective.
        """
        if all_private is None:
            all_private = sample and self.config.objective == "mi"
        x, population = batch.x, batch.population
        h = self.trunk(x)
        z_mean, z_logvar = self._split(self.shared_encoder(h))
        t_mean_all = t_logvar_all = None
        if all_private:
            t_mean_all, t_logvar_all = self._split(self.private_encoders.forward_all(h))
            rows = torch.arange(x.shape[0], device=x.device)
            t_mean, t_logvar = t_mean_all[population, rows], t_logvar_all[population, rows]
        else:
            t_mean, t_logvar = self._split(
                self.private_encoders.forward_own(h, population, batch.largest)
            )
        z = _sample(z_mean, z_logvar) if sample else z_mean
        t = _sample(t_mean, t_logvar) if sample else t_mean
        return CPVAEInference(z_mean, z_logvar, z, t_mean, t_logvar, t, t_mean_all, t_logvar_all)

    def generative(self, inference: CPVAEInference, batch: PopulationBatch) -> Tensor:
        """Likelihood parameters ``g(f_s(z), f_k(t))`` (CPVAE eq. 1) of the inferred codes,
        each row decoded by its own population's private decoder."""
        return self.decode(inference.z, inference.t, batch.population, batch.largest)

    def decode(
        self,
        z: Tensor | None,
        t: Tensor | None,
        population: Tensor | None = None,
        largest: int | None = None,
    ) -> Tensor:
        """Likelihood parameters ``g(f_s(z), f_k(t))`` (eq. 1), ``(n, *obs_shape)``.

        Args:
            z: ``(n, shared_dim)``, or ``None`` to leave the shared part out.
            t: ``(n, private_dim)``, or ``None`` to leave the private part out.
            population: ``(n,) int64``: whose private decoder ``f_k`` decodes each ``t``
                (any population, e.g. another one for cross-population reconstruction).
            largest: rows of ``population``'s most frequent value, if known on the host.

        Returns:
            Means (Gaussian) or logits (Bernoulli).
        """
        a = None if z is None else self.decoder.shared(z)
        b = None
        if t is not None:
            if population is None:
                raise ValueError("decoding t needs the population of each row")
            b = self.decoder.private.forward_own(t, population, largest)
        params = self.decoder.combine(a, b)
        return params.view(params.shape[0], *self.config.obs_shape)

    def loss(
        self,
        batch: PopulationBatch,
        inference: CPVAEInference,
        params: Tensor,
        *,
        with_regulariser: bool = True,
        alpha: float | None = None,
        objective: str | None = None,
    ) -> LossOutput:
        """The objective (CPVAE eq. 3, or eq. 4 / 10) of a mini-batch; see
        :func:`groupvae.objectives.cpvae.cpvae_objective`.

        The fictitious codes of CPVAE Algorithm 1 enter only through the closed-form
        ``KL(q_k(t~_ji | x_ji) || N(0, I))``, so they are not sampled. ``alpha``
        defaults to ``config.alpha``; ``with_regulariser`` does not apply (no critic).
        """
        objective = objective or self.config.objective
        alpha = self.config.alpha if alpha is None else alpha
        x, population = batch.x, batch.population
        log_lik = self.likelihood.log_prob(x, params)
        kl_z = kl_normal_standard(inference.z_mean, inference.z_logvar)
        kl_t = kl_normal_standard(inference.t_mean, inference.t_logvar)
        kl_fict = None
        if objective == "mi":
            if inference.t_mean_all is None:
                inference = self.inference(batch, sample=False, all_private=True)
            kl_fict = kl_normal_standard(inference.t_mean_all, inference.t_logvar_all)
        return cpvae_objective(
            log_lik,
            kl_z,
            kl_t,
            population,
            self.population_sizes,
            objective=objective,
            kl_fictitious=kl_fict,
            alpha=alpha,
        )

    def log_marginal_likelihood(self, batch: PopulationBatch, *, n_samples: int = 100) -> Tensor:
        """Importance-sampled ``log p(x | theta_k, theta_s)`` of each row under its own
        population (CPVAE eq. 7-8), ``(n,)`` nats: each row is a group of its own."""
        every = self.log_marginal_likelihoods(batch.x, n_samples=n_samples)
        return every.gather(1, batch.population.unsqueeze(1)).squeeze(1)

    @torch.no_grad()
    def log_marginal_likelihoods(
        self, x: Tensor, *, n_samples: int = 100, chunk: int = 25
    ) -> Tensor:
        """Importance-sampled ``log p(x | theta_k, theta_s)`` for every population ``k``.

        Eq. 7-8: ``p(x | theta_k, theta_s) = E_{q(z, t | x)}[p(x | z, t) p(z, t) /
        q(z, t | x)]``, estimated with ``S`` samples ``z_s ~ q_s(z | x)``,
        ``t_s ~ q_k(t | x)`` by ``log 1/S sum_s w_s`` (a stochastic lower bound that
        tightens as ``S`` grows). Every population is evaluated in one batched call.

        Args:
            x: ``(n, *obs_shape)``.
            n_samples: importance samples ``S``.
            chunk: samples decoded at once (memory grows as ``chunk * K * n * obs_dim``).

        Returns:
            ``(n, K)`` log-likelihoods in nats (a log-probability mass for Bernoulli).
        """
        n, k = x.shape[0], self.n_populations
        h = self.trunk(x)
        z_mean, z_logvar = self._split(self.shared_encoder(h))
        t_mean, t_logvar = self._split(self.private_encoders.forward_all(h))  # (K, n, d_t)
        log_w = []
        for start in range(0, n_samples, chunk):
            s = min(chunk, n_samples - start)
            z = _sample(z_mean.expand(s, *z_mean.shape), z_logvar.expand(s, *z_logvar.shape))
            t = _sample(t_mean.expand(s, *t_mean.shape), t_logvar.expand(s, *t_logvar.shape))
            a = self.decoder.shared(z)  # (s, n, D)
            t_flat = t.permute(1, 0, 2, 3).reshape(k, s * n, -1)  # (K, s n, d_t)
            b = self.decoder.private(t_flat).view(k, s, n, -1)
            params = self.decoder.combine(a.unsqueeze(0), b)  # (K, s, n, D)
            x_rep = x.unsqueeze(0).unsqueeze(0).expand(k, s, *x.shape)
            log_lik = self.likelihood.log_prob(
                x_rep.reshape(k * s * n, *x.shape[1:]), params.reshape(k * s * n, *x.shape[1:])
            ).view(k, s, n)
            log_z = standard_normal_log_prob(z) - normal_log_prob(z, z_mean, z_logvar)  # (s, n)
            log_t = standard_normal_log_prob(t) - normal_log_prob(t, t_mean, t_logvar)  # (s, K, n)
            log_w.append(log_lik + log_z.unsqueeze(0) + log_t.transpose(0, 1))
        weights = torch.cat(log_w, dim=1)  # (K, S, n)
        return (torch.logsumexp(weights, dim=1) - math.log(n_samples)).T


def _sample(mean: Tensor, logvar: Tensor) -> Tensor:
    """A reparameterised sample ``mean + exp(logvar / 2) eps`` (the global torch RNG,
    seeded by the caller)."""
    return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)


__all__ = ["AGGREGATIONS", "AdditiveDecoder", "CPVAEModule", "ConcatDecoder"]
