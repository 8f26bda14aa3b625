"""Block-by-block accuracy assessment on the real Sentinel-2 subset, checked against independent counts.

Every expected confusion matrix here is computed in the test itself (scikit-learn on the same pixels,
an independent rasterization, or numpy index arithmetic), never by the code under test.
"""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from sklearn.metrics import confusion_matrix

from plugin.adapters.accuracy.assess import assess
from plugin.adapters.accuracy.reference import ReferenceSpec
from plugin.adapters.inputs.area_of_interest import AreaSpec
from plugin.core.errors import InputError
from plugin.core.progress import LoggingProgress
from tests.accuracy.helpers import (
    LABEL_CODES,
    NODATA,
    S2_LABELS,
    S2_POLYGONS,
    point_layer,
    rasterize_polygons,
    write_class_raster,
)

gdal.UseExceptions()


def expected_matrix(reference: np.ndarray, predicted: np.ndarray, valid: np.ndarray, values) -> np.ndarray:
    return confusion_matrix(reference[valid], predicted[valid], labels=list(values))


def test_raster_reference_counts_equal_scikit_learn_on_the_same_pixels(classified, labels):
    progress = LoggingProgress()
    result = assess(str(classified.path), ReferenceSpec(raster=str(S2_LABELS), nodata=0), progress=progress)
    valid = (labels != 0) & (classified.classes != NODATA)
    assert result.matrix.values == (1, 2, 3, 4, 5, 6, 7, 8)
    np.testing.assert_array_equal(result.matrix.matrix,
                                  expected_matrix(labels, classified.classes, valid, result.matrix.values))
    assert result.matrix.total == int(valid.sum()) > 300_000
    lost = (labels != 0) & (classified.classes == NODATA)
    assert result.excluded["reference_on_classification_nodata"] == int(lost.sum()) > 0
    assert progress.fraction == 1.0
    # The reference's residential, scrub, wetland and grass are not classes of the classification.
    assert result.reference_only_values == (4, 5, 6, 7)
    mapped = np.unique(classified.classes[classified.classes != NODATA], return_counts=True)
    assert result.mapped_counts == {int(v): int(n) for v, n in zip(*mapped)}
    assert 0.2 < result.scores.overall_accuracy < 0.6  # a real, imperfect classification


def test_tile_size_does_not_change_a_single_count(classified):
    spec = ReferenceSpec(raster=str(S2_LABELS), nodata=0)
    whole = assess(str(classified.path), spec, tile_size=2048)
    odd = assess(str(classified.path), spec, tile_size=97)
    np.testing.assert_array_equal(whole.matrix.matrix, odd.matrix.matrix)
    assert whole.mapped_counts == odd.mapped_counts


def test_text_classes_of_polygons_are_matched_to_the_classification_names(classified):
    result = assess(str(classified.path), ReferenceSpec(vector=str(S2_POLYGONS), field="fclass"))
    # farm, meadow, forest, water match; the others get codes after 8 in alphabetical order.
    codes = {"farm": 1, "meadow": 2, "forest": 3, "water": 8, "grass": 9, "residential": 10, "scrub": 11,
             "wetland": 12}
    reference = rasterize_polygons(S2_POLYGONS, classified.geotransform, classified.wkt, classified.classes.shape,
                                   codes)
    valid = (reference != 0) & (classified.classes != NODATA)
    assert result.matrix.values == (1, 2, 3, 8, 9, 10, 11, 12)
    np.testing.assert_array_equal(result.matrix.matrix,
                                  expected_matrix(reference, classified.classes, valid, result.matrix.values))
    assert [result.name_of(v) for v in result.reference_only_values] == ["grass", "residential", "scrub", "wetland"]
    assert any("match no class" in note for note in result.notes)


def test_reference_on_another_grid_is_taken_nearest_onto_the_classified_grid(classified, labels, tmp_path):
    # A 20 m reference covering rows 50..649 and columns 100..1099 only: every other pixel of the labels.
    row0, col0, rows, cols = 50, 100, 600, 1000
    coarse = labels[row0:row0 + rows:2, col0:col0 + cols:2]
    x0, _, _, y0, _, _ = classified.geotransform
    path = tmp_path / "labels_20m.tif"
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), coarse.shape[1], coarse.shape[0], 1, gdal.GDT_Byte)
    dataset.SetGeoTransform((x0 + col0 * 10, 20, 0, y0 - row0 * 10, 0, -20))
    dataset.SetProjection(classified.wkt)
    dataset.GetRasterBand(1).WriteArray(coarse)
    dataset = None
    progress = LoggingProgress()
    result = assess(str(classified.path), ReferenceSpec(raster=str(path), nodata=0), progress=progress)
    # Independent: a 10 m pixel takes the 20 m pixel holding its centre; outside the crop nothing is labelled.
    expected = np.zeros_like(labels)
    expected[row0:row0 + rows, col0:col0 + cols] = np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)
    valid = (expected != 0) & (classified.classes != NODATA)
    np.testing.assert_array_equal(result.matrix.matrix,
                                  expected_matrix(expected, classified.classes, valid, result.matrix.values))
    assert any("nearest neighbour" in message for message in progress.messages)


