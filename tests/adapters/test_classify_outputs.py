"""The classify job's outputs on a real raster (GDAL side, no QGIS): class polygons whose areas add up to
the class raster's, MIN_AREA leaving no smaller region (in the polygons, and in the raster with SIEVE),
simplified polygons without overlaps, mean confidence, ellipsoidal areas in a geographic CRS, and
cloud-optimised GeoTIFFs with overviews that pass GDAL's COG layout check."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr

from plugin.adapters.classify.finishing import VectorOptions
from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.core.progress import LoggingProgress
from tests.support.data import REPO, S2_IMAGE

BUNDLED_MODEL = REPO / "models" / "s2_landuse_unet.onnx"
PIXEL_AREA = 10.0 * 10.0


def _classify(folder: Path, vector: VectorOptions, image: Path = S2_IMAGE, **fields) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    paths = {"classes": folder / "classes.tif", "polygons": folder / "polygons.gpkg"}
    classify(ClassifyRequest(input_path=str(image), model_path=str(BUNDLED_MODEL), output_path=str(paths["classes"]),
                             device="cpu", vector_path=str(paths["polygons"]), vector=vector, **fields),
             LoggingProgress())
    return paths


def _features(path: Path) -> list[dict]:
    source = ogr.Open(str(path))
    layer = source.GetLayer(0)
    rows = [{**feature.items(), "geometry": feature.GetGeometryRef().Clone()} for feature in layer]
    layer = source = None
    return rows


def _class_areas(path: Path) -> dict[int, float]:
    values, counts = np.unique(gdal.Open(str(path)).ReadAsArray(), return_counts=True)
    return {int(v): int(n) * PIXEL_AREA for v, n in zip(values, counts) if v != 255}


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> dict[str, Path]:
    return _classify(tmp_path_factory.mktemp("plain"), VectorOptions(confidence=True),
                     confidence_path=str(tmp_path_factory.getbasetemp() / "confidence.tif"))


def test_one_polygon_per_region_whose_areas_add_up_to_the_class_raster(plain):
    features = _features(plain["polygons"])
    sums: dict[int, float] = defaultdict(float)
    for feature in features:
        sums[feature["class_value"]] += feature["area_m2"]
        assert feature["class_name"] and 0 < feature["mean_confidence"] <= 1
    assert dict(sums) == pytest.approx(_class_areas(plain["classes"]), abs=1e-6)
    assert len(features) > 100 and min(f["area_m2"] for f in features) == PIXEL_AREA  # single pixels too


def test_mean_confidence_is_the_mean_over_the_polygons_pixels(plain, tmp_path_factory):
    confidence = gdal.Open(str(tmp_path_factory.getbasetemp() / "confidence.tif"))
    largest = max(_features(plain["polygons"]), key=lambda f: f["area_m2"])
    burnt = gdal.GetDriverByName("MEM").Create("", confidence.RasterXSize, confidence.RasterYSize, 1, gdal.GDT_Byte)
    burnt.SetGeoTransform(confidence.GetGeoTransform())
    memory = ogr.GetDriverByName("Memory").CreateDataSource("one")
    layer = memory.CreateLayer("one")
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(largest["geometry"])
    layer.CreateFeature(feature)
    gdal.RasterizeLayer(burnt, [1], layer, burn_values=[1])
    inside = burnt.ReadAsArray() > 0
    assert inside.sum() * PIXEL_AREA == largest["area_m2"]
    assert largest["mean_confidence"] == pytest.approx(confidence.ReadAsArray()[inside].mean(), rel=1e-5)


def test_min_area_with_sieve_leaves_no_smaller_region_in_polygons_or_raster(tmp_path):
    paths = _classify(tmp_path, VectorOptions(min_area=1000, sieve=True))  # 10 pixels
    features = _features(paths["polygons"])
    assert min(f["area_m2"] for f in features) >= 1000
    sums: dict[int, float] = defaultdict(float)
    for feature in features:
        sums[feature["class_value"]] += feature["area_m2"]
    assert dict(sums) == pytest.approx(_class_areas(paths["classes"]), abs=1e-6)  # the raster was sieved alike
    check = tmp_path / "check.gpkg"  # polygonise the written raster independently: no region under 10 pixels
    source = gdal.Open(str(paths["classes"]))
    band = source.GetRasterBand(1)
    vector = ogr.GetDriverByName("GPKG").CreateDataSource(str(check))
    layer = vector.CreateLayer("regions")
    layer.CreateField(ogr.FieldDefn("value", ogr.OFTInteger))
    gdal.Polygonize(band, band.GetMaskBand(), layer, 0)
    assert min(feature.GetGeometryRef().GetArea() for feature in layer) >= 1000
    layer = vector = band = source = None


def test_regions_of_exactly_min_area_are_kept_and_measured_as_area_m2_measures_them(plain, tmp_path):
    assert 5 * PIXEL_AREA in {f["area_m2"] for f in _features(plain["polygons"])}  # regions of 5 pixels exist
    paths = _classify(tmp_path, VectorOptions(min_area=5 * PIXEL_AREA, sieve=True))
    areas = [f["area_m2"] for f in _features(paths["polygons"])]
    assert min(areas) == 5 * PIXEL_AREA  # MIN_AREA 500 m² keeps regions of exactly 500 m² (5 pixels of 10 m)


@pytest.mark.parametrize("crs", ["EPSG:32633", "EPSG:4326"])
def test_min_area_in_pixels_follows_the_area_the_polygons_report(tmp_path, crs):
    from plugin.adapters.inputs.gdal_grid import RasterGrid
    from plugin.adapters.polygons.areas import AreaMeter, min_area_pixels, pixel_outline

    path = tmp_path / "grid.tif"
    gdal.Warp(str(path), str(S2_IMAGE), dstSRS=crs, width=64, height=32)
    grid = RasterGrid.of(gdal.Open(str(path)))
    meter = AreaMeter(grid)
    smallest = min(meter.area(pixel_outline(grid, grid.width // 2, row)) for row in range(grid.height))
    for min_area in (smallest * 5, smallest * 5 + 1e-3, 1000.0, 12345.6):
        pixels, _ = min_area_pixels(grid, min_area)
        assert pixels * smallest >= min_area * (1 - 1e-9) and (pixels - 1) * smallest < min_area


def test_simplified_polygons_neither_overlap_nor_leave_gaps(tmp_path, plain):
    paths = _classify(tmp_path, VectorOptions(min_area=500, simplify=15))
    simplified = [f["geometry"] for f in _features(paths["polygons"])]
    exact = _classify(tmp_path / "exact", VectorOptions(min_area=500))
    original = [f["geometry"] for f in _features(exact["polygons"])]
    assert all(g.IsValid() for g in simplified)
    assert sum(g.GetPointCount() + sum(g.GetGeometryRef(i).GetGeometryRef(j).GetPointCount()
                                       for i in range(g.GetGeometryCount())
                                       for j in range(g.GetGeometryRef(i).GetGeometryCount()))
               for g in simplified) < sum(g.GetGeometryRef(0).GetGeometryRef(0).GetPointCount() for g in original)
    union = ogr.Geometry(ogr.wkbMultiPolygon)
    for geometry in simplified:
        for part in range(geometry.GetGeometryCount()):
            union.AddGeometry(geometry.GetGeometryRef(part))
    total = sum(g.GetArea() for g in simplified)
    covered = union.UnionCascaded().GetArea()
    assert total == pytest.approx(covered, rel=1e-6)  # no overlaps
    assert covered == pytest.approx(sum(g.GetArea() for g in original), rel=2e-3)  # no gaps (only the outer edge moves)


def test_polygon_areas_in_a_geographic_crs_are_square_metres_on_the_ellipsoid(tmp_path):
    geographic = tmp_path / "s2_4326.tif"
    gdal.Warp(str(geographic), str(S2_IMAGE), dstSRS="EPSG:4326", resampleAlg="near", dstAlpha=True)
    paths = _classify(tmp_path / "run", VectorOptions(), image=geographic, extent=None)
    total = sum(f["area_m2"] for f in _features(paths["polygons"]))
    classified = gdal.Open(str(paths["classes"]))
    assert classified.GetProjection().startswith('GEOGCS["WGS 84"')
    # The same ground as the 10 m raster (1536 x 768 pixels), measured on the ellipsoid, not in degrees.
    assert total == pytest.approx(1536 * 768 * PIXEL_AREA, rel=0.01)


def _validate_cog(path: Path) -> list[str]:
    """GDAL's own COG layout check (osgeo_utils), or the layout GDAL reports when that script is missing."""
    try:
        from osgeo_utils.samples.validate_cloud_optimized_geotiff import validate
    except ImportError:
        dataset = gdal.Open(str(path))
        return [] if dataset.GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE") == "COG" else ["not a COG layout"]
    warnings, errors, _ = validate(str(path), full_check=True)
    return errors


