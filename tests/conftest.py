"""Shared fixtures: tiny grouped data sets and a seeded generator."""

from __future__ import annotations

import warnings

import pytest
import torch

from groupvae.data import GroupedDataset, make_exam_scores
from helpers import make_images

# Tiny models run fastest on one thread, and the suite must not fight over two cores.
torch.set_num_threads(1)

# Lightning warns about things that do not matter for tiny CPU runs.
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture(scope="session")
def exam() -> GroupedDataset:
    """64 schools of the Exam-Scores data set (about 1,600 students)."""
    return make_exam_scores(64, seed=0)


@pytest.fixture(scope="session")
def images() -> GroupedDataset:
    """24 groups of 3-6 binary 4x4 images."""
    return make_images()