def test_nodata_of_the_reference_raster_itself_is_left_out(classified, labels, tmp_path):
    path = tmp_path / "labels_nodata.tif"
    copy = gdal.Translate(str(path), str(S2_LABELS), noData=0)
    del copy  # close it so GDAL writes it
    with_nodata = assess(str(classified.path), ReferenceSpec(raster=str(path)))
    with_parameter = assess(str(classified.path), ReferenceSpec(raster=str(S2_LABELS), nodata=0))
    np.testing.assert_array_equal(with_nodata.matrix.matrix, with_parameter.matrix.matrix)
    without = assess(str(classified.path), ReferenceSpec(raster=str(S2_LABELS)))
    assert 0 in without.matrix.values and without.matrix.total == int((classified.classes != NODATA).sum())


def test_every_point_is_one_sample_also_in_another_crs(classified, tmp_path):
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    points = point_layer(tmp_path / "points.gpkg", wgs84)
    result = assess(str(classified.path), ReferenceSpec(vector=str(tmp_path / "points.gpkg"), field="fclass"))
    codes = {"farm": 1, "meadow": 2, "forest": 3, "water": 8, "grass": 9, "residential": 10, "scrub": 11,
             "wetland": 12}
    x0, dx, _, y0, _, dy = classified.geotransform
    reference, predicted = [], []
    for x, y, name in points:
        col, row = int((x - x0) // dx), int((y - y0) // dy)
        if 0 <= row < classified.classes.shape[0] and 0 <= col < classified.classes.shape[1] \
                and classified.classes[row, col] != NODATA:
            reference.append(codes[name])
            predicted.append(classified.classes[row, col])
    assert result.sample_unit == "point" and result.matrix.total == len(reference) > 550
    np.testing.assert_array_equal(result.matrix.matrix, confusion_matrix(reference, predicted,
                                                                         labels=list(result.matrix.values)))
    on_raster = len(reference) + result.excluded["on_classification_nodata"]
    assert on_raster + result.excluded["outside_raster"] == len(points)
    odd = assess(str(classified.path), ReferenceSpec(vector=str(tmp_path / "points.gpkg"), field="fclass"),
                 tile_size=101)
    np.testing.assert_array_equal(result.matrix.matrix, odd.matrix.matrix)


def test_extent_keeps_pixels_whose_centres_lie_inside(classified, labels):
    extent = (331003.0, 5815007.0, 340004.0, 5821009.0)
    result = assess(str(classified.path), ReferenceSpec(raster=str(S2_LABELS), nodata=0), AreaSpec(extent=extent))
    x0, dx, _, y0, _, dy = classified.geotransform
    rows, cols = classified.classes.shape
    centre_x = x0 + (np.arange(cols) + 0.5) * dx
    centre_y = y0 + (np.arange(rows) + 0.5) * dy
    inside = ((centre_y[:, None] > extent[1]) & (centre_y[:, None] <= extent[3])
              & (centre_x[None, :] >= extent[0]) & (centre_x[None, :] < extent[2]))
    valid = inside & (labels != 0) & (classified.classes != NODATA)
    np.testing.assert_array_equal(result.matrix.matrix,
                                  expected_matrix(labels, classified.classes, valid, result.matrix.values))
    assert sum(result.mapped_counts.values()) == int((inside & (classified.classes != NODATA)).sum())


def test_mask_polygons_limit_the_assessed_pixels(classified, labels):
    mask_path = S2_POLYGONS.parent / "s2l1c_ref.gpkg"
    result = assess(str(classified.path), ReferenceSpec(raster=str(S2_LABELS), nodata=0),
                    AreaSpec(mask_path=str(mask_path)))
    inside = rasterize_polygons(mask_path, classified.geotransform, classified.wkt, labels.shape,
                                {v: 1 for v in range(1000)}, field="cid").astype(bool)
    valid = inside & (labels != 0) & (classified.classes != NODATA)
    assert 0 < valid.sum() < 0.2 * valid.size
    np.testing.assert_array_equal(result.matrix.matrix,
                                  expected_matrix(labels, classified.classes, valid, result.matrix.values))


def test_text_classes_need_class_names_and_class_names_can_be_given(classified, tmp_path):
    bare = write_class_raster(tmp_path / "bare.tif", classified.classes, classified.geotransform, classified.wkt,
                              infos=())
    spec = ReferenceSpec(vector=str(S2_POLYGONS), field="fclass")
    with pytest.raises(InputError, match="carries no class names.*CLASS_NAMES"):
        assess(str(bare), spec)
    named = assess(str(bare), spec, class_names={1: "Farm", 2: "MEADOW", 3: "forest", 8: "water"})
    embedded = assess(str(classified.path), spec)
    np.testing.assert_array_equal(named.matrix.matrix, embedded.matrix.matrix)
    assert named.name_of(2) == "MEADOW"


def test_numeric_codes_in_a_field_are_used_as_they_are(classified, tmp_path):
    # The OSM polygons with their legend code in an integer field, and 0 for one class meaning "not labelled".
    source = ogr.Open(str(S2_POLYGONS))
    target = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp_path / "codes.gpkg"))
    layer = target.CreateLayer("codes", source.GetLayer(0).GetSpatialRef(), ogr.wkbMultiPolygon)
    layer.CreateField(ogr.FieldDefn("code", ogr.OFTInteger))
    for feature in source.GetLayer(0):
        copy = ogr.Feature(layer.GetLayerDefn())
        copy.SetGeometry(feature.GetGeometryRef().Clone())
        name = feature.GetField("fclass")
        copy.SetField("code", 0 if name == "wetland" else LABEL_CODES[name])
        layer.CreateFeature(copy)
    target = None
    result = assess(str(classified.path), ReferenceSpec(vector=str(tmp_path / "codes.gpkg"), field="code", nodata=0))
    assert result.matrix.values == (1, 2, 3, 4, 5, 7, 8)
    # Features holding the REFERENCE_NODATA value are not burnt at all: what they overlap keeps its label.
    codes = {name: code for name, code in LABEL_CODES.items() if name != "wetland"}
    reference = rasterize_polygons(S2_POLYGONS, classified.geotransform, classified.wkt, classified.classes.shape,
                                   codes)
    valid = (reference != 0) & (classified.classes != NODATA)
    np.testing.assert_array_equal(result.matrix.matrix,
                                  expected_matrix(reference, classified.classes, valid, result.matrix.values))


