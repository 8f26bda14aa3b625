"""Connected regions of a class raster, found with GDAL and held on disk, and ``MIN_AREA`` applied to them.

GDAL's polygoniser finds the 4-connected regions of one class (streaming, scanline by scanline) and
writes one polygon per region; burning those polygons back with their feature id gives every pixel its
region number (exact: region outlines follow pixel edges). From strips of that raster, each region's
size, class and neighbours are counted; :mod:`plugin.core.regions.min_area` merges the small ones; a last pass
writes the merged classes. Memory depends on the raster's width and the number of regions, never on
its height or area.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from osgeo import gdal, ogr

from ...core.areas.window import PixelWindow
from ...core.errors import CancelledError
from ...core.progress import Progress
from ...core.regions.min_area import REMOVED, merge_small_regions
from ..inputs.gdal_grid import RasterGrid, srs_of
from ..outputs.geotiff import GTIFF_OPTIONS
from .areas import min_area_pixels

gdal.UseExceptions()
ogr.UseExceptions()

STRIP_ROWS = 512
REGION_FIELD = "region"
CLASS_FIELD = "class_value"


def polygonize(classes_path: str, target: str, layer_name: str, progress: Progress,
               extra_fields: tuple[ogr.FieldDefn, ...] = ()) -> None:
    """One polygon per 4-connected region of band 1 (nodata left out) into a new GeoPackage layer."""
    dataset = gdal.Open(classes_path)
    band = dataset.GetRasterBand(1)
    source = ogr.GetDriverByName("GPKG").CreateDataSource(target)
    layer = source.CreateLayer(layer_name, srs_of(dataset.GetProjection()), ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn(CLASS_FIELD, ogr.OFTInteger))
    for definition in extra_fields:
        layer.CreateField(definition)
    layer.StartTransaction()
    try:
        gdal.Polygonize(band, band.GetMaskBand(), layer, 0, [], callback=_callback(progress))
    except RuntimeError:  # GDAL's "User terminated" when the callback stopped it: a cancellation, not a failure
        cancel_point(progress)
        raise
    layer.CommitTransaction()
    layer = source = band = dataset = None


def _callback(progress: Progress) -> Callable[[float, str, object], int]:
    def callback(_fraction: float, _message: str, _data: object) -> int:
        return 0 if progress.is_cancelled() else 1
    return callback


def region_numbers(polygons: str, layer_name: str, grid: RasterGrid, target: str, progress: Progress) -> int:
    """Burn each polygon's feature id onto ``grid`` into a UInt32 GeoTIFF (0: no region); returns the largest id."""
    source = ogr.Open(polygons, 1)
    source.ExecuteSQL(f'UPDATE "{layer_name}" SET "{REGION_FIELD}" = fid')
    layer = source.GetLayerByName(layer_name)
    result = source.ExecuteSQL(f'SELECT MAX(fid) FROM "{layer_name}"')
    largest = int(result.GetNextFeature().GetField(0) or 0)
    source.ReleaseResultSet(result)
    output = gdal.GetDriverByName("GTiff").Create(target, grid.width, grid.height, 1, gdal.GDT_UInt32,
                                                  options=GTIFF_OPTIONS)
    output.SetGeoTransform(grid.geotransform)
    for strip in strips(grid):
        cancel_point(progress)
        part = gdal.GetDriverByName("MEM").Create("", strip.width, strip.height, 1, gdal.GDT_UInt32)
        part.SetGeoTransform(grid.window_geotransform(strip))
        xmin, ymin, xmax, ymax = grid.bounds(strip)
        layer.SetSpatialFilterRect(xmin, ymin, xmax, ymax)
        gdal.RasterizeLayer(part, [1], layer, options=[f"ATTRIBUTE={REGION_FIELD}"])
        output.GetRasterBand(1).WriteArray(part.GetRasterBand(1).ReadAsArray(), 0, strip.row)
    layer.SetSpatialFilter(None)
    output.FlushCache()
    output = layer = source = None
    return largest


def strips(grid: RasterGrid, rows: int = STRIP_ROWS) -> list[PixelWindow]:
    return [PixelWindow(0, row, grid.width, min(rows, grid.height - row)) for row in range(0, grid.height, rows)]


