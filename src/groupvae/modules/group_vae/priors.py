"""Priors ``p(v | u)`` of the instance latent: a standard Normal, or a Gaussian mixture.

Both give the instance KL term of the ELBO per observation and the log-density that
importance sampling needs. The mixture is UG-VAE's local prior (UG-VAE eq. 3-4, Peis et
al.), with the cluster posterior ``q(d | z)`` (UG-VAE eq. 7) and the expectation over ``d``
marginalised analytically (UG-VAE eq. 11); without a group latent it is a GMVAE-style
prior with learned components.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from groupvae.config import ModelConfig
from groupvae.nn.mlp import MLP
from groupvae.nn.stacked import StackedMLP
from groupvae.objectives.kl import kl_normal_normal, kl_normal_standard, normal_log_prob
from groupvae.registry import Registry


class NormalPrior(nn.Module):
    """``p(v) = N(0, I)``, the prior of every model of the ML-VAE/GVAE/CxVAE family."""

    has_clusters = False

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.instance_dim = config.instance_dim

    def kl(
        self, v_mean: Tensor, v_logvar: Tensor, u: Tensor | None, cluster_log_probs: None = None
    ) -> tuple[Tensor, Tensor | None]:
        """``KL(q(v | x) || N(0, I))`` per observation.

        Args:
            v_mean, v_logvar: ``(n_obs, instance_dim)`` posterior parameters.
            u: ignored.

        Returns:
            ``(kl (n_obs,), None)`` in nats.
        """
        return kl_normal_standard(v_mean, v_logvar), None

    def log_prob(self, v: Tensor, u: Tensor | None) -> Tensor:
        """``log N(v; 0, I)``: ``v: (..., instance_dim)`` -> ``(...,)`` log-density (nats)."""
        return normal_log_prob(v, torch.zeros_like(v), torch.zeros_like(v))

    def component_means(self, u: Tensor | None, n: int) -> Tensor:
        """``(n, 1, instance_dim)`` zeros: the prior's single mode."""
        return torch.zeros(n, 1, self.instance_dim)

    def extra_repr(self) -> str:
        return "N(0, I)"


class MixturePrior(nn.Module):
    """A Gaussian mixture ``p(v | u) = 1/K sum_d N(v; mu_d(u), Sigma_d(u))``.

    * With a group latent (UG-VAE eq. 3): each component's mean and diagonal
      log-variance is an MLP of the global ``u`` (``beta``), ``g -> hidden -> 2 d``, one
      network per component, vectorised as one stacked network (:class:`StackedMLP`).
    * Without one (``group_dim = 0``, GMVAE): the ``K`` means and log-variances are
      learned parameters, shared by every observation.

    ``p(d) = 1/K`` (UG-VAE eq. 4), and ``q(d | v)`` is a softmax MLP ``d -> hidden -> K``
    with tanh activations (UG-VAE eq. 7; UG-VAE appendix B, Table 2). The components'
    log-variances are bounded to ``b tanh(raw / b)`` with ``b = config.mixture_logvar_bound``
    (the authors' code: ``b = 1``), so that a global code far from the training range
    cannot make a component arbitrarily narrow.

    Args:
        config: ``instance_dim``, ``group_dim``, ``n_components``, ``hidden``,
            ``n_hidden`` (hidden layers of the component networks and of ``q(d | v)``).
    """

    has_clusters = True

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        k, d, g = config.n_components, config.instance_dim, config.group_dim
        self.n_components, self.instance_dim = k, d
        self.logvar_bound = config.mixture_logvar_bound
        n_hidden = max(1, config.n_hidden)
        if g > 0:
            self.components = StackedMLP(k, g, 2 * d, config.hidden, n_hidden)
        else:
            self.components = None
            # Spread the learned means so that the components start apart.
            self.means = nn.Parameter(torch.randn(k, d))
            self.logvars = nn.Parameter(torch.zeros(k, d))
        self.cluster = MLP(d, k, config.hidden, n_hidden, activation=nn.Tanh)

    def component_params(self, u: Tensor | None, n: int) -> tuple[Tensor, Tensor]:
        """Means and log-variances of every component for every observation.

        Args:
            u: ``(n, group_dim)`` the group code of each observation, or ``None``.
            n: number of observations (used when ``u`` is ``None``).

        Returns:
            ``(mean, logvar)``, each ``(n, K, instance_dim)``.
        """
        if self.components is None:
            shape = (n, self.n_components, self.instance_dim)
            mean, logvar = self.means.expand(shape), self.logvars.expand(shape)
        else:
            mean, logvar = self.components.forward_all(u).transpose(0, 1).chunk(2, dim=-1)
        if self.logvar_bound is not None:
            logvar = self.logvar_bound * torch.tanh(logvar / self.logvar_bound)
        return mean, logvar

    def component_means(self, u: Tensor | None, n: int) -> Tensor:
        """``(n, K, instance_dim)`` component means ``mu_d(u)``."""
        return self.component_params(u, n)[0]

    def cluster_log_probs(self, v: Tensor) -> Tensor:
        """``log q(d | v)``: ``v: (n, instance_dim)`` -> ``(n, K)`` log-probabilities."""
        return F.log_softmax(self.cluster(v), dim=-1)

    def kl(
        self, v_mean: Tensor, v_logvar: Tensor, u: Tensor | None, cluster_log_probs: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The local KL terms of UG-VAE eq. 11, with ``d`` marginalised analytically.

        ``sum_d q(d | v) KL(q(v | x) || p(v | d, u)) + KL(q(d | v) || Cat(1/K))``.

        Args:
            v_mean, v_logvar: ``(n_obs, instance_dim)`` posterior ``q(v | x)``.
            u: ``(n_obs, group_dim)`` a sample of each observation's group latent, or
                ``None`` without one.
            cluster_log_probs: ``(n_obs, K)`` ``log q(d | v)`` at the sampled ``v``.

        Returns:
            ``(kl, kl_clusters)``, each ``(n_obs,)`` in nats: ``kl`` is the whole local
            KL (both terms), ``kl_clusters`` its second term alone.
        """
        mean_d, logvar_d = self.component_params(u, v_mean.shape[0])
        kl_d = kl_normal_normal(v_mean.unsqueeze(1), v_logvar.unsqueeze(1), mean_d, logvar_d)
        probs = cluster_log_probs.exp()
        kl_clusters = (probs * (cluster_log_probs + math.log(self.n_components))).sum(-1)
        return (probs * kl_d).sum(-1) + kl_clusters, kl_clusters

    def log_prob(self, v: Tensor, u: Tensor | None) -> Tensor:
        """``log p(v | u) = logsumexp_d [log N(v; mu_d(u), Sigma_d(u)) - log K]``.

        Args:
            v: ``(n, instance_dim)``.
            u: ``(n, group_dim)`` or ``None``.

        Returns:
            ``(n,)`` log-densities (nats).
        """
        mean_d, logvar_d = self.component_params(u, v.shape[0])
        log_p = normal_log_prob(v.unsqueeze(1), mean_d, logvar_d)
        return torch.logsumexp(log_p, dim=-1) - math.log(self.n_components)


PRIORS: Registry[type[nn.Module]] = Registry("prior")
PRIORS.add("normal", NormalPrior)
PRIORS.add("mixture", MixturePrior)

__all__ = ["PRIORS", "MixturePrior", "NormalPrior"]
