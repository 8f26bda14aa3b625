"""Cutting a run into blocks that give, pixel for pixel, what one run over the whole area gives.

A pixel's value depends only on the windows that touch it: what each window reads (real pixels inside the
raster, mirrored beyond it, wherever the run starts) and each window's weights. A window's weights depend
on its place in the grid only through its sides that face the area's edge, and only within ``overlap``
pixels of such a side (:func:`.blending.axis_weights`).

So a block is classified by a *block run*: the engine over a sub-area whose window grid is the whole run's
grid cut down to the windows that touch the block (:func:`run_span`):

- the sub-area starts a whole number of strides from the area's origin, so its windows are the whole run's
  windows (same window, stride and pad);
- its first window is the first that touches the block (or the area's first window). The window before it
  ends before the block, so the first window's leading ``overlap`` pixels, the only ones whose weight
  changes when that side faces the edge, lie before the block too. The same holds for its last window,
  unless that is the area's last window: then the sub-area ends where the area ends, as does the grid.

Every pixel of the block gets the same windows' values, added in the same order (window row by window
row), so the sums are bitwise equal: the classes are identical and so are the probabilities. The block's
edges are put where a window ends (:func:`block_edges`), so a block of ``q`` strides is touched by
``q + ceil(window / stride) - 1`` windows per axis, the fewest a block of that size can have; the
windows computed twice (the *halo*) are the price of independent blocks (:attr:`BlockLayout.recompute_share`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..areas.window import PixelWindow
from .grid import AxisGrid, plan_grid
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


def block_edges(axis: AxisGrid, size: int) -> list[int]:
    """Block boundaries along an axis: 0, then every ``size`` (whole strides) where a window ends, then the
    axis' end. A last block thinner than half a block joins the one before it."""
    size = whole_strides(size, axis.stride)
    phase = (axis.window - axis.pad) % axis.stride  # window ends are at this phase of the stride
    edge = phase + round((size - phase) / axis.stride) * axis.stride
    while edge <= 0:
        edge += axis.stride
    edges = [0]
    while edge < axis.length:
        edges.append(edge)
        edge += size
    edges.append(axis.length)
    if len(edges) > 2 and edges[-1] - edges[-2] < size // 2:
        del edges[-2]
    return edges


def touching_windows(axis: AxisGrid, span: Span) -> tuple[int, int]:
    """Indices of the first and last window that overlap ``span``."""
    first = max(0, (span.start + axis.pad - axis.window) // axis.stride + 1)
    last = min(axis.count - 1, -(-(span.end + axis.pad) // axis.stride) - 1)
    return first, last


def run_span(axis: AxisGrid, span: Span) -> Span:
    """The sub-area whose own grid is the windows touching ``span`` (see the module's docstring)."""
    first, last = touching_windows(axis, span)
    while first > 0 and first * axis.stride > span.start:  # the sub-area must hold the block
        first -= 1
    start = first * axis.stride
    if last == axis.count - 1:
        return Span(start, axis.length)
    length = span.end - start
    windows = last - first + 1
    if windows >= 2:  # long enough for the grid (pad, stride, window) to reach window ``last``
        length = max(length, (windows - 2) * axis.stride + axis.window - 2 * axis.pad + 1)
    return Span(start, min(axis.length, start + length))


@dataclass(frozen=True)
class Block:
    """One block: its place in the layout, its pixels and the sub-area its run covers (area coordinates)."""

    row: int
    col: int
    window: PixelWindow
    run_area: PixelWindow
    windows: int  # windows its run computes

    @property
    def name(self) -> str:
        return f"r{self.row:04d}_c{self.col:04d}"

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
    """The whole run's plan over the block's sub-area: the same window, overlap, margin and pad."""
    grid = plan_grid(block.run_area.width, block.run_area.height, plan.window, plan.overlap, plan.pad,
                     max_panel_width)
    return replace(plan, grid=grid)


def plan_blocks(plan: RunPlan, size: int, max_panel_width: int = DEFAULT_MAX_RUN_WIDTH) -> BlockLayout:
    """Blocks of about ``size`` pixels (whole strides) over the plan's area, each with its run's sub-area."""
    columns, rows = plan.grid.columns, plan.grid.rows
    col_edges, row_edges = block_edges(columns, size), block_edges(rows, size)
    blocks = []
    for r, (row0, row1) in enumerate(zip(row_edges, row_edges[1:])):
        row_run = run_span(rows, Span(row0, row1))
        for c, (col0, col1) in enumerate(zip(col_edges, col_edges[1:])):
            col_run = run_span(columns, Span(col0, col1))
            block = Block(r, c, PixelWindow(col0, row0, col1 - col0, row1 - row0),
                          PixelWindow(col_run.start, row_run.start, col_run.length, row_run.length), 0)
            windows = block_plan(plan, block, max_panel_width).grid.window_count
            blocks.append(replace(block, windows=windows))
    return BlockLayout(tuple(blocks), len(row_edges) - 1, len(col_edges) - 1, whole_strides(size, columns.stride),
                       plan.grid.window_count)


def default_block_size(plan: RunPlan, max_run_width: int = DEFAULT_MAX_RUN_WIDTH) -> int:
    """The largest block (whole strides) whose run, halo included, is at most ``max_run_width`` pixels wide,
    so each block run streams as one panel."""
    stride = plan.grid.columns.stride
    long_axis = AxisGrid(100 * max_run_width, plan.window, stride, plan.pad)
    for strides in range(max(1, max_run_width // stride), 0, -1):
        edges = block_edges(long_axis, strides * stride)
        if run_span(long_axis, Span(edges[1], edges[2])).length <= max_run_width:
            return strides * stride
    return stride


def halo_share(window: int, stride: int, block: int) -> float:
    """Extra windows of interior blocks of ``block`` px (whole strides) over one run: per axis a block of
    ``q`` strides is touched by ``q + ceil(window / stride) - 1`` windows instead of ``q``."""
    strides = max(1, round(block / stride))
    per_axis = (strides + math.ceil(window / stride) - 1) / strides
    return per_axis ** 2 - 1.0
