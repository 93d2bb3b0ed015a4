"""The grouped data set: observations, their group ids and known factors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from groupvae.errors import DataError


def _as_group_ids(group: np.ndarray, n_obs: int) -> tuple[np.ndarray, np.ndarray]:
    group = np.asarray(group)
    if group.shape != (n_obs,):
        raise DataError(f"group must have shape (n_obs,) = ({n_obs},), got {group.shape}")
    if not np.issubdtype(group.dtype, np.integer):
        raise DataError(f"group ids must be integers, got dtype {group.dtype}")
    ids, inverse = np.unique(group, return_inverse=True)
    return ids, inverse.astype(np.int64)


def _check_finite(name: str, a: np.ndarray) -> None:
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).sum())
        raise DataError(f"{name} has {bad} NaN or infinite values; clean or impute them first")


def split_group_numbers(
    n_groups: int, holdout: float, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, holdout)`` group numbers of a split by group: ``round(n_groups *
    holdout)`` groups of a permutation seeded by ``seed`` are held out. Every data set
    kind (in memory or on disk) splits with it, so they hold out the same groups.

    Raises:
        DataError: for ``holdout`` outside ``(0, 1)`` or a side without groups.
    """
    if not 0 < holdout < 1:
        raise DataError(f"holdout must be in (0, 1), got {holdout}")
    n_hold = round(n_groups * holdout)
    if n_hold == 0 or n_hold == n_groups:
        raise DataError(f"cannot split {n_groups} groups with holdout={holdout}")
    order = np.random.default_rng(seed).permutation(n_groups)
    return order[n_hold:], order[:n_hold]


def group_ranges(sizes: np.ndarray, rows: int) -> list[tuple[int, int]]:
    """Consecutive ranges ``[start, stop)`` of groups with at most ``rows`` observations
    each, unless one group alone holds more (it is a range of its own): the chunks of
    whole groups that ``encode`` and the on-disk data read at a time.

    Args:
        sizes: ``(n_groups,)`` observations of each group, in order.
        rows: the observations a range holds at most.

    Raises:
        DataError: for ``rows < 1``.
    """
    if rows < 1:
        raise DataError(f"rows per chunk must be >= 1, got {rows}")
    ends = np.cumsum(np.asarray(sizes, dtype=np.int64))
    ranges, first = [], 0
    while first < len(ends):  # one step per chunk, not per group
        done = int(ends[first - 1]) if first else 0
        stop = max(int(np.searchsorted(ends, done + rows, side="right")), first + 1)
        ranges.append((first, stop))
        first = stop
    return ranges


