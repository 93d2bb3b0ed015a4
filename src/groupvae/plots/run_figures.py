"""``PLOTS``: each figure drawn from a saved run directory, without training again.

``PLOTS[kind](run_dir, out, seed=seed, overwrite=False)`` loads the run
(:func:`groupvae.models.saved.load_run`), draws the figure on the run's held-out groups
and writes ``out`` (default ``run_dir/<kind>.png``) atomically, recording a figure in the
run directory in its manifest. An existing ``out`` is replaced only with ``overwrite`` (a
run's own files never are; see :func:`groupvae.store.outputs.check_output`); the default
path, groupvae's own figure in the run directory, is replaced as it is drawn again:

* ``swap``: ML-VAE's Fig. 4 (:mod:`groupvae.plots.swap_grid`);
* ``interpolation``: Fig. 5b (:mod:`groupvae.plots.interpolation`);
* ``generation``: Fig. 5a (:mod:`groupvae.plots.generation`);
* ``evidence``: Fig. 6a-b (:mod:`groupvae.plots.evidence`);
* ``translation``: the CxVAE paper's Fig. 3 for Exam-Scores runs
  (:mod:`groupvae.plots.translation`), and per feature for table runs;
* ``global-local``: UG-VAE's Fig. 3 (and its baselines' Fig. 4 and 9),
  samples as the global and the local latent move (:mod:`groupvae.plots.ugvae`);
* ``denoising``, ``cross-population``: CPVAE's Fig. 2 and 4 (:mod:`groupvae.plots.cpvae`);
* ``curves``, ``codes`` and ``reconstruction``: training curves, the group codes
  (coloured by a column of the run's data file) and observed against reconstructed
  values, for runs on any data, the user's own included (:mod:`groupvae.plots.own_data`).

:data:`FIGURE_SCOPE` says which runs each figure is drawn for (model family, data,
group latent, history); other runs get a one-line :class:`~groupvae.errors.ConfigError`
naming the figures that apply (:func:`applicable_plots`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from groupvae.errors import ConfigError, DataError
from groupvae.models.factory import load
from groupvae.models.saved import load_run, run_data
from groupvae.plots.cpvae import cpvae_figure
from groupvae.plots.evidence import draw_evidence
from groupvae.plots.generation import draw_generation
from groupvae.plots.interpolation import draw_interpolation
from groupvae.plots.own_data import (
    column_values,
    draw_codes,
    draw_curves,
    draw_reconstruction,
    draw_table_translation,
    observation_frame,
)
from groupvae.plots.swap_grid import draw_swap_grid
from groupvae.plots.tiles import require_group_latent
from groupvae.plots.translation import draw_translation, translation_example  # matplotlib
from groupvae.plots.ugvae import DEFAULT_COMPONENTS, draw_global_local_grid
from groupvae.registry import Registry
from groupvae.store.outputs import check_output
from groupvae.store.run_directory import record_output

if TYPE_CHECKING:
    from groupvae.data.grouped import GroupedDataset
    from groupvae.models.base import BaseModel
    from groupvae.models.group_vae import GroupVAE

EXAM_SCORES = "exam-scores"
OWN_FEATURES = ("table", "npz", "anndata")
"""The user's own data sets of feature vectors (``image-folder`` holds images)."""
IMAGE_PLOTS = ("swap", "interpolation", "generation", "evidence")


@dataclass(frozen=True)
class FigureScope:
    """Which runs a figure of :data:`PLOTS` is drawn for.

    Attributes:
        family: the model family (``"group-vae"``, ``"cpvae"``), or ``None`` for any.
        data: the runs' data: ``"images"`` (observations of shape ``(H, W)`` or
            ``(1|3, H, W)``), ``"features"`` (a ``table``, ``npz`` or ``anndata`` run not
            on images), a data set's name, or several of these; empty for any data.
        group_latent: the model must have a group latent.
        history: the run must record its training history (``history.csv``).
    """

    family: str | None = None
    data: tuple[str, ...] = ()
    group_latent: bool = False
    history: bool = False

    def applies(self, model: BaseModel) -> bool:
        """Whether the figure can be drawn for a run of ``model`` (its metadata says
        which data it was trained on)."""
        if self.family is not None and model.family != self.family:
            return False
        if self.group_latent and not getattr(model, "has_group_latent", False):
            return False
        if self.history and (model.history is None or len(model.history) == 0):
            return False
        return not self.data or bool(set(self.data) & _data_kinds(model))


