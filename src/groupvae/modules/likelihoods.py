"""Observation likelihoods ``p(x | params)``.

Each is a :class:`Likelihood`: ``log_prob(x, params)`` is a log-density (continuous
data) or log-probability mass (discrete data) in nats per observation, ``mean(params)``
the likelihood's mean (probabilities for Bernoulli and categorical data), ``check_data``
refuses data outside its support. :class:`MixedLikelihood` combines a likelihood per
column of a mixed-type table.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from groupvae.config import COLUMN_KINDS, ModelConfig, parse_columns
from groupvae.errors import ConfigError, DataError
from groupvae.nn.segment import segment_logsumexp
from groupvae.objectives.kl import LOG_2PI
from groupvae.registry import Registry


def observation_std(config: Any) -> float:
    """The Gaussian likelihood's (initial) standard deviation ``s`` of ``config``:
    ``obs_std``, or its square root when ``obs_scale == "variance"`` (UG-VAE's
    ``sigma_x`` as the authors' ``--var_x`` reads it). Configs without ``obs_scale``
    (CPVAE's) give a standard deviation."""
    scale = getattr(config, "obs_scale", "std")
    return math.sqrt(config.obs_std) if scale == "variance" else float(config.obs_std)


class Likelihood(nn.Module):
    """What every likelihood offers besides ``log_prob(x, params) -> (n_obs,)`` and
    ``mean(params)``: a check of the data's support and the encoders' view of ``x``."""

    @staticmethod
    def check_data(x: np.ndarray) -> None:
        """Raise :class:`DataError` for data outside the likelihood's support (here any
        finite data, which ``GroupedDataset`` checks)."""

    def encoder_input(self, x: Tensor) -> Tensor:
        """What the encoders read of ``x: (n_obs, *obs_shape)``: ``x`` itself."""
        return x


class GaussianLikelihood(Likelihood):
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


class BernoulliLikelihood(Likelihood):
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


class NegativeBinomialLikelihood(Likelihood):
    """``NB(x_j; mu_j, theta_j)`` per feature of count data, as scVI (Lopez et al. 2018):
    the decoder gives the proportions ``rho = softmax(params)`` over the ``d`` features,
    the mean is ``mu = l rho`` with ``l`` the observation's **observed** library size
    (``sum_j x_j``), and each feature has its own learned inverse dispersion ``theta_j``
    (``Var = mu + mu^2 / theta``).

    ``log NB(x; mu, theta) = lgamma(x + theta) - lgamma(theta) - lgamma(x + 1)
    + theta log(theta / (theta + mu)) + x log(mu / (theta + mu))``.

    The encoders read ``log(1 + x)`` (:meth:`encoder_input`; scVI's ``log_variational``):
    raw counts of hundreds per feature drove the encoders' log-variances past 80 at the
    first step and the loss to ``inf``.
    """

    EPS = 1e-8

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.log_theta = nn.Parameter(torch.zeros(math.prod(config.obs_shape)))
        # The mean library size of the training data, for means without observed counts.
        self.register_buffer("library_size", torch.tensor(1.0))

    def encoder_input(self, x: Tensor) -> Tensor:
        """``log(1 + x)``: counts span orders of magnitude (scVI's encoder reads them the
        same way); the likelihood still scores the counts themselves."""
        return torch.log1p(x)

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


def negative_binomial_log_prob(x: Tensor, log_mu: Tensor, log_theta: Tensor) -> Tensor:
    """``log NB(x; mu, theta)`` elementwise, in nats, of counts ``x`` with log-mean
    ``log_mu`` and log inverse dispersion ``log_theta`` (``Var = mu + mu^2 / theta``), in
    :class:`NegativeBinomialLikelihood`'s form, with ``log(theta + mu)`` computed as
    ``logaddexp(log_theta, log_mu)`` (exact for any ``log_mu``, no ``eps``)."""
    log_theta_mu = torch.logaddexp(log_theta, log_mu)
    theta = torch.exp(log_theta)
    return (
        torch.lgamma(x + theta)
        - torch.lgamma(theta)
        - torch.lgamma(x + 1)
        + theta * (log_theta - log_theta_mu)
        + x * (log_mu - log_theta_mu)
    )


def _indices(kinds: list[str], kind: str) -> Tensor:
    return torch.tensor([j for j, k in enumerate(kinds) if k == kind], dtype=torch.int64)


class MixedLikelihood(Likelihood):
    """A likelihood per column of a mixed-type table, laid out by ``config.columns``
    (:func:`~groupvae.config.parse_columns`; the table reader's
    ``FeatureTransform.layout``), summed per observation:

    ``log p(x | params) = sum_{j continuous} log N(x_j; params_j, s^2)
    + sum_{c categorical} log softmax(params_c)[level of x_c]
    + sum_{j binary} log Bernoulli(x_j; sigmoid(params_j))
    + sum_{j counts} log NB(x_j; exp(params_j), theta_j)``

    in nats: a density on the continuous columns times a probability mass on the
    others, so a proper likelihood of a row. ``x`` holds the continuous columns (in the
    reader's standardised units), a one-hot block per categorical column, 0/1 per
    binary column and the counts as they are; ``params`` is the decoder's output of the
    same width: Gaussian means, a block of logits per categorical column (a softmax
    over its levels), a logit per binary column, a log-mean per count column. The
    Gaussian part has one shared standard deviation ``s``, fixed or learned as in
    :class:`GaussianLikelihood`; each count column has its own learned inverse
    dispersion ``theta_j`` (:class:`NegativeBinomialLikelihood`'s parametrisation, with
    the decoder giving the mean itself rather than proportions of a library size).

    The index tensors of each kind are built once here; ``log_prob`` and ``mean`` are
    gathers and a segment log-sum-exp over the categorical blocks, with no loop over
    columns or observations.

    Raises:
        ConfigError: for a config without ``columns``.
    """

    def __init__(self, config: Any) -> None:
        super().__init__()
        layout = getattr(config, "columns", "")
        if not layout:
            raise ConfigError(
                "likelihood='mixed' needs columns, the table's column layout (its "
                "data.transform.layout); create(..., data=data) sets both"
            )
        blocks = parse_columns(layout)
        kinds = [kind for kind, width in blocks for _ in range(width)]
        for kind in COLUMN_KINDS:  # (n_kind,) the model columns of each kind
            self.register_buffer(kind, _indices(kinds, kind), persistent=False)
        # (L,) the categorical column (0 .. C-1) of each of the L level columns
        widths = [w for kind, w in blocks if kind == "categorical"]
        self.n_categorical = len(widths)
        block_of_level = [c for c, w in enumerate(widths) for _ in range(w)]
        self.register_buffer(
            "category_block", torch.tensor(block_of_level, dtype=torch.int64), persistent=False
        )
        log_std = torch.tensor(math.log(observation_std(config)))
        if config.learn_obs_std:
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)
        self.log_theta = nn.Parameter(torch.zeros(len(self.counts)))

    def log_prob(self, x: Tensor, params: Tensor) -> Tensor:
        """Log-likelihood (nats) of rows ``x: (n_obs, d)`` given the decoder's
        ``params: (n_obs, d)``, summed per observation: ``(n_obs,)``."""
        x, params = x.flatten(1), params.flatten(1)
        c = self.continuous
        sq = (x[:, c] - params[:, c]).pow(2)
        out = -0.5 * (sq * torch.exp(-2 * self.log_std) + LOG_2PI + 2 * self.log_std).sum(-1)
        if self.n_categorical:
            levels = self.categorical
            out = out + (x[:, levels] * self._log_softmax(params[:, levels])).sum(-1)
        b = self.binary
        bce = F.binary_cross_entropy_with_logits(params[:, b], x[:, b], reduction="none")
        out = out - bce.sum(-1)
        k = self.counts
        return out + negative_binomial_log_prob(x[:, k], params[:, k], self.log_theta).sum(-1)

    def _log_softmax(self, logits: Tensor) -> Tensor:
        """``(n_obs, L)`` log-probabilities of every level, a softmax within each
        categorical column's block of ``logits: (n_obs, L)``."""
        lse = segment_logsumexp(logits.T, self.category_block, self.n_categorical)
        return logits - lse.T[:, self.category_block]

    def mean(self, params: Tensor) -> Tensor:
        """The likelihood's mean, ``params``' shape: the Gaussian means, each
        categorical column's level probabilities (in ``[0, 1]``, summing to 1 per
        column), each binary column's probability of 1, each count column's NB mean
        ``exp(params_j)``."""
        flat = params.flatten(1)
        out = flat.index_copy(1, self.binary, torch.sigmoid(flat[:, self.binary]))
        out = out.index_copy(1, self.counts, torch.exp(flat[:, self.counts]))
        if self.n_categorical:
            probs = torch.exp(self._log_softmax(flat[:, self.categorical]))
            out = out.index_copy(1, self.categorical, probs)
        return out.view_as(params)

    def encoder_input(self, x: Tensor) -> Tensor:
        """``x`` with ``log(1 + counts)`` in the count columns (counts span orders of
        magnitude; scVI's encoder reads them the same way); the likelihood still scores
        the counts themselves."""
        if not len(self.counts):
            return x
        flat = x.flatten(1)
        return flat.index_copy(1, self.counts, torch.log1p(flat[:, self.counts])).view_as(x)

    def check_data(self, x: np.ndarray) -> None:
        """Raise :class:`DataError` unless each categorical block of ``x: (n_obs, d)`` is
        one-hot, each binary column 0 or 1 and each count column a non-negative integer
        (the table reader codes them so)."""
        x = np.asarray(x).reshape(len(x), -1)
        levels = x[:, self.categorical.numpy()]
        per_column = np.zeros((len(x), self.n_categorical))
        np.add.at(per_column.T, self.category_block.numpy(), levels.T)
        counts = x[:, self.counts.numpy()]
        problems = {
            "categorical columns one-hot (0/1, one 1 per column)": not (
                np.isin(levels, (0, 1)).all() and (per_column == 1).all()
            ),
            "binary columns 0 or 1": not np.isin(x[:, self.binary.numpy()], (0, 1)).all(),
            "count columns non-negative integers": not (
                (counts >= 0).all() and (counts == np.round(counts)).all()
            ),
        }
        bad = [what for what, wrong in problems.items() if wrong]
        if bad:
            raise DataError(
                f"the mixed likelihood needs its {' and '.join(bad)}; read the table with "
                "read_table, which codes each column by its kind"
            )


LIKELIHOODS: Registry[type[nn.Module]] = Registry("likelihood")
LIKELIHOODS.add("gaussian", GaussianLikelihood)
LIKELIHOODS.add("bernoulli", BernoulliLikelihood)
LIKELIHOODS.add("gaussian-sigmoid", SigmoidGaussianLikelihood)
LIKELIHOODS.add("negative-binomial", NegativeBinomialLikelihood)
LIKELIHOODS.add("mixed", MixedLikelihood)
