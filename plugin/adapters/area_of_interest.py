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
from ..core.window import Bounds, PixelWindow, pixels_in_extent
from .gdal_grid import RasterGrid
from .gdal_vectors import MemoryLayer

gdal.UseExceptions()
ogr.UseExceptions()

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
            inside = pixels_in_extent(grid.geotransform, grid.width, grid.height, extent)
            if inside is None:
                raise InputError(f"The EXTENT {tuple(round(v, 3) for v in extent)} does not overlap the raster "
                                 f"{tuple(round(v, 3) for v in grid.bounds())}; choose an extent over the raster.")
            self.window = inside
        self._mask: MemoryLayer | None = None
        if mask_path:
            self._copy_mask(mask_path, mask_layer)

    def _copy_mask(self, path: str, layer_name: str | None) -> None:
        mask = MemoryLayer(path, layer_name, self.grid.crs_wkt)
        extent = mask.extent()
        if extent is None:
            raise InputError(f"The MASK layer '{path}' has no polygons; choose a layer with polygons.")
        self._mask = mask
        xmin, ymin, xmax, ymax = extent
        pad_x, pad_y = self.grid.pixel_size  # one pixel of margin: centres on the polygons' edges
        covered = pixels_in_extent(self.grid.geotransform, self.grid.width, self.grid.height,
                                   (xmin - pad_x, ymin - pad_y, xmax + pad_x, ymax + pad_y))
        window = self.window.intersect(covered) if covered else None
        if window is None:
            raise InputError(f"The MASK layer '{path}' does not overlap the raster (inside the EXTENT, if one is "
                             "given); choose a mask whose polygons cover part of the raster.")
        self.window = window

    def read(self, window: PixelWindow) -> np.ndarray:
        """True where a pixel of ``window`` is inside the area."""
        inside = np.zeros((window.height, window.width), bool)
        area = window.intersect(self.window)
        if area is None:
            return inside
        rows = slice(area.row - window.row, area.row - window.row + area.height)
        cols = slice(area.col - window.col, area.col - window.col + area.width)
        inside[rows, cols] = True if self._mask is None else self._mask.burn(self.grid, area, burn_value=1).astype(bool)
        return inside
