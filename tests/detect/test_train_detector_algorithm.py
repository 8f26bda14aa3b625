"""``seamless:train`` with ARCHITECTURE ``retinanet``: the parameters' checks and their messages, the detection
configuration the parameters give (points become boxes of POINT_SIZE), and a tiny detector trained through
processing.run on the committed NEON crop that ``seamless:detect`` then runs into a GeoPackage."""
from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest
from osgeo import gdal, ogr

from plugin.core.model.contract import METADATA_KEY, ModelContract
from plugin.core.progress import LoggingProgress
from tests.detect.helpers import read_features
from tests.qgis.helpers import RecordingFeedback
from tests.support.data import DATA, S2_LABELS

IMAGE = DATA / "neon-trees" / "OSBS_029.tif"  # 400 x 400 px, 0.1 m, 61 hand-drawn crowns
TREES = DATA / "neon-trees" / "OSBS_029_trees.geojson"


def algorithm(provider):
    from qgis.core import QgsApplication

    return QgsApplication.processingRegistry().algorithmById("seamless:train")


@pytest.fixture(scope="module")
def crown_points(tmp_path_factory):
    """The crowns' centres as a point layer with their class field."""
    path = tmp_path_factory.mktemp("points") / "crowns.geojson"
    source = ogr.Open(str(TREES))
    layer = source.GetLayer(0)
    target = ogr.GetDriverByName("GeoJSON").CreateDataSource(str(path))
    out = target.CreateLayer("crowns", layer.GetSpatialRef(), ogr.wkbPoint)
    out.CreateField(ogr.FieldDefn("label", ogr.OFTString))
    for feature in layer:
        point = ogr.Feature(out.GetLayerDefn())
        point.SetGeometry(feature.GetGeometryRef().Centroid())
        point.SetField("label", feature.GetField("label"))
        out.CreateFeature(point)
    out = None  # layers before their data sources: GDAL's bindings crash otherwise
    target = None
    layer = None
    source = None
    return path


def test_retinanet_is_appended_to_the_architectures(provider):
    definitions = {p.name(): p for p in algorithm(provider).parameterDefinitions()}
    options = definitions["ARCHITECTURE"].options()
    # Saved models and batch files refer to options by index: the segmentation ones keep theirs.
    assert options == ["unet", "resnet18_fcn", "resnet34_fcn", "resnet50_fcn", "mobilenetv2_unet", "retinanet"]
    assert definitions["POINT_SIZE"].help() and "retinanet" in algorithm(provider).shortHelpString()


@pytest.mark.parametrize("changes, message", [
    ({"LABEL_RASTER": str(S2_LABELS)}, "a label raster (LABEL_RASTER) holds none: give a vector layer"),
    ({"LABELS": str(TREES), "LABEL_RASTER": str(S2_LABELS)}, "label raster (LABEL_RASTER) holds none"),
    ({}, "No labels given: a retinanet detector needs a vector layer of the objects"),
    ({"LABELS": str(TREES), "CHIP_SIZE": 112}, "CHIP_SIZE 112 is not a multiple of 32, the total stride of "
                                               "retinanet; use 96 or 128"),
    ({"LABELS": str(TREES), "CHIP_SIZE": 512}, "CHIP_SIZE 512 is larger than the input raster (400 x 400"),
    ({"LABELS": str(TREES), "ADDITIONAL_INPUTS": [str(IMAGE)]}, "ADDITIONAL_INPUTS are for segmentation models"),
    ({"LABELS": "POINTS"}, "The label layer holds points: give the size of the objects in pixels (POINT_SIZE"),
    ({"LABELS": str(TREES), "CLASSES": "1 tree #12345"}, "CLASSES: Colour '#12345' of class 1"),
    ({"LABELS": str(TREES)}, ""),  # no class field: one class
    ({"LABELS": str(TREES), "LABEL_FIELD": "label", "CHIP_SIZE": 128}, ""),
    ({"LABELS": "POINTS", "LABEL_FIELD": "label", "POINT_SIZE": 20}, ""),
])
def test_check_parameter_values_for_a_detector(provider, crown_points, tmp_path, changes, message):
    from qgis.core import QgsProcessingContext

    if changes.get("LABELS") == "POINTS":
        changes = {**changes, "LABELS": str(crown_points)}
    parameters = {"INPUT": str(IMAGE), "ARCHITECTURE": "retinanet", "OUTPUT_MODEL": str(tmp_path / "m.onnx"),
                  "OUTPUT_REPORT": str(tmp_path / "r.html"), **changes}
    ok, text = algorithm(provider).checkParameterValues(parameters, QgsProcessingContext())
    assert ok == (message == "") and message in text, text
    assert list(tmp_path.iterdir()) == []


