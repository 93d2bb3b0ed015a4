"""Grouped data larger than memory: a group index over a group-sorted file, range
readers per format, and the data set that streams whole groups from them."""

from groupvae.data.ondisk.dataset import OnDiskGroupedData
from groupvae.data.ondisk.index import (
    GroupIndex,
    build_group_index,
    default_index_path,
    fingerprint,
    group_index,
    load_group_index,
)
from groupvae.data.ondisk.open import open_on_disk

__all__ = [
    "GroupIndex",
    "OnDiskGroupedData",
    "build_group_index",
    "default_index_path",
    "fingerprint",
    "group_index",
    "load_group_index",
    "open_on_disk",
]
