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

from ...core.areas.window import Bounds, PixelWindow, pixels_in_extent
from ...core.errors import InputError
from .gdal_grid import RasterGrid
from .gdal_vectors import MemoryLayer, opened_layer

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


_POLYGON_TYPES = {ogr.wkbPolygon, ogr.wkbMultiPolygon, ogr.wkbCurvePolygon, ogr.wkbMultiSurface}


def require_polygons(path: str, layer_name: str | None = None) -> None:
    """Refuse a mask layer that holds anything but polygons (points and lines enclose no area)."""
    with opened_layer(path, layer_name) as layer:
        declared = ogr.GT_Flatten(layer.GetGeomType())
        if declared in _POLYGON_TYPES:
            return
        kinds = set()
        if declared == ogr.wkbUnknown:  # mixed or undeclared: look at the features
            for feature in layer:
                geometry = feature.GetGeometryRef()
                if geometry is not None:
                    kinds.add(ogr.GT_Flatten(geometry.GetGeometryType()))
            if kinds <= _POLYGON_TYPES:
                return
        names = sorted(ogr.GeometryTypeToName(k).lower() for k in (kinds - _POLYGON_TYPES or {declared}))
    held = "no geometries" if names == ["none"] else f"{', '.join(names)} geometries"
    raise InputError(f"The MASK layer '{path}' holds {held}, not polygons: a mask must be a polygon layer (the "
                     "areas to process). Choose a polygon layer, or buffer the features first.")


def blocks_key(area: PixelWindow, size: int, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each pixel (cols, rows): the index in ``blocks(area, size)`` of its block, or -1 outside ``area``."""
    per_row = math.ceil(area.width / size)
    inside = (cols >= area.col) & (cols < area.col + area.width) & (rows >= area.row) & (rows < area.row + area.height)
    return np.where(inside, (rows - area.row) // size * per_row + (cols - area.col) // size, -1)


class AreaOfInterest:
    """The pixels of ``grid`` a run reads: :attr:`window` bounds them, :meth:`read` masks a block."""

    def __init__(self, grid: RasterGrid, extent: Bounds | None = None, mask_path: str | None = None,
                 mask_layer: str | None = None, within: PixelWindow | None = None) -> None:
        self.grid = grid
        self.window: PixelWindow = within or PixelWindow(0, 0, grid.width, grid.height)
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
        require_polygons(path, layer_name)
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

    @property
    def has_mask(self) -> bool:
        return self._mask is not None

    def require_pixels(self, path: str, block: int = 2048) -> None:
        """Refuse a mask whose polygons hold no pixel centre of the area (checked block by block, stopping at
        the first pixel found): a run would only write nodata."""
        if self._mask is None:
            return
        for window in self.window.tiles(block):
            if self.read(window).any():
                return
        raise InputError(f"The MASK layer '{path}' covers no pixel of the raster (inside the EXTENT, if one is "
                         "given): no pixel centre lies inside its polygons. Choose polygons over the raster, larger "
                         "than a pixel.")

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
