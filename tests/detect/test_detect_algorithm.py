"""seamless:detect in QGIS: processing.run on a GeoTIFF (the same detections as the job, the layers styled by class
when loaded), checkParameterValues' messages, a segmentation model given to detect and a detector given to
classify, qgis_process; and an XYZ web map (file:// tiles cut by gdal2tiles from a raster on the tile grid) giving
the same detections as the GeoTIFF it was cut from."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsCategorizedSymbolRenderer, QgsProcessingContext, QgsProcessingException, QgsVectorLayer

from tests.detect.helpers import WINDOW, expected, pixel_boxes, read_features, square_detector, write_raster
from tests.qgis.helpers import RecordingFeedback
from tests.support.data import BUNDLED_MODEL, leftover_files
from tests.support.detectors import build_detector, detector_contract, edge_squares, paint_squares

HEIGHT, WIDTH = 150, 180
WEB_MERCATOR_HALF = 20037508.342789244
ZOOM = 19  # tiles of about 0.3 m


def detect(parameters: dict, feedback=None) -> dict:
    import processing

    return processing.run("seamless:detect", parameters, feedback=feedback or RecordingFeedback())


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("detect")
    squares = edge_squares(HEIGHT, WIDTH, WINDOW, 17, seed=3)
    return {"squares": squares, "raster": write_raster(folder / "squares.tif", paint_squares(HEIGHT, WIDTH, squares)),
            "model": square_detector(folder), "folder": folder}


def test_processing_run_writes_styled_detections_and_counts_them(provider, scene, tmp_path):
    feedback = RecordingFeedback()
    result = detect({"INPUT": str(scene["raster"]), "MODEL": str(scene["model"]), "OUTPUT": str(tmp_path / "b.gpkg"),
                     "OUTPUT_CENTROIDS": str(tmp_path / "c.gpkg")}, feedback)
    assert pixel_boxes(read_features(result["OUTPUT"])) == expected(scene["squares"])
    assert result["DETECTIONS"] == len(scene["squares"]) == len(read_features(result["OUTPUT_CENTROIDS"]))
    counts = json.loads(result["CLASS_COUNTS"])
    assert counts["small"] + counts["large"] == len(scene["squares"]) and counts["small"] > 0
    assert any(line.strip().startswith("small:") for line in feedback.lines)
    for path, layer_name in ((result["OUTPUT"], "detections"), (result["OUTPUT_CENTROIDS"], "centroids")):
        layer = QgsVectorLayer(f"{path}|layername={layer_name}", "loaded", "ogr")
        renderer = layer.renderer()  # the default style stored in the GeoPackage
        assert isinstance(renderer, QgsCategorizedSymbolRenderer) and renderer.classAttribute() == "class_value"
        assert [c.label() for c in renderer.categories()] == ["small", "large"]


def test_check_parameter_values_names_what_is_wrong(provider, scene, tmp_path):
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().algorithmById("seamless:detect")
    context = QgsProcessingContext()
    base = {"INPUT": str(scene["raster"]), "MODEL": str(scene["model"]), "OUTPUT": str(tmp_path / "b.gpkg")}
    assert algorithm.checkParameterValues(base, context) == (True, "")
    cases = [({"BANDS": "1,5"}, "BANDS names band 5, but the raster has 2 band(s)"),
             ({"MIN_SCORE": 1.5}, "MIN_SCORE"),
             ({"OUTPUT": str(tmp_path / "b.tif")}, "ends in '.tif', but the detection layer is written as .gpkg"),
             ({"OUTPUT": str(scene["model"]).replace(".onnx", ".gpkg"), "OUTPUT_CENTROIDS":
               str(scene["model"]).replace(".onnx", ".gpkg")}, "name the same file"),
             ({"MODEL": str(tmp_path / "missing.onnx")}, "does not exist")]
    for change, message in cases:
        ok, problem = algorithm.checkParameterValues({**base, **change}, context)
        assert not ok and message in problem, (change, problem)
    assert leftover_files(tmp_path) == []


def test_a_segmentation_model_given_to_detect_and_a_detector_given_to_classify_are_named(provider, scene, tmp_path):
    import processing

    with pytest.raises(QgsProcessingException, match="not an object detector: run it with Classify raster"):
        detect({"INPUT": str(scene["raster"]), "MODEL": str(BUNDLED_MODEL), "OUTPUT": str(tmp_path / "b.gpkg")})
    with pytest.raises(QgsProcessingException, match="run it with Detect objects \\(seamless:detect\\)"):
        processing.run("seamless:classify", {"INPUT": str(scene["raster"]), "MODEL": str(scene["model"]),
                                             "OUTPUT": str(tmp_path / "c.tif")}, feedback=RecordingFeedback())
    assert leftover_files(tmp_path) == []


@pytest.mark.slow
def test_detect_from_qgis_process(qgis_process, scene, tmp_path):
    result = qgis_process("seamless:detect", {"INPUT": scene["raster"], "MODEL": scene["model"], "MIN_SCORE": 0.5,
                                              "OUTPUT": tmp_path / "b.gpkg"})
    assert result.returncode == 0, result.log
    assert pixel_boxes(read_features(tmp_path / "b.gpkg")) == {b for b in expected(scene["squares"]) if b[4] >= 0.5}
    assert json.loads(result.results["CLASS_COUNTS"]) and result.results["PROVIDER"] == "CPUExecutionProvider"
    refused = qgis_process("seamless:detect", {"INPUT": scene["raster"], "MODEL": scene["model"], "IOU": 0,
                                               "OUTPUT": tmp_path / "x.gpkg"})
    assert refused.returncode != 0 and "IOU" in refused.log and not (tmp_path / "x.gpkg").exists()


@pytest.fixture(scope="module")
def web_map(tmp_path_factory):
    """3-band Byte squares on the XYZ tile grid of zoom ZOOM in Web Mercator, and those tiles (gdal2tiles cuts an
    aligned image without resampling it), read with a file:// URL template."""
    folder = tmp_path_factory.mktemp("web")
    resolution = 2 * WEB_MERCATOR_HALF / 256 / 2 ** ZOOM
    tile_x, tile_y = 280_000, 190_000  # a tile in Europe
    origin = (-WEB_MERCATOR_HALF + tile_x * 256 * resolution, WEB_MERCATOR_HALF - tile_y * 256 * resolution)
    squares = edge_squares(HEIGHT, WIDTH, WINDOW, 17, seed=5)
    raster = np.concatenate([paint_squares(HEIGHT, WIDTH, squares), np.zeros((1, HEIGHT, WIDTH), np.float32)])
    values = np.round(raster * 255).astype(np.uint8)
    tif = write_raster(folder / "squares_3857.tif", values, origin, resolution, 3857, gdal.GDT_Byte)
    completed = subprocess.run([sys.executable, "-m", "osgeo_utils.gdal2tiles", "--xyz", "-z", str(ZOOM), "-r", "near",
                                "--processes=1", "-w", "none", str(tif), str(folder / "tiles")],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    contract = detector_contract("anchors", bands=3, tile=WINDOW)
    contract["input"].update({"scale": 1 / 255})
    contract["outputs"][1]["classes"] = [{"value": 1, "name": "red"}, {"value": 2, "name": "green"},
                                         {"value": 3, "name": "blue"}]
    model = build_detector(folder / "rgb.onnx", "anchors", bands=3, sizes=(8, 12, 10), contract=contract)
    uri = f"type=xyz&url=file://{(folder / 'tiles').as_posix()}/{{z}}/{{x}}/{{y}}.png&zmax={ZOOM}&zmin=0"
    bounds = (origin[0], origin[1] - HEIGHT * resolution, origin[0] + WIDTH * resolution, origin[1])
    return {"tif": tif, "uri": uri, "model": model, "resolution": resolution, "bounds": bounds}


def test_an_xyz_web_map_gives_the_detections_of_the_geotiff_it_was_cut_from(provider, web_map, tmp_path):
    from qgis.core import QgsRasterLayer

    reference = detect({"INPUT": str(web_map["tif"]), "MODEL": str(web_map["model"]),
                        "OUTPUT": str(tmp_path / "geotiff.gpkg")})
    layer = QgsRasterLayer(web_map["uri"], "squares tiles", "wms")
    assert layer.isValid()
    xmin, ymin, xmax, ymax = web_map["bounds"]
    feedback = RecordingFeedback()
    result = detect({"INPUT": layer, "MODEL": str(web_map["model"]), "RESOLUTION": web_map["resolution"],
                     "TARGET_CRS": "EPSG:3857", "EXTENT": f"{xmin},{xmax},{ymin},{ymax} [EPSG:3857]",
                     "OUTPUT": str(tmp_path / "xyz.gpkg")}, feedback)
    origin = (xmin, ymax)
    tiles = pixel_boxes(read_features(result["OUTPUT"]), origin, web_map["resolution"])
    geotiff = pixel_boxes(read_features(reference["OUTPUT"]), origin, web_map["resolution"])
    assert tiles == geotiff and len(geotiff) > 30
    assert any("has no pixel grid of its own" in line for line in feedback.lines)


def test_the_layers_processing_loads_come_styled_by_class(provider, scene, tmp_path):
    """Processing's own loader (the dialog's, processing.runAndLoadResults) skips the style stored in the
    GeoPackage: the loaded boxes still show outlines in the class colours, the centres round markers."""
    import processing
    from qgis.core import QgsProject
    from qgis.PyQt.QtCore import Qt

    project = QgsProject.instance()
    before = set(project.mapLayers())
    try:
        results = processing.runAndLoadResults("seamless:detect", {
            "INPUT": str(scene["raster"]), "MODEL": str(scene["model"]), "OUTPUT": str(tmp_path / "boxes.gpkg"),
            "OUTPUT_CENTROIDS": str(tmp_path / "centres.gpkg")})
        layers = {layer.source().split("|")[0]: layer for key, layer in project.mapLayers().items()
                  if key not in before}
        boxes, centres = layers[results["OUTPUT"]], layers[results["OUTPUT_CENTROIDS"]]
        for layer, name in ((boxes, "Detections"), (centres, "Detection centres")):
            renderer = layer.renderer()
            assert isinstance(renderer, QgsCategorizedSymbolRenderer) and renderer.classAttribute() == "class_value"
            assert [c.label() for c in renderer.categories()] == ["small", "large"]
            assert layer.name().startswith(name) and layer.featureCount() == len(scene["squares"])
        assert boxes.renderer().categories()[0].symbol().symbolLayer(0).brushStyle() == Qt.NoBrush  # outlines
        assert centres.renderer().categories()[0].symbol().type() == 0  # a marker symbol
    finally:
        project.removeMapLayers([key for key in project.mapLayers() if key not in before])
