"""Observation likelihoods ``p(x | params)``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from groupvae.config import ModelConfig
from groupvae.errors import DataError
from groupvae.objectives.kl import LOG_2PI
from groupvae.registry import Registry


def observation_std(config: Any) -> float:
    """The Gaussian likelihood's (initial) standard deviation ``s`` of ``config``:
    ``obs_std``, or its square root when ``obs_scale == "variance"`` (UG-VAE's
    ``sigma_x`` as the authors' ``--var_x`` reads it). Configs without ``obs_scale``
    (CPVAE's) give a standard deviation."""
    scale = getattr(config, "obs_scale", "std")
    return math.sqrt(config.obs_std) if scale == "variance" else float(config.obs_std)


class GaussianLikelihood(nn.Module):
    """``N(x; mean, s^2 I)`` with a fixed or learned (shared, isotropic) ``s``
    (:func:`observation_std`)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        log_std = torch.tensor(math.log(observation_std(config)))
        if config.learn_obs_std:
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)

    def log_prob(self, x: Tensor, mean: Tensor) -> Tensor:
        """Log-density (nats) of ``x: (n_obs, *obs_shape)`` summed per observation: ``(n_obs,)``."""
        sq = (x - mean).pow(2).flatten(1)
        return -0.5 * (sq * torch.exp(-2 * self.log_std) + LOG_2PI + 2 * self.log_std).sum(-1)

    @staticmethod
    def check_data(x: np.ndarray) -> None:
        """Any finite data is valid (finiteness is checked by ``GroupedDataset``)."""

    def mean(self, params: Tensor) -> Tensor:
        """The likelihood's mean: ``params`` itself."""
        return params


class SigmoidGaussianLikelihood(GaussianLikelihood):
    """``N(x; sigmoid(params), s^2 I)``: a Gaussian whose mean is a sigmoid output.

    UG-VAE's image likelihood, UG-VAE eq. 2 with the sigmoid output and fixed
    ``sigma_x = 0.2`` of UG-VAE appendix B, Table 2, for pixels in ``[0, 1]``.
    """

    def log_prob(self, x: Tensor, params: Tensor) -> Tensor:
        """Log-density (nats) of ``x: (n_obs, *obs_shape)`` summed per observation: ``(n_obs,)``."""
        return super().log_prob(x, torch.sigmoid(params))

    def mean(self, params: Tensor) -> Tensor:
        """The likelihood's mean ``sigmoid(params)``, in ``(0, 1)``."""
        return torch.sigmoid(params)


class BernoulliLikelihood(nn.Module):
    """``Bernoulli(x; sigmoid(logits))`` per pixel; ``x`` must lie in ``[0, 1]``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()

    def log_prob(self, x: Tensor, logits: Tensor) -> Tensor:
        """Log-probability (nats) summed per observation: ``(n_obs,)``.

        ``x`` in ``[0, 1]`` is checked once per data set by :meth:`check_data`.
        """
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(-1)

    @staticmethod
    def check_data(x: np.ndarray) -> None:
        """Raise :class:`DataError` if ``x`` has values outside ``[0, 1]``."""
        if x.min() < 0 or x.max() > 1:
            raise DataError(
                f"the Bernoulli likelihood needs data in [0, 1], got [{x.min():g}, {x.max():g}]; "
                "rescale x (e.g. x / 255) or use likelihood='gaussian'"
            )

    def mean(self, logits: Tensor) -> Tensor:
        """Pixel probabilities ``sigmoid(logits)``."""
        return torch.sigmoid(logits)


class NegativeBinomialLikelihood(nn.Module):
    """``NB(x_j; mu_j, theta_j)`` per feature of count data, as scVI (Lopez et al. 2018):
    the decoder gives the proportions ``rho = softmax(params)`` over the ``d`` features,
    the mean is ``mu = l rho`` with ``l`` the observation's **observed** library size
    (``sum_j x_j``), and each feature has its own learned inverse dispersion ``theta_j``
    (``Var = mu + mu^2 / theta``).

    ``log NB(x; mu, theta) = lgamma(x + theta) - lgamma(theta) - lgamma(x + 1)
    + theta log(theta / (theta + mu)) + x log(mu / (theta + mu))``.
    """

    EPS = 1e-8

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.log_theta = nn.Parameter(torch.zeros(math.prod(config.obs_shape)))
        # The mean library size of the training data, for means without observed counts.
        self.register_buffer("library_size", torch.tensor(1.0))

    def log_prob(self, x: Tensor, params: Tensor) -> Tensor:
        """Log-probability (nats) of counts ``x: (n_obs, *obs_shape)`` summed per
        observation: ``(n_obs,)``."""
        x = x.flatten(1)
        mu = x.sum(-1, keepdim=True) * torch.softmax(params.flatten(1), -1)
        theta = torch.exp(self.log_theta)
        log_theta_mu = torch.log(theta + mu + self.EPS)
        log_p = (
            torch.lgamma(x + theta)
            - torch.lgamma(theta)
            - torch.lgamma(x + 1)
            + theta * (self.log_theta - log_theta_mu)
            + x * (torch.log(mu + self.EPS) - log_theta_mu)
        )
        return log_p.sum(-1)

    def check_data(self, x: np.ndarray) -> None:
        """Raise :class:`DataError` unless ``x`` holds counts (non-negative integers);
        record the mean library size for :meth:`mean`."""
        if x.min() < 0 or not np.all(x == np.round(x)):
            raise DataError(
                "the negative-binomial likelihood needs counts (non-negative integers); "
                "read raw counts (e.g. --data layer=counts) or use likelihood='gaussian'"
            )
        self.library_size.fill_(float(x.reshape(len(x), -1).sum(-1).mean()))

    def mean(self, params: Tensor) -> Tensor:
        """Expected counts ``l rho`` at the training data's mean library size ``l``."""
        rho = torch.softmax(params.flatten(1), -1).view_as(params)
        return self.library_size * rho

    def normalized_mean(self, params: Tensor, library_size: float) -> Tensor:
        """Expected counts ``l rho`` at a library size ``l`` the caller fixes (scVI's
        normalised expression, at ``l = 10,000`` by default there): ``(n_obs,
        *obs_shape)``, each row summing to ``l``."""
        return library_size * torch.softmax(params.flatten(1), -1).view_as(params)


LIKELIHOODS: Registry[type[nn.Module]] = Registry("likelihood")
LIKELIHOODS.add("gaussian", GaussianLikelihood)
LIKELIHOODS.add("bernoulli", BernoulliLikelihood)
LIKELIHOODS.add("gaussian-sigmoid", SigmoidGaussianLikelihood)
LIKELIHOODS.add("negative-binomial", NegativeBinomialLikelihood)
