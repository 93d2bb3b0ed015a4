"""The metrics ``groupvae evaluate`` computes: per data set (``METRICS``) and per
family (``FAMILY_METRICS``), on a run's holdout data.

A family's metrics (``FAMILY_METRICS[family](model, holdout, dataset, seed)``) include
the data set's own (``METRICS[dataset](model, holdout, seed)``), the latents' active units
and the holdout ELBO; everything dispatches through these registries, with no branch on a
model's name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from groupvae.data.domains import DOMAIN_NAMES
from groupvae.data.grouped import GroupedDataset
from groupvae.data.grouping import regroup_at_random
from groupvae.evaluation.active_units import latent_summary
from groupvae.evaluation.cpvae import cpvae_metrics
from groupvae.evaluation.disentanglement import shapes_disentanglement
from groupvae.evaluation.evidence import accumulating_evidence
from groupvae.evaluation.exam_scores import exam_scores_metrics
from groupvae.evaluation.global_factors import (
    domain_batch_classification,
    domain_transfer,
    structured_batch_classification,
)
from groupvae.evaluation.likelihood import holdout_log_likelihood
from groupvae.evaluation.protocols import CPVAERunModel, ElboModel, RunModel
from groupvae.registry import Registry

# Data set name -> metrics(model, holdout, seed) -> dict of floats, for group VAEs.
METRICS: Registry[Callable[..., dict[str, float]]] = Registry("metric set")


def _exam_scores(model: RunModel, holdout: GroupedDataset, seed: int) -> dict[str, float]:
    return exam_scores_metrics(model, holdout, seed=seed)


METRICS.add("exam-scores", _exam_scores)

IS_SAMPLES = 100
"""Importance samples ``K`` of the holdout log-likelihood of ``evaluate``."""


def _random_groups(model: RunModel) -> int | None:
    """The size of the random groups the model trained on (UG-VAE), or ``None``."""
    return None if model.train_config is None else model.train_config.random_groups


def scoring_groups(model: RunModel, data: GroupedDataset, *, seed: int = 0) -> GroupedDataset:
    """``data`` as a likelihood should score it: in its own groups, or, for a model
    trained on random groups (UG-VAE and its baselines), in seeded random groups of that
    size. A global posterior from a few members is far wider than from the 128 it was
    trained on, and its samples leave the range the mixture networks were fitted on."""
    size = _random_groups(model)
    return data if size is None else regroup_at_random(data, size, seed=seed)


def _labelled_images(model: RunModel, holdout: GroupedDataset, seed: int) -> dict[str, float]:
    """ML-VAE Fig. 6c (accumulating evidence, k = 1, 2, 5, 10) and ``log p(x_G)``; for a
    model trained on random groups (UG-VAE) also the structured-batch SVMs (Table 1
    protocol, appendix A.3) on batches of that size."""

    metrics = {
        **accumulating_evidence(model, holdout, seed=seed),
        **holdout_log_likelihood(
            model, scoring_groups(model, holdout, seed=seed), n_samples=IS_SAMPLES, seed=seed
        ),
    }
    size = _random_groups(model)
    if size is not None and holdout.labels is not None:
        scores, _ = structured_batch_classification(
            model, holdout.x, holdout.labels, batch_size=size, seed=seed
        )
        metrics.update(scores)
    return metrics


def _digit_domains(model: RunModel, holdout: GroupedDataset, seed: int) -> dict[str, float]:
    """UG-VAE section 4.2: domain SVMs on the global posterior and beta-swap transfer."""

    size = _random_groups(model) or 128
    domain = holdout.aux["domain"]
    metrics, _ = domain_batch_classification(
        model, holdout.x, domain, domain_names=DOMAIN_NAMES, batch_size=size, seed=seed
    )
    if model.has_group_latent:
        metrics.update(domain_transfer(model, holdout.x, domain, batch_size=size, seed=seed))
    return metrics


def _shapes(model: RunModel, holdout: GroupedDataset, seed: int) -> dict[str, float]:
    """Disentanglement of the known Shapes factors, and ``log p(x_G)``."""

    return {
        **shapes_disentanglement(model, holdout, seed=seed),
        **holdout_log_likelihood(
            model, scoring_groups(model, holdout, seed=seed), n_samples=IS_SAMPLES, seed=seed
        ),
    }


def _own_data(model: RunModel, holdout: GroupedDataset, seed: int) -> dict[str, float]:
    """``log p(x_G)`` by importance sampling; for a standardised table also in the raw
    units (``+ log_jacobian`` per observation: ``-sum(log scale)``)."""

    metrics = holdout_log_likelihood(model, holdout, n_samples=IS_SAMPLES, seed=seed)
    if holdout.transform is not None:
        jac = holdout.transform.log_jacobian
        metrics["log_likelihood_per_observation_raw_units"] = (
            metrics["log_likelihood_per_observation"] + jac
        )
    return metrics


for _name in ("table", "npz", "anndata", "image-folder"):
    METRICS.add(_name, _own_data)
METRICS.add("mnist", _labelled_images)
METRICS.add("uci-digits", _labelled_images)
METRICS.add("mnist-full", _labelled_images)
METRICS.add("shapes", _shapes)
METRICS.add("digit-domains", _digit_domains)


def group_vae_activity(model: RunModel, groups: GroupedDataset) -> dict[str, Any]:
    """Active units (Burda et al. 2016) of the instance latent on every observation of
    ``groups``, and of the group latent on its groups (presets with one); the KL per
    dimension where the latent's prior is ``N(0, I)`` (the instance latent of a mixture
    prior, UG-VAE's and GMVAE's, gets active units only). See
    :func:`groupvae.evaluation.active_units.latent_summary`."""

    metrics: dict[str, Any] = {}
    if model.has_group_latent:
        group = model.encode_groups(groups)
        metrics.update(latent_summary("group", group.mean, group.logvar))
    instance = model.encode_instances(groups)
    standard = not model.has_mixture_prior
    metrics.update(latent_summary("instance", instance.mean, instance.logvar if standard else None))
    return metrics


def _group_vae_metrics(
    model: RunModel, holdout: GroupedDataset, dataset: str, seed: int
) -> dict[str, Any]:
    """The data set's metrics (``METRICS``), the latents' active units
    (:func:`group_vae_activity`) and the holdout ELBO, on the groups
    :func:`scoring_groups` gives."""
    metrics: dict[str, Any] = {}
    if dataset in METRICS:
        metrics.update(METRICS[dataset](model, holdout, seed))
    groups = scoring_groups(model, holdout, seed=seed)
    metrics.update(group_vae_activity(model, groups))
    metrics.update(holdout_elbo(model, holdout))
    return metrics


def _cpvae_metrics(
    model: CPVAERunModel, holdout: GroupedDataset, dataset: str, seed: int
) -> dict[str, Any]:
    """CPVAE section 4's metrics (:func:`groupvae.evaluation.cpvae.cpvae_metrics`, with
    the shared and private active units) and the holdout ELBO per observation."""

    return {**cpvae_metrics(model, holdout, seed=seed), **holdout_elbo(model, holdout)}


# Family -> metrics(model, holdout, dataset name, seed) -> dict.
FAMILY_METRICS: Registry[Callable[..., dict[str, Any]]] = Registry("model family")
FAMILY_METRICS.add("group-vae", _group_vae_metrics)
FAMILY_METRICS.add("cpvae", _cpvae_metrics)


def holdout_elbo(model: ElboModel, data: GroupedDataset) -> dict[str, Any]:
    """The holdout ELBO estimate that training validated on and reported
    (:meth:`~groupvae.models.base.BaseModel.get_elbo`: fixed noise, the run's
    ``validation_samples`` per observation): mean per observation, and per group where
    groups have a latent of their own (group VAEs), in nats, with its ``estimator``
    label."""
    return model.get_elbo(data)


__all__ = [
    "FAMILY_METRICS",
    "IS_SAMPLES",
    "METRICS",
    "group_vae_activity",
    "holdout_elbo",
    "scoring_groups",
]
