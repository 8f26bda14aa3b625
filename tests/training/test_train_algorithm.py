"""``seamless:train``: parameters and their checks, processing.run, qgis_process, and life without torch."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import onnxruntime
import pytest
from osgeo import gdal

from plugin.core.model.contract import METADATA_KEY, ModelContract
from tests.training.helpers import OSM_CLASSES, REPO, S2_IMAGE, S2_LABELS, S2_POLYGONS

gdal.UseExceptions()
PARAMETERS = {"INPUT", "ADDITIONAL_INPUTS", "LABELS", "LABEL_FIELD", "LABEL_RASTER", "UNLABELLED_VALUE",
              "ARCHITECTURE", "EPOCHS", "CHIP_SIZE", "BATCH_SIZE", "LEARNING_RATE", "VALIDATION", "VALIDATION_LAYER",
              "DEVICE", "OUTPUT_MODEL", "OUTPUT_REPORT", "TEST_LAYER", "CLASSES", "TUNE_TRIALS", "TUNE_TIMEOUT",
              "POINT_SIZE"}


@pytest.fixture(scope="module")
def small_scene(tmp_path_factory):
    """A 256 x 256 crop (all eight classes) and its labels, and a polygon over its eastern quarter."""
    folder = tmp_path_factory.mktemp("algorithm")
    image, labels = folder / "image.tif", folder / "labels.tif"
    gdal.Translate(str(image), str(S2_IMAGE), srcWin=[1152, 0, 256, 256])
    gdal.Translate(str(labels), str(S2_LABELS), srcWin=[1152, 0, 256, 256])
    xmin = 330000 + (1152 + 192) * 10
    ring = [[xmin, 5819480], [xmin + 640, 5819480], [xmin + 640, 5822040], [xmin, 5822040], [xmin, 5819480]]
    east = folder / "validation.geojson"
    feature = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}}
    east.write_text(json.dumps({"type": "FeatureCollection", "crs": crs, "features": [feature]}))
    return {"image": image, "labels": labels, "validation": east, "folder": folder}


def algorithm(provider):
    from qgis.core import QgsApplication

    return QgsApplication.processingRegistry().algorithmById("seamless:train")


def test_registered_with_help_on_every_parameter(provider):
    train = algorithm(provider)
    assert train is not None and train.displayName() == "Train segmentation model"
    definitions = {p.name(): p for p in train.parameterDefinitions()}
    assert set(definitions) == PARAMETERS
    assert all(p.help() for p in definitions.values())
    assert definitions["ARCHITECTURE"].options() == ["unet", "resnet18_fcn", "resnet34_fcn", "resnet50_fcn",
                                                     "mobilenetv2_unet", "retinanet"]
    assert definitions["ARCHITECTURE"].usesStaticStrings() and definitions["DEVICE"].usesStaticStrings()
    assert train.canExecute()[0]
    assert "validation polygon layer" in train.shortHelpString()


def test_additional_rasters_become_the_configurations_additional_images(provider, small_scene):
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    second = small_scene["folder"] / "second.tif"
    gdal.Translate(str(second), str(small_scene["image"]), bandList=[4])
    parameters = {"INPUT": str(small_scene["image"]), "ADDITIONAL_INPUTS": [str(second)],
                  "LABEL_RASTER": str(small_scene["labels"]), "CHIP_SIZE": 64, "EPOCHS": 1,
                  "OUTPUT_MODEL": str(small_scene["folder"] / "m.onnx"),
                  "OUTPUT_REPORT": str(small_scene["folder"] / "r.html")}
    train = algorithm(provider)
    settings = train._settings(parameters, QgsProcessingContext(), QgsProcessingFeedback())
    assert settings["data"]["additional_images"] == [str(second)]
    oddly_named = small_scene["folder"] / "report.html"  # a GeoTIFF named like the report to be written
    gdal.Translate(str(oddly_named), str(second), format="GTiff")
    ok, message = train.checkParameterValues({**parameters, "ADDITIONAL_INPUTS": [str(oddly_named)],
                                              "OUTPUT_REPORT": str(oddly_named)}, QgsProcessingContext())
    assert not ok and "ADDITIONAL_INPUTS (1)" in message and "is the same file" in message


@pytest.mark.parametrize("changes, message", [
    ({}, "No labels given"),
    ({"LABELS": str(S2_POLYGONS), "LABEL_FIELD": "fclass", "LABEL_RASTER": str(S2_LABELS)}, "choose one of them"),
    ({"LABELS": str(S2_POLYGONS)}, "needs its class field"),
    ({"LABEL_RASTER": str(S2_LABELS), "CHIP_SIZE": 100}, "not a multiple of 16"),
    ({"LABEL_RASTER": str(S2_LABELS), "CHIP_SIZE": 80, "ARCHITECTURE": "resnet18_fcn"}, "not a multiple of 32"),
    ({"LABEL_RASTER": str(S2_LABELS), "CHIP_SIZE": 1024}, "larger than the input raster"),
    ({"LABEL_RASTER": str(S2_LABELS), "CLASSES": "1 farm #e6c36"}, "CLASSES: Colour '#e6c36' of class 1"),
    ({"LABEL_RASTER": str(S2_LABELS), "CLASSES": "1 farm; 1 meadow"}, "appear more than once"),
    ({"LABEL_RASTER": str(S2_LABELS), "CLASSES": "1 farm #e6c364; 2 meadow", "TUNE_TRIALS": 3}, ""),
    ({"LABEL_RASTER": str(S2_LABELS)}, ""),
    ({"LABELS": str(S2_POLYGONS), "LABEL_FIELD": "fclass"}, ""),
])
def test_check_parameter_values(provider, tmp_path, changes, message):
    from qgis.core import QgsProcessingContext

    parameters = {"INPUT": str(S2_IMAGE), "OUTPUT_MODEL": str(tmp_path / "m.onnx"),
                  "OUTPUT_REPORT": str(tmp_path / "r.html"), **changes}
    ok, text = algorithm(provider).checkParameterValues(parameters, QgsProcessingContext())
    assert ok == (message == "") and message in text


@pytest.mark.slow
def test_processing_run_trains_and_writes_model_and_report(provider, small_scene, tmp_path):
    import processing

    model, report = tmp_path / "model.onnx", tmp_path / "report.html"
    result = processing.run("seamless:train", {
        "INPUT": str(small_scene["image"]), "LABELS": str(S2_POLYGONS), "LABEL_FIELD": "fclass",
        "ARCHITECTURE": "mobilenetv2_unet", "EPOCHS": 1, "CHIP_SIZE": 64, "BATCH_SIZE": 8,
        "VALIDATION_LAYER": str(small_scene["validation"]), "DEVICE": "cpu",
        "OUTPUT_MODEL": str(model), "OUTPUT_REPORT": str(report)})
    assert result == {"OUTPUT_MODEL": str(model), "OUTPUT_REPORT": str(report)}
    session = onnxruntime.InferenceSession(str(model))
    contract = ModelContract.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    assert {c.name for c in contract.all_classes} <= set(OSM_CLASSES) and len(contract.all_classes) >= 4
    assert contract.provenance["training_data"]["split"]["method"] == "layer"
    assert contract.provenance["architecture"]["architecture"] == "mobilenetv2_unet"
    assert report.is_file() and report.with_suffix(".json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "report.html", "report.json"]


@pytest.mark.slow
def test_a_search_with_named_classes_and_a_test_area_from_the_toolbox(provider, small_scene, tmp_path):
    import processing
    from qgis.core import QgsProcessingFeedback

    class Recording(QgsProcessingFeedback):
        def __init__(self) -> None:
            super().__init__()
            self.lines: list[str] = []

        def pushInfo(self, info: str) -> None:  # noqa: N802 - QGIS API name
            self.lines.append(info)

    model, report, feedback = tmp_path / "model.onnx", tmp_path / "report.html", Recording()
    names = "; ".join(f"{value} {name}_x #{value}0{value}0{value}0" for value, name in enumerate(OSM_CLASSES, 1))
    result = processing.run("seamless:train", {
        "INPUT": str(small_scene["image"]), "LABEL_RASTER": str(small_scene["labels"]), "ARCHITECTURE": "unet",
        "UNLABELLED_VALUE": 0, "EPOCHS": 1, "CHIP_SIZE": 64, "BATCH_SIZE": 8, "VALIDATION": 0.25, "DEVICE": "cpu",
        "CLASSES": names,
        "TEST_LAYER": str(small_scene["validation"]), "TUNE_TRIALS": 2,
        "OUTPUT_MODEL": str(model), "OUTPUT_REPORT": str(report)}, feedback=feedback)
    assert result == {"OUTPUT_MODEL": str(model), "OUTPUT_REPORT": str(report)}
    session = onnxruntime.InferenceSession(str(model))
    contract = ModelContract.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    assert {c.name for c in contract.all_classes} <= {f"{n}_x" for n in OSM_CLASSES}
    assert all(c.color == f"#{c.value}0{c.value}0{c.value}0" for c in contract.all_classes)
    assert contract.provenance["search"]["trials"] == 2 and contract.provenance["search"]["storage"] == "memory"
    assert contract.provenance["test"]["area"]["method"] == "layer" and contract.provenance["test"]["pixels"] > 0
    assert sum("Trial 0 " in line for line in feedback.lines) and sum("Trial 1 " in line for line in feedback.lines)
    assert any("left for the search" in line for line in feedback.lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "report.html", "report.json",
                                                          "report_best_config.yaml", "report_search.html",
                                                          "report_search.json"]


@pytest.mark.slow
def test_qgis_process_trains_from_a_label_raster(qgis_process, small_scene, tmp_path):
    model, report = tmp_path / "model.onnx", tmp_path / "report.html"
    result = qgis_process("seamless:train", {
        "INPUT": small_scene["image"], "LABEL_RASTER": small_scene["labels"], "UNLABELLED_VALUE": 0,
        "ARCHITECTURE": "unet", "EPOCHS": 1, "CHIP_SIZE": 64, "BATCH_SIZE": 8, "VALIDATION": 0.25,
        "OUTPUT_MODEL": model, "OUTPUT_REPORT": report})
    assert result.returncode == 0, result.log
    assert result.results["OUTPUT_MODEL"] == str(model) and model.is_file() and report.is_file()
    session = onnxruntime.InferenceSession(str(model))
    contract = ModelContract.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    labels = gdal.Open(str(small_scene["labels"]))
    present = sorted(set(labels.GetRasterBand(1).ReadAsArray().ravel().tolist()) - {0})  # 0: unlabelled
    assert [c.value for c in contract.all_classes] == present and contract.size_multiple == 16


@pytest.mark.slow
def test_qgis_process_reports_bad_labels_clearly(qgis_process, small_scene, tmp_path):
    result = qgis_process("seamless:train", {
        "INPUT": small_scene["image"], "LABELS": S2_POLYGONS, "LABEL_FIELD": "fclass",
        "LABEL_RASTER": small_scene["labels"], "OUTPUT_MODEL": tmp_path / "m.onnx",
        "OUTPUT_REPORT": tmp_path / "r.html"})
    assert result.returncode != 0 and "choose one of them" in result.log
    assert list(tmp_path.iterdir()) == []


WITHOUT_TORCH = textwrap.dedent("""
    import json, sys
    for name in ("torch", "onnx"):
        sys.modules[name] = None  # as if not installed: import fails, find_spec finds nothing
    sys.path.insert(0, sys.argv[1])
    from qgis.core import QgsApplication
    app = QgsApplication([], False)
    app.initQgis()
    from plugin.processing.provider import SeamlessProvider
    provider = SeamlessProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    train = QgsApplication.processingRegistry().algorithmById("seamless:train")
    import training, training.config, training.data.prepare  # the parts without torch import fine
    print(json.dumps({"algorithms": sorted(a.id() for a in provider.algorithms()),
                      "can_execute": list(train.canExecute()), "torch": sys.modules["torch"] is not None}))
""")


def test_plugin_loads_without_torch_and_the_algorithm_says_how_to_install_it():
    completed = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, str(REPO)], capture_output=True, text=True,
                               timeout=120, env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "seamless:train" in result["algorithms"]
    ok, message = result["can_execute"]
    assert ok is False and "seamless:installdependencies -- VARIANT=cpu TRAINING=true" in message
    assert result["torch"] is False
