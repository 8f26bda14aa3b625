"""The examples of a similarity search: points or polygons (any CRS), optionally labelled by a class field, as
cells of the run's grid.

A point is an example of the cell it falls in; a polygon of every cell whose centre it holds (or, for a polygon
smaller than a cell, of the cell holding its point on surface). The cell grid is the run's, extended beyond the
processing area, so an example inside the area is exactly the cell the run gives there. Examples must lie over the
raster: features beyond it (a label layer larger than the scene) are left out and counted, and a layer with none
over the raster is refused. Class fields are read as in training: whole numbers are class values, text is
numbered from 1 in alphabetical order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr

from ...core.errors import InputError
from ...core.model.contract import ClassInfo, default_color
from ..inputs.gdal_grid import RasterGrid
from ..inputs.gdal_labels import labels_from_field
from ..inputs.gdal_vectors import CLASS_VALUE_FIELD, MemoryLayer, opened_layer

gdal.UseExceptions()
ogr.UseExceptions()

MAX_EXAMPLE_CELLS = 100_000
_POINTS = {ogr.wkbPoint, ogr.wkbMultiPoint}
_POLYGONS = {ogr.wkbPolygon, ogr.wkbMultiPolygon, ogr.wkbCurvePolygon, ogr.wkbMultiSurface}


@dataclass
class Examples:
    """Example cells (row, column of the run's cell grid, possibly outside the area) and their class index."""

    rows: np.ndarray
    cols: np.ndarray
    labels: np.ndarray  # index into ``classes``
    classes: tuple[ClassInfo, ...]
    labelled: bool  # from a class field (k-NN possible), or one class named after the layer
    outside: int = 0  # features left out: none of their cells lies over the raster

    def __len__(self) -> int:
        return len(self.rows)

    def select(self, keep: np.ndarray) -> "Examples":
        return Examples(self.rows[keep], self.cols[keep], self.labels[keep], self.classes, self.labelled,
                        self.outside)


class _CellFinder:
    """Cells of a cell grid under points and polygons, over a raster's bounds."""

    def __init__(self, cells: RasterGrid, raster: RasterGrid, path: str) -> None:
        self.cells, self.path = cells, path
        self.inverse = gdal.InvGeoTransform(cells.geotransform)
        self.bounds = raster.bounds()
        self.first_outside: tuple[float, float] | None = None  # where the first feature beyond the raster lies

    def over_raster(self, x: float, y: float) -> bool:
        xmin, ymin, xmax, ymax = self.bounds
        return xmin <= x <= xmax and ymin <= y <= ymax

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        col, row = gdal.ApplyGeoTransform(self.inverse, x, y)
        return math.floor(row), math.floor(col)

    def centre(self, row: int, col: int) -> tuple[float, float]:
        x, y = gdal.ApplyGeoTransform(list(self.cells.geotransform), col + 0.5, row + 0.5)
        return x, y

    def cells_of(self, geometry: ogr.Geometry, number: int) -> list[tuple[int, int]]:
        kind = ogr.GT_Flatten(geometry.GetGeometryType())
        if kind in _POINTS:
            points = [geometry.GetGeometryRef(i) for i in range(geometry.GetGeometryCount())] \
                if kind == ogr.wkbMultiPoint else [geometry]
            return [self.cell_of(p.GetX(), p.GetY()) for p in points if self._over(p.GetX(), p.GetY())]
        if kind not in _POLYGONS:
            raise InputError(f"EXAMPLES: feature {number} is a {ogr.GeometryTypeToName(kind).lower()}; examples are "
                             "points or polygons.")
        return self._polygon_cells(geometry, number)

    def _polygon_cells(self, polygon: ogr.Geometry, number: int) -> list[tuple[int, int]]:
        xmin, xmax, ymin, ymax = polygon.GetEnvelope()
        left, bottom, right, top = self.bounds  # only the part over the raster can hold example cells
        xmin, ymin, xmax, ymax = max(xmin, left), max(ymin, bottom), min(xmax, right), min(ymax, top)
        corners = [self.cell_of(x, y) for x in (xmin, xmax) for y in (ymin, ymax)]
        rows = range(min(r for r, _ in corners), max(r for r, _ in corners) + 1) if ymin <= ymax else range(0)
        cols = range(min(c for _, c in corners), max(c for _, c in corners) + 1) if xmin <= xmax else range(0)
        if len(rows) * len(cols) > MAX_EXAMPLE_CELLS:
            raise InputError(f"EXAMPLES: polygon {number} spans {len(rows) * len(cols)} cells; give examples of at "
                             f"most {MAX_EXAMPLE_CELLS} cells (smaller polygons, or points).")
        found = []
        for row in rows:
            for col in cols:
                x, y = self.centre(row, col)
                if self.over_raster(x, y) and polygon.Contains(ogr.CreateGeometryFromWkt(f"POINT ({x} {y})")):
                    found.append((row, col))
        if not found:
            inside = polygon.PointOnSurface()
            if self._over(inside.GetX(), inside.GetY()):
                found.append(self.cell_of(inside.GetX(), inside.GetY()))
        return found

    def _over(self, x: float, y: float) -> bool:
        """Whether (x, y) lies over the raster; the first place that does not is kept for the message."""
        over = self.over_raster(x, y)
        if not over and self.first_outside is None:
            self.first_outside = (x, y)
        return over

    def refuse_all_outside(self, features: int) -> None:
        xmin, ymin, xmax, ymax = self.bounds
        x, y = self.first_outside or (math.nan, math.nan)
        raise InputError(f"EXAMPLES: none of the {features} feature(s) of '{self.path}' lies over the raster (the "
                         f"first at {x:.6g}, {y:.6g} in the raster's CRS; the raster covers {xmin:.6g} to {xmax:.6g}, "
                         f"{ymin:.6g} to {ymax:.6g}). Give examples over the raster, or check the layer's CRS.")


def read_examples(path: str, layer_name: str | None, class_field: str | None, cells: RasterGrid,
                  raster: RasterGrid) -> Examples:
    """The example cells of a layer on the cell grid ``cells``, over ``raster``'s bounds (same CRS)."""
    if class_field:
        labels = labels_from_field(path, class_field, layer_name)
        with opened_layer(path, layer_name) as layer:
            index = layer.GetLayerDefn().GetFieldIndex(class_field)
        classes = labels.classes

        def value_of(feature: ogr.Feature) -> int | None:
            if not feature.IsFieldSetAndNotNull(index):
                return None
            key = feature.GetField(index)
            key = int(key) if isinstance(key, float) and key.is_integer() else key
            return labels.value_of.get(str(key) if isinstance(key, str) else key)
    else:
        classes = (ClassInfo(1, Path(path).stem or "examples", default_color(0)),)

        def value_of(feature: ogr.Feature) -> int | None:
            return 1
    copy = MemoryLayer(path, layer_name, cells.crs_wkt, value_of)
    if copy.feature_count == 0:
        raise InputError(f"EXAMPLES '{path}' holds no feature with a geometry{' and a class' if class_field else ''}; "
                         "give points or polygons over the raster.")
    index_of = {c.value: i for i, c in enumerate(classes)}
    finder = _CellFinder(cells, raster, path)
    rows, cols, found, outside = [], [], [], 0
    for number, feature in enumerate(copy.layer, 1):
        under = finder.cells_of(feature.GetGeometryRef(), number)
        outside += not under
        for row, col in under:
            rows.append(row)
            cols.append(col)
            found.append(index_of[feature.GetField(CLASS_VALUE_FIELD)])
        if len(rows) > MAX_EXAMPLE_CELLS:
            raise InputError(f"EXAMPLES cover more than {MAX_EXAMPLE_CELLS} cells; give fewer or smaller examples.")
    features = copy.feature_count
    copy.close()
    if not rows:
        finder.refuse_all_outside(features)
    return Examples(np.array(rows, np.int64), np.array(cols, np.int64), np.array(found, np.int64), classes,
                    bool(class_field), outside)
