"""Figures drawn from a fitted model (matplotlib, Agg canvas; PNGs written atomically)."""

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
    "SwapGrid",
    "draw_swap_grid",
    "grid_mosaic",
    "pick_swap_images",
    "save_swap_grid",
    "swap_codes",
    "swap_grid",
]
