"""``groupvae analyse KIND RUN``: the analyses of groups of a saved run, each written as a
table (CSV or Parquet) and a figure (PNG), atomically, never over a file of the user's
without ``--overwrite``.

``ANALYSES[kind]`` is an :class:`Analysis`: the options it takes and the function that
computes its table and draws its figure from the run's model and all of its data (the
groups of the run's recorded file, training and held-out alike; ``--data`` changes the
recorded options, e.g. another file):

* ``distances``: the distances between the groups' posteriors (2-Wasserstein or
  Euclidean), each group's ``k`` nearest groups and a clustering
  (:mod:`groupvae.evaluation.groups.distances`); the figure is a clustered heatmap with
  its dendrogram up to ``max_full`` groups, else a map of the clusters;
* ``outliers``: every group's importance-sampled log-likelihood per observation and its
  robust z-score, most unusual first (:mod:`~groupvae.evaluation.groups.outliers`);
* ``new-groups``: the codes of the groups of a new file (read as the run's data is read)
  and their nearest groups of the run's data (:mod:`~groupvae.evaluation.groups.new_groups`);
* ``covariates``: each group-level column of the data file predicted from the group
  codes and from the pseudobulk profiles, cross-validated
  (:mod:`~groupvae.evaluation.groups.covariates`);
* ``differential``: two sets of groups compared feature by feature, scVI's "change" mode
  (:mod:`~groupvae.evaluation.groups.differential`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from groupvae.data.datasets import DATASETS
from groupvae.data.group_level import DEFAULT_LIBRARY_SIZE, group_level_columns, pseudobulk
from groupvae.data.grouped import GroupedDataset
from groupvae.data.readers.common import names
from groupvae.errors import ConfigError, DataError
from groupvae.evaluation.groups import (
    MAX_FULL,
    cluster_groups,
    covariate_scores,
    differential_groups,
    group_outliers,
    nearest_groups,
    new_group_codes,
    pairwise_distances,
    posterior_points,
)
from groupvae.models.base import BaseModel
from groupvae.models.saved import data_record, run_data, run_options
from groupvae.plots.groups import (
    draw_cluster_map,
    draw_covariates,
    draw_distance_heatmap,
    draw_new_groups,
    draw_outliers,
    draw_volcano,
)
from groupvae.registry import Registry
from groupvae.runs.export import frame_path, write_frame
from groupvae.runs.observations import group_column, observation_table
from groupvae.store.outputs import check_output
from groupvae.store.run_directory import record_output


@dataclass
class RunView:
    """A saved run opened for an analysis.

    Attributes:
        run_dir: the run directory.
        model: its model.
        data: all of its data (``--data`` changes applied).
        name: the data set's name (``table``, ``anndata``, ...).
        options: the options ``data`` was read with (the file's path included).
        seed: the seed of the analysis' random draws.
    """

    run_dir: Path
    model: BaseModel
    data: GroupedDataset
    name: str
    options: dict[str, Any]
    seed: int = 0
    _obs: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def title(self) -> str:
        return f"{self.model.preset} on {Path(str(self.options.get('path', self.name))).name}"

    def observations(self) -> pd.DataFrame:
        """The per-observation columns of the data file (:func:`observation_table`)."""
        if self._obs is None:
            self._obs = observation_table(self.name, self.options, self.data)
        return self._obs

    def group_columns(self) -> pd.DataFrame:
        """The data file's columns that are constant within groups, one row per group
        (in ``data``'s group order)."""
        obs = self.observations()
        return group_level_columns(obs, self.data.group, self.data.n_groups)

    def read(self, path: str | Path) -> GroupedDataset:
        """Another file read as the run's data is read (its transform and categories)."""
        spec = DATASETS[self.name]
        seed = int(data_record(self.model.extra_metadata, self.run_dir).get("seed", 0))
        return self.model.adapt_data(
            spec.load(seed=seed, **{**self.options, "path": str(path)}), spec
        )

    def held_out(self) -> set[str]:
        """The ids of the run's held-out groups (as text), where it records them."""
        held = data_record(self.model.extra_metadata, self.run_dir).get("holdout_groups") or []
        return {str(g) for g in held}


@dataclass(frozen=True)
class Result:
    """What an analysis hands back: its table, how to draw its figure, and one line
    for the user."""

    table: pd.DataFrame
    draw: Callable[[Path], Path]
    summary: str


@dataclass(frozen=True)
class Analysis:
    """One ``groupvae analyse`` kind: ``run(view, **options) -> Result``, the options
    (keyword names) it takes, and whether it decodes group codes (``group_latent``: a
    model without a group latent has group posteriors, the product of its members'
    instance posteriors, but nothing to decode them with)."""

    run: Callable[..., Result]
    options: tuple[str, ...]
    description: str
    group_latent: bool = False


ANALYSES: Registry[Analysis] = Registry("analysis")


def _posteriors(model: Any, data: GroupedDataset) -> tuple[np.ndarray, np.ndarray]:
    post = model.encode_groups(data)
    return np.asarray(post.mean, np.float64), np.exp(0.5 * np.asarray(post.logvar, np.float64))


def _need_groups(data: GroupedDataset, n: int, what: str) -> None:
    if data.n_groups < n:
        raise DataError(f"{what} needs at least {n} groups; the data has {data.n_groups}")


def distances(
    view: RunView,
    *,
    metric: str = "w2",
    k: int | None = None,
    clusters: int = 4,
    linkage: str = "average",
    max_full: int = MAX_FULL,
    matrix: bool = False,
) -> Result:
    """Distances between the groups' posteriors, each group's ``k`` nearest groups and
    a clustering into ``clusters`` clusters.

    Returns:
        A table of each group's ``k`` nearest groups (``group``, ``cluster``, ``rank``,
        ``neighbour``, ``neighbour_cluster``, ``<metric>``: ``n_groups * k`` rows), or
        with ``matrix`` the full matrix (``group``, ``cluster`` and one column per
        group; up to ``max_full`` groups).
    """
    data = view.data
    _need_groups(data, 2, "distances between groups")
    mean, std = _posteriors(view.model, data)
    n = data.n_groups
    k = min(10, n - 1) if k is None else k
    clustering = cluster_groups(
        mean,
        std,
        n_clusters=min(clusters, n),
        metric=metric,
        method=linkage,
        max_full=max_full,
        seed=view.seed,
    )
    ids = np.asarray(data.group_ids, dtype=object)
    labels = clustering.labels
    full = (
        pairwise_distances(mean, std, metric=metric, max_full=max_full)
        if (matrix or n <= max_full)
        else None
    )
    if matrix:
        table = pd.DataFrame(full, columns=ids.astype(str))
        table.insert(0, "cluster", labels)
        table.insert(0, "group", ids)
    else:
        near = nearest_groups(mean, std, k=k, metric=metric)
        table = pd.DataFrame(
            {
                "group": np.repeat(ids, k),
                "cluster": np.repeat(labels, k),
                "rank": np.tile(np.arange(1, k + 1), n),
                "neighbour": ids[near.index.ravel()],
                "neighbour_cluster": labels[near.index.ravel()],
                metric: near.distance.ravel(),
            }
        )
    title = f"{view.title}: {metric.upper() if metric == 'w2' else metric} distances"

    def draw(path: Path) -> Path:
        if full is not None and clustering.linkage is not None:
            return draw_distance_heatmap(
                full, ids, clustering.linkage, labels, path, metric=metric, title=title
            )
        points = posterior_points(mean, std, metric)
        return draw_cluster_map(
            points, labels, path, title=f"{title}: {clustering.method} clusters"
        )

    sizes = np.bincount(labels)
    summary = (
        f"{n} groups in {len(sizes)} clusters ({clustering.method}; sizes "
        f"{', '.join(map(str, sizes[:10]))})"
    )
    return Result(table, draw, summary)


def outliers(view: RunView, *, samples: int = 100, top: int = 10) -> Result:
    """Every group's importance-sampled log-likelihood per observation and robust
    z-score, most unusual first; ``held_out`` says which groups training never saw."""
    _need_groups(view.data, 3, "outlier groups")
    table = group_outliers(view.model, view.data, n_samples=samples, seed=view.seed)
    table["held_out"] = table["group"].astype(str).isin(view.held_out())
    title = f"{view.title}: outlier groups ({samples} importance samples)"
    first = table.iloc[0]
    summary = (
        f"most unusual group {first['group']!r}: robust z {first['robust_z']:.2f}, "
        f"{first['log_likelihood_per_obs']:.2f} nats per observation"
    )
    if "isolation_z" in table:
        apart = table.loc[table["isolation_z"].idxmax()]
        summary += f"; most isolated {apart['group']!r} (isolation z {apart['isolation_z']:.2f})"
    return Result(table, lambda path: draw_outliers(table, path, top=top, title=title), summary)


def new_groups(
    view: RunView, *, new: str | Path | None = None, k: int = 5, metric: str = "w2"
) -> Result:
    """The codes of the groups of the file ``new`` and their ``k`` nearest groups of the
    run's data."""
    if new is None:
        raise ConfigError("new-groups needs the new data: --new FILE (read as the run's data)")
    fresh = view.read(new)
    table = new_group_codes(view.model, view.data, fresh, k=k, metric=metric)
    mean, _ = _posteriors(view.model, view.data)
    new_mean = table[[c for c in table.columns if c.startswith("u_") and not c.endswith("_std")]]
    ref_ids = pd.Index(np.asarray(view.data.group_ids).astype(str))
    nearest = ref_ids.get_indexer(table["nearest_1"].astype(str))
    title = f"{view.title}: {len(table)} new groups from {Path(str(new)).name}"
    summary = f"{len(table)} new groups ({int(table['seen'].sum())} with ids the run's data has)"
    return Result(
        table,
        lambda path: draw_new_groups(
            mean, new_mean.to_numpy(), nearest, table["group"].to_numpy(), path, title=title
        ),
        summary,
    )


def _excluded_columns(view: RunView) -> set[str]:
    """The data file's columns that are ids or the model's own inputs."""
    out = {group_column(view.name, view.options), "row_id"}
    if view.options.get("id") is not None:
        out.add(str(view.options["id"]))
    transform = view.data.transform
    if transform is not None:
        out.update(map(str, transform.features))
    out.update(map(str, names(view.options.get("features"))))
    return out


def covariates(view: RunView, *, columns: str | list[str] | None = None, folds: int = 5) -> Result:
    """Each group-level column of the data file (never given to the model) predicted
    from the group codes and from the pseudobulk profiles, cross-validated."""
    data = view.data
    _need_groups(data, 4, "group covariates")
    level = view.group_columns()
    level.columns = level.columns.map(str)
    wanted = names(columns, "columns")
    if wanted:
        obs_columns = set(map(str, view.observations().columns))
        missing = [c for c in map(str, wanted) if c not in obs_columns]
        if missing:
            raise DataError(
                f"--columns {missing} not in the data file; its columns are: "
                f"{', '.join(sorted(obs_columns))}"
            )
        varying = [c for c in map(str, wanted) if c not in level.columns]
        if varying:
            raise DataError(
                f"--columns {varying} vary within groups; a group covariate has one value per group"
            )
        chosen = list(map(str, wanted))
    else:
        excluded = _excluded_columns(view)
        chosen = [c for c in level.columns if c not in excluded]
        if not chosen:
            raise DataError(
                "the data file has no column that is constant within groups besides the "
                "group ids and the model's inputs; nothing to predict"
            )
    mean, _ = _posteriors(view.model, data)
    counts = bool(getattr(view.model, "has_count_likelihood", False))
    bulk = pseudobulk(data.x, data.group, data.n_groups, counts=counts)
    reps = {"group codes": mean, "pseudobulk": bulk}
    table = covariate_scores(reps, level[chosen], folds=folds, seed=view.seed)
    scored = table[(table["representation"] == "group codes") & (table["folds"] > 0)]
    summary = f"{len(scored)} of {len(chosen)} group-level columns scored over up to {folds} folds"
    title = f"{view.title}: group covariates from the codes and pseudobulk"
    return Result(table, lambda path: draw_covariates(table, path, title=title), summary)


def _sets(view: RunView, a: str | None, b: str | None, by: str | None) -> tuple[list, list]:
    """The two sets' group ids: as given (comma-separated), or, with ``by``, the groups
    whose value of that group-level column is ``a`` and ``b``."""
    if a is None or b is None:
        raise ConfigError(
            "differential needs both sets: --a IDS --b IDS (or --by COLUMN --a VALUE --b VALUE)"
        )
    if by is None:
        return names(a, "--a"), names(b, "--b")
    level = view.group_columns()
    level.columns = level.columns.map(str)
    if by not in level.columns:
        obs = set(map(str, view.observations().columns))
        reason = "varies within groups" if by in obs else "is not a column of the data file"
        raise DataError(
            f"--by {by!r} {reason}; group-level columns: {', '.join(level.columns) or 'none'}"
        )
    values = level[by].astype(str).to_numpy()
    ids = np.asarray(view.data.group_ids, dtype=object)
    return list(ids[values == str(a)]), list(ids[values == str(b)])


def differential(
    view: RunView,
    *,
    a: str | None = None,
    b: str | None = None,
    by: str | None = None,
    delta: float | None = None,
    samples: int = 1000,
    effect: str = "auto",
    instance: str = "prior",
    library_size: float = DEFAULT_LIBRARY_SIZE,
    top: int = 10,
) -> Result:
    """Sets A and B of groups compared feature by feature (scVI's change mode)."""
    set_a, set_b = _sets(view, a, b, by)
    table = differential_groups(
        view.model,
        view.data,
        set_a,
        set_b,
        n_samples=samples,
        delta=delta,
        effect=effect,
        instance=instance,
        library_size=library_size,
        seed=view.seed,
    )
    called = int((table["prob_change"] >= 0.95).sum())
    label = f"{by}={a} against {by}={b}" if by else f"{len(set_a)} against {len(set_b)} groups"
    title = f"{view.title}: {label}"
    summary = (
        f"{label}: {called} of {len(table)} features with P(|effect| > delta) >= 0.95; "
        f"largest effect {table['feature'].iloc[0]} ({table['effect'].iloc[0]:+.3g})"
    )
    return Result(table, lambda path: draw_volcano(table, path, top=top, title=title), summary)


ANALYSES.add(
    "distances",
    Analysis(
        distances,
        ("metric", "k", "clusters", "linkage", "max_full", "matrix"),
        "distances between groups' posteriors, nearest groups, clusters (heatmap)",
    ),
)
ANALYSES.add(
    "outliers",
    Analysis(
        outliers,
        ("samples", "top"),
        "outlier groups by log-likelihood per observation",
    ),
)
ANALYSES.add(
    "new-groups",
    Analysis(
        new_groups,
        ("new", "k", "metric"),
        "codes of new groups and their nearest known groups",
    ),
)
ANALYSES.add(
    "covariates",
    Analysis(
        covariates,
        ("columns", "folds"),
        "group-level columns predicted from the codes",
    ),
)
ANALYSES.add(
    "differential",
    Analysis(
        differential,
        ("a", "b", "by", "delta", "samples", "effect", "instance", "library_size", "top"),
        "two sets of groups compared per feature (scVI change mode)",
        group_latent=True,
    ),
)


def figure_path(out: str | Path) -> Path:
    """The figure's default path: the table's, with the suffix ``.png``."""
    return Path(out).with_suffix(".png")


def analyse_run(
    run_dir: str | Path,
    kind: str,
    out: str | Path,
    *,
    figure: str | Path | None = None,
    overwrite: bool = False,
    data_options: dict[str, Any] | None = None,
    seed: int = 0,
    **options: Any,
) -> tuple[Path, Path, str]:
    """Run the analysis ``kind`` on a saved run and write its table and figure.

    Both paths are checked before anything is computed; each file is written
    atomically, and recorded in the run's manifest if it lands in the run directory.

    Args:
        run_dir: a run directory made by ``groupvae train``.
        kind: a key of :data:`ANALYSES`.
        out: the table's path, ``.csv`` or ``.parquet``.
        figure: the figure's path (default :func:`figure_path` of ``out``).
        overwrite: replace existing files at ``out`` and ``figure``.
        data_options: changes to the run's recorded data options (``path=new.csv``).
        seed: the seed of the analysis' random draws.
        **options: the analysis' own options (:attr:`Analysis.options`).

    Returns:
        ``(table path, figure path, one-line summary)``.

    Raises:
        UnknownNameError: for an unknown ``kind`` (naming those there are).
        ConfigError: for an option the analysis does not take, paths that exist (without
            ``overwrite``), are one path, or are a run's own files, a model without the
            group latent the analysis needs.
        DataError: for bad input (an unknown group id, fewer than 2 groups in a set, ``k``
            larger than the number of groups, ...).
    """
    analysis = ANALYSES[kind]
    unknown = sorted(set(options) - set(analysis.options))
    if unknown:
        shown = ", ".join("--" + o.replace("_", "-") for o in unknown)
        takes = ", ".join("--" + o.replace("_", "-") for o in analysis.options)
        raise ConfigError(f"{shown} is not an option of {kind}; it takes: {takes}")
    table_path = frame_path(out, overwrite=overwrite)
    picture = check_output(figure if figure is not None else figure_path(out), overwrite=overwrite)
    if picture.suffix.lower() != ".png":
        raise ConfigError(f"--figure {picture} must end in .png")
    if picture.resolve() == table_path.resolve():
        raise ConfigError("--out and --figure name the same file")
    model, data = run_data(run_dir, data_options)
    if analysis.group_latent and not getattr(model, "has_group_latent", False):
        raise ConfigError(
            f"the {kind} analysis decodes group codes; {run_dir} holds a "
            f"{model.preset} model without a group latent"
        )
    if not hasattr(model, "encode_groups"):
        raise ConfigError(
            f"the analyses of groups are for group VAEs; {run_dir} holds a {model.family} model"
        )
    name, merged = run_options(model, run_dir, data_options)
    view = RunView(Path(run_dir), model, data, name, merged, seed)
    result = analysis.run(view, **options)
    write_frame(result.table, table_path, overwrite=overwrite)
    record_output(run_dir, table_path)
    result.draw(picture)
    record_output(run_dir, picture)
    return table_path, picture, result.summary


__all__ = ["ANALYSES", "Analysis", "Result", "RunView", "analyse_run", "figure_path"]
