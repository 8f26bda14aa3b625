"""Helpers for accuracy assessment and chip export tests: paths, a classification rule, rasterization.

The classification is made here by a fixed spectral rule (NDWI and NDVI thresholds) so that its
confusion with the OpenStreetMap land-use labels is a real, imperfect one. Its class codes follow the
label raster's legend (1 farm, 2 meadow, 3 forest, 8 water); the first rows are nodata (255).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr, osr

from plugin.adapters.outputs.raster_classes import write_classes
from plugin.core.model.contract import ClassInfo
from tests.support.data import DATA, S2_IMAGE, S2_LABELS, S2_POLYGONS  # noqa: F401 - the session copy of tests/data, re-exported

gdal.UseExceptions()

CLASSES = (ClassInfo(1, "farm", "#ffcc00"), ClassInfo(2, "meadow", "#99dd55"), ClassInfo(3, "forest", "#116611"),
           ClassInfo(8, "water", "#2255ff"))
NODATA = 255
NODATA_ROWS = 37
# The label raster's legend (tests/data/SOURCES.md); 0 means "not labelled".
LABEL_CODES = {"farm": 1, "meadow": 2, "forest": 3, "residential": 4, "scrub": 5, "wetland": 6, "grass": 7,
               "water": 8}


@dataclass(frozen=True)
class Classified:
    path: Path
    classes: np.ndarray  # the class raster as written (255 = nodata)
    geotransform: tuple[float, ...]
    wkt: str


def spectral_rule(image: np.ndarray) -> np.ndarray:
    """1 farm, 2 meadow, 3 forest, 8 water from NDVI and NDWI of (B02, B03, B04, B08)."""
    green, red, nir = (image[i].astype(np.float64) for i in (1, 2, 3))
    ndvi = (nir - red) / np.maximum(nir + red, 1)
    ndwi = (green - nir) / np.maximum(green + nir, 1)
    classes = np.ones(ndvi.shape, np.uint8)
    classes[ndvi > 0.17] = 2
    classes[ndvi > 0.25] = 3
    classes[ndwi > 0.1] = 8
    return classes


def write_class_raster(path: Path, classes: np.ndarray, geotransform, wkt: str, nodata: int | None = NODATA,
                       infos=CLASSES) -> Path:
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), classes.shape[1], classes.shape[0], 1, gdal.GDT_Byte)
    dataset.SetGeoTransform(geotransform)
    dataset.SetProjection(wkt)
    band = dataset.GetRasterBand(1)
    if infos:  # before the pixels: GDAL 3.10 refuses a colour table once a GeoTIFF has data
        write_classes(dataset, 1, infos)
    band.WriteArray(classes)
    if nodata is not None:
        band.SetNoDataValue(nodata)
    dataset.FlushCache()
    dataset = None
    return path


def rasterize_polygons(path: Path, geotransform, wkt: str, shape: tuple[int, int], codes: dict[str, int],
                       field: str = "fclass") -> np.ndarray:
    """Independent rasterization of a polygon layer (GDAL's pixel-centre rule): ``codes`` maps field values to
    class codes; features whose value is not in ``codes`` are left out; 0 where no polygon is burnt."""
    source = ogr.Open(str(path))
    layer = source.GetLayer(0)
    target = gdal.GetDriverByName("MEM").Create("", shape[1], shape[0], 1, gdal.GDT_Byte)
    target.SetGeoTransform(geotransform)
    target.SetProjection(wkt)
    memory = ogr.GetDriverByName("Memory").CreateDataSource("copy")
    copy = memory.CreateLayer("copy", layer.GetSpatialRef(), ogr.wkbMultiPolygon)
    copy.CreateField(ogr.FieldDefn("code", ogr.OFTInteger))
    for feature in layer:
        if feature.GetField(field) not in codes:
            continue  # not labelled: not burnt at all
        out = ogr.Feature(copy.GetLayerDefn())
        out.SetGeometry(feature.GetGeometryRef().Clone())
        out.SetField("code", codes[feature.GetField(field)])
        copy.CreateFeature(out)
    gdal.RasterizeLayer(target, [1], copy, options=["ATTRIBUTE=code"])
    return target.GetRasterBand(1).ReadAsArray()


def utm33() -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    return srs


def point_layer(path: Path, srs: osr.SpatialReference, duplicates: int = 25) -> list[tuple[float, float, str]]:
    """A point inside every OSM polygon (in UTM), written in ``srs``; the first ``duplicates`` twice."""
    source = ogr.Open(str(S2_POLYGONS))
    points = [(g.GetX(), g.GetY(), f.GetField("fclass"))
              for f in source.GetLayer(0) for g in [f.GetGeometryRef().PointOnSurface()]]
    points += points[:duplicates]
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)  # x = longitude, as GeoPackage stores it
    transform = osr.CoordinateTransformation(utm33(), srs)
    target = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = target.CreateLayer("points", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("fclass", ogr.OFTString))
    for x, y, name in points:
        feature = ogr.Feature(layer.GetLayerDefn())
        geometry = ogr.Geometry(ogr.wkbPoint)
        geometry.AddPoint_2D(x, y)
        geometry.Transform(transform)
        feature.SetGeometry(geometry)
        feature.SetField("fclass", name)
        layer.CreateFeature(feature)
    target = None
    return points
