"""One measure of area for MIN_AREA and the polygons' ``area_m2``: the area of the pixels' outlines in square
metres, planar in the CRS for projected CRSs (the map's own metres, as QGIS measures a polygon's planar area), on
the ellipsoid through an equal-area projection of the CRS's own ellipsoid for geographic CRSs, in squared map
units for rasters without a CRS. A region of exactly MIN_AREA is kept: its ``area_m2`` equals MIN_AREA.
"""
from __future__ import annotations

import math

from osgeo import ogr, osr

from ...core.areas.window import PixelWindow
from ..inputs.gdal_grid import RasterGrid, srs_of

# A threshold within this share of a whole number of pixels is that number (10 m pixels stored as 9.999999999 m).
_RELATIVE_TOLERANCE = 1e-9


class AreaMeter:
    """Areas of geometries in the grid's CRS, in square metres."""

    def __init__(self, grid: RasterGrid) -> None:
        srs = srs_of(grid.crs_wkt)
        self.note = ""
        self._factor, self._transform = 1.0, None
        if srs is None:
            self.note = "The raster has no CRS: polygon areas are in squared map units."
        elif srs.IsGeographic():
            self._transform = osr.CoordinateTransformation(srs, _equal_area_for(srs, grid))
        else:
            self._factor = srs.GetLinearUnits() ** 2

    def area(self, geometry: ogr.Geometry) -> float:
        if self._transform is None:
            return geometry.GetArea() * self._factor
        projected = geometry.Clone()
        projected.Transform(self._transform)
        return projected.GetArea()


def _equal_area_for(geographic: osr.SpatialReference, grid: RasterGrid) -> osr.SpatialReference:
    """Lambert azimuthal equal-area on the CRS's own ellipsoid, centred on the raster: areas are exact."""
    xmin, ymin, xmax, ymax = grid.bounds()
    equal_area = osr.SpatialReference()
    equal_area.ImportFromProj4(f"+proj=laea +lat_0={(ymin + ymax) / 2} +lon_0={(xmin + xmax) / 2} "
                               f"+a={geographic.GetSemiMajor()} +rf={geographic.GetInvFlattening()} +units=m")
    equal_area.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return equal_area


def pixel_outline(grid: RasterGrid, col: int, row: int) -> ogr.Geometry:
    """The outline of one pixel, as the polygoniser draws it (its four corners)."""
    x0, dx, rx, y0, ry, dy = grid.window_geotransform(PixelWindow(col, row, 1, 1))
    corners = [(x0, y0), (x0 + dx, y0 + ry), (x0 + dx + rx, y0 + ry + dy), (x0 + rx, y0 + dy), (x0, y0)]
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in corners:
        ring.AddPoint_2D(x, y)
    polygon = ogr.Geometry(ogr.wkbPolygon)
    polygon.AddGeometry(ring)
    return polygon


def min_area_pixels(grid: RasterGrid, min_area_m2: float) -> tuple[int, str]:
    """Regions of fewer pixels than this are smaller than ``min_area_m2`` as ``area_m2`` measures them, and a
    note on the unit. In a geographic CRS pixels shrink away from the equator: the smallest pixel of the raster
    (its row farthest from the equator) sets the count, so no region smaller than MIN_AREA is kept."""
    meter = AreaMeter(grid)
    rows = sorted({0, grid.height // 2, grid.height - 1})
    pixel = min(meter.area(pixel_outline(grid, grid.width // 2, row)) for row in rows)
    count = max(1, math.ceil(min_area_m2 / pixel * (1 - _RELATIVE_TOLERANCE)))
    return count, "the raster has no CRS: MIN_AREA is in map units²" if meter.note else ""
