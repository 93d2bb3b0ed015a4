"""Figures drawn from a fitted model (matplotlib, Agg canvas; PNGs written atomically).

``PLOTS[kind](run_dir, out, seed=seed)`` draws a figure of a saved run: ``swap``,
``interpolation``, ``generation`` and ``evidence`` (ML-VAE Fig. 4-6) for image runs, and
``translation`` for Exam-Scores runs (see :mod:`groupvae.plots.run_figures`).
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

__all__ = [
    "PLOTS",
    "EvidenceGrid",
    "GenerationGrid",
    "InterpolationGrid",
    "PlotFunction",
    "SwapGrid",
    "draw_evidence",
    "draw_generation",
    "draw_interpolation",
    "draw_swap_grid",
    "evidence_grid",
    "generation_grid",
    "grid_mosaic",
    "interpolation_grid",
    "pick_swap_images",
    "save_swap_grid",
    "swap_codes",
    "swap_grid",
]
