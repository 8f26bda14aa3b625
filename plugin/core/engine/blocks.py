"""Cutting a run into blocks that give, pixel for pixel, what one run over the whole area gives.

A pixel's value depends only on the windows that touch it: what each window reads (real pixels inside the
raster, mirrored beyond it, wherever the run starts) and each window's weights, which depend only on its
overlaps with its neighbours (:func:`.blending.axis_weights`; 0 where a side faces the area's edge).

So a block is classified by a *block run*: the engine over the block alone, with a window grid that is the
whole run's grid cut down to the windows whose footprint touches the block (:func:`block_plan`,
:meth:`.grid.AxisGrid.sub_grid`). Those windows keep their positions (they reach beyond the block, into the
real pixels around it, or mirrored beyond the raster as in the whole run) and their weights: the first and
last keep their overlaps with the whole run's windows left out, so they ramp exactly as in the whole run.

Every pixel of the block gets the same windows' values, added in the same order (window row by window row),
so the sums are bitwise equal: the classes are identical and so are the probabilities. The block's edges are
put where a window's footprint ends (:func:`block_edges`), so a block of ``q`` strides is touched by
``q + ceil(window / stride) - 1`` windows per axis, the fewest a block of that size can have; the windows
computed twice (the *halo*) are the price of independent blocks (:attr:`BlockLayout.recompute_share`).
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace

from ..areas.window import PixelWindow
from .grid import AxisGrid, WindowGrid, plan_panels
from .plan import RunPlan

DEFAULT_MAX_RUN_WIDTH = 4096  # a block run of at most this width is one panel (plan's default panel width)


@dataclass(frozen=True)
class Span:
    """``[start, end)`` along one axis of the area."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


def whole_strides(size: int, stride: int) -> int:
    """``size`` rounded to a whole number of strides (at least one)."""
    return max(1, round(size / stride)) * stride


def block_edges(axis: AxisGrid, size: int, offset: int = 0) -> list[int]:
    """Block boundaries along an axis: 0, then about every ``size`` pixels (whole strides) where a window's
    footprint ends, then the axis' end. A last block thinner than half a block joins the one before it."""
    size = whole_strides(size, axis.stride)
    ends = sorted({p + axis.window - offset for p in axis.positions if 0 < p + axis.window - offset < axis.length})
    edges, target = [0], size
    while target < axis.length:
        later = [e for e in ends if e > edges[-1]]
        if not later:
            break
        edges.append(min(later, key=lambda e: abs(e - target)))
        target = edges[-1] + size
    edges.append(axis.length)
    if len(edges) > 2 and edges[-1] - edges[-2] < size // 2:
        del edges[-2]
    return edges


def touching_windows(axis: AxisGrid, span: Span, offset: int = 0) -> tuple[int, int]:
    """Indices of the first and last window whose footprint overlaps ``span``."""
    ends = [p + axis.window - offset for p in axis.positions]
    starts = [p + offset for p in axis.positions]
    return bisect.bisect_right(ends, span.start), bisect.bisect_left(starts, span.end) - 1


@dataclass(frozen=True)
class Block:
    """One block: its place in the layout, its pixels (area coordinates), the whole run's window columns and
    rows that touch it (first, last), and the windows its run computes."""

    row: int
    col: int
    window: PixelWindow
    columns: tuple[int, int]
    rows: tuple[int, int]
    windows: int = 0

    @property
    def name(self) -> str:
        return f"r{self.row:04d}_c{self.col:04d}"

    @property
    def run_area(self) -> PixelWindow:
        """The area its run covers: the block itself (its windows reach beyond it for context)."""
        return self.window

    def in_raster(self, area: PixelWindow) -> tuple[PixelWindow, PixelWindow]:
        """(run area, block) in raster coordinates, for an area that starts at ``area``'s origin."""
        return self.run_area.placed_in(area), self.window.placed_in(area)


@dataclass(frozen=True)
class BlockLayout:
    """The blocks of a run, row by row, and what they cost against one run over the whole area."""

    blocks: tuple[Block, ...]
    rows: int
    cols: int
    block_size: int
    whole_run_windows: int

    @property
    def windows(self) -> int:
        return sum(b.windows for b in self.blocks)

    @property
    def recompute_share(self) -> float:
        """Windows computed by the block runs beyond those of one whole run, as a share of the latter."""
        return self.windows / max(self.whole_run_windows, 1) - 1.0

    def describe(self) -> str:
        return (f"{len(self.blocks)} block(s) ({self.cols} x {self.rows}) of about {self.block_size} px; the "
                f"halo around them computes {100 * self.recompute_share:.0f} % more windows than one run")


def block_plan(plan: RunPlan, block: Block, max_panel_width: int = DEFAULT_MAX_RUN_WIDTH) -> RunPlan:
    """The whole run's plan over the block: the windows that touch it, where they are in the whole run."""
    window = block.window
    columns = plan.grid.columns.sub_grid(*block.columns, window.col, window.width)
    rows = plan.grid.rows.sub_grid(*block.rows, window.row, window.height)
    return replace(plan, grid=WindowGrid(columns, rows, plan_panels(columns, max_panel_width)))


def plan_blocks(plan: RunPlan, size: int, max_panel_width: int = DEFAULT_MAX_RUN_WIDTH) -> BlockLayout:
    """Blocks of about ``size`` pixels (whole strides) over the plan's area, each with the windows it needs."""
    columns, rows, offset = plan.grid.columns, plan.grid.rows, plan.offset
    col_edges, row_edges = block_edges(columns, size, offset), block_edges(rows, size, offset)
    blocks = []
    for r, (row0, row1) in enumerate(zip(row_edges, row_edges[1:])):
        row_windows = touching_windows(rows, Span(row0, row1), offset)
        for c, (col0, col1) in enumerate(zip(col_edges, col_edges[1:])):
            block = Block(r, c, PixelWindow(col0, row0, col1 - col0, row1 - row0),
                          touching_windows(columns, Span(col0, col1), offset), row_windows)
            windows = block_plan(plan, block, max_panel_width).grid.window_count
            blocks.append(replace(block, windows=windows))
    return BlockLayout(tuple(blocks), len(row_edges) - 1, len(col_edges) - 1, whole_strides(size, columns.stride),
                       plan.grid.window_count)


def default_block_size(plan: RunPlan, max_run_width: int = DEFAULT_MAX_RUN_WIDTH) -> int:
    """The largest block (whole strides) of at most ``max_run_width`` pixels, so each block run streams as one
    panel (its windows reach a window's overlap or so beyond the block on each side, as a single panel's do)."""
    stride = plan.grid.columns.stride
    return max(1, max_run_width // stride) * stride


def halo_share(window: int, stride: int, block: int) -> float:
    """Extra windows of interior blocks of ``block`` px (whole strides) over one run: per axis a block of
    ``q`` strides is touched by ``q + ceil(window / stride) - 1`` windows instead of ``q``."""
    strides = max(1, round(block / stride))
    per_axis = (strides + math.ceil(window / stride) - 1) / strides
    return per_axis ** 2 - 1.0
