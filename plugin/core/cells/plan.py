"""Planning a cell run: the engine's window grid expressing a grid of cells.

Windows of ``cell + 2 x border`` pixels at a stride of one cell, the first starting ``border`` pixels before the
area, and the output footprint being the cell itself (``offset`` = border): window ``(r, c)`` of the grid is cell
``(r, c)``, whose pixels are area columns ``c x cell`` to ``(c + 1) x cell``. Unlike segmentation's flush grid
(:mod:`..engine.grid`), the positions are fixed by the cells and never moved to the raster's edges: the last cells
of a row or column may reach past the area (a partial cell), and past the raster's edge the reader mirrors.
The engine's reader then skips, unread and unrun, every cell without a valid pixel inside the area and the MASK.
"""
from __future__ import annotations

import math

from ..engine.grid import AxisGrid, WindowGrid, plan_panels
from ..engine.plan import RunPlan
from ..engine.tta import TTA_MODES, transforms_for
from ..errors import InputError

CELL_BATCH_PIXELS = 256 * 256  # the CPU batch: as many windows as make this many pixels (small cells batch well)
MAX_CELL_BATCH = 64
GPU_BATCH_FACTOR = 4


def cell_batch_size(window: int, provider: str | None) -> int:
    """Windows per model run when BATCH_SIZE is 0: about a 256 px window's pixels on the CPU, four times that on
    other providers."""
    batch = max(1, min(MAX_CELL_BATCH, CELL_BATCH_PIXELS // (window * window)))
    return batch if provider in (None, "CPUExecutionProvider") else batch * GPU_BATCH_FACTOR


def plan_cells(cell_px: int, border_px: int, width: int, height: int, raw_channels: tuple[int, ...] = (),
               tta: str = "none", batch_size: int = 0, provider: str | None = None,
               max_panel_width: int = 4096) -> RunPlan:
    """The plan for cells of ``cell_px`` with ``border_px`` of context over a ``width`` x ``height`` area."""
    if width < 1 or height < 1:
        raise InputError(f"The processing area is empty ({width} x {height} pixels): the EXTENT does not overlap "
                         "the raster. Choose an extent inside the layer or leave EXTENT empty.")
    if cell_px < 1 or border_px < 0:
        raise InputError(f"Cells of {cell_px} px with a border of {border_px} px are not possible; a cell holds at "
                         "least one pixel.")
    if tta not in TTA_MODES:
        raise InputError(f"TTA '{tta}' is not known; use one of {', '.join(TTA_MODES)}.")
    if batch_size < 0:
        raise InputError(f"BATCH_SIZE must be 0 (by device) or more, got {batch_size}.")
    window = cell_px + 2 * border_px
    columns, rows = (_cell_axis(length, cell_px, border_px) for length in (width, height))
    grid = WindowGrid(columns, rows, plan_panels(columns, max(max_panel_width, window)))
    return RunPlan(window=window, overlap=2 * border_px, margin=0, margin_source="cells: the border is context only",
                   reach=border_px, offset=border_px, grid=grid, transforms=transforms_for(tta), blending="none",
                   batch_size=batch_size or cell_batch_size(window, provider), single_prediction=False,
                   raw_channels=raw_channels)


def _cell_axis(length: int, cell_px: int, border_px: int) -> AxisGrid:
    """One window per cell along an axis of ``length`` pixels: cell ``i``'s window starts ``border_px`` before it."""
    return AxisGrid(length, cell_px + 2 * border_px,
                    tuple(i * cell_px - border_px for i in range(cells_covering(length, cell_px))))


def cell_counts(plan: RunPlan) -> tuple[int, int]:
    """(columns, rows) of cells: the grid's windows along each axis."""
    return plan.grid.columns.count, plan.grid.rows.count


def cells_covering(length: int, cell_px: int) -> int:
    """Cells along an axis of ``length`` pixels (the last one partial when the length is no multiple)."""
    return max(1, math.ceil(length / cell_px))
