"""Tuning: hyperparameter search on the validation objective, with Optuna
(``groupvae tune``, :func:`tune`).

* :mod:`~groupvae.tuning.tune`: :func:`tune`, the command's steps, :data:`PRUNERS`;
* :mod:`~groupvae.tuning.problem`: what is tuned, and the data split of every trial;
* :mod:`~groupvae.tuning.objective`: one trial (the validation groups' holdout ELBO
  estimate), recorded as completed, pruned or failed with its reason;
* :mod:`~groupvae.tuning.pruning`: validation checks reported to Optuna's pruner;
* :mod:`~groupvae.tuning.workers`: workers sharing a study, ``--jobs`` processes;
* :mod:`~groupvae.tuning.storage`: the embedded SQLite study, or ``--storage``;
* :mod:`~groupvae.tuning.study_folder`: the ``--out`` policy;
* :mod:`~groupvae.tuning.progress`: a line per trial and a bar;
* :mod:`~groupvae.tuning.outputs`: ``trials.csv``, figures, the best run.

The search spaces live beside the model defaults (:mod:`groupvae.models.search_space`).
Optuna is an extra: ``pip install "groupvae[tune]"``.
"""

from groupvae.tuning.tune import PRUNERS, TuneResult, tune

__all__ = ["PRUNERS", "TuneResult", "tune"]
