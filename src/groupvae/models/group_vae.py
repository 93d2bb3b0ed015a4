"""``GroupVAE``: the model users touch (fit, encode, translate, save, load)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from groupvae.config import ModelConfig, TrainConfig
from groupvae.data.batch import GroupBatch
from groupvae.data.group_level import DEFAULT_LIBRARY_SIZE
from groupvae.data.grouped import GroupedDataset
from groupvae.data.grouping import regroup_at_random, split_by_label
from groupvae.data.ondisk import OnDiskGroupedData
from groupvae.data.readers.h5ad import is_anndata
from groupvae.data.readers.transform import FeatureTransform
from groupvae.data.sampler import group_loader
from groupvae.data.subsample import subsample_size
from groupvae.errors import ConfigError, DataError, GroupVAEError
from groupvae.models.base import BaseModel, Posterior, Schedule
from groupvae.models.common import map_batches
from groupvae.modules.backbones import BACKBONES
from groupvae.modules.group_vae import (
    DECODERS,
    GROUP_ENCODERS,
    INSTANCE_ENCODERS,
    PRIORS,
    GroupVAEModule,
)
from groupvae.modules.likelihoods import LIKELIHOODS
from groupvae.objectives.regularisers import REGULARISERS
from groupvae.registry import Registry

PARTS: dict[str, Registry[Any]] = {
    "backbone": BACKBONES,
    "group_encoder": GROUP_ENCODERS,
    "instance_encoder": INSTANCE_ENCODERS,
    "regulariser": REGULARISERS,
    "prior": PRIORS,
    "decoder": DECODERS,
    "likelihood": LIKELIHOODS,
}
"""The group-VAE parts: config field -> registry of its values."""


def _values(data: GroupedDataset | OnDiskGroupedData) -> np.ndarray:
    """The observations a likelihood checks the range of: all of them in memory, the
    first few thousand of data on disk (the rest are checked as batches are read)."""
    return data.sample() if isinstance(data, OnDiskGroupedData) else data.x


def _as_tensors(x: Any, group: Any) -> tuple[Tensor, Tensor]:
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if group is None:
        gt = torch.zeros(xt.shape[0], dtype=torch.int64)
    else:
        ids = np.unique(np.asarray(group), return_inverse=True)[1]
        gt = torch.as_tensor(ids, dtype=torch.int64)
    if not torch.isfinite(xt).all():
        raise DataError("x has NaN or infinite values")
    return xt, gt


class GroupVAE(BaseModel):
    """A group VAE: a config, its module, and what fitting it recorded.

    Create one with :func:`groupvae.models.create`, or restore one with
    :func:`groupvae.load`. The verbs (``fit``, ``save``, ``load``, ``history``) are those
    of every family (:class:`~groupvae.models.base.BaseModel`).

    Attributes:
        config: the :class:`ModelConfig`.
        module: the :class:`GroupVAEModule` (a ``torch.nn.Module``).
    """

    family = "group-vae"
    config_class = ModelConfig

    def _build_module(self, config: ModelConfig) -> GroupVAEModule:
        return GroupVAEModule(config)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"GroupVAE({c.model!r}: group_encoder={c.group_encoder}, instance_encoder="
            f"{c.instance_encoder}, regulariser={c.regulariser}, decoder={c.decoder}, "
            f"likelihood={c.likelihood}, group_dim={c.group_dim}, instance_dim={c.instance_dim})"
        )

    # ----------------------------------------------------------- training hooks
    def _prepare(self, train: GroupedDataset, config: TrainConfig) -> None:
        """Check that ``train`` fits the module, that every batch of an epoch has the
        groups a regulariser needs, and that one forward pass runs.

        Raises:
            DataError: naming what to fix (shape, value range, group sizes).
        """
        self._check_holdout(train, config)
        if train.transform is not None:  # recorded in the run: user units come back
            self.extra_metadata["feature_transform"] = train.transform.to_dict()
        if train.reader is not None:  # recorded: the verbs read AnnData objects alike
            self.extra_metadata["reader"] = dict(train.reader)
        if self.module.regulariser is not None and config.random_groups is None:
            self._check_regulariser_batches(train, config)

    def _check_holdout(self, data: GroupedDataset, config: TrainConfig) -> None:
        """Shape, value range and a first forward pass, as for the training data."""
        module = self.module
        self._check_obs_shape(data.obs_shape)
        self._check_columns(data)
        module.likelihood.check_data(_values(data))
        n = min(config.groups_per_batch, data.n_groups)
        batch = next(iter(group_loader(data, n, seed=0)))
        try:
            with torch.no_grad():
                module(batch, with_regulariser=False)
        except GroupVAEError:
            raise
        except RuntimeError as err:  # a shape mismatch deep in a network
            raise DataError(f"a first forward pass on the data failed: {err}") from None

    def _check_columns(self, data: GroupedDataset) -> None:
        """A reader's table fits the likelihood's column layout: the mixed likelihood's
        ``columns`` are the table's (``FeatureTransform.layout``), and a table with a
        column that is not continuous is not modelled by a Gaussian on its codes.

        Raises:
            DataError: naming the layouts, or the columns that are not continuous.
        """
        transform, config = data.transform, self.config
        if not isinstance(transform, FeatureTransform):
            return
        if config.likelihood == "mixed" and transform.layout != config.columns:
            raise DataError(
                f"the table's columns are {transform.layout!r} but the model was built for "
                f"{config.columns!r}; create it with data=... (the table's own layout)"
            )
        if config.likelihood != "mixed" and transform.is_mixed:
            kinds = transform.kind_by_column.items()
            other = [f"{c} ({k})" for c, k in kinds if k != "continuous"]
            raise DataError(
                f"the table has columns that are not continuous ({', '.join(other[:5])}), "
                f"which the {config.likelihood} likelihood would model as numbers: use "
                f"likelihood='mixed' with columns={transform.layout!r} (create(..., "
                "data=data) sets both)"
            )

    def _check_regulariser_batches(self, train: GroupedDataset, config: TrainConfig) -> None:
        """A regulariser pairs members of different groups: every batch needs two groups,
        each with two members (after ``max_group_size`` subsampling)."""
        name = self.config.regulariser
        sizes = np.asarray(train.group_sizes)
        if config.max_group_size is not None:
            sizes = np.minimum(sizes, config.max_group_size)
        lone = np.flatnonzero(sizes < 2)
        if lone.size:
            capped = (
                ""
                if config.max_group_size is None
                else f" (max_group_size={config.max_group_size})"
            )
            example = np.asarray(train.group_ids)[lone[:1]].tolist()[0]  # the user's id
            raise DataError(
                f"{lone.size} group(s) of {train.name!r} have one member{capped}, e.g. group "
                f"{example!r}; the {name} regulariser needs at least two members per group: "
                "drop those groups, or --set regulariser=none"
            )
        if train.n_groups < 2 or config.groups_per_batch < 2:
            raise DataError(
                f"the {name} regulariser needs 2 groups in every batch; the data has "
                f"{train.n_groups} and groups_per_batch is {config.groups_per_batch}"
            )

    def train_loader(self, train: GroupedDataset, config: TrainConfig) -> Any:
        """Whole groups (or random groups), ``groups_per_batch`` per step, reshuffled
        each epoch; groups above ``max_group_size`` subsampled."""
        # A regulariser needs two groups per batch: a last batch that would hold only one
        # joins the batch before it (every group is still trained on once per epoch).
        return group_loader(
            train,
            config.groups_per_batch,
            max_group_size=subsample_size(train.group_sizes, config),
            seed=config.seed,
            min_groups_per_batch=2 if self.module.regulariser is not None else 1,
            pin_memory=config.pins_memory,
            random_groups=config.random_groups,
            balance_by=config.balance_by,
        )

    def elbo_groups(self, data: GroupedDataset, config: TrainConfig) -> GroupedDataset:
        """``data`` in its own groups, or, for a model trained on random groups (UG-VAE),
        in random groups of that size (seeded by 0): a global posterior from a few
        members is far wider than from the ``random_groups`` it was trained on."""
        if config.random_groups is None:
            return data
        return regroup_at_random(data, config.random_groups, seed=0)

    def eval_loader(self, data: GroupedDataset, batch_size: int = 1024) -> Any:
        """Whole groups of ``data`` in order, ``batch_size`` groups per batch."""
        return group_loader(data, batch_size, shuffle=False)

    def _schedules(self, config: TrainConfig) -> dict[str, Schedule]:
        """KL warm-up: the KL weight rises linearly to 1 over ``kl_warmup_epochs``."""
        if config.kl_warmup_epochs <= 0:
            return {}
        share = min(1.0, config.kl_warmup_epochs / config.epochs)  # 1 by the end at most
        return {"kl_weight": lambda progress: min(1.0, progress / share)}

    def split(
        self,
        data: GroupedDataset,
        holdout: float,
        *,
        seed: int = 0,
        holdout_labels: list[int] | None = None,
    ) -> tuple[GroupedDataset, GroupedDataset]:
        """Split by group: a random ``holdout`` fraction of the groups, or with
        ``holdout_labels`` the groups of those classes (never seen in training, as the
        ML-VAE paper's unseen MS-Celeb identities)."""
        if holdout_labels:
            if isinstance(data, OnDiskGroupedData):
                raise DataError("holdout labels need the data in memory: --data streaming=false")
            return split_by_label(data, holdout_labels)
        return data.split(holdout, seed=seed)

    # ----------------------------------------------------------------- inference
    def _input(self, data: Any, group: Any) -> tuple[Any, Any]:
        """``(data, group)`` with an AnnData object read into a :class:`GroupedDataset`
        (``group``, if given, its ``.obs`` column: :meth:`as_dataset`)."""
        if is_anndata(data):
            return self.as_dataset(data, group=group), None
        return data, group

    def _batches(
        self, data: GroupedDataset | Any, group: Any, batch_groups: int
    ) -> Iterator[GroupBatch]:
        data, group = self._input(data, group)
        if isinstance(data, (GroupedDataset, OnDiskGroupedData)):  # on disk: streamed
            yield from group_loader(data, batch_groups, shuffle=False)
            return
        x, g = _as_tensors(data, group)
        n_groups = int(g.max()) + 1 if len(g) else 0
        index = torch.arange(len(g))
        yield GroupBatch(x, g, n_groups, index, torch.arange(n_groups))

    def _map(
        self, data: Any, group: Any, fn, batch_groups: int, per_group: bool
    ) -> list[np.ndarray]:
        """Apply ``fn(batch) -> tuple of tensors`` over batches; reassemble in data order."""

        def checked(batch: GroupBatch) -> tuple[Tensor, ...]:
            self.module.check_batch(batch)
            return fn(batch)

        return map_batches(
            self.module,
            self._batches(data, group, batch_groups),
            checked,
            lambda b: b.group_index if per_group else b.index,
        )

    def encode_groups(
        self, data: GroupedDataset | Any, group: Any = None, *, batch_groups: int = 1024
    ) -> Posterior:
        """The group posterior ``q(u | x_G)`` of every group.

        Args:
            data: a :class:`GroupedDataset`, an ``anndata.AnnData`` object (read with
                the model's reader options: :meth:`as_dataset`), or
                ``x: (n_obs, *obs_shape)``.
            group: with an array ``x``, ``(n_obs,)`` group ids (one group if ``None``);
                with an AnnData object, the ``.obs`` column of the groups (default the
                one the model records).
            batch_groups: groups encoded per forward pass.

        Returns:
            :class:`Posterior` with ``(n_groups, group_dim)`` arrays, groups in sorted-id
            order. Without a group latent (``vae``), the product of Normals of the members'
            instance posteriors (ML-VAE section 4's VAE baseline).
        """
        mean, logvar = self._map(
            data,
            group,
            self.module.group_posterior,
            batch_groups,
            per_group=True,
        )
        return Posterior(mean, logvar)

    def encode_instances(
        self, data: GroupedDataset | Any, group: Any = None, *, batch_groups: int = 1024
    ) -> Posterior:
        """The instance posterior ``q(v_k | x_k[, u])`` of every observation.

        A conditional instance encoder is given the mean of its group's posterior.

        Returns:
            :class:`Posterior` with ``(n_obs, instance_dim)`` arrays, in data order.
        """

        def fn(b: GroupBatch) -> tuple[Tensor, Tensor]:
            inf = self.module.inference(b, sample=False)
            return inf.v_mean, inf.v_logvar

        mean, logvar = self._map(data, group, fn, batch_groups, per_group=False)
        return Posterior(mean, logvar)

    @torch.no_grad()
    def decode(self, u: Any, v: Any) -> np.ndarray:
        """Likelihood means of codes ``u: (n, group_dim)`` (or ``None``), ``v: (n, instance_dim)``.

        Returns:
            ``(n, *obs_shape)`` in model units: means (Gaussian), pixel probabilities
            (Bernoulli), or a mixed table's means, probabilities in ``[0, 1]`` (summing
            to 1 over each categorical column's levels) and expected counts
            (:meth:`MixedLikelihood.mean <groupvae.modules.likelihoods.MixedLikelihood.mean>`).
        """
        self.module.eval()
        vt = self._decode_tensor(v, self.config.instance_dim, "v")
        if u is None and self.has_group_latent:
            raise DataError(f"{self.config.model} has a group latent: pass u, not None")
        ut = None if u is None else self._decode_tensor(u, self.config.group_dim, "u", len(vt))
        return self.module.likelihood.mean(self.module.decode(ut, vt)).numpy()

    def feature_transform(self, data: Any = None) -> FeatureTransform | None:
        """The transform between the user's table and the model's units: the one fitting
        recorded (``extra_metadata["feature_transform"]``), else ``data``'s (a reader's
        :class:`GroupedDataset`), else ``None``."""
        recorded = self.extra_metadata.get("feature_transform")
        if recorded is not None:
            return FeatureTransform.from_dict(recorded)
        transform = getattr(data, "transform", None)
        return transform if isinstance(transform, FeatureTransform) else None

    def _as_table(self, x: np.ndarray, data: Any) -> np.ndarray | pd.DataFrame:
        """Decoded ``x: (n_obs, d)`` of a reader's table as the user's table; else ``x``."""
        transform = self.feature_transform(data)
        if not isinstance(data, GroupedDataset) or transform is None:
            return x
        rows = data.aux.get("row_id", np.arange(data.n_obs))
        return pd.DataFrame(
            transform.inverse(x),
            columns=list(transform.columns),
            index=pd.Index(rows, name="row_id"),
        )

    def reconstruct(
        self, data: GroupedDataset | Any, group: Any = None
    ) -> np.ndarray | pd.DataFrame:
        """Decode every observation from its posterior means.

        Args:
            data: a :class:`GroupedDataset`, an AnnData object, or
                ``x: (n_obs, *obs_shape)``.
            group: with an array ``x``, ``(n_obs,)`` group ids (one group if ``None``).

        Returns:
            For a table (a :class:`GroupedDataset` a reader made, or any data set once
            the model was fitted on one): a DataFrame indexed by the user's row ids
            (``row_id``) with the user's columns, in the user's units: continuous
            columns de-standardised, a probability per level of each categorical column
            (``colour=red``; in ``[0, 1]``, summing to 1 per column), the probability of
            each binary column's second level, each count column's expected count.
            Otherwise ``(n_obs, *obs_shape)`` likelihood means (:meth:`decode`).
        """
        data, group = self._input(data, group)
        if isinstance(data, GroupedDataset):
            group = data.group
        u, v = self._codes(data, group)
        return self._as_table(self.decode(u, v), data)

    def _codes(self, data: Any, group: Any) -> tuple[np.ndarray | None, np.ndarray]:
        """Posterior means ``(u of each observation's group or None, v)``."""
        data, group = self._input(data, group)
        if isinstance(data, GroupedDataset):
            group = data.group
        elif group is None:
            group = np.zeros(len(data), dtype=np.int64)
        v = self.encode_instances(data, group).mean
        if not self.has_group_latent:
            return None, v
        g = np.unique(np.asarray(group), return_inverse=True)[1]
        return self.encode_groups(data, group).mean[g], v

    def translate(
        self, data: GroupedDataset | Any, target_u: Any, group: Any = None
    ) -> np.ndarray | pd.DataFrame:
        """Unsupervised translation: decode each observation's instance code with a new group code.

        CxVAE section 5.1: keep ``v_k`` inferred from the source observation (with its
        own group's code for a conditional encoder), swap in the target group's code.

        Args:
            data: source observations (a :class:`GroupedDataset`, an AnnData object, or
                ``x`` with ``group``).
            target_u: ``(n_obs, group_dim)`` the group code to give each observation,
                e.g. ``model.encode_groups(target).mean[target_of_each_obs]``.

        Returns:
            For a table, a DataFrame indexed by the source rows' ids in the user's
            columns and units, as :meth:`reconstruct`; otherwise ``(n_obs, *obs_shape)``
            translated likelihood means.

        Raises:
            ConfigError: for a model without a group latent.
        """
        if not self.has_group_latent:
            raise ConfigError(f"{self.config.model} has no group latent to translate")
        v = self.encode_instances(data, group).mean
        return self._as_table(self.decode(target_u, v), data)

    # ------------------------------------------------------- the user's units
    @property
    def has_count_likelihood(self) -> bool:
        """Whether the model's observations are counts (the negative-binomial
        likelihood), so that :meth:`get_normalized_expression` applies."""
        return hasattr(self.module.likelihood, "normalized_mean")

    def feature_names(self, data: GroupedDataset | None = None) -> list[str]:
        """The names of the flattened observations' features: ``data``'s own (an
        ``.h5ad`` file's ``var_names``), else the model's recorded feature transform's
        columns (a table's), else ``x_0 .. x_{d-1}``."""
        if data is not None and data.feature_names is not None:
            return list(data.feature_names)
        transform = self.feature_transform(data)
        if transform is not None:
            return list(transform.columns)
        return [f"x_{j}" for j in range(int(np.prod(self.config.obs_shape)))]

    @torch.no_grad()
    def decode_user_units(
        self, u: Any, v: Any, *, library_size: float = DEFAULT_LIBRARY_SIZE
    ) -> np.ndarray:
        """Decoded means of codes ``u: (n, group_dim)`` (or ``None`` without a group
        latent), ``v: (n, instance_dim)``, flattened, in the user's units: for counts
        (negative binomial) the expected counts at ``library_size`` (normalised
        expression); for a table run its recorded feature transform inverted (points,
        not standardised values; one-hot columns as probabilities); else the
        likelihood's means. Decoded in chunks of at most ``2**24`` values.

        Returns:
            ``(n, n_features)`` float64.

        Raises:
            DataError: for codes of the wrong shape or not finite, or a library size
                that is not positive.
        """
        if not np.isfinite(library_size) or library_size <= 0:
            raise DataError(f"library_size must be a positive number, got {library_size}")
        self.module.eval()
        vt = self._decode_tensor(v, self.config.instance_dim, "v")
        if u is None and self.has_group_latent:
            raise DataError(f"{self.config.model} has a group latent: pass u, not None")
        ut = None if u is None else self._decode_tensor(u, self.config.group_dim, "u", len(vt))
        width = int(np.prod(self.config.obs_shape))
        rows = max(1, 2**24 // max(width, 1))
        likelihood = self.module.likelihood
        out = np.empty((len(vt), width), dtype=np.float64)
        for start in range(0, len(vt), rows):  # chunks of rows, not a loop over rows
            part = slice(start, start + rows)
            params = self.module.decode(None if ut is None else ut[part], vt[part])
            if self.has_count_likelihood:
                mean = likelihood.normalized_mean(params, float(library_size))
            else:
                mean = likelihood.mean(params)
            out[part] = mean.reshape(len(mean), -1).double().numpy()
        transform = self.feature_transform()
        if transform is not None and not self.has_count_likelihood:
            out = transform.inverse(out)
        return out

    def get_normalized_expression(
        self,
        data: GroupedDataset | Any,
        *,
        library_size: float = DEFAULT_LIBRARY_SIZE,
        target_group: Any = None,
        group: str | None = None,
        layer: str | None = None,
    ) -> pd.DataFrame:
        """Each observation's decoded negative-binomial mean at a fixed library size
        (scVI's ``get_normalized_expression``, Lopez et al. 2018): ``library_size *
        rho``, ``rho`` the decoded proportions of the features, from the posterior means
        of the observation's group code and its own instance code.

        With ``target_group``, the counterfactual: each observation keeps its own
        instance code (inferred with its own group's code, for a conditional instance
        encoder) and is decoded with the group code of ``target_group`` instead, the
        cell as if it belonged to that group (CxVAE section 5.1's translation).

        Args:
            data: a :class:`GroupedDataset` of counts or an ``anndata.AnnData`` object
                (read with the model's reader options, :meth:`as_dataset`).
            library_size: the total count of each decoded observation (default 10,000).
            target_group: a group id of ``data`` (as the user writes it), or ``None``.
            group, layer: for an AnnData object, the ``.obs`` column of the groups and
                the layer, where they differ from those the model records.

        Returns:
            ``(n_obs, n_features)`` expected counts, indexed by the row ids
            (``obs_names``), one column per feature (``var_names``).

        Raises:
            ConfigError: for a model whose likelihood is not negative-binomial, or a
                ``target_group`` for a model without a group latent.
            DataError: for a ``target_group`` that is not a group of ``data`` (naming
                some that are), or a library size that is not positive.
        """
        if not self.has_count_likelihood:
            raise ConfigError(
                f"get_normalized_expression is for count models (likelihood "
                f"negative-binomial); this one's is {self.config.likelihood}: use "
                "reconstruct or translate"
            )
        data = self.as_dataset(data, group=group, layer=layer)
        if not isinstance(data, GroupedDataset):
            raise DataError("get_normalized_expression needs a GroupedDataset or an AnnData")
        u, v = self._codes(data, data.group)
        if target_group is not None:
            if not self.has_group_latent:
                raise ConfigError(f"{self.config.model} has no group latent to swap")
            target = group_index(data, target_group)
            code = self.encode_groups(data.subset_groups(np.array([target]))).mean
            u = np.repeat(code, data.n_obs, axis=0)
        values = self.decode_user_units(u, v, library_size=library_size)
        rows = data.aux.get("row_id", np.arange(data.n_obs))
        return pd.DataFrame(
            values,
            index=pd.Index(rows, name="row_id"),
            columns=pd.Index(self.feature_names(data), dtype=object),
        )

    # ---------------------------------------------------------- evaluation interface
    # The public methods groupvae.evaluation calls (declared by the Protocols of
    # groupvae.evaluation.protocols), so that it needs no reach into ``self.module``.
    @property
    def has_group_latent(self) -> bool:
        """Whether the model has a group latent ``u`` (``False`` for ``vae``,
        ``beta-vae`` and ``gmvae``: their group code is the product of Normals of the
        members' instance posteriors, see :meth:`encode_groups`)."""
        return self.config.has_group_latent

    @property
    def has_mixture_prior(self) -> bool:
        """Whether the instance latent's prior is a Gaussian mixture (UG-VAE, GMVAE), so
        that its KL per dimension against ``N(0, I)`` means nothing."""
        return self.module.prior.has_clusters

    def group_log_marginal_likelihood(
        self, batch: GroupBatch, *, n_samples: int = 100
    ) -> np.ndarray:
        """Importance-sampled ``log p(x_G)`` of every group of one batch of whole groups
        (Burda et al. 2016, eq. 8, applied to a group, with the encoders as proposals;
        :meth:`GroupVAEModule.log_marginal_likelihood`), in eval mode on the model's
        device. The samples come from the global torch generator: seed it for a
        reproducible estimate (:func:`groupvae.evaluation.group_log_likelihoods` does).

        Args:
            batch: a :class:`GroupBatch` (e.g. from :func:`groupvae.data.group_loader`).
            n_samples: importance samples ``K`` per group (``K = 1`` is the ELBO).

        Returns:
            ``(batch.n_groups,)`` float64 log-densities in nats (a log-probability mass
            for Bernoulli pixels), in the batch's group order.

        Raises:
            DataError: if ``batch`` does not fit the model.
        """
        module = self.module
        module.eval()
        module.check_batch(batch)
        device = next(module.parameters()).device
        log_p = module.log_marginal_likelihood(batch.to(device), n_samples=n_samples)
        return log_p.double().cpu().numpy()

    def group_log_conditional_likelihood(
        self, batch: GroupBatch, held: np.ndarray, *, n_samples: int = 100
    ) -> np.ndarray:
        """Importance-sampled ``log p(x_k | x_{G without k})`` of the held-out member of
        every group of one batch of whole groups, on one set of samples for both terms
        of ``log p(x_G) - log p(x_{G without k})``
        (:meth:`GroupVAEModule.log_conditional_likelihood`), in eval mode on the model's
        device; the samples come from the global torch generator.

        Args:
            batch: a :class:`GroupBatch` of whole groups.
            held: ``(len(batch),)`` boolean, exactly one member of each group.
            n_samples: importance samples ``K`` per group.

        Returns:
            ``(batch.n_groups,)`` float64 log-densities of one observation each (nats).

        Raises:
            DataError: if ``batch`` does not fit the model, or ``held`` does not mark
                exactly one member of each group with another member beside it.
        """
        module = self.module
        module.eval()
        module.check_batch(batch)
        held = np.asarray(held)
        group = batch.group.cpu().numpy()
        ok = held.shape == group.shape and held.dtype == np.bool_
        if ok:
            n_held = np.bincount(group[held], minlength=batch.n_groups)
            ok = bool((n_held == 1).all() and (np.bincount(group) >= 2).all())
        if not ok:
            raise DataError(
                "held must mark exactly one member of every group of the batch, each group "
                "with another member"
            )
        device = next(module.parameters()).device
        log_p = module.log_conditional_likelihood(
            batch.to(device), torch.as_tensor(held, device=device), n_samples=n_samples
        )
        return log_p.double().cpu().numpy()


def group_index(data: GroupedDataset, group_id: Any) -> int:
    """The index in ``data`` of the group the user calls ``group_id`` (matched as
    written: ``7`` finds ``"7"`` and back).

    Raises:
        DataError: for an id that is not a group of ``data``, naming some that are.
    """
    ids = np.asarray(data.group_ids).astype(str)
    found = np.flatnonzero(ids == str(group_id))
    if not len(found):
        shown = ", ".join(ids[:10]) + (", ..." if len(ids) > 10 else "")
        raise DataError(f"{group_id!r} is not a group of the data; its groups are: {shown}")
    return int(found[0])


__all__ = ["PARTS", "GroupVAE", "Posterior", "group_index"]
