"""The part of a raster a run works on: an optional extent and an optional polygon mask (GDAL/OGR only).

A pixel belongs to the area when its centre lies inside the extent (half-open: left and top edges
in, right and bottom edges out, so adjacent extents never share a pixel) and inside a mask polygon
(GDAL's default rasterization rule, the same rule as for polygon labels). The mask is copied once
into memory in the raster's CRS and burnt block by block.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from osgeo import gdal, ogr

from ..core.errors import InputError
from .gdal_labels import MemoryLayer, PixelWindow, RasterGrid

gdal.UseExceptions()
ogr.UseExceptions()

Bounds = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


@dataclass(frozen=True)
class AreaSpec:
    """The area a run works on: an extent in the raster's CRS and/or a polygon mask layer (file, layer name)."""

    extent: Bounds | None = None
    mask_path: str | None = None
    mask_layer: str | None = None


def require_north_up(grid: RasterGrid, path: str) -> None:
    """Rotated or sheared rasters are refused: pixel windows and bounds assume north-up grids."""
    if grid.geotransform[2] != 0 or grid.geotransform[4] != 0:
        raise InputError(f"The raster '{path}' is rotated or sheared; warp it to a north-up grid first "
                         "(Raster > Projections > Warp).")


def window_of_bounds(grid: RasterGrid, bounds: Bounds) -> PixelWindow | None:
    """Pixels of ``grid`` whose centres lie in ``bounds`` (half-open), clipped to the grid; None if none."""
    x0, dx, _, y0, _, dy = grid.geotransform
    xmin, ymin, xmax, ymax = bounds
    col_edges = sorted(((xmin - x0) / dx - 0.5, (xmax - x0) / dx - 0.5))
    row_edges = sorted(((ymax - y0) / dy - 0.5, (ymin - y0) / dy - 0.5))
    col0, col1 = max(math.ceil(col_edges[0]), 0), min(math.ceil(col_edges[1]), grid.width)
    row0, row1 = max(math.ceil(row_edges[0]), 0), min(math.ceil(row_edges[1]), grid.height)
    if col1 <= col0 or row1 <= row0:
        return None
    return PixelWindow(col0, row0, col1 - col0, row1 - row0)


def intersect(a: PixelWindow, b: PixelWindow) -> PixelWindow | None:
    col0, row0 = max(a.col, b.col), max(a.row, b.row)
    col1, row1 = min(a.col + a.width, b.col + b.width), min(a.row + a.height, b.row + b.height)
    if col1 <= col0 or row1 <= row0:
        return None
    return PixelWindow(col0, row0, col1 - col0, row1 - row0)


def blocks(window: PixelWindow, size: int) -> list[PixelWindow]:
    """Tiles of at most ``size`` x ``size`` pixels covering ``window``, row by row."""
    col_end, row_end = window.col + window.width, window.row + window.height
    return [PixelWindow(col, row, min(size, col_end - col), min(size, row_end - row))
            for row in range(window.row, window.row + window.height, size)
            for col in range(window.col, window.col + window.width, size)]


def blocks_key(area: PixelWindow, size: int, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each pixel (cols, rows): the index in ``blocks(area, size)`` of its block, or -1 outside ``area``."""
    per_row = math.ceil(area.width / size)
    inside = (cols >= area.col) & (cols < area.col + area.width) & (rows >= area.row) & (rows < area.row + area.height)
    return np.where(inside, (rows - area.row) // size * per_row + (cols - area.col) // size, -1)


class AreaOfInterest:
    """The pixels of ``grid`` a run reads: :attr:`window` bounds them, :meth:`read` masks a block."""

    def __init__(self, grid: RasterGrid, extent: Bounds | None = None, mask_path: str | None = None,
                 mask_layer: str | None = None) -> None:
        self.grid = grid
        self.window: PixelWindow = PixelWindow(0, 0, grid.width, grid.height)
        if extent is not None:
            inside = window_of_bounds(grid, extent)
            if inside is None:
                raise InputError(f"The EXTENT {tuple(round(v, 3) for v in extent)} does not overlap the raster "
                                 f"{tuple(round(v, 3) for v in grid.bounds())}; choose an extent over the raster.")
            self.window = inside
        self._mask: MemoryLayer | None = None
        if mask_path:
            self._copy_mask(mask_path, mask_layer)

    def _copy_mask(self, path: str, layer_name: str | None) -> None:
        self._mask = MemoryLayer(path, layer_name, self.grid.crs_wkt)
        if self._mask.feature_count == 0:
            raise InputError(f"The MASK layer '{path}' has no polygons; choose a layer with polygons.")
        xmin, ymin, xmax, ymax = self._mask.extent()
        pad_x, pad_y = self.grid.pixel_size  # one pixel of margin: centres on the polygons' edges
        covered = window_of_bounds(self.grid, (xmin - pad_x, ymin - pad_y, xmax + pad_x, ymax + pad_y))
        window = intersect(self.window, covered) if covered else None
        if window is None:
            raise InputError(f"The MASK layer '{path}' does not overlap the raster (inside the EXTENT, if one is "
                             "given); choose a mask whose polygons cover part of the raster.")
        self.window = window

    @property
    def has_mask(self) -> bool:
        return self._mask is not None

    def read(self, window: PixelWindow) -> np.ndarray:
        """True where a pixel of ``window`` is inside the area."""
        inside = np.zeros((window.height, window.width), bool)
        area = intersect(window, self.window)
        if area is None:
            return inside
        rows = slice(area.row - window.row, area.row - window.row + area.height)
        cols = slice(area.col - window.col, area.col - window.col + area.width)
        inside[rows, cols] = True if self._mask is None else self._burn(area).astype(bool)
        return inside

    def _burn(self, window: PixelWindow) -> np.ndarray:
        return self._mask.burn(self.grid, window, burn_value=1)
