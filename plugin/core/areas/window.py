"""Rectangles of pixels, and the one rule that turns an extent in map units into pixels.

:class:`PixelWindow` is the project's only pixel rectangle: the area a run classifies, a block an
assessment reads, a chip, a label window.

**The extent rule.** A pixel belongs to an extent when its centre lies inside it, half-open: the left
and top edges are in, the right and bottom edges out. So an extent drawn over a raster selects the
pixels a person sees mostly inside it, and two extents that share an edge never share a pixel. Classify
raster, Assess accuracy and Export training chips all use it (:func:`pixels_in_extent`).

One place needs more, for a documented reason: when a model runs on a warped view of the raster at its
own resolution, the area on that view must *cover* the whole area on the raster, or the edge of the
result would be missing when it is warped back; :func:`pixels_covering` takes every pixel the bounds
touch.

Integer pixel maths only, on north-up geotransforms (rotated rasters are refused by the callers where
an extent is given).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

Bounds = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in map units
GeoTransform = Sequence[float]  # GDAL's six numbers


@dataclass(frozen=True)
class PixelWindow:
    """A rectangle of pixels: column and row offsets, width and height."""

    col: int
    row: int
    width: int
    height: int

    @property
    def col_end(self) -> int:
        return self.col + self.width

    @property
    def row_end(self) -> int:
        return self.row + self.height

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def relative_to(self, origin: "PixelWindow") -> "PixelWindow":
        """This window in the coordinates of ``origin`` (its top-left pixel becomes 0, 0)."""
        return PixelWindow(self.col - origin.col, self.row - origin.row, self.width, self.height)

    def placed_in(self, origin: "PixelWindow") -> "PixelWindow":
        """This window, given in ``origin``'s coordinates, in the coordinates ``origin`` is given in."""
        return PixelWindow(self.col + origin.col, self.row + origin.row, self.width, self.height)

    def intersect(self, other: "PixelWindow") -> "PixelWindow | None":
        """The pixels both windows hold, None when they do not overlap."""
        col0, row0 = max(self.col, other.col), max(self.row, other.row)
        col1, row1 = min(self.col_end, other.col_end), min(self.row_end, other.row_end)
        if col1 <= col0 or row1 <= row0:
            return None
        return PixelWindow(col0, row0, col1 - col0, row1 - row0)

    def tiles(self, size: int) -> list["PixelWindow"]:
        """Tiles of at most ``size`` x ``size`` pixels covering this window, row by row."""
        return [PixelWindow(col, row, min(size, self.col_end - col), min(size, self.row_end - row))
                for row in range(self.row, self.row_end, size) for col in range(self.col, self.col_end, size)]


def _fractional_pixels(geotransform: GeoTransform, bounds: Bounds) -> tuple[list[float], list[float]]:
    """The bounds' edges in (fractional) column and row numbers, each pair sorted."""
    x0, dx, _, y0, _, dy = geotransform
    xmin, ymin, xmax, ymax = bounds
    return sorted(((xmin - x0) / dx, (xmax - x0) / dx)), sorted(((ymax - y0) / dy, (ymin - y0) / dy))


def _clipped(col0: int, col1: int, row0: int, row1: int, width: int, height: int) -> PixelWindow | None:
    col0, row0, col1, row1 = max(col0, 0), max(row0, 0), min(col1, width), min(row1, height)
    if col1 <= col0 or row1 <= row0:
        return None
    return PixelWindow(col0, row0, col1 - col0, row1 - row0)


def pixels_in_extent(geotransform: GeoTransform, width: int, height: int, bounds: Bounds) -> PixelWindow | None:
    """The pixels of a ``width`` x ``height`` raster whose centres lie in ``bounds`` (half-open), None if none."""
    cols, rows = _fractional_pixels(geotransform, bounds)
    return _clipped(math.ceil(cols[0] - 0.5), math.ceil(cols[1] - 0.5), math.ceil(rows[0] - 0.5),
                    math.ceil(rows[1] - 0.5), width, height)


def pixels_covering(geotransform: GeoTransform, width: int, height: int, bounds: Bounds,
                    tolerance: float = 1e-9) -> PixelWindow | None:
    """Every pixel ``bounds`` touch (snapped outwards), None if none: for covering a warped view."""
    cols, rows = _fractional_pixels(geotransform, bounds)
    return _clipped(math.floor(cols[0] + tolerance), math.ceil(cols[1] - tolerance),
                    math.floor(rows[0] + tolerance), math.ceil(rows[1] - tolerance), width, height)


def axis_starts(start: int, length: int, size: int, stride: int, limit: int) -> list[int]:
    """Offsets of windows of ``size`` every ``stride`` pixels covering ``[start, start + length)`` inside
    ``[0, limit)``; when the last step does not end at the edge one more window ends exactly there. A span
    shorter than a window gets one window, moved back inside ``[0, limit)`` where needed. Callers check
    that ``size <= limit`` and ``stride >= 1``."""
    end = start + length
    if length <= size:
        return [max(0, min(start, limit - size))]
    starts = list(range(start, end - size + 1, stride))
    if starts[-1] + size < end:
        starts.append(end - size)
    return starts
