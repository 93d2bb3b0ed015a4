"""Figures drawn from a fitted model (matplotlib, Agg canvas; PNGs written atomically).

``PLOTS[kind](run_dir, out, seed=seed)`` draws a figure of a saved run: ``swap``,
``interpolation``, ``generation`` and ``evidence`` (ML-VAE Fig. 4-6) and ``global-local``
(UG-VAE Fig. 3) for image runs, ``translation`` for Exam-Scores and table runs, and
``curves``, ``codes`` and ``reconstruction`` for runs on any data, the user's own
included (see :mod:`groupvae.plots.run_figures` and :mod:`groupvae.plots.own_data`).
UG-VAE's other figures (Fig. 5a and 5b, 14) are in
:mod:`groupvae.plots.ugvae`.
"""

from groupvae.plots.evidence import EvidenceGrid, draw_evidence, evidence_grid
from groupvae.plots.generation import GenerationGrid, draw_generation, generation_grid
from groupvae.plots.interpolation import InterpolationGrid, draw_interpolation, interpolation_grid
from groupvae.plots.run_figures import PLOTS, PlotFunction
from groupvae.plots.swap_grid import (
    SwapGrid,
    draw_swap_grid,
    grid_mosaic,
    pick_swap_images,
    save_swap_grid,
    swap_codes,
    swap_grid,
)
from groupvae.plots.ugvae import (
    domain_interpolation_grid,
    draw_domain_interpolation,
    draw_global_local_grid,
    draw_posterior_tsne,
    global_local_grid,
)

__all__ = [
    "PLOTS",
    "EvidenceGrid",
    "GenerationGrid",
    "InterpolationGrid",
    "PlotFunction",
    "SwapGrid",
    "domain_interpolation_grid",
    "draw_domain_interpolation",
    "draw_evidence",
    "draw_generation",
    "draw_global_local_grid",
    "draw_interpolation",
    "draw_posterior_tsne",
    "draw_swap_grid",
    "evidence_grid",
    "generation_grid",
    "global_local_grid",
    "grid_mosaic",
    "interpolation_grid",
    "pick_swap_images",
    "save_swap_grid",
    "swap_codes",
    "swap_grid",
]
