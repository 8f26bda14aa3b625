"""The window grid over a processing area: integer maths only.

Along each axis the windows cover a *span*: the area, plus the real pixels that serve as context where
the area's edge lies inside the raster (an EXTENT, a MASK's bounds), up to ``reach`` pixels on that side
(:func:`wanted_span`). The first window starts where the span starts and the last ends where it ends:

- at the raster's edge there is no data beyond, so no context to wait for: the window is flush with the
  edge and its side there keeps full weight (:mod:`.blending`); nothing is mirrored and no window hangs
  over the edge;
- inside the raster, the ``reach`` pixels beyond the area are real context, so the area's edge pixels
  are predicted as the interior ones are;
- between windows the overlap is at least the required ``overlap``, with the fewest windows: the strides
  are spread as evenly as the network's pooling grid (``alignment``) allows, all at most
  ``window - overlap``;
- every start is a multiple of ``alignment`` from the raster's origin (when the strides allow), so
  windows sit on the network's pooling grid and predictions do not shift between them. The last window
  may therefore end up to ``alignment - 1`` pixels past the span (mirrored beyond the raster), as a
  whole-raster pass pads the raster up to a multiple of its stride.

Columns are split into *panels* processed one after another, each streamed top to bottom, so the
accumulator's width (and so memory) is capped whatever the raster's width. A panel boundary is put
where at most one window column straddles it; that column is computed in both panels.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from ..errors import InputError


@dataclass(frozen=True)
class AxisGrid:
    """Window positions along one axis of an area of ``length`` pixels (area coordinates, increasing).

    ``lead`` and ``trail`` are the overlaps of the first and last window with neighbours outside this
    grid (a block's sub-grid cut from the whole run's grid); 0 where there is none.
    """

    length: int
    window: int
    positions: tuple[int, ...]
    lead: int = 0
    trail: int = 0

    @property
    def count(self) -> int:
        return len(self.positions)

    def start(self, index: int) -> int:
        return self.positions[index]

    def starts(self) -> list[int]:
        return list(self.positions)

    @property
    def stride(self) -> int:
        """The longest step between two windows (the window itself when there is one window)."""
        steps = [b - a for a, b in zip(self.positions, self.positions[1:])]
        return max(steps) if steps else self.window

    @property
    def overlap(self) -> int:
        """The shortest overlap between neighbouring windows (0 when they do not overlap)."""
        return max(0, self.window - self.stride)

    def sides(self, index: int) -> tuple[int, int]:
        """Overlaps of window ``index`` with the window before and after it (0: no neighbour on that side)."""
        lead = self.lead if index == 0 else self.positions[index - 1] + self.window - self.positions[index]
        last = self.count - 1
        trail = self.trail if index == last else self.positions[index] + self.window - self.positions[index + 1]
        return max(lead, 0), max(trail, 0)

    def covered(self, index: int, offset: int = 0) -> int:
        """Pixels of the area inside window ``index``'s footprint (``offset`` pixels in from each side)."""
        start = self.positions[index] + offset
        return max(0, min(start + self.window - 2 * offset, self.length) - max(start, 0))

    def sub_grid(self, first: int, last: int, origin: int, length: int) -> "AxisGrid":
        """Windows ``first`` to ``last`` of this grid over the sub-area ``[origin, origin + length)``, their
        weights unchanged (the overlaps with the windows left out are kept as ``lead`` and ``trail``)."""
        return AxisGrid(length, self.window, tuple(p - origin for p in self.positions[first:last + 1]),
                        self.sides(first)[0], self.sides(last)[1])


@dataclass(frozen=True)
class AreaEdges:
    """Real pixels of the raster beyond each side of the area: 0 where the side is the raster's edge."""

    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0


@dataclass(frozen=True)
class AxisLayout:
    """What the windows along one axis must do: their size, the least overlap, the network's grid, the
    context wanted beyond an edge inside the raster, and the footprint's offset (output smaller than input)."""

    window: int
    overlap: int
    alignment: int = 1
    reach: int = 0
    offset: int = 0


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
        """Windows computed (a column straddling two panels counts twice)."""
        return sum(p.last_window - p.first_window + 1 for p in self.panels) * self.rows.count

    def area_predictions(self, offset: int = 0) -> int:
        """Predicted pixels that land in the area (a column computed in two panels counts twice)."""
        rows = sum(self.rows.covered(i, offset) for i in range(self.rows.count))
        columns = sum(self.columns.covered(i, offset) for p in self.panels
                      for i in range(p.first_window, p.last_window + 1))
        return rows * columns


def aligned_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def aligned_down(value: int, alignment: int) -> int:
    return value // alignment * alignment


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


def wanted_span(length: int, before: int, after: int, layout: AxisLayout) -> tuple[int, int]:
    """``[start, end)`` (raster coordinates, the area starting at ``before``) the windows must cover: the area,
    the real context up to ``reach`` beyond each side, and at least the footprint's offset (mirrored beyond the
    raster). The start is on the network's grid."""
    start = aligned_down(before - min(before, layout.reach), layout.alignment)
    start = min(start, aligned_down(before - layout.offset, layout.alignment))
    end = before + length + max(min(after, layout.reach), layout.offset)
    return start, end