def test_reference_without_overlap_is_refused(classified, tmp_path):
    moved = tmp_path / "moved.tif"
    copy = gdal.Translate(str(moved), str(S2_LABELS))
    x0, dx, rx, y0, ry, dy = copy.GetGeoTransform()
    copy.SetGeoTransform((x0 + 100_000, dx, rx, y0, ry, dy))
    del copy  # close it so GDAL writes it
    with pytest.raises(InputError, match="does not overlap the classified raster"):
        assess(str(classified.path), ReferenceSpec(raster=str(moved), nodata=0))


def test_reference_with_labels_only_under_nodata_is_refused(classified, labels, tmp_path):
    only_top = np.where(np.arange(labels.shape[0])[:, None] < 30, labels, 0).astype(np.uint8)
    path = tmp_path / "top.tif"
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), labels.shape[1], labels.shape[0], 1, gdal.GDT_Byte)
    dataset.SetGeoTransform(classified.geotransform)
    dataset.SetProjection(classified.wkt)
    dataset.GetRasterBand(1).WriteArray(only_top)
    dataset = None
    with pytest.raises(InputError, match="No pixel could be assessed.*reference on classification nodata"):
        assess(str(classified.path), ReferenceSpec(raster=str(path), nodata=0))


def test_fractional_classification_values_are_refused(classified, tmp_path):
    path = tmp_path / "fractions.tif"
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), 64, 64, 1, gdal.GDT_Float32)
    dataset.SetGeoTransform(classified.geotransform)
    dataset.SetProjection(classified.wkt)
    dataset.GetRasterBand(1).WriteArray(np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64))
    dataset = None
    with pytest.raises(InputError, match="not whole numbers"):
        assess(str(path), ReferenceSpec(raster=str(S2_LABELS), nodata=0))


def test_codes_named_differently_in_the_two_rasters_are_noted(classified, labels, tmp_path):
    from plugin.adapters.outputs.raster_classes import write_classes
    from plugin.core.model.contract import ClassInfo

    path = tmp_path / "named_labels.tif"
    copy = gdal.Translate(str(path), str(S2_LABELS), noData=0)
    # The label raster's own legend, except that code 2 is called "grassland" here.
    legend = {**{code: name for name, code in LABEL_CODES.items()}, 2: "grassland"}
    write_classes(copy, 1, [ClassInfo(code, name, "#808080") for code, name in sorted(legend.items())])
    del copy  # close it so GDAL writes it
    result = assess(str(classified.path), ReferenceSpec(raster=str(path)))
    assert any("2 is 'meadow' in the classification but 'grassland' in the reference" in note
               for note in result.notes)
    assert not any("1 is 'farm'" in note for note in result.notes)
    assert result.name_of(5) == "scrub"  # a reference-only class named by the reference raster
