"""OUTPUT_VECTOR: one polygon per connected region of one class, in a GeoPackage (GDAL/OGR only).

The class raster (sieved by ``MIN_AREA`` first, when asked) is polygonised by GDAL, which streams the
raster scanline by scanline and writes each region as soon as it is complete. Each feature then gets its
class value and name, its area in square metres (on the ellipsoid, through an equal-area projection of
the CRS's own ellipsoid, when the CRS is geographic) and, when asked, the mean confidence of its pixels
(burnt back by region number, strip by strip). ``SIMPLIFY`` simplifies outlines without opening gaps
between neighbours (:mod:`plugin.core.simplify`). Memory depends on the raster's width and the number
of regions, never on the number of pixels.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr, osr

from ..core.contract import ModelContract
from ..core.progress import Progress
from ..core.simplify import densify, simplify_ring
from .gdal_grid import RasterGrid, srs_of
from .regions_raster import CLASS_FIELD, REGION_FIELD, cancel_point, polygonize, read_strip, region_numbers, strips

gdal.UseExceptions()
ogr.UseExceptions()

NAME_FIELD, AREA_FIELD, CONFIDENCE_FIELD = "class_name", "area_m2", "mean_confidence"
COMMIT_EVERY = 50_000
LOOKUP_BLOCK = 512


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


def mean_confidence(polygons: str, layer_name: str, grid: RasterGrid, confidence_path: str, work: Path,
                    progress: Progress) -> np.ndarray:
    """Mean confidence of each region, indexed by feature id (burnt back by region number, strip by strip)."""
    numbers = str(work / "polygon_ids.tif")
    largest = region_numbers(polygons, layer_name, grid, numbers, progress)
    ids, confidence = gdal.Open(numbers), gdal.Open(confidence_path)
    sums, counts = np.zeros(largest + 1), np.zeros(largest + 1)
    for strip in strips(grid):
        cancel_point(progress)
        region, values = read_strip(ids, 1, strip).ravel(), read_strip(confidence, 1, strip).ravel()
        inside = region > 0
        sums += np.bincount(region[inside], values[inside], minlength=largest + 1)
        counts += np.bincount(region[inside], minlength=largest + 1)
    return sums / np.maximum(counts, 1)


class ClassLookup:
    """Values of band 1 at pixel positions, from a small cache of blocks (outside the raster: -1)."""

    def __init__(self, path: str, max_blocks: int = 64) -> None:
        self._dataset = gdal.Open(path)
        self._band = self._dataset.GetRasterBand(1)
        self.width, self.height = self._dataset.RasterXSize, self._dataset.RasterYSize
        self._blocks: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._max = max_blocks

    def _block(self, key: tuple[int, int]) -> np.ndarray:
        if key not in self._blocks:
            col, row = key[0] * LOOKUP_BLOCK, key[1] * LOOKUP_BLOCK
            self._blocks[key] = self._band.ReadAsArray(col, row, min(LOOKUP_BLOCK, self.width - col),
                                                       min(LOOKUP_BLOCK, self.height - row)).astype(np.int64)
            if len(self._blocks) > self._max:
                self._blocks.popitem(last=False)
        self._blocks.move_to_end(key)
        return self._blocks[key]

    def values(self, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        result = np.full(len(cols), -1, np.int64)
        inside = (cols >= 0) & (rows >= 0) & (cols < self.width) & (rows < self.height)
        keys = (cols // LOOKUP_BLOCK) * 1_000_000 + rows // LOOKUP_BLOCK
        for key in np.unique(keys[inside]):
            chosen = inside & (keys == key)
            block = self._block((int(key // 1_000_000), int(key % 1_000_000)))
            result[chosen] = block[rows[chosen] % LOOKUP_BLOCK, cols[chosen] % LOOKUP_BLOCK]
        return result

    def junctions(self, corners: np.ndarray) -> np.ndarray:
        """True at pixel corners where three or more regions meet, or two touch only diagonally."""
        cols, rows = corners[:, 0], corners[:, 1]
        a, b = self.values(cols - 1, rows - 1), self.values(cols, rows - 1)
        c, d = self.values(cols - 1, rows), self.values(cols, rows)
        distinct = 1 + (b != a) + ((c != a) & (c != b)) + ((d != a) & (d != b) & (d != c))
        return (distinct >= 3) | ((a == d) & (b == c) & (a != b))


class Simplifier:
    """Simplifies polygons of the class raster ``classes_path`` so shared boundaries stay shared.

    A polygon whose simplified rings would cross (a neck a pixel or two wide) gets its arcs frozen, on both
    sides: :func:`freeze_invalid` repeats the pass until every polygon is valid."""

    def __init__(self, classes_path: str, grid: RasterGrid, tolerance: float) -> None:
        self._lookup = ClassLookup(classes_path)
        self._x0, self._dx, _, self._y0, _, self._dy = grid.geotransform
        self._tolerance = tolerance / min(abs(self._dx), abs(self._dy))
        self.frozen: set[bytes] = set()

    def simplify(self, geometry: ogr.Geometry) -> tuple[ogr.Geometry, list[bytes]]:
        """The simplified polygon and the keys of its arcs."""
        polygon, keys = ogr.Geometry(ogr.wkbPolygon), []
        for index in range(geometry.GetGeometryCount()):
            ring = geometry.GetGeometryRef(index)
            points = np.array(ring.GetPoints())[:-1, :2]
            corners = np.rint(np.column_stack([(points[:, 0] - self._x0) / self._dx,
                                               (points[:, 1] - self._y0) / self._dy])).astype(np.int64)
            dense = densify(corners)
            simple, ring_keys = simplify_ring(dense, self._lookup.junctions(dense), self._tolerance, self.frozen)
            keys += ring_keys
            new_ring = ogr.Geometry(ogr.wkbLinearRing)
            for col, row in np.vstack([simple, simple[:1]]):
                new_ring.AddPoint_2D(self._x0 + col * self._dx, self._y0 + row * self._dy)
            polygon.AddGeometry(new_ring)
        return polygon, keys

    def freeze_invalid(self, regions: ogr.Layer, progress: Progress, passes: int = 20) -> None:
        """Freeze the arcs of every polygon that simplification would make invalid, until none would."""
        for _ in range(passes):
            before = len(self.frozen)
            regions.ResetReading()
            for region in regions:
                polygon, keys = self.simplify(region.GetGeometryRef())
                if not _valid(polygon):
                    self.frozen.update(keys)
            cancel_point(progress)
            if len(self.frozen) == before:
                return


def _valid(geometry: ogr.Geometry) -> bool:
    gdal.PushErrorHandler("CPLQuietErrorHandler")  # GEOS describes every self-intersection otherwise
    try:
        return bool(geometry.IsValid())
    finally:
        gdal.PopErrorHandler()


def write_polygons(classes_path: str, target: str, layer_name: str, contract: ModelContract, grid: RasterGrid,
                   simplify: float, confidence_path: str | None, work: Path, progress: Progress) -> int:
    """Write the class regions of ``classes_path`` to a new GeoPackage ``target``; returns the feature count."""
    regions = str(work / "polygons.gpkg")
    extra = (ogr.FieldDefn(REGION_FIELD, ogr.OFTInteger),) if confidence_path else ()
    polygonize(classes_path, regions, "regions", progress, extra)
    means = mean_confidence(regions, "regions", grid, confidence_path, work, progress) if confidence_path else None
    meter = AreaMeter(grid)
    if meter.note:
        progress.info(meter.note)
    simplifier = Simplifier(classes_path, grid, simplify) if simplify > 0 else None
    names = {c.value: c.name for c in contract.outputs[0].classes}
    source = ogr.Open(regions)
    if simplifier is not None:
        simplifier.freeze_invalid(source.GetLayerByName("regions"), progress)
    output = ogr.GetDriverByName("GPKG").CreateDataSource(target)
    layer = output.CreateLayer(layer_name, srs_of(grid.crs_wkt), ogr.wkbMultiPolygon)
    for name, kind in ((CLASS_FIELD, ogr.OFTInteger), (NAME_FIELD, ogr.OFTString), (AREA_FIELD, ogr.OFTReal),
                       *(((CONFIDENCE_FIELD, ogr.OFTReal),) if means is not None else ())):
        layer.CreateField(ogr.FieldDefn(name, kind))
    written = _copy_features(source.GetLayerByName("regions"), layer, names, meter, means, simplifier, progress)
    layer = output = source = None
    return written


def _copy_features(regions: ogr.Layer, layer: ogr.Layer, names: dict[int, str], meter: AreaMeter,
                   means: np.ndarray | None, simplifier: Simplifier | None, progress: Progress) -> int:
    definition = layer.GetLayerDefn()
    layer.StartTransaction()
    written = 0
    for region in regions:
        geometry = region.GetGeometryRef()
        value = region.GetField(CLASS_FIELD)
        feature = ogr.Feature(definition)
        feature.SetField(CLASS_FIELD, value)
        feature.SetField(NAME_FIELD, names.get(value, f"class {value}"))
        feature.SetField(AREA_FIELD, meter.area(geometry))  # the region's own area, before simplification
        if means is not None:
            feature.SetField(CONFIDENCE_FIELD, float(means[region.GetFID()]))
        if simplifier is not None:
            simplified, _ = simplifier.simplify(geometry)
            geometry = simplified if _valid(simplified) else geometry  # (only if the passes ran out)
        feature.SetGeometry(ogr.ForceToMultiPolygon(geometry))
        layer.CreateFeature(feature)
        written += 1
        if written % COMMIT_EVERY == 0:
            cancel_point(progress)
            layer.CommitTransaction()
            layer.StartTransaction()
    layer.CommitTransaction()
    return written