def test_the_parameters_give_a_detection_configuration_with_points_as_boxes(provider, crown_points, tmp_path):
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    from training.config import from_mapping
    from training.detection.prepare import prepare_detection

    parameters = {"INPUT": str(IMAGE), "LABELS": str(crown_points), "ARCHITECTURE": "retinanet", "POINT_SIZE": 20,
                  "CHIP_SIZE": 128, "CLASSES": "1 crown #00aa00", "OUTPUT_MODEL": str(tmp_path / "m.onnx"),
                  "OUTPUT_REPORT": str(tmp_path / "r.html")}
    settings = algorithm(provider)._settings(parameters, QgsProcessingContext(), QgsProcessingFeedback())
    assert settings["model"] == {"architecture": "retinanet"} and settings["detection"] == {"point_size": 20.0}
    assert settings["data"]["label_field"] is None and "label_raster" not in settings["data"]
    config = from_mapping(settings, "algorithm parameters")
    assert config.is_detection and config.data.chip_size == 128
    data = prepare_detection(config, LoggingProgress())
    try:
        sides = data.objects.boxes[:, 2:] - data.objects.boxes[:, :2]
        # Without a class field the objects are one class, value 1 (named after the layer, "crowns", unless
        # CLASSES names it).
        assert [(c.value, c.name, c.color) for c in data.classes] == [(1, "crown", "#00aa00")]
        assert data.objects.points and (sides <= 20 + 1e-9).all() and np.isclose(sides, 20).all(axis=1).sum() >= 40
    finally:
        data.image = None  # released before QGIS unloads GDAL's drivers


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test (restored after): on two cores shared with other work, two threads ran
    the tiny training several times slower than one."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_processing_run_trains_a_detector_that_detect_runs(provider, one_torch_thread, tmp_path):
    import processing

    model, report = tmp_path / "train" / "detector.onnx", tmp_path / "train" / "report.html"
    model.parent.mkdir()
    feedback = RecordingFeedback()
    result = processing.run("seamless:train", {
        "INPUT": str(IMAGE), "LABELS": str(TREES), "LABEL_FIELD": "label", "ARCHITECTURE": "retinanet",
        "EPOCHS": 1, "CHIP_SIZE": 128, "BATCH_SIZE": 8, "DEVICE": "cpu",
        "OUTPUT_MODEL": str(model), "OUTPUT_REPORT": str(report)}, feedback=feedback)
    assert result == {"OUTPUT_MODEL": str(model), "OUTPUT_REPORT": str(report)}
    assert sorted(p.name for p in model.parent.iterdir()) == ["detector.onnx", "report.html", "report.json"]
    session = onnxruntime.InferenceSession(str(model))
    contract = ModelContract.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    assert contract.task == "detection" and [c.name for c in contract.all_classes] == ["Tree"]
    assert contract.provenance["architecture"]["architecture"] == "retinanet"
    assert contract.detection.max_object_size_px >= 65  # 1.1 x the largest crown (about 60 px)
    assert json.loads(report.with_suffix(".json").read_text())["run"]["epochs_run"] == 1
    assert any("Detector written to" in line for line in feedback.lines)

    boxes = tmp_path / "trees.gpkg"
    found = processing.run("seamless:detect", {"INPUT": str(IMAGE), "MODEL": str(model), "MIN_SCORE": 0.0,
                                               "MAX_DETECTIONS": 5, "WINDOW_SIZE": 256, "OUTPUT": str(boxes)},
                           feedback=RecordingFeedback())
    features = read_features(found["OUTPUT"])
    assert 0 < found["DETECTIONS"] == len(features) <= 4 * 5  # 2 x 2 windows of 256 px over 400 px, 5 each
    assert json.loads(found["CLASS_COUNTS"]) == {"Tree": len(features)}
    image = gdal.Open(str(IMAGE))
    x0, dx, _, y0, _, dy = image.GetGeoTransform()
    right, bottom = x0 + dx * image.RasterXSize, y0 + dy * image.RasterYSize
    image = None
    for feature in features:  # boxes in map coordinates, on the image
        xmin, xmax, ymin, ymax = feature["envelope"]
        assert x0 - 1e-6 <= xmin < xmax <= right + 1e-6 and bottom - 1e-6 <= ymin < ymax <= y0 + 1e-6
        assert feature["class_name"] == "Tree"


def test_an_empty_label_layer_stops_the_run_with_a_message_and_writes_nothing(provider, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    empty = tmp_path / "labels" / "empty.geojson"
    empty.parent.mkdir()
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    with pytest.raises(QgsProcessingException, match="hold no feature with a class: there is nothing to learn"):
        processing.run("seamless:train", {
            "INPUT": str(IMAGE), "LABELS": str(empty), "ARCHITECTURE": "retinanet", "EPOCHS": 1, "CHIP_SIZE": 128,
            "DEVICE": "cpu", "OUTPUT_MODEL": str(outputs / "m.onnx"), "OUTPUT_REPORT": str(outputs / "r.html")},
            feedback=RecordingFeedback())
    assert list(outputs.iterdir()) == []
