"""``seamless:exportchips``: the chips folder format, georeferencing, skipping, PNG, and bad input."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr

from plugin.adapters.chips.export import INDEX_COLUMNS
from tests.accuracy.helpers import DATA, S2_IMAGE, S2_LABELS, S2_POLYGONS, rasterize_polygons

gdal.UseExceptions()

ALGORITHM = "seamless:exportchips"
DETECTREE = DATA / "detectree" / "1091-322_00.tif"
DETECTREE_TREES = DATA / "detectree" / "1091-322_00_trees.tif"
FOTOMAP = DATA / "deepness" / "dummy_fotomap_small.tif"
FOTOMAP_AREA = DATA / "deepness" / "dummy_fotomap_area.gpkg"
ALPHABETICAL = {"farm": 1, "forest": 2, "grass": 3, "meadow": 4, "residential": 5, "scrub": 6, "water": 7,
                "wetland": 8}


def run(parameters: dict, feedback=None) -> dict:
    import processing

    return processing.run(ALGORITHM, parameters, feedback=feedback)


def check(parameters: dict) -> tuple[bool, str]:
    from qgis.core import QgsApplication, QgsProcessingContext

    algorithm = QgsApplication.processingRegistry().createAlgorithmById(ALGORITHM)
    return algorithm.checkParameterValues(parameters, QgsProcessingContext())


def read_index(folder: Path) -> list[dict]:
    with open(folder / "index.csv", newline="") as stream:
        reader = csv.DictReader(stream)
        assert tuple(reader.fieldnames) == INDEX_COLUMNS
        return list(reader)


def window_of(row: dict) -> tuple[slice, slice]:
    col, line, size = int(row["col_off"]), int(row["row_off"]), int(row["width"])
    return slice(line, line + size), slice(col, col + size)


def chip_bounds(path: Path) -> tuple[float, float, float, float]:
    dataset = gdal.Open(str(path))
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    return x0, y0 + dy * dataset.RasterYSize, x0 + dx * dataset.RasterXSize, y0


def test_polygon_labels_give_the_documented_folder(provider, tmp_path):
    folder = tmp_path / "chips"
    results = run({"INPUT": str(S2_IMAGE), "LABELS": str(S2_POLYGONS), "LABEL_FIELD": "fclass", "CHIP_SIZE": 256,
                   "STRIDE": 256, "OUTPUT_FOLDER": str(folder)})
    assert sorted(p.name for p in folder.iterdir()) == ["classes.json", "images", "index.csv", "index.gpkg", "labels"]
    classes = json.loads((folder / "classes.json").read_text())
    assert classes["schema_version"] == 1 and classes["ignore_value"] == 255 and classes["format"] == "GTiff"
    assert [(c["value"], c["name"]) for c in classes["classes"]] == sorted((v, n) for n, v in ALPHABETICAL.items())
    assert all(re.fullmatch("#[0-9a-f]{6}", c["color"]) for c in classes["classes"])
    assert len(classes["band_names"]) == 4 and classes["chip_size"] == classes["stride"] == 256
    assert classes["pixel_size"] == [10.0, 10.0] and "UTM zone 33N" in classes["crs"]
    rows = read_index(folder)
    assert classes["chip_count"] == results["CHIP_COUNT"] == len(rows) == 18  # 6 x 3 chips cover 1536 x 768
    assert sorted(p.name for p in (folder / "images").iterdir()) == sorted(Path(r["image"]).name for r in rows)
    footprints = ogr.Open(str(folder / "index.gpkg"))
    assert footprints.GetLayer(0).GetFeatureCount() == len(rows)

    image = gdal.Open(str(S2_IMAGE))
    pixels = image.ReadAsArray()
    expected_labels = rasterize_polygons(S2_POLYGONS, image.GetGeoTransform(), image.GetProjection(),
                                         pixels.shape[1:], ALPHABETICAL)
    expected_labels[expected_labels == 0] = 255
    for row in rows[::5]:
        assert row["chip_id"] == f"r{int(row['row_off']):06d}_c{int(row['col_off']):06d}"
        rows_slice, cols_slice = window_of(row)
        chip = gdal.Open(str(folder / row["image"]))
        assert chip.RasterCount == 4 and chip.GetRasterBand(1).DataType == gdal.GDT_UInt16
        np.testing.assert_array_equal(chip.ReadAsArray(), pixels[:, rows_slice, cols_slice])
        bounds = tuple(float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
        assert chip_bounds(folder / row["image"]) == pytest.approx(bounds)
        assert chip_bounds(folder / row["label"]) == pytest.approx(bounds)
        label = gdal.Open(str(folder / row["label"]))
        np.testing.assert_array_equal(label.ReadAsArray(), expected_labels[rows_slice, cols_slice])
        assert float(row["labelled_fraction"]) == pytest.approx(
            np.mean(expected_labels[rows_slice, cols_slice] != 255), abs=1e-6)


def test_label_raster_with_unlabelled_value_and_min_labelled(provider, tmp_path):
    folder = tmp_path / "chips"
    results = run({"INPUT": str(S2_IMAGE), "LABEL_RASTER": str(S2_LABELS), "LABEL_NODATA": 0, "CHIP_SIZE": 128,
                   "STRIDE": 128, "MIN_LABELLED": 0.5, "OUTPUT_FOLDER": str(folder)})
    labels = gdal.Open(str(S2_LABELS)).ReadAsArray()
    fractions = {(r, c): np.mean(labels[r:r + 128, c:c + 128] != 0)
                 for r in range(0, 768, 128) for c in range(0, 1536, 128)}
    kept = {key for key, fraction in fractions.items() if fraction >= 0.5}
    assert 0 < len(kept) < len(fractions)  # some chips are skipped, some kept
    rows = read_index(folder)
    assert {(int(r["row_off"]), int(r["col_off"])) for r in rows} == kept
    assert results["CHIP_COUNT"] == len(kept)
    classes = json.loads((folder / "classes.json").read_text())
    assert [c["value"] for c in classes["classes"]] == [1, 2, 3, 4, 5, 6, 7, 8]
    for row in rows[:4]:
        label = gdal.Open(str(folder / row["label"]))
        assert label.GetRasterBand(1).GetNoDataValue() == 255
        window = labels[window_of(row)]
        np.testing.assert_array_equal(label.ReadAsArray(), np.where(window == 0, 255, window))


def test_extent_and_mask_limit_chips_and_labels(provider, tmp_path):
    folder = tmp_path / "chips"
    mask = S2_POLYGONS.parent / "s2l1c_ref.gpkg"
    run({"INPUT": str(S2_IMAGE), "LABEL_RASTER": str(S2_LABELS), "LABEL_NODATA": 0, "CHIP_SIZE": 64, "STRIDE": 64,
         "EXTENT": "331000,340000,5815000,5821000 [EPSG:32633]", "MASK": str(mask), "OUTPUT_FOLDER": str(folder)})
    image = gdal.Open(str(S2_IMAGE))
    inside = rasterize_polygons(mask, image.GetGeoTransform(), image.GetProjection(),
                                (image.RasterYSize, image.RasterXSize), {v: 1 for v in range(1000)}, field="cid")
    labels = gdal.Open(str(S2_LABELS)).ReadAsArray()
    rows = read_index(folder)
    assert rows
    for row in rows:
        assert 100 <= int(row["col_off"]) and int(row["col_off"]) + 64 <= 1000  # inside the extent's columns
        window = window_of(row)
        expected = np.where((labels[window] == 0) | (inside[window] == 0), 255, labels[window])
        np.testing.assert_array_equal(gdal.Open(str(folder / row["label"])).ReadAsArray(), expected)


def test_png_chips_of_an_rgb_tile_with_world_files(provider, tmp_path):
    folder = tmp_path / "png"
    results = run({"INPUT": str(DETECTREE), "LABEL_RASTER": str(DETECTREE_TREES), "CHIP_SIZE": 64, "STRIDE": 48,
                   "FORMAT": "PNG", "OUTPUT_FOLDER": str(folder)})
    tile = gdal.Open(str(DETECTREE))
    rgb, trees = tile.ReadAsArray(), gdal.Open(str(DETECTREE_TREES)).ReadAsArray()
    rows = read_index(folder)
    assert results["CHIP_COUNT"] == len(rows) == 4 * 3  # columns 0, 48, 96, 111; rows 0, 48, 56
    assert json.loads((folder / "classes.json").read_text())["format"] == "PNG"
    assert not list(folder.rglob("*.aux.xml"))
    x0, dx, _, y0, _, dy = tile.GetGeoTransform()
    for row in rows:
        image, label = gdal.Open(str(folder / row["image"])), gdal.Open(str(folder / row["label"]))
        assert image.GetDriver().ShortName == "PNG" and image.RasterCount == 3
        window = window_of(row)
        np.testing.assert_array_equal(image.ReadAsArray(), rgb[:, window[0], window[1]])
        np.testing.assert_array_equal(label.ReadAsArray(), trees[window])
        expected = (x0 + int(row["col_off"]) * dx, dx, 0.0, y0 + int(row["row_off"]) * dy, 0.0, dy)
        assert image.GetGeoTransform() == pytest.approx(expected)  # read back from the .pgw world file
        assert (folder / row["image"]).with_suffix(".pgw").exists()


def test_png_chips_of_an_rgba_orthophoto_keep_rgb_and_polygon_labels(provider, tmp_path):
    labels_path = tmp_path / "area.gpkg"
    source = ogr.Open(str(FOTOMAP_AREA))
    target = ogr.GetDriverByName("GPKG").CreateDataSource(str(labels_path))
    layer = target.CreateLayer("area", source.GetLayer(0).GetSpatialRef(), ogr.wkbMultiPolygon)
    layer.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    for feature in source.GetLayer(0):
        copy = ogr.Feature(layer.GetLayerDefn())
        copy.SetGeometry(feature.GetGeometryRef().Clone())
        copy.SetField("class", "mapped area")
        layer.CreateFeature(copy)
    target = None
    folder = tmp_path / "png"
    results = run({"INPUT": str(FOTOMAP), "LABELS": str(labels_path), "LABEL_FIELD": "class", "CHIP_SIZE": 256,
                   "STRIDE": 256, "MIN_LABELLED": 0.3, "FORMAT": "PNG", "OUTPUT_FOLDER": str(folder)})
    ortho = gdal.Open(str(FOTOMAP))
    rgba = ortho.ReadAsArray()
    area = rasterize_polygons(labels_path, ortho.GetGeoTransform(), ortho.GetProjection(), rgba.shape[1:],
                              {"mapped area": 1}, field="class")
    expected = np.where(area == 1, 1, 255)
    rows = read_index(folder)
    assert json.loads((folder / "classes.json").read_text())["classes"][0]["name"] == "mapped area"
    kept = {(r, c) for r in (0, 256, 512, 585) for c in (0, 256, 512, 768, 987)
            if np.mean(area[r:r + 256, c:c + 256]) >= 0.3}
    assert {(int(r["row_off"]), int(r["col_off"])) for r in rows} == kept and results["CHIP_COUNT"] == len(kept)
    for row in rows:
        window = window_of(row)
        np.testing.assert_array_equal(gdal.Open(str(folder / row["image"])).ReadAsArray(),
                                      rgba[:3, window[0], window[1]])
        np.testing.assert_array_equal(gdal.Open(str(folder / row["label"])).ReadAsArray(), expected[window])


def test_image_nodata_is_unlabelled(provider, tmp_path):
    # The S2 subset with a corner of nodata, as at a scene edge: labels there must be the ignore value.
    image_path = tmp_path / "s2_edge.tif"
    copy = gdal.Translate(str(image_path), str(S2_IMAGE), noData=0)
    for index in range(1, 5):
        band = copy.GetRasterBand(index)
        band.WriteArray(np.zeros((100, 150), np.uint16), 0, 0)
    del copy  # close it so GDAL writes it
    folder = tmp_path / "chips"
    run({"INPUT": str(image_path), "LABEL_RASTER": str(S2_LABELS), "LABEL_NODATA": 0, "CHIP_SIZE": 128,
         "STRIDE": 128, "OUTPUT_FOLDER": str(folder)})
    labels = gdal.Open(str(S2_LABELS)).ReadAsArray()
    corner = next(r for r in read_index(folder) if r["chip_id"] == "r000000_c000128")
    chip = gdal.Open(str(folder / corner["label"])).ReadAsArray()
    assert (chip[:100, :22] == 255).all() and (labels[:100, 128:150] != 0).any()
    np.testing.assert_array_equal(chip[100:], np.where(labels[100:128, 128:256] == 0, 255, labels[100:128, 128:256]))


def test_png_is_refused_for_a_16_bit_raster(provider, tmp_path):
    from qgis.core import QgsProcessingException

    parameters = {"INPUT": str(S2_IMAGE), "LABEL_RASTER": str(S2_LABELS), "FORMAT": "PNG",
                  "OUTPUT_FOLDER": str(tmp_path / "chips")}
    ok, message = check(parameters)
    assert not ok and "FORMAT PNG needs an 8-bit (Byte) raster" in message and "UInt16" in message
    with pytest.raises(QgsProcessingException, match="Use FORMAT GeoTIFF"):
        run(parameters)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("parameters, message", [
    ({}, "Give labels"),
    ({"LABELS": str(S2_POLYGONS), "LABEL_FIELD": "fclass", "LABEL_RASTER": str(S2_LABELS)}, "not both"),
    ({"LABELS": str(S2_POLYGONS)}, "LABEL_FIELD is missing"),
    ({"LABELS": str(S2_POLYGONS), "LABEL_FIELD": "landuse"}, "has no field 'landuse'"),
    ({"LABEL_RASTER": str(S2_LABELS), "CHIP_SIZE": 8}, "CHIP_SIZE must be at least 16"),
    ({"LABEL_RASTER": str(S2_LABELS), "STRIDE": 0}, "STRIDE must be at least 1"),
    ({"LABEL_RASTER": str(S2_LABELS), "CHIP_SIZE": 1024}, "larger than the raster"),
])
def test_check_parameter_values_names_the_problem(provider, tmp_path, parameters, message):
    ok, text = check({"INPUT": str(S2_IMAGE), "OUTPUT_FOLDER": str(tmp_path / "c"), **parameters})
    assert not ok and message in text, text


def test_check_parameter_values_accepts_a_good_combination(provider, tmp_path):
    assert check({"INPUT": str(S2_IMAGE), "LABEL_RASTER": str(S2_LABELS), "CHIP_SIZE": 64,
                  "OUTPUT_FOLDER": str(tmp_path / "c")}) == (True, "")


def test_a_non_empty_output_folder_is_refused_an_empty_one_is_used(provider, tmp_path):
    from qgis.core import QgsProcessingException

    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("keep me")
    parameters = {"INPUT": str(DETECTREE), "LABEL_RASTER": str(DETECTREE_TREES), "CHIP_SIZE": 64}
    with pytest.raises(QgsProcessingException, match="not empty"):
        run({**parameters, "OUTPUT_FOLDER": str(used)})
    assert [p.name for p in used.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run({**parameters, "OUTPUT_FOLDER": str(empty)})["CHIP_COUNT"] == 4  # 2 x 2 chips of 64 on 175 x 120
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "used"]


def test_a_cancelled_export_leaves_nothing(provider, tmp_path):
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda value: feedback.cancel() if value > 0 else None)
    with pytest.raises(QgsProcessingException, match="cancelled"):
        run({"INPUT": str(S2_IMAGE), "LABEL_RASTER": str(S2_LABELS), "LABEL_NODATA": 0, "CHIP_SIZE": 64,
             "OUTPUT_FOLDER": str(tmp_path / "chips")}, feedback)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_output_folder_fails_clearly(provider, tmp_path):
    from qgis.core import QgsProcessingException

    blocker = tmp_path / "file.txt"
    blocker.write_text("a file where a folder would have to be")
    with pytest.raises(QgsProcessingException, match="Cannot create the output folder"):
        run({"INPUT": str(DETECTREE), "LABEL_RASTER": str(DETECTREE_TREES), "CHIP_SIZE": 64,
             "OUTPUT_FOLDER": str(blocker / "out")})
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_labels_without_overlap_are_refused(provider, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="do not overlap"):
        run({"INPUT": str(DETECTREE), "LABELS": str(S2_POLYGONS), "LABEL_FIELD": "fclass", "CHIP_SIZE": 64,
             "OUTPUT_FOLDER": str(tmp_path / "chips")})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_qgis_process_exports_chips(qgis_process, tmp_path):
    folder = tmp_path / "chips"
    result = qgis_process(ALGORITHM, {"INPUT": S2_IMAGE, "LABELS": S2_POLYGONS, "LABEL_FIELD": "fclass",
                                      "CHIP_SIZE": 256, "STRIDE": 192, "MIN_LABELLED": 0.25, "FORMAT": "GeoTIFF",
                                      "OUTPUT_FOLDER": folder})
    assert result.returncode == 0, result.stdout + result.stderr
    rows = read_index(folder)
    assert int(float(result.results["CHIP_COUNT"])) == len(rows) > 0
    assert all(float(r["labelled_fraction"]) >= 0.25 for r in rows)
    assert json.loads((folder / "classes.json").read_text())["stride"] == 192


def test_no_chip_with_enough_labels_is_an_error_and_leaves_nothing(provider, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="No chip was written.*lower MIN_LABELLED"):
        run({"INPUT": str(S2_IMAGE), "LABEL_RASTER": str(S2_LABELS), "LABEL_NODATA": 0, "CHIP_SIZE": 256,
             "MIN_LABELLED": 1.0, "OUTPUT_FOLDER": str(tmp_path / "chips")})
    assert list(tmp_path.iterdir()) == []


def test_inputs_are_left_untouched_no_sidecar_is_written_next_to_them(tmp_path):
    from plugin.adapters.accuracy.assess import assess
    from plugin.adapters.accuracy.reference import ReferenceSpec
    from plugin.adapters.chips.export import ChipOptions, export_chips
    from plugin.adapters.chips.labels import LabelSpec

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for source in (DETECTREE, DETECTREE_TREES):
        (inputs / source.name).write_bytes(source.read_bytes())
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}
    tile, trees = str(inputs / DETECTREE.name), str(inputs / DETECTREE_TREES.name)
    export_chips(tile, LabelSpec(raster=trees), str(tmp_path / "chips"), ChipOptions(64, 64))
    assess(trees, ReferenceSpec(raster=trees))
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before
