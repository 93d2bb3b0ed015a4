"""Runs: training, evaluating and exporting a preset on a named data set, in run
directories (``groupvae train``, ``evaluate``, ``encode``, ``translate``, ``demo``), and
preparing data larger than memory (``groupvae prepare``).

* :mod:`~groupvae.runs.train`: :func:`train_run`;
* :mod:`~groupvae.runs.evaluate`: :func:`evaluate_run`;
* :mod:`~groupvae.runs.export`: codes and translations of a run's data as tables;
* :mod:`~groupvae.runs.chunked_codes`: codes written chunk by chunk of whole groups
  (:func:`write_codes`), by the writers of :mod:`~groupvae.runs.code_writers`;
* :mod:`~groupvae.runs.prepare`: a group-sorted Parquet copy of unsorted input, sorted by
  DuckDB with bounded memory (:func:`groupvae.prepare`; not exported here, where the
  name is the module's);
* :mod:`~groupvae.runs.anndata_io`: codes as AnnData (``adata.obsm["X_groupvae"]``, a
  group-level AnnData; :func:`add_codes`);
* :mod:`~groupvae.runs.analyses`: the analyses of groups of a run, as tables and
  figures (``groupvae analyse``; :func:`analyse_run`);
* :mod:`~groupvae.runs.demo`: the quickstart's ML-VAE on MNIST.

A saved run is reopened with :func:`groupvae.models.saved.load_run`.
"""

from groupvae.evaluation.metric_sets import (
    METRICS,
    group_vae_activity,
    holdout_elbo,
    scoring_groups,
)
from groupvae.models.saved import build_data, load_run
from groupvae.runs.analyses import ANALYSES, analyse_run
from groupvae.runs.anndata_io import add_codes, group_anndata
from groupvae.runs.chunked_codes import write_codes
from groupvae.runs.evaluate import evaluate_run
from groupvae.runs.train import train_run

__all__ = [
    "ANALYSES",
    "METRICS",
    "add_codes",
    "analyse_run",
    "group_vae_activity",
    "build_data",
    "evaluate_run",
    "group_anndata",
    "holdout_elbo",
    "load_run",
    "scoring_groups",
    "train_run",
    "write_codes",
]
