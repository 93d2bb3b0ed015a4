"""Where a benchmark's (or a demo's) numbers were measured."""

from __future__ import annotations

import os
import platform
from typing import Any

import torch

from groupvae.store.checkpoint_files import library_versions


def machine_info() -> dict[str, Any]:
    """Platform, processor, CPU count, torch threads, CUDA and library versions.

    Returns:
        ``{"platform", "processor", "cpu_count", "torch_threads", "cuda_available",
        "groupvae", "python", "torch", "numpy", "scikit-learn"}``, JSON-ready.
    """

    return {
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        **library_versions(),  # platform, python, torch, numpy, scikit-learn, groupvae
    }


__all__ = ["machine_info"]
