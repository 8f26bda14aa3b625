"""SIMPLIFY for the class polygons, on the GDAL side: rings in and out of OGR, junctions looked up in the
class raster, and the arcs of polygons that simplification would make invalid frozen on both sides.

The arc logic is pure (:mod:`plugin.core.regions.simplify`); here each polygon's rings are read as integer pixel
corners (from the geometry's WKB, not point by point), every corner is classed as a junction or not from
the 2 x 2 pixels around it, and the simplified rings are written back as WKB. A polygon that would come
out invalid has its arcs frozen; its neighbours (found through the layer's spatial index) are then
simplified again with those arcs as they were, until no polygon is invalid.
"""
from __future__ import annotations

import struct
from collections import OrderedDict
from typing import Callable

import numpy as np
from osgeo import gdal, ogr

from ...core.progress import Progress
from ...core.regions.simplify import densify, simplify_ring
from ..inputs.gdal_grid import RasterGrid
from .regions_raster import cancel_point

gdal.UseExceptions()
ogr.UseExceptions()

LOOKUP_BLOCK = 512
WINDOW_LIMIT = 4 * 1024 * 1024  # a polygon whose bounding box is smaller is looked up in one read
FIX_PASSES = 20


class ClassLookup:
    """Values of band 1 at pixel positions (outside the raster: -1): one read around small polygons, a small
    cache of blocks for large ones."""

    def __init__(self, path: str, max_blocks: int = 64) -> None:
        self._dataset = gdal.Open(path)
        self._band = self._dataset.GetRasterBand(1)
        self.width, self.height = self._dataset.RasterXSize, self._dataset.RasterYSize
        self._blocks: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._max = max_blocks

    def _window(self, col0: int, row0: int, col1: int, row1: int) -> np.ndarray:
        """Pixels [row0, row1) x [col0, col1), -1 beyond the raster."""
        values = np.full((row1 - row0, col1 - col0), -1, np.int64)
        c0, r0, c1, r1 = max(col0, 0), max(row0, 0), min(col1, self.width), min(row1, self.height)
        if c1 > c0 and r1 > r0:
            values[r0 - row0:r1 - row0, c0 - col0:c1 - col0] = self._band.ReadAsArray(c0, r0, c1 - c0, r1 - r0)
        return values

    def _block(self, key: tuple[int, int]) -> np.ndarray:
        if key not in self._blocks:
            col, row = key[0] * LOOKUP_BLOCK, key[1] * LOOKUP_BLOCK
            self._blocks[key] = self._window(col, row, col + LOOKUP_BLOCK, row + LOOKUP_BLOCK)
            if len(self._blocks) > self._max:
                self._blocks.popitem(last=False)
        self._blocks.move_to_end(key)
        return self._blocks[key]

    def values(self, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        col0, row0, col1, row1 = cols.min(), rows.min(), cols.max() + 1, rows.max() + 1
        if (col1 - col0) * (row1 - row0) <= WINDOW_LIMIT:
            return self._window(int(col0), int(row0), int(col1), int(row1))[rows - row0, cols - col0]
        result = np.empty(len(cols), np.int64)
        keys = (cols // LOOKUP_BLOCK) * 1_000_000 + rows // LOOKUP_BLOCK
        for key in np.unique(keys):
            chosen = keys == key
            block = self._block((int(key // 1_000_000), int(key % 1_000_000)))
            result[chosen] = block[rows[chosen] % LOOKUP_BLOCK, cols[chosen] % LOOKUP_BLOCK]
        return result

    def junctions(self, corners: np.ndarray) -> np.ndarray:
        """True at pixel corners where three or more regions meet, or two touch only diagonally."""
        cols, rows = corners[:, 0], corners[:, 1]
        count = len(cols)
        around = self.values(np.concatenate([cols - 1, cols, cols - 1, cols]),
                             np.concatenate([rows - 1, rows - 1, rows, rows]))
        a, b, c, d = (around[i * count:(i + 1) * count] for i in range(4))
        distinct = 1 + (b != a) + ((c != a) & (c != b)) + ((d != a) & (d != b) & (d != c))
        return (distinct >= 3) | ((a == d) & (b == c) & (a != b))


def rings_of(geometry: ogr.Geometry) -> list[np.ndarray]:
    """The rings of a 2-D polygon as (n, 2) float arrays without the closing point (read from its WKB)."""
    wkb = geometry.ExportToWkb(ogr.wkbNDR)
    kind, count = struct.unpack_from("<II", wkb, 1)
    if kind != ogr.wkbPolygon:
        return [np.array(geometry.GetGeometryRef(i).GetPoints())[:-1, :2] for i in range(geometry.GetGeometryCount())]
    rings, offset = [], 9
    for _ in range(count):
        (points,) = struct.unpack_from("<I", wkb, offset)
        rings.append(np.frombuffer(wkb, "<f8", points * 2, offset + 4).reshape(points, 2)[:-1])
        offset += 4 + points * 16
    return rings


def polygon_from(rings: list[np.ndarray]) -> ogr.Geometry:
    """A polygon from (n, 2) rings (closed here), built as WKB."""
    parts = [struct.pack("<BII", 1, ogr.wkbPolygon, len(rings))]
    for ring in rings:
        closed = np.vstack([ring, ring[:1]]).astype("<f8")
        parts += [struct.pack("<I", len(closed)), closed.tobytes()]
    return ogr.CreateGeometryFromWkb(b"".join(parts))


def is_valid(geometry: ogr.Geometry) -> bool:
    gdal.PushErrorHandler("CPLQuietErrorHandler")  # GEOS describes every self-intersection otherwise
    try:
        return bool(geometry.IsValid())
    finally:
        gdal.PopErrorHandler()


class Simplifier:
    """Simplifies polygons of the class raster ``classes_path`` so shared boundaries stay shared."""

    def __init__(self, classes_path: str, grid: RasterGrid, tolerance: float) -> None:
        self._lookup = ClassLookup(classes_path)
        self._x0, self._dx, _, self._y0, _, self._dy = grid.geotransform
        self._tolerance = tolerance / min(abs(self._dx), abs(self._dy))
        self.frozen: set[bytes] = set()

    def simplify(self, geometry: ogr.Geometry) -> tuple[ogr.Geometry, list[bytes]]:
        """The simplified polygon and the keys of its arcs."""
        rings, keys = [], []
        for points in rings_of(geometry):
            corners = np.rint(np.column_stack([(points[:, 0] - self._x0) / self._dx,
                                               (points[:, 1] - self._y0) / self._dy])).astype(np.int64)
            dense = densify(corners)
            simple, ring_keys = simplify_ring(dense, self._lookup.junctions(dense), self._tolerance, self.frozen)
            keys += ring_keys
            rings.append(np.column_stack([self._x0 + simple[:, 0] * self._dx, self._y0 + simple[:, 1] * self._dy]))
        return polygon_from(rings), keys

    def fix_invalid(self, invalid: list[int], regions: ogr.Layer, rewrite: Callable[[int, ogr.Geometry], None],
                    progress: Progress) -> list[int]:
        """Freeze the arcs of the polygons ``invalid`` (feature ids of ``regions``), simplify them and their
        neighbours again and ``rewrite`` them, until none is invalid; returns those still invalid after
        :data:`FIX_PASSES` passes (written unsimplified by the caller)."""
        for _ in range(FIX_PASSES):
            if not invalid:
                return []
            affected: set[int] = set()
            for fid in invalid:
                region = regions.GetFeature(fid)
                _, keys = self.simplify(region.GetGeometryRef())
                self.frozen.update(keys)
                xmin, xmax, ymin, ymax = region.GetGeometryRef().GetEnvelope()
                regions.SetSpatialFilterRect(xmin, ymin, xmax, ymax)
                affected.update(neighbour.GetFID() for neighbour in regions)
                regions.SetSpatialFilter(None)
            invalid = []
            for fid in sorted(affected):
                feature = regions.GetFeature(fid)  # kept while its geometry is used (GDAL's bindings)
                simplified, _ = self.simplify(feature.GetGeometryRef())
                if is_valid(simplified):
                    rewrite(fid, simplified)
                else:
                    invalid.append(fid)
            cancel_point(progress)
        return invalid