def plan_axis(length: int, before: int, after: int, layout: AxisLayout) -> AxisGrid:
    """The fewest windows of ``layout.window`` covering the wanted span, flush with it, overlapping by at least
    ``layout.overlap`` (see the module's docstring); positions in area coordinates."""
    window, alignment = layout.window, layout.alignment
    start, end = wanted_span(length, before, after, layout)
    limit = before + length + after  # the raster's end
    if end - start <= window:
        overshoot = start + window - max(limit, end)  # a single window hanging past the raster's end: move it back
        step = aligned_down(min(start, overshoot), alignment) if overshoot > 0 and start > 0 else 0
        return AxisGrid(length, window, (start - step - before,))
    stride = window - layout.overlap
    unit = alignment if stride % alignment == 0 else 1  # an odd fixed window cannot keep every start aligned
    steps = math.ceil((end - start - window) / stride)
    units = aligned_up(end - start - window, unit) // unit
    base, extra = divmod(units, steps)
    positions, position = [start], start
    for index in range(steps):
        position += (base + (1 if index < extra else 0)) * unit
        positions.append(position)
    return AxisGrid(length, window, tuple(p - before for p in positions))


def _exclusive(columns: AxisGrid, index: int) -> tuple[int, int]:
    """``[low, high]``: the cuts between panels that window ``index`` alone straddles (or none straddles)."""
    low = columns.start(index) if index == 0 else max(columns.start(index), columns.start(index - 1) + columns.window)
    end = columns.start(index) + columns.window
    high = end if index == columns.count - 1 else min(end, columns.start(index + 1))
    return low, high


def _panel_boundary(columns: AxisGrid, target: int, alignment_block: int) -> int:
    """A column near ``target`` straddled by one window at most (by none between windows that do not overlap),
    preferring multiples of ``alignment_block``."""
    near = bisect.bisect_right(columns.positions, target)  # only the windows near the target matter
    nearby = range(max(0, near - 3), min(columns.count, near + 2))
    abutting = [columns.start(i) for i in nearby if i > 0 and columns.start(i - 1) + columns.window <= columns.start(i)
                and abs(columns.start(i) - target) <= columns.stride // 2]
    if abutting:  # between windows that do not overlap: no window is computed twice
        return min(abutting, key=lambda c: abs(c - target))
    best: tuple[int, int] | None = None
    for index in nearby:
        low, high = _exclusive(columns, index)
        if low > high:
            continue
        cut = min(max(target, low), high)
        aligned = [c for c in (aligned_down(cut, alignment_block), aligned_up(cut, alignment_block))
                   if low <= c <= high]
        cut = min(aligned, key=lambda c: abs(c - target)) if aligned else cut
        if best is None or abs(cut - target) < abs(best[0] - target):
            best = (cut, index)
    return target if best is None else best[0]  # windows overlapping by more than half: cut anywhere


def single_panel_span(columns: AxisGrid, max_panel_width: int) -> int:
    """Columns held by a panel writing the first ``max_panel_width`` columns: the memory one panel may take."""
    last = bisect.bisect_left(columns.positions, min(max_panel_width, columns.length)) - 1
    return columns.start(last) + columns.window - columns.start(0)


def plan_panels(columns: AxisGrid, max_panel_width: int, block: int = 256) -> tuple[Panel, ...]:
    """Split the columns into panels no wider than about ``max_panel_width``.

    What a panel holds in memory (the rows read, the accumulator) is as wide as its windows' span, and a
    panel between two others has windows straddling both its boundaries. Panels are added until no span
    is wider than that of a panel writing ``max_panel_width`` columns from the area's start, so a raster
    needing several panels takes no more memory than one needing a single panel.
    """
    limit = single_panel_span(columns, max_panel_width)
    count = max(1, math.ceil(columns.length / max(max_panel_width, columns.stride)))
    most = max(1, columns.count - 1)
    panels = _panels(columns, min(count, most), block)
    while count < most and max(panel_span(columns, p) for p in panels) > limit:
        count += 1
        panels = _panels(columns, count, block)
    return panels


def panel_span(columns: AxisGrid, panel: Panel) -> int:
    return columns.start(panel.last_window) + columns.window - columns.start(panel.first_window)


def _panels(columns: AxisGrid, count: int, block: int) -> tuple[Panel, ...]:
    boundaries = [0]
    for j in range(1, count):
        boundary = _panel_boundary(columns, round(j * columns.length / count), block)
        if boundaries[-1] < boundary < columns.length:
            boundaries.append(boundary)
    boundaries.append(columns.length)
    panels = []
    ends = [p + columns.window for p in columns.positions]
    for out_start, out_end in zip(boundaries, boundaries[1:]):
        first = bisect.bisect_right(ends, out_start)  # the windows overlapping [out_start, out_end)
        last = bisect.bisect_left(columns.positions, out_end) - 1
        panels.append(Panel(out_start, out_end, first, last))
    return tuple(panels)


WHOLE_RASTER = AreaEdges()  # an area that is the whole raster: every side is the raster's edge


def plan_grid(width: int, height: int, layout: AxisLayout, edges: AreaEdges = WHOLE_RASTER,
              max_panel_width: int = 4096) -> WindowGrid:
    """The window grid for an area of ``width`` x ``height`` pixels with ``edges`` real pixels around it."""
    if width < 1 or height < 1:
        raise InputError(f"The processing area is empty ({width} x {height} pixels); choose an EXTENT that "
                         "overlaps the raster.")
    columns = plan_axis(width, edges.left, edges.right, layout)
    rows = plan_axis(height, edges.top, edges.bottom, layout)
    return WindowGrid(columns, rows, plan_panels(columns, max_panel_width))