FIGURE_SCOPE: dict[str, FigureScope] = {
    **dict.fromkeys(IMAGE_PLOTS, FigureScope("group-vae", ("images",), group_latent=True)),
    "translation": FigureScope("group-vae", (EXAM_SCORES, "table"), group_latent=True),
    "global-local": FigureScope("group-vae", ("images",)),
    "denoising": FigureScope("cpvae"),
    "cross-population": FigureScope("cpvae"),
    "curves": FigureScope(history=True),
    "codes": FigureScope("group-vae", group_latent=True),
    "reconstruction": FigureScope("group-vae", ("features",)),
}
"""Each figure of :data:`PLOTS` and the runs it is drawn for."""

FIGURE_FAMILY = {k: s.family for k, s in FIGURE_SCOPE.items() if s.family is not None}
"""Each figure of :data:`PLOTS` drawn for one model family, and that family."""


def _data_kinds(model: BaseModel) -> set[str]:
    """What a run's data is, in the terms of :attr:`FigureScope.data`."""
    name = _dataset_name(model)
    kinds = {name}
    shape = tuple(getattr(model.config, "obs_shape", ()) or ())
    if shape and _is_image_shape(shape):
        kinds.add("images")
    elif name in OWN_FEATURES:
        kinds.add("features")
    return kinds


def applicable_plots(model: BaseModel) -> list[str]:
    """The figures of :data:`PLOTS` that can be drawn for a run of ``model``."""
    return [k for k, scope in FIGURE_SCOPE.items() if scope.applies(model)]


def suggest(model: BaseModel) -> str:
    """`` Plot one of ... instead.``, naming the figures that apply to the run (or saying
    none does)."""
    own = applicable_plots(model)
    if not own:
        return " No figure of groupvae plot applies to it."
    return f" Plot {'one of ' if len(own) > 1 else ''}{', '.join(own)} instead."


class PlotFunction(Protocol):
    """Draw one figure of a saved run; returns the PNG's path."""

    def __call__(
        self,
        run_dir: str | os.PathLike[str],
        out: str | os.PathLike[str] | None = None,
        *,
        seed: int = 0,
        overwrite: bool = False,
    ) -> Path: ...


PLOTS: Registry[PlotFunction] = Registry("plot")

# A figure of the held-out groups: draw(model, holdout, path, seed=..., title=...).
ImageDrawer = Callable[..., object]


def default_path(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None,
    kind: str,
    *,
    overwrite: bool = False,
) -> Path:
    """``out``, or ``run_dir/<kind>.png`` (replaced freely) when ``out`` is ``None``.

    Raises:
        ConfigError: for an ``out`` that exists (without ``overwrite``), is a folder or
            is one of a run directory's own files (:func:`~groupvae.store.outputs.check_output`).
    """
    if out is None:
        return Path(run_dir) / f"{kind}.png"
    return check_output(out, overwrite=overwrite)


def _recorded(run_dir: str | os.PathLike[str], path: Path) -> Path:
    """``path``, recorded in the run's manifest when it lies in ``run_dir`` (so that
    ``--overwrite`` removes the figure with the run)."""
    record_output(run_dir, path)
    return path


def require_family(model: BaseModel, family: str, what: str, run_dir: object) -> None:
    """Raise :class:`ConfigError` if ``model`` is not of ``family``, naming the figures
    its own family has."""
    if model.family != family:
        raise ConfigError(
            f"{what} is drawn for {family} models; {run_dir} holds a {model.family} model "
            f"({model.config.model})." + suggest(model)
        )


def _need_group_latent(model: BaseModel, figure: str) -> None:
    """:func:`~groupvae.plots.tiles.require_group_latent`, suggesting the figures that apply."""
    try:
        require_group_latent(model, figure)  # type: ignore[arg-type]
    except ConfigError as err:
        raise ConfigError(f"{err}.{suggest(model)}") from None


