"""Readers of your own grouped data: tables (CSV, Parquet, DataFrame), AnnData, image
folders and ``.npz`` archives, each a ``DATASETS`` entry (``table``, ``anndata``,
``image-folder``, ``npz``)."""

from groupvae.data.readers.h5ad import is_anndata, read_h5ad, read_h5ad_obs, write_h5ad
from groupvae.data.readers.image_folder import read_image_folder
from groupvae.data.readers.npz import read_npz
from groupvae.data.readers.table import load_frame, read_table
from groupvae.data.readers.transform import FeatureTransform, identity_transform

__all__ = [
    "FeatureTransform",
    "identity_transform",
    "is_anndata",
    "load_frame",
    "read_h5ad",
    "read_h5ad_obs",
    "read_image_folder",
    "read_npz",
    "read_table",
    "write_h5ad",
]
