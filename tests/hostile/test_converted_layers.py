"""Class 10: vector layers QGIS converts before the plugin reads them. A GeoPackage layer with a filter
(``labels.gpkg|subset=...``), a layer of another provider (delimited text, a scratch layer in memory) or
"selected features only" cannot be opened by OGR as it is: QGIS exports it to a temporary GeoPackage first,
and that call killed qgis_process (and QGIS with it: the dialog runs the same check) when it was given no
feedback object. Every algorithm that takes vector layers is run with each kind, through qgis_process and
in-process, and must give exactly what the same polygons saved as a file of their own give."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from osgeo import gdal, ogr

from tests.hostile.helpers import BUNDLED_MODEL, succeeded
from tests.support.data import S2_POLYGONS

pytestmark = pytest.mark.slow

FOREST = "\"fclass\" = 'forest'"
FARM, SCRUB = "\"fclass\" = 'farm'", "\"fclass\" = 'scrub'"
FIVE_CLASSES = "\"fclass\" IN ('forest', 'meadow', 'wetland', 'farm', 'scrub')"
THREE_CLASSES = "\"fclass\" IN ('forest', 'meadow', 'wetland')"
LAYER = "gis_osm_landuse-water_a_free_1_area-10000-to-500000"  # the one layer of osm_landuse.gpkg


def filtered_copy(source: Path, where: str, target: Path) -> Path:
    """The features of ``source`` matching ``where``, as a GeoPackage of their own (the expected result)."""
    gdal.VectorTranslate(str(target), str(source), where=where.replace('"', ""))
    return target


def wkt_csv(source: Path, where: str, target: Path) -> str:
    """The features matching ``where`` as a CSV of WKT: a layer of the delimited text provider, as its URI."""
    data = ogr.Open(str(source))
    layer = data.GetLayer(0)
    layer.SetAttributeFilter(where.replace('"', ""))
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["wkt", "fclass"])
        for feature in layer:
            writer.writerow([feature.GetGeometryRef().ExportToWkt(), feature.GetField("fclass")])
    layer = data = None
    return (f"delimitedtext://file://{target.as_posix()}?type=csv&delimiter=;&wktField=wkt&crs=EPSG:32633"
            "&geomType=Polygon")


def qgis_process_kinds(polygons: Path, where: str, folder: Path) -> dict[str, str]:
    """Layer strings qgis_process accepts that QGIS converts before OGR can read them."""
    return {"subset": f"{polygons}|subset={where}",
            "layer and subset": f"{polygons}|layername={LAYER}|subset={where}",
            "delimited text": wkt_csv(polygons, where, folder / f"{abs(hash(where))}.csv")}


IN_PROCESS_KINDS = ("memory layer", "selected features only", "filtered project layer", "subset string")


@pytest.fixture()
def project_layers(tmp_path) -> Iterator[Callable[[str, str], Any]]:
    """``make(kind, where)``: a parameter value of that kind holding the features matching ``where``; the
    layers are added to the project and removed afterwards."""
    from qgis.core import QgsProcessingFeatureSourceDefinition, QgsProject, QgsVectorLayer

    polygons = tmp_path / "polygons.gpkg"
    gdal.VectorTranslate(str(polygons), str(S2_POLYGONS))
    added: list[str] = []

    def add(layer: QgsVectorLayer) -> QgsVectorLayer:
        assert layer.isValid()
        QgsProject.instance().addMapLayer(layer)
        added.append(layer.id())
        return layer

    def make(kind: str, where: str) -> Any:
        if kind == "subset string":
            return f"{polygons}|subset={where}"
        layer = add(QgsVectorLayer(str(polygons), "land use", "ogr"))
        if kind == "filtered project layer":
            layer.setSubsetString(where)
            return layer.id()
        if kind == "selected features only":
            layer.selectByExpression(where)
            assert 0 < layer.selectedFeatureCount() < layer.featureCount()
            return QgsProcessingFeatureSourceDefinition(layer.id(), selectedFeaturesOnly=True)
        layer.setSubsetString(where)
        scratch = QgsVectorLayer(f"MultiPolygon?crs={layer.crs().authid()}", "scratch", "memory")
        scratch.dataProvider().addAttributes(layer.fields().toList())
        scratch.updateFields()
        assert scratch.dataProvider().addFeatures(list(layer.getFeatures()))[0]
        return add(scratch)

    yield make
    for layer_id in added:
        QgsProject.instance().removeMapLayer(layer_id)


def run_in_process(algorithm: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """processing.run, after the check the dialog makes (with a context and no feedback, as the dialog does)."""
    import processing
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProject

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    checked = QgsApplication.processingRegistry().createAlgorithmById(algorithm)
    assert checked.checkParameterValues(parameters, context) == (True, "")
    return processing.run(algorithm, parameters, feedback=QgsProcessingFeedback())


def classes_of(path: Path) -> np.ndarray:
    dataset = gdal.Open(str(path))
    return dataset.GetRasterBand(1).ReadAsArray()


@pytest.fixture(scope="module")
def forest_mask(provider, hostile, tmp_path_factory) -> dict[str, Any]:
    """The forest polygons as a file of their own, and the class raster classify writes with it as MASK."""
    folder = tmp_path_factory.mktemp("forest")
    mask = filtered_copy(hostile["labels_gpkg"], FOREST, folder / "forest.gpkg")
    import processing

    output = folder / "expected.tif"
    processing.run("seamless:classify", {"INPUT": str(hostile["s2"]), "MODEL": str(BUNDLED_MODEL),
                                         "MASK": str(mask), "OUTPUT": str(output)})
    expected = classes_of(output)
    assert 0.2 < (expected == 255).mean() < 0.95  # the mask leaves some pixels out, and keeps others
    return {"mask": mask, "classes": expected, "raster": output}


@pytest.mark.parametrize("kind", ["subset", "layer and subset", "delimited text"])
def test_classify_with_a_converted_mask_from_qgis_process(qgis_process, provider, hostile, forest_mask, tmp_path,
                                                          kind):
    mask = qgis_process_kinds(hostile["labels_gpkg"], FOREST, tmp_path)[kind]
    log = succeeded(qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                       "MASK": mask, "OUTPUT": tmp_path / "classes.tif"}))
    assert "MASK: only pixels inside its polygons" in log
    assert np.array_equal(classes_of(tmp_path / "classes.tif"), forest_mask["classes"])


@pytest.mark.parametrize("kind", IN_PROCESS_KINDS)
def test_classify_with_a_converted_mask_in_process(provider, hostile, forest_mask, project_layers, tmp_path, kind):
    output = tmp_path / "classes.tif"
    run_in_process("seamless:classify", {"INPUT": str(hostile["s2"]), "MODEL": str(BUNDLED_MODEL),
                                         "MASK": project_layers(kind, FOREST), "OUTPUT": str(output)})
    assert np.array_equal(classes_of(output), forest_mask["classes"])


def _evaluate_parameters(forest_mask, reference: Any, mask: Any, folder: Path) -> dict[str, Any]:
    return {"INPUT": str(forest_mask["raster"]), "REFERENCE_LAYER": reference, "REFERENCE_FIELD": "fclass",
            "MASK": mask, "OUTPUT_JSON": str(folder / "accuracy.json")}


def _matrix(folder: Path) -> list[list[int]]:
    return json.loads((folder / "accuracy.json").read_text())["confusion_matrix"]["rows"]


@pytest.fixture(scope="module")
def expected_accuracy(provider, hostile, forest_mask, tmp_path_factory) -> list[list[int]]:
    """The confusion matrix against three classes of polygons saved as a file, inside the forest mask file."""
    folder = tmp_path_factory.mktemp("expected_accuracy")
    reference = filtered_copy(hostile["labels_gpkg"], THREE_CLASSES, folder / "reference.gpkg")
    import processing

    processing.run("seamless:evaluate", _evaluate_parameters(forest_mask, str(reference), str(forest_mask["mask"]),
                                                             folder))
    matrix = _matrix(folder)
    assert sum(map(sum, matrix)) > 1000
    return matrix


@pytest.mark.parametrize("kind", ["subset", "delimited text"])
def test_evaluate_with_a_converted_reference_and_mask_from_qgis_process(qgis_process, hostile, forest_mask,
                                                                         expected_accuracy, tmp_path, kind):
    reference = qgis_process_kinds(hostile["labels_gpkg"], THREE_CLASSES, tmp_path)[kind]
    mask = qgis_process_kinds(hostile["labels_gpkg"], FOREST, tmp_path)[kind]
    succeeded(qgis_process("seamless:evaluate", _evaluate_parameters(forest_mask, reference, mask, tmp_path)))
    assert _matrix(tmp_path) == expected_accuracy


@pytest.mark.parametrize("kind", IN_PROCESS_KINDS)
def test_evaluate_with_a_converted_reference_and_mask_in_process(provider, forest_mask, expected_accuracy,
                                                                  project_layers, tmp_path, kind):
    run_in_process("seamless:evaluate", _evaluate_parameters(
        forest_mask, project_layers(kind, THREE_CLASSES), project_layers(kind, FOREST), tmp_path))
    assert _matrix(tmp_path) == expected_accuracy


def _chips(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: classes_of(p) for p in sorted((folder / "labels").glob("*.tif"))}


@pytest.fixture(scope="module")
def expected_chips(provider, hostile, forest_mask, tmp_path_factory) -> dict[str, np.ndarray]:
    folder = tmp_path_factory.mktemp("expected_chips")
    labels = filtered_copy(hostile["labels_gpkg"], THREE_CLASSES, folder / "labels.gpkg")
    import processing

    processing.run("seamless:exportchips", {"INPUT": str(hostile["s2"]), "LABELS": str(labels),
                                            "LABEL_FIELD": "fclass", "MASK": str(forest_mask["mask"]),
                                            "CHIP_SIZE": 64, "STRIDE": 64, "OUTPUT_FOLDER": str(folder / "chips")})
    chips = _chips(folder / "chips")
    assert len(chips) >= 4
    return chips


def _same_chips(found: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert sorted(found) == sorted(expected)
    assert all(np.array_equal(found[name], expected[name]) for name in expected)


@pytest.mark.parametrize("kind", ["layer and subset", "delimited text"])
def test_exportchips_with_converted_labels_and_mask_from_qgis_process(qgis_process, hostile, expected_chips,
                                                                      tmp_path, kind):
    succeeded(qgis_process("seamless:exportchips", {
        "INPUT": hostile["s2"], "LABELS": qgis_process_kinds(hostile["labels_gpkg"], THREE_CLASSES, tmp_path)[kind],
        "LABEL_FIELD": "fclass", "MASK": qgis_process_kinds(hostile["labels_gpkg"], FOREST, tmp_path)[kind],
        "CHIP_SIZE": 64, "STRIDE": 64, "OUTPUT_FOLDER": tmp_path / "chips"}))
    _same_chips(_chips(tmp_path / "chips"), expected_chips)


@pytest.mark.parametrize("kind", IN_PROCESS_KINDS)
def test_exportchips_with_converted_labels_and_mask_in_process(provider, hostile, expected_chips, project_layers,
                                                               tmp_path, kind):
    run_in_process("seamless:exportchips", {
        "INPUT": str(hostile["s2"]), "LABELS": project_layers(kind, THREE_CLASSES), "LABEL_FIELD": "fclass",
        "MASK": project_layers(kind, FOREST), "CHIP_SIZE": 64, "STRIDE": 64,
        "OUTPUT_FOLDER": str(tmp_path / "chips")})
    _same_chips(_chips(tmp_path / "chips"), expected_chips)


def _trained(model: Path) -> tuple[set[str], int]:
    """The class names a trained model carries and the pixels of its test area."""
    import onnxruntime

    from plugin.core.model.contract import METADATA_KEY, ModelContract

    session = onnxruntime.InferenceSession(str(model))
    contract = ModelContract.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    return {c.name for c in contract.all_classes}, contract.provenance["test"]["pixels"]


@pytest.fixture(scope="module")
def areas(hostile, tmp_path_factory) -> Path:
    """Two squares over the crop, field "part": the western quarter 'test', the eastern quarter 'validation'."""
    from tests.hostile.make_hostile_inputs import shapes_layer

    x0, _, _, y0, _, _ = gdal.Open(str(hostile["s2"])).GetGeoTransform()
    squares = {"test": (x0, x0 + 640), "validation": (x0 + 1920, x0 + 2560)}
    path = shapes_layer(tmp_path_factory.mktemp("areas") / "areas.gpkg", ogr.wkbPolygon, [
        f"POLYGON (({a} {y0}, {b} {y0}, {b} {y0 - 2560}, {a} {y0 - 2560}, {a} {y0}))" for a, b in squares.values()])
    data = ogr.Open(str(path), 1)
    layer = data.GetLayer(0)
    layer.CreateField(ogr.FieldDefn("part", ogr.OFTString))
    for feature, part in zip(list(layer), squares):
        feature.SetField("part", part)
        layer.SetFeature(feature)
    layer = data = None
    return path


TRAIN = {"ARCHITECTURE": "mobilenetv2_unet", "EPOCHS": 1, "CHIP_SIZE": 64, "BATCH_SIZE": 8, "DEVICE": "cpu",
         "LABEL_FIELD": "fclass"}
TEST_PART, VALIDATION_PART = "\"part\" = 'test'", "\"part\" = 'validation'"


def test_train_with_converted_labels_validation_and_test_areas_from_qgis_process(qgis_process, hostile, areas,
                                                                                 tmp_path):
    model = tmp_path / "model.onnx"
    succeeded(qgis_process("seamless:train", {
        **TRAIN, "INPUT": hostile["s2"],
        "LABELS": qgis_process_kinds(hostile["labels_gpkg"], FIVE_CLASSES, tmp_path)["delimited text"],
        "VALIDATION_LAYER": f"{areas}|subset={VALIDATION_PART}", "TEST_LAYER": f"{areas}|layername=shapes|subset="
        f"{TEST_PART}", "OUTPUT_MODEL": model, "OUTPUT_REPORT": tmp_path / "report.html"}))
    names, test_pixels = _trained(model)
    assert names <= {"forest", "meadow", "wetland", "farm", "scrub"} and len(names) >= 3 and test_pixels > 0


def test_train_with_converted_labels_validation_and_test_areas_in_process(provider, hostile, areas, project_layers,
                                                                          tmp_path):
    from qgis.core import QgsProcessingFeatureSourceDefinition, QgsProject, QgsVectorLayer

    model = tmp_path / "model.onnx"
    validation, test = (QgsVectorLayer(str(areas), name, "ogr") for name in ("validation", "test"))
    validation.setSubsetString(VALIDATION_PART)
    test.selectByExpression(TEST_PART)
    QgsProject.instance().addMapLayers([validation, test])
    try:
        run_in_process("seamless:train", {
            **TRAIN, "INPUT": str(hostile["s2"]), "LABELS": project_layers("memory layer", FIVE_CLASSES),
            "VALIDATION_LAYER": validation.id(),
            "TEST_LAYER": QgsProcessingFeatureSourceDefinition(test.id(), selectedFeaturesOnly=True),
            "OUTPUT_MODEL": str(model), "OUTPUT_REPORT": str(tmp_path / "report.html")})
    finally:
        QgsProject.instance().removeMapLayers([validation.id(), test.id()])
    names, test_pixels = _trained(model)
    assert names <= {"forest", "meadow", "wetland", "farm", "scrub"} and len(names) >= 3 and test_pixels > 0