def _dataset_name(model: BaseModel) -> str:
    return str(model.extra_metadata.get("data", {}).get("name", "unknown data"))


def _is_image_shape(shape: tuple[int, ...]) -> bool:
    """``(H, W)``, ``(1, H, W)`` or ``(3, H, W)``."""
    return len(shape) == 2 or (len(shape) == 3 and shape[0] in (1, 3))


def load_image_run(
    run_dir: str | os.PathLike[str], kind: str, *, group_latent: bool = True
) -> tuple[GroupVAE, GroupedDataset, str]:
    """Load a run on images for figure ``kind``: ``(model, holdout, dataset name)``.

    ``group_latent=False`` accepts models without a group latent too.

    Raises:
        ConfigError: for a run that is not on images, or (with ``group_latent``) a model
            without a group latent.
        CheckpointError: for a missing or unreadable run.
    """

    model, _, holdout = load_run(run_dir)
    name = _dataset_name(model)
    require_family(model, "group-vae", f"the {kind} figure", run_dir)
    if not _is_image_shape(holdout.obs_shape):
        raise ConfigError(
            f"the {kind} figure needs a run on images (observations of shape (1|3, H, W)); "
            f"{run_dir} was trained on {name} with observations of shape {holdout.obs_shape}."
            + suggest(model)
        )
    if group_latent:
        _need_group_latent(model, f"{kind} figure")
    return model, holdout, name


def _draw_image_figure(
    kind: str,
    figure: str,
    draw: ImageDrawer,
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None,
    seed: int,
    overwrite: bool,
) -> Path:
    """Load an image run and ``draw(model, holdout, path, seed=..., title=...)`` its figure."""
    path = default_path(run_dir, out, kind, overwrite=overwrite)
    model, holdout, name = load_image_run(run_dir, kind)
    draw(model, holdout, path, seed=seed, title=f"{model.config.model}, held-out {name}: {figure}")
    return _recorded(run_dir, path)


def _image_figure(kind: str, figure: str, draw: ImageDrawer, picks: str) -> PlotFunction:
    """A :data:`PLOTS` entry that draws ``figure`` of a saved image run on its held-out
    groups with ``draw`` (``picks``: what ``seed`` chooses)."""

    def plot(
        run_dir: str | os.PathLike[str],
        out: str | os.PathLike[str] | None = None,
        *,
        seed: int = 0,
        overwrite: bool = False,
    ) -> Path:
        return _draw_image_figure(kind, figure, draw, run_dir, out, seed, overwrite)

    plot.__name__ = plot.__qualname__ = f"plot_{kind}"
    plot.__doc__ = (
        f"Draw the {figure} of a saved run on its held-out groups.\n\n"
        f"``seed`` picks {picks}. Writes ``out`` (default ``run_dir/{kind}.png``) and "
        f"returns its path. See :func:`{draw.__module__}.{draw.__name__}`.\n\n"
        "Raises:\n    ConfigError: for a run not on images or a model without a group latent."
    )
    return plot


plot_swap = PLOTS.register("swap")(
    _image_figure("swap", "swap grid (ML-VAE Fig. 4)", draw_swap_grid, "the images")
)
plot_interpolation = PLOTS.register("interpolation")(
    _image_figure(
        "interpolation",
        "interpolation (ML-VAE Fig. 5b)",
        draw_interpolation,
        "the endpoint groups and images",
    )
)
plot_generation = PLOTS.register("generation")(
    _image_figure(
        "generation",
        "generation (ML-VAE Fig. 5a)",
        draw_generation,
        "the groups and draws the styles from the prior",
    )
)
plot_evidence = PLOTS.register("evidence")(
    _image_figure(
        "evidence", "accumulated evidence (ML-VAE Fig. 6)", draw_evidence, "the held-out group"
    )
)


