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
  (:mod:`groupvae.plots.translation`);
* ``global-local``: UG-VAE's Fig. 3 (and its baselines' Fig. 4 and 9),
  samples as the global and the local latent move (:mod:`groupvae.plots.ugvae`).

The first four need a run on images and a model with a group latent; ``global-local``
a run on images (any model); ``translation`` an Exam-Scores run. Other runs get a
:class:`~groupvae.errors.ConfigError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from groupvae.errors import ConfigError, DataError
from groupvae.models.saved import load_run
from groupvae.plots.cpvae import cpvae_figure
from groupvae.plots.evidence import draw_evidence
from groupvae.plots.generation import draw_generation
from groupvae.plots.interpolation import draw_interpolation
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
IMAGE_PLOTS = ("swap", "interpolation", "generation", "evidence")
FIGURE_FAMILY = {
    **dict.fromkeys((*IMAGE_PLOTS, "translation", "global-local"), "group-vae"),
    "denoising": "cpvae",
    "cross-population": "cpvae",
}
"""Each figure of :data:`PLOTS` and the model family it is drawn for."""


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
        own = ", ".join(k for k, f in FIGURE_FAMILY.items() if f == model.family)
        raise ConfigError(
            f"{what} is drawn for {family} models; {run_dir} holds a {model.family} model "
            f"({model.config.model}). Plot one of {own} instead."
        )


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
        hint = " Plot 'translation' instead." if name == EXAM_SCORES else ""
        raise ConfigError(
            f"the {kind} figure needs a run on images (observations of shape (1|3, H, W)); "
            f"{run_dir} was trained on {name} with observations of shape {holdout.obs_shape}."
            + hint
        )
    if group_latent:
        require_group_latent(model, f"{kind} figure")
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
        "interpolation", "interpolation (ML-VAE Fig. 5b)", draw_interpolation,
        "the endpoint groups and images",
    )
)
plot_generation = PLOTS.register("generation")(
    _image_figure(
        "generation", "generation (ML-VAE Fig. 5a)", draw_generation,
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
    """Draw the Exam-Scores translation figure (CxVAE paper's Fig. 3) of a saved run.

    One held-out school's students are translated into another held-out school chosen
    by ``seed``. Writes ``out`` (default ``run_dir/translation.png``) and returns its path.

    Raises:
        ConfigError: for a run not on Exam-Scores, or a model without a group latent.
        DataError: for a run with fewer than 2 held-out schools.
    """

    path = default_path(run_dir, out, "translation", overwrite=overwrite)
    model, _, holdout = load_run(run_dir)
    name = _dataset_name(model)
    require_family(model, "group-vae", "the translation figure", run_dir)
    if name != EXAM_SCORES:
        raise ConfigError(
            f"the translation figure is for {EXAM_SCORES} runs; {run_dir} was trained on "
            f"{name}. Plot one of {', '.join(IMAGE_PLOTS)} instead."
        )
    require_group_latent(model, "translation figure")
    if holdout.n_groups < 2:
        raise DataError(f"a translation needs 2 held-out schools; {run_dir} holds out 1")
    source, target = np.random.default_rng(seed).choice(holdout.n_groups, 2, replace=False)
    example = translation_example(model, holdout, int(source), int(target))
    title = f"held-out school {source} \u2192 {target}"
    return _recorded(run_dir, draw_translation({model.config.model: example}, path, title=title))


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
    "PLOTS",
    "PlotFunction",
    "default_path",
    "load_image_run",
    "plot_evidence",
    "plot_generation",
    "plot_global_local",
    "plot_interpolation",
    "plot_swap",
    "plot_translation",
]