@dataclass(frozen=True, eq=False)
class GroupedDataset:
    """Observations with a group id each, and ground-truth factors where known.

    Group ids may be any integers; they are renumbered to ``0..n_groups-1`` in sorted
    order (``group_ids`` keeps the originals).

    Attributes:
        x: ``(n_obs, *obs_shape)`` float32 observations.
        group: ``(n_obs,)`` int64 in ``[0, n_groups)``.
        u: ``(n_groups, d_u)`` true group factors, or ``None``.
        v: ``(n_obs, d_v)`` true instance factors, or ``None``.
        labels: ``(n_obs,)`` int64 class labels, or ``None``.
        aux: other per-observation arrays (``(n_obs, ...)``), such as the noise term.
        group_ids: ``(n_groups,)`` the original group ids.
        name: the data set's name, for records.
        transform: how ``x`` was made from the user's columns (a reader's
            :class:`~groupvae.data.readers.FeatureTransform`), or ``None``.
        reader: how a reader of the user's files made it, to read more data the same
            way: the reader's name and its options other than the file (e.g.
            ``{"name": "anndata", "group": "donor", "layer": None}``), or ``None``. A
            model records it when fitted (``metadata.json``, ``reader``), so that its
            verbs take an ``AnnData`` object.
        feature_names: ``(n_features,)`` names of the flattened observations' features
            (an ``.h5ad`` file's ``var_names``), or ``None``.

    Raises:
        DataError: on shapes that disagree, NaN or infinite values, or no observations.
    """

    x: np.ndarray
    group: np.ndarray
    u: np.ndarray | None = None
    v: np.ndarray | None = None
    labels: np.ndarray | None = None
    aux: dict[str, np.ndarray] = field(default_factory=dict)
    group_ids: np.ndarray | None = None
    name: str = "custom"
    transform: Any = None
    reader: dict[str, Any] | None = None
    feature_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        try:
            x = np.asarray(self.x, dtype=np.float32)
        except (TypeError, ValueError):
            kind = np.asarray(self.x).dtype
            raise DataError(
                f"x must be numbers (float observations), got an array of {kind}; convert "
                "or encode the columns first"
            ) from None
        if x.ndim < 2 or x.shape[0] == 0:
            raise DataError(f"x must have shape (n_obs, *obs_shape) with n_obs > 0, got {x.shape}")
        _check_finite("x", x)
        n_obs = x.shape[0]
        ids, group = _as_group_ids(self.group, n_obs)
        if self.group_ids is not None:  # already renumbered: keep the caller's originals
            ids = np.asarray(self.group_ids)[ids]
        set_ = object.__setattr__
        set_(self, "x", x)
        set_(self, "group", group)
        set_(self, "group_ids", ids)
        if self.u is not None:
            u = np.asarray(self.u, dtype=np.float32)
            u = u[:, None] if u.ndim == 1 else u
            if u.shape[0] != len(ids):
                raise DataError(f"u must have one row per group ({len(ids)}), got {u.shape}")
            _check_finite("u", u)
            set_(self, "u", u)
        if self.v is not None:
            v = np.asarray(self.v, dtype=np.float32)
            v = v[:, None] if v.ndim == 1 else v
            if v.shape[0] != n_obs:
                raise DataError(f"v must have one row per observation ({n_obs}), got {v.shape}")
            _check_finite("v", v)
            set_(self, "v", v)
        if self.labels is not None:
            labels = np.asarray(self.labels)
            if labels.shape != (n_obs,):
                raise DataError(f"labels must have shape ({n_obs},), got {labels.shape}")
            set_(self, "labels", labels.astype(np.int64))
        if self.feature_names is not None:
            feature_names = tuple(str(f) for f in self.feature_names)
            if len(feature_names) != int(np.prod(x.shape[1:])):
                raise DataError(
                    f"feature_names must name the {int(np.prod(x.shape[1:]))} features, "
                    f"got {len(feature_names)}"
                )
            set_(self, "feature_names", feature_names)
        for key, value in self.aux.items():
            shape = np.shape(value)
            if not shape or shape[0] != n_obs:
                raise DataError(
                    f"aux[{key!r}] must be an array with one row per observation ({n_obs}), "
                    f"got shape {shape}"
                )

    @property
    def n_obs(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_groups(self) -> int:
        return len(self.group_ids)

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.x.shape[1:])

    @property
    def group_sizes(self) -> np.ndarray:
        """``(n_groups,)`` number of observations of each group."""
        return np.bincount(self.group, minlength=self.n_groups)

    def __len__(self) -> int:
        return self.n_obs

    def subset_groups(self, groups: np.ndarray) -> GroupedDataset:
        """The data set restricted to the given groups (indices in ``[0, n_groups)``).

        Groups keep their relative order and are renumbered ``0..len(groups)-1``.
        """
        groups = np.sort(np.asarray(groups, dtype=np.int64))
        keep = np.isin(self.group, groups)
        return self._rows(keep, u=None if self.u is None else self.u[groups])

    def _rows(self, keep: np.ndarray, u: np.ndarray | None) -> GroupedDataset:
        """The observations ``keep`` (a ``(n_obs,)`` mask) with true group factors ``u``;
        group numbers, ids and the records of how the data was read are kept."""
        return GroupedDataset(
            x=self.x[keep],
            group=self.group[keep],
            u=u,
            v=None if self.v is None else self.v[keep],
            labels=None if self.labels is None else self.labels[keep],
            aux={k: np.asarray(a)[keep] for k, a in self.aux.items()},
            group_ids=self.group_ids,
            name=self.name,
            transform=self.transform,
            reader=self.reader,
            feature_names=self.feature_names,
        )

    def subset_observations(self, keep: np.ndarray) -> GroupedDataset:
        """The data set restricted to the observations ``keep`` (a ``(n_obs,)`` boolean
        mask), every group keeping at least one of its members.

        Groups keep their indices, ids and true factors ``u``, so that the result lines
        up group by group with ``self`` (e.g. ``x_{G without k}`` beside ``x_G``).

        Raises:
            DataError: for a mask of the wrong shape, or one that removes a whole group.
        """
        keep = np.asarray(keep)
        if keep.shape != (self.n_obs,) or keep.dtype != np.bool_:
            raise DataError(
                f"keep must be a boolean mask of shape ({self.n_obs},), got {keep.dtype} "
                f"{keep.shape}"
            )
        emptied = int((np.bincount(self.group[keep], minlength=self.n_groups) == 0).sum())
        if emptied:
            raise DataError(f"keep removes every member of {emptied} group(s)")
        return self._rows(keep, u=self.u)

    def split(
        self, holdout: float = 0.2, *, seed: int = 0
    ) -> tuple[GroupedDataset, GroupedDataset]:
        """Split **by group** into ``(train, holdout)``; no group is in both.

        Args:
            holdout: fraction of groups held out, in ``(0, 1)``.
            seed: seed of the ``numpy.random.Generator`` that shuffles the groups.

        Raises:
            DataError: if either side would have no group.
        """
        train, held = split_group_numbers(self.n_groups, holdout, seed=seed)
        return self.subset_groups(train), self.subset_groups(held)