@PLOTS.register("translation")
def plot_translation(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Draw a translation figure of a saved run: for Exam-Scores, the CxVAE paper's
    Fig. 3 (one held-out school's students translated into another held-out school);
    for a table run, per feature, one group's rows before and after translation to
    another group's code, beside that group's rows, in the user's units
    (:func:`groupvae.plots.own_data.draw_table_translation`). ``seed`` picks the two
    groups. Writes ``out`` (default ``run_dir/translation.png``) and returns its path.

    Raises:
        ConfigError: for a run on other data, or a model without a group latent.
        DataError: for a run with fewer than 2 (held-out, for Exam-Scores) groups.
    """

    path = default_path(run_dir, out, "translation", overwrite=overwrite)
    model = load(run_dir)
    name = _dataset_name(model)
    require_family(model, "group-vae", "the translation figure", run_dir)
    if name not in (EXAM_SCORES, "table"):
        raise ConfigError(
            f"the translation figure is for {EXAM_SCORES} and table runs; {run_dir} was "
            f"trained on {name}." + suggest(model)
        )
    _need_group_latent(model, "translation figure")
    if name == "table":
        model, data = run_data(run_dir)
        if data.n_groups < 2:
            raise DataError(f"a translation needs 2 groups; {run_dir} has 1")
        src, tgt = np.random.default_rng(seed).choice(data.n_groups, 2, replace=False)
        return _recorded(run_dir, draw_table_translation(model, data, int(src), int(tgt), path))
    model, _, holdout = load_run(run_dir)
    if holdout.n_groups < 2:
        raise DataError(f"a translation needs 2 held-out schools; {run_dir} holds out 1")
    source, target = np.random.default_rng(seed).choice(holdout.n_groups, 2, replace=False)
    example = translation_example(model, holdout, int(source), int(target))
    title = f"held-out school {source} \u2192 {target}"
    return _recorded(run_dir, draw_translation({model.config.model: example}, path, title=title))


@PLOTS.register("curves")
def plot_curves(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Draw a saved run's training curves from its ``history.csv``: the training and
    validation ELBO per observation by optimiser step, with the restored check's step and
    the stopping step marked when the run stopped early on the holdout ELBO
    (:func:`groupvae.plots.own_data.draw_curves`). Any run with a history. ``seed`` is
    unused. Writes ``out`` (default ``run_dir/curves.png``) and returns its path.

    Raises:
        ConfigError: for a run without a training history.
        DataError: for a history with no ELBO or loss columns.
    """
    path = default_path(run_dir, out, "curves", overwrite=overwrite)
    model = load(run_dir)
    if model.history is None or len(model.history) == 0:
        raise ConfigError(
            f"the curves figure needs the run's training history; {run_dir} has no "
            "history.csv." + suggest(model)
        )
    title = f"{model.config.model} on {_dataset_name(model)}: training curves"
    stopping = model.extra_metadata.get("early_stopping")
    record = stopping if isinstance(stopping, dict) else None
    return _recorded(run_dir, draw_curves(model.history, path, early_stopping=record, title=title))


@PLOTS.register("codes")
def plot_codes(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    overwrite: bool = False,
    color: str | None = None,
) -> Path:
    """Draw the group codes of a saved run's groups (all of them, one point each): the
    group posterior means in 2-d (their first 2 principal components for a larger
    group latent), coloured by ``color``, a column of the run's data file (a table's
    column, an AnnData file's ``.obs`` column, an ``.npz`` file's 1-d array): its value
    where constant within groups, else its group mean. Default: the group size.
    ``seed`` is unused. Writes ``out`` (default ``run_dir/codes.png``) and returns its
    path (:func:`groupvae.plots.own_data.draw_codes`).

    Raises:
        ConfigError: for a model without a group latent.
        DataError: for a ``color`` that is not a column of the data file (naming those
            there are), a text column that varies within groups, or a run with no data
            file (``color`` given).
    """
    path = default_path(run_dir, out, "codes", overwrite=overwrite)
    model = load(run_dir)
    require_family(model, "group-vae", "the codes figure", run_dir)
    _need_group_latent(model, "codes figure")
    model, data = run_data(run_dir)
    codes = model.get_latent_representation(data, level="group")
    if color is None:
        values, label = data.group_sizes, "group size (observations)"
    else:
        record = model.extra_metadata.get("data", {})
        options = {**record.get("options", {}), **({"path": record["file"]["path"]}
                   if record.get("file") else {})}  # fmt: skip
        frame, group_column, where = observation_frame(_dataset_name(model), options)
        values, label = column_values(frame, group_column, color, data.group_ids, where)
    title = f"{model.config.model} on {_dataset_name(model)}: one code per group ({data.n_groups})"
    return _recorded(run_dir, draw_codes(codes, values, label, path, title=title))


@PLOTS.register("reconstruction")
def plot_reconstruction(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Draw observed against reconstructed values of a saved table, npz or AnnData run's
    held-out groups, one panel per feature (the first 12 at most), in the user's units
    where the run records a feature transform
    (:func:`groupvae.plots.own_data.draw_reconstruction`). ``seed`` is unused. Writes
    ``out`` (default ``run_dir/reconstruction.png``) and returns its path.

    Raises:
        ConfigError: for a run on other data, or of another family.
    """
    path = default_path(run_dir, out, "reconstruction", overwrite=overwrite)
    model = load(run_dir)
    name = _dataset_name(model)
    require_family(model, "group-vae", "the reconstruction figure", run_dir)
    if name not in OWN_FEATURES:
        raise ConfigError(
            f"the reconstruction figure is for {', '.join(OWN_FEATURES)} runs; {run_dir} "
            f"was trained on {name}." + suggest(model)
        )
    model, _, hold = load_run(run_dir)
    title = f"{model.config.model} on {name}, held-out groups: observed vs reconstructed"
    return _recorded(run_dir, draw_reconstruction(model, hold, path, title=title))


@PLOTS.register("global-local")
def plot_global_local(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Draw samples as the global and the local latent move (UG-VAE Fig. 3) for a saved run.

    For a mixture prior, ``seed`` picks 3 of the ``K`` components (one panel each; the
    paper shows 3 of 10 or 20) and ``z`` moves within ``mu_d(beta) +- 3``; for the Normal
    prior (ML-VAE, the paper's Fig. 4) there is one panel and ``z`` moves within ``+-1``.
    A model without a group latent (GMVAE, beta-VAE; Fig. 9) gets one row per panel.
    Writes ``out`` (default ``run_dir/global-local.png``) and returns its path. See
    :func:`groupvae.plots.ugvae.draw_global_local_grid`.

    Raises:
        ConfigError: for a run not on images.
    """
    path = default_path(run_dir, out, "global-local", overwrite=overwrite)
    model, _, name = load_image_run(run_dir, "global-local", group_latent=False)
    mixture = model.module.prior.has_clusters
    k = int(model.config.n_components) if mixture else 1
    rng = np.random.default_rng(seed)
    components = np.sort(rng.choice(k, min(k, len(DEFAULT_COMPONENTS)), replace=False))
    path = draw_global_local_grid(
        model,
        path,
        components=components.tolist(),
        z_range=3.0 if mixture else 1.0,
        title=f"{model.config.model}, {name}: global x local samples (UG-VAE Fig. 3)",
    )
    return _recorded(run_dir, path)


def _cpvae_figure(kind: str) -> PlotFunction:
    """A :data:`PLOTS` entry of one CPVAE figure (:func:`groupvae.plots.cpvae.cpvae_figure`)."""

    def plot(
        run_dir: str | os.PathLike[str],
        out: str | os.PathLike[str] | None = None,
        *,
        seed: int = 0,
        overwrite: bool = False,
    ) -> Path:
        path = default_path(run_dir, out, kind, overwrite=overwrite)
        model, _, hold = load_run(run_dir)
        require_family(model, "cpvae", f"the {kind} figure", run_dir)
        return _recorded(run_dir, cpvae_figure(model, hold, kind, path, seed=seed))

    plot.__doc__ = f"Draw a saved CPVAE run's {kind} figure on its holdout images."
    return plot


PLOTS.add("denoising", _cpvae_figure("denoising"))
PLOTS.add("cross-population", _cpvae_figure("cross-population"))


__all__ = [
    "FIGURE_FAMILY",
    "FIGURE_SCOPE",
    "PLOTS",
    "FigureScope",
    "PlotFunction",
    "applicable_plots",
    "default_path",
    "load_image_run",
    "plot_codes",
    "plot_curves",
    "plot_evidence",
    "plot_generation",
    "plot_global_local",
    "plot_interpolation",
    "plot_reconstruction",
    "plot_swap",
    "plot_translation",
]