def test_rasters_are_cloud_optimised_with_overviews_of_the_right_kind(plain, tmp_path):
    probabilities = tmp_path / "probabilities.tif"
    classify(ClassifyRequest(input_path=str(S2_IMAGE), model_path=str(BUNDLED_MODEL),
                             output_path=str(tmp_path / "classes.tif"), probabilities_path=str(probabilities),
                             device="cpu"), LoggingProgress())
    for path in (tmp_path / "classes.tif", probabilities):
        assert _validate_cog(path) == []
        dataset = gdal.Open(str(path))
        band = dataset.GetRasterBand(1)
        assert band.GetOverviewCount() >= 2 and dataset.GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE") == "COG"
    classes = gdal.Open(str(tmp_path / "classes.tif"))
    overview = classes.GetRasterBand(1).GetOverview(0).ReadAsArray()
    assert set(np.unique(overview)) <= set(range(1, 9)) | {255}  # nearest: only class values
    assert classes.GetRasterBand(1).GetRasterColorTable() is not None and classes.GetRasterBand(1).GetCategoryNames()
    probability_dataset = gdal.Open(str(probabilities))  # kept open while its bands are read
    first = probability_dataset.GetRasterBand(1)
    full, half = first.ReadAsArray(), first.GetOverview(0).ReadAsArray()
    assert half[0, 0] == pytest.approx(full[:2, :2].mean(), abs=1e-6)  # averaged
