"""OUTPUT_VECTOR: one polygon per connected region of one class, in a GeoPackage (GDAL/OGR only).

The class raster (sieved by ``MIN_AREA`` first, when asked) is polygonised by GDAL, which streams the
raster scanline by scanline and writes each region as soon as it is complete. Each feature then gets its
class value and name, its area in square metres (on the ellipsoid, through an equal-area projection of
the CRS's own ellipsoid, when the CRS is geographic) and, when asked, the mean confidence of its pixels
(burnt back by region number, strip by strip). ``SIMPLIFY`` simplifies outlines without opening gaps
between neighbours (:mod:`plugin.core.regions.simplify`). Memory depends on the raster's width and the number
of regions, never on the number of pixels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from osgeo import gdal, ogr

from ...core.model.contract import ModelContract
from ...core.progress import Progress
from ..inputs.gdal_grid import RasterGrid, srs_of
from .areas import AreaMeter
from .regions_raster import (
    CLASS_FIELD,
    REGION_FIELD,
    cancel_point,
    polygonize,
    read_strip,
    region_numbers,
    strips,
)
from .simplify import Simplifier, is_valid

gdal.UseExceptions()
ogr.UseExceptions()

NAME_FIELD, AREA_FIELD, CONFIDENCE_FIELD = "class_name", "area_m2", "mean_confidence"
COMMIT_EVERY = 50_000


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


def write_polygons(classes_path: str, target: str, layer_name: str, contract: ModelContract, grid: RasterGrid,
                   simplify: float, confidence_path: str | None, work: Path, progress: Progress) -> int:
    """Write the class regions of ``classes_path`` as the layer ``layer_name`` of the GeoPackage ``target`` (a new
    one, or the copy of an existing one that keeps its other layers); returns the feature count."""
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
    output = ogr.Open(target, 1) if Path(target).exists() else ogr.GetDriverByName("GPKG").CreateDataSource(target)
    layer = output.CreateLayer(layer_name, srs_of(grid.crs_wkt), ogr.wkbMultiPolygon)
    for name, kind in ((CLASS_FIELD, ogr.OFTInteger), (NAME_FIELD, ogr.OFTString), (AREA_FIELD, ogr.OFTReal),
                       *(((CONFIDENCE_FIELD, ogr.OFTReal),) if means is not None else ())):
        layer.CreateField(ogr.FieldDefn(name, kind))
    written = _copy_features(source.GetLayerByName("regions"), layer, names, meter, means, simplifier, progress)
    layer = output = source = None
    return written


def _copy_features(regions: ogr.Layer, layer: ogr.Layer, names: dict[int, str], meter: AreaMeter,
                   means: np.ndarray | None, simplifier: Simplifier | None, progress: Progress) -> int:
    """One output feature per region (same feature id), simplified when asked; then the polygons simplification
    made invalid, and their neighbours, are done again with their arcs frozen."""
    definition = layer.GetLayerDefn()
    layer.StartTransaction()
    written, invalid = 0, []
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
            if is_valid(simplified):
                geometry = simplified
            else:
                invalid.append(region.GetFID())
        feature.SetFID(region.GetFID())
        feature.SetGeometry(ogr.ForceToMultiPolygon(geometry))
        layer.CreateFeature(feature)
        written += 1
        if written % COMMIT_EVERY == 0:
            cancel_point(progress)
            layer.CommitTransaction()
            layer.StartTransaction()
    if simplifier is not None and invalid:
        def rewrite(fid: int, geometry: ogr.Geometry) -> None:
            feature = layer.GetFeature(fid)
            feature.SetGeometry(ogr.ForceToMultiPolygon(geometry))
            layer.SetFeature(feature)

        left = simplifier.fix_invalid(invalid, regions, rewrite, progress)
        for fid in left:  # (only if the passes ran out) exactly as polygonised
            original = regions.GetFeature(fid)  # kept while its geometry is used (GDAL's bindings)
            rewrite(fid, original.GetGeometryRef())
    layer.CommitTransaction()
    return written
