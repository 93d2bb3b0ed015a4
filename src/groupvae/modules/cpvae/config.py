"""Typed configurations of a CPVAE and of its training."""

from __future__ import annotations

from dataclasses import dataclass

from groupvae.config import check_field_types, shape_tuple
from groupvae.errors import ConfigError
from groupvae.objectives.cpvae import OBJECTIVES

AGGREGATION_NAMES = ("add", "concat")


@dataclass(frozen=True)
class CPVAEConfig:
    """Every choice that defines a Cross-population VAE (CPVAE paper, eq. 1-2).

    Attributes:
        model: ``"cpvae"`` (recorded in checkpoints).
        n_populations: ``K``, populations (each has a private encoder head and decoder).
        obs_shape: shape of one observation, e.g. ``(1, 28, 28)``.
        shared_dim: size of the shared latent ``z`` (the paper: 100 on Grassy-MNIST).
        private_dim: size of the private latent ``t`` (the paper: 25).
        hidden: width of the hidden layers of every network.
        n_hidden: hidden layers of each encoder head and decoder MLP.
        backbone: feature extractor shared by both encoder heads (``BACKBONES``:
            ``mlp`` flattens, ``conv`` is a strided CNN).
        channels: channels of the first convolution of a ``conv`` backbone.
        aggregation: ``g`` of eq. 1: ``"add"`` (the paper's ``g(a, b) = a + b`` of the
            decoders' outputs) or ``"concat"`` (the decoders output ``hidden`` features,
            and a shared linear layer maps their concatenation to the observation).
        likelihood: ``"gaussian"`` (mean ``g(.)``, isotropic covariance ``Psi``) or
            ``"bernoulli"`` (``g(.)`` are logits; data in ``[0, 1]``).
        obs_std: Gaussian standard deviation ``Psi^(1/2)`` (initial value if learned).
        learn_obs_std: learn ``Psi`` (one shared log standard deviation).
        objective: ``"mi"`` (eq. 4 / 10) or ``"elbo"`` (eq. 3).
        alpha: weight of the mutual-information term (eq. 10) at the start of training.
        alpha_end: its value at the end of training for ``alpha_schedule="linear"``.
        alpha_schedule: ``"constant"`` or ``"linear"`` (``ALPHA_SCHEDULES``); a user
            callable can be passed to ``CPVAE.fit`` instead.
        min_logvar: lower clamp of every encoder log-variance (eq. 4 leaves a
            population's own private posterior unregularised, so its variance may
            otherwise collapse to 0 and overflow).
    """

    model: str = "cpvae"
    n_populations: int = 2
    obs_shape: tuple[int, ...] = (1, 28, 28)
    shared_dim: int = 100
    private_dim: int = 25
    hidden: int = 256
    n_hidden: int = 1
    backbone: str = "mlp"
    channels: int = 32
    aggregation: str = "add"
    likelihood: str = "gaussian"
    obs_std: float = 0.1
    learn_obs_std: bool = True
    objective: str = "mi"
    alpha: float = 1.0
    alpha_end: float = 1.0
    alpha_schedule: str = "constant"
    min_logvar: float = -10.0

    @property
    def has_group_latent(self) -> bool:
        """CPVAE has no group latent: its shared and private latents are per observation."""
        return False

    def __post_init__(self) -> None:
        object.__setattr__(self, "obs_shape", shape_tuple(self.obs_shape))
        check_field_types(self)
        if self.n_populations < 1:
            raise ConfigError("n_populations must be >= 1")
        if self.objective == "mi" and self.n_populations < 2:
            raise ConfigError("the 'mi' objective needs n_populations >= 2 (N - n_k > 0)")
        if self.shared_dim < 1 or self.private_dim < 1:
            raise ConfigError("shared_dim and private_dim must be >= 1")
        if self.hidden < 1 or self.n_hidden < 0 or self.obs_std <= 0:
            raise ConfigError("hidden >= 1, n_hidden >= 0 and obs_std > 0 needed")
        if self.aggregation not in AGGREGATION_NAMES:
            raise ConfigError(f"aggregation must be one of {AGGREGATION_NAMES}")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.alpha < 0 or self.alpha_end < 0:
            raise ConfigError("alpha and alpha_end must be >= 0")


__all__ = ["AGGREGATION_NAMES", "CPVAEConfig"]
