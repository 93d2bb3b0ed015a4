"""Neural-network building blocks: segment operations, MLPs, backbones."""

from groupvae.nn.mlp import MLP
from groupvae.nn.segment import (
    average_of_normals,
    leave_one_out_mean,
    product_of_normals,
    sample_member_of_other_group,
    sample_other_member,
    segment_count,
    segment_logsumexp,
    segment_max,
    segment_mean,
    segment_sum,
)

__all__ = [
    "MLP",
    "average_of_normals",
    "leave_one_out_mean",
    "product_of_normals",
    "sample_member_of_other_group",
    "sample_other_member",
    "segment_count",
    "segment_logsumexp",
    "segment_max",
    "segment_mean",
    "segment_sum",
]