def cancel_point(progress: Progress) -> None:
    if progress.is_cancelled():
        raise CancelledError("the run was cancelled; no output was written.")


class RegionTable:
    """Size, class and neighbours of every region, counted strip by strip from the region numbers."""

    def __init__(self, largest: int) -> None:
        self.sizes = np.zeros(largest + 1, np.int64)
        self.classes = np.zeros(largest + 1, np.int64)
        self._pairs: list[np.ndarray] = []
        self._last_row: np.ndarray | None = None
        self._base = largest + 1

    def add(self, ids: np.ndarray, classes: np.ndarray) -> None:
        inside = ids > 0
        self.sizes += np.bincount(ids[inside], minlength=len(self.sizes))
        self.classes[ids[inside]] = classes[inside]
        stacked = ids if self._last_row is None else np.vstack([self._last_row, ids])
        self._pair(stacked[:, :-1], stacked[:, 1:])
        self._pair(stacked[:-1], stacked[1:])
        self._last_row = ids[-1:].copy()

    def _pair(self, a: np.ndarray, b: np.ndarray) -> None:
        touching = (a != b) & (a > 0) & (b > 0)
        low, high = np.minimum(a[touching], b[touching]), np.maximum(a[touching], b[touching])
        if low.size:
            self._pairs.append(np.unique(low.astype(np.int64) * self._base + high))
        if len(self._pairs) > 64:  # keep the list short: fold the pairs found so far together
            self._pairs = [np.unique(np.concatenate(self._pairs))]

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        codes = np.unique(np.concatenate(self._pairs)) if self._pairs else np.zeros(0, np.int64)
        return codes // self._base, codes % self._base


def sieve_classes(classes_path: str, target: str, min_area_m2: float, grid: RasterGrid, work: Path,
                  progress: Progress) -> int:
    """Write ``classes_path`` to ``target`` with every region of band 1 smaller than ``min_area_m2`` merged into
    its largest neighbour (removed when it has none); returns the threshold in pixels."""
    threshold, note = min_area_pixels(grid, min_area_m2)
    if note:
        progress.info(f"MIN_AREA: {note}.")
    polygons = str(work / "regions.gpkg")
    polygonize(classes_path, polygons, "regions", progress, (ogr.FieldDefn(REGION_FIELD, ogr.OFTInteger),))
    numbers = str(work / "regions.tif")
    largest = region_numbers(polygons, "regions", grid, numbers, progress)
    source, ids = gdal.Open(classes_path), gdal.Open(numbers)
    table = RegionTable(largest)
    for strip in strips(grid):
        cancel_point(progress)
        table.add(read_strip(ids, 1, strip), read_strip(source, 1, strip))
    final = merge_small_regions(table.sizes, table.classes, *table.pairs(), threshold)
    merged = int(np.count_nonzero((table.sizes > 0) & (table.sizes < threshold)))
    progress.info(f"MIN_AREA {min_area_m2:g} m² ({threshold} px): {merged} of {int(np.count_nonzero(table.sizes))} "
                  "regions were smaller and merged into their largest neighbour (or removed where they had none).")
    _write_merged(source, ids, final, target, grid, progress)
    return threshold


def read_strip(dataset: gdal.Dataset, band: int, strip: PixelWindow) -> np.ndarray:
    raster = dataset.GetRasterBand(band)
    return raster.ReadAsArray(strip.col, strip.row, strip.width, strip.height)


def _write_merged(source: gdal.Dataset, ids: gdal.Dataset, final: np.ndarray, target: str, grid: RasterGrid,
                  progress: Progress) -> None:
    """``source`` copied to ``target`` with band 1 replaced by each region's merged class."""
    output = gdal.GetDriverByName("GTiff").CreateCopy(target, source, options=GTIFF_OPTIONS)
    band = output.GetRasterBand(1)
    nodata = int(band.GetNoDataValue())
    lookup = np.where(final == REMOVED, nodata, final)
    lookup[0] = nodata
    lookup = lookup.astype(np.uint8 if band.DataType == gdal.GDT_Byte else np.uint16)
    for strip in strips(grid):
        cancel_point(progress)
        band.WriteArray(lookup[read_strip(ids, 1, strip)], 0, strip.row)
    output.FlushCache()
    output = band = None
