"""Which accelerators a fit may ask for, checked before anything is built."""

from __future__ import annotations

import torch

from groupvae.config import TrainConfig
from groupvae.errors import ConfigError

ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "tpu", "auto")


def check_accelerator(config: TrainConfig) -> None:
    """Raise :class:`ConfigError` before training for an accelerator name Lightning does
    not know, or one this machine does not have."""
    name = config.accelerator
    if name not in ACCELERATORS:
        raise ConfigError(f"accelerator must be one of {', '.join(ACCELERATORS)}, got {name!r}")
    if name in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"accelerator={name!r} but this machine has no CUDA GPU that torch can use; "
            "use --set accelerator=cpu (or auto)"
        )
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("accelerator='mps' but this machine has no Apple GPU; use cpu or auto")


__all__ = ["ACCELERATORS", "check_accelerator"]
