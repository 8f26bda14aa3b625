"""The window grid over a processing area: integer maths only.

Along each axis, windows of size ``window`` start at ``-pad + k * stride`` (area coordinates), so:

- every start is a multiple of ``alignment`` away from the area origin plus ``pad`` (a multiple of the
  alignment too): windows sit on the network's pooling grid and predictions do not shift between them;
- the first window begins ``pad`` pixels before the area and the last ends at least ``pad`` after it,
  so every area pixel lies ``pad`` or more inside some window. Beyond the raster those pixels are
  mirrored; inside the raster they are real context;
- neighbouring windows overlap by ``overlap = window - stride`` pixels.

Columns are split into *panels* processed one after another, each streamed top to bottom, so the
accumulator's width (and so memory) is capped whatever the raster's width. A panel boundary is put
where exactly one window column straddles it; that column is computed in both panels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InputError


@dataclass(frozen=True)
class AxisGrid:
    """Window positions along one axis of length ``length``."""

    length: int
    window: int
    stride: int
    pad: int

    @property
    def overlap(self) -> int:
        return self.window - self.stride

    @property
    def count(self) -> int:
        """Windows needed so the last one ends at least ``pad`` past the end of the axis."""
        span = self.length + 2 * self.pad - self.window
        return 1 if span <= 0 else math.ceil(span / self.stride) + 1

    def start(self, index: int) -> int:
        return -self.pad + index * self.stride

    def starts(self) -> list[int]:
        return [self.start(i) for i in range(self.count)]


@dataclass(frozen=True)
class Panel:
    """A band of columns ``[out_start, out_end)`` written by this panel, and the window columns it runs."""

    out_start: int
    out_end: int
    first_window: int
    last_window: int


@dataclass(frozen=True)
class WindowGrid:
    """Windows over a ``width`` x ``height`` area, split into column panels."""

    columns: AxisGrid
    rows: AxisGrid
    panels: tuple[Panel, ...]

    @property
    def window(self) -> int:
        return self.columns.window

    @property
    def window_count(self) -> int:
        return sum(p.last_window - p.first_window + 1 for p in self.panels) * self.rows.count


def aligned_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


OVERLAP_PERCENT_RANGE = (0.0, 90.0)  # OVERLAP, the one place its range is set (parameters, command line, plan)


def check_overlap_percent(overlap_percent: float) -> None:
    """Refuse an OVERLAP outside :data:`OVERLAP_PERCENT_RANGE`."""
    low, high = OVERLAP_PERCENT_RANGE
    if not low <= overlap_percent <= high:
        raise InputError(f"OVERLAP must be from {low:g} to {high:g} percent of the window, got {overlap_percent:g}.")


def overlap_pixels(window: int, overlap_percent: float, alignment: int, minimum: int = 0) -> int:
    """Overlap in pixels: the percentage of the window, rounded to the alignment, at least ``minimum``."""
    check_overlap_percent(overlap_percent)
    pixels = int(round(window * overlap_percent / 100 / alignment)) * alignment
    pixels = max(pixels, aligned_up(minimum, alignment) if minimum else 0)
    if pixels >= window:
        raise InputError(f"An overlap of {pixels} px leaves no stride in a {window} px window; lower OVERLAP "
                         "or enlarge WINDOW_SIZE.")
    return pixels


def _panel_boundary(columns: AxisGrid, target: int, alignment_block: int) -> tuple[int, int]:
    """A column near ``target`` straddled by one window only, preferring multiples of ``alignment_block``.

    Returns (boundary column, index of the straddling window, or of the first window after it when none
    straddles). Any column in ``[start(b) + overlap, start(b + 1)]`` is covered by window ``b`` alone.
    """
    b = max(0, min(columns.count - 2, round((target + columns.pad) / columns.stride) - 1))
    low, high = columns.start(b) + columns.overlap, columns.start(b + 1)
    if columns.overlap == 0:  # windows abut: cut between them and no window is computed twice
        return high, b + 1
    aligned = aligned_up(low, alignment_block)
    boundary = aligned if aligned <= high else high
    return boundary, b


def plan_panels(columns: AxisGrid, max_panel_width: int, block: int = 256) -> tuple[Panel, ...]:
    """Split the columns into panels no wider than about ``max_panel_width``.

    What a panel holds in memory (the rows read, the accumulator) is as wide as its windows' span, and a
    panel between two others has windows straddling both its boundaries. Panels are added until no span
    is wider than that of one panel over ``max_panel_width`` columns, so a raster needing several panels
    takes no more memory than one needing a single panel.
    """
    limit = _span(AxisGrid(min(max_panel_width, columns.length), columns.window, columns.stride, columns.pad))
    count = max(1, math.ceil(columns.length / max(max_panel_width, columns.stride)))
    most = max(1, columns.count - 1)
    panels = _panels(columns, min(count, most), block)
    while count < most and max(_panel_span(columns, p) for p in panels) > limit:
        count += 1
        panels = _panels(columns, count, block)
    return panels


def _span(columns: AxisGrid) -> int:
    return columns.start(columns.count - 1) + columns.window - columns.start(0)


def _panel_span(columns: AxisGrid, panel: Panel) -> int:
    return columns.start(panel.last_window) + columns.window - columns.start(panel.first_window)


def _panels(columns: AxisGrid, count: int, block: int) -> tuple[Panel, ...]:
    boundaries = [0]
    for j in range(1, count):
        boundary, _ = _panel_boundary(columns, round(j * columns.length / count), block)
        if boundaries[-1] < boundary < columns.length:
            boundaries.append(boundary)
    boundaries.append(columns.length)
    panels = []
    for out_start, out_end in zip(boundaries, boundaries[1:]):
        touching = [i for i in range(columns.count)
                    if columns.start(i) < out_end and columns.start(i) + columns.window > out_start]
        panels.append(Panel(out_start, out_end, touching[0], touching[-1]))
    return tuple(panels)


def plan_grid(width: int, height: int, window: int, overlap: int, pad: int,
              max_panel_width: int = 4096) -> WindowGrid:
    """The window grid for an area; ``overlap`` and ``pad`` in pixels (already aligned)."""
    if width < 1 or height < 1:
        raise InputError(f"The processing area is empty ({width} x {height} pixels); choose an EXTENT that "
                         "overlaps the raster.")
    stride = window - overlap
    columns = AxisGrid(width, window, stride, pad)
    rows = AxisGrid(height, window, stride, pad)
    return WindowGrid(columns, rows, plan_panels(columns, max_panel_width))
