"""seamless:classifytiles through processing.run, checkParameterValues and qgis_process: outputs, styles, refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (
    QgsApplication,
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingException,
    QgsRasterLayer,
    QgsSingleBandPseudoColorRenderer,
    QgsVectorLayer,
)

from tests.cells.helpers import area_extent, classifier, expected_means, read_features, regressor
from tests.qgis.helpers import RecordingFeedback
from tests.support.data import S2_IMAGE, leftover_files
from tests.support.onnx_factory import contract_dict, identity_model

ALGORITHM = "seamless:classifytiles"
AREA = (300, 200, 128, 96)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tile_models")
    return {"classifier": classifier(folder), "regressor": regressor(folder),
            "segmentation": identity_model(folder / "seg.onnx", 4, 16,
                                           {**contract_dict(4, 4, tile=16), "task": "segmentation"})}


def run(parameters: dict, feedback=None) -> dict:
    import processing

    return processing.run(ALGORITHM, parameters, feedback=feedback or RecordingFeedback())


def check(parameters: dict) -> tuple[bool, str]:
    algorithm = QgsApplication.processingRegistry().createAlgorithmById(ALGORITHM)
    return algorithm.checkParameterValues(parameters, QgsProcessingContext())


def extent_text() -> str:
    xmin, ymin, xmax, ymax = area_extent(*AREA)
    return f"{xmin},{xmax},{ymin},{ymax} [EPSG:32633]"


def test_classes_probabilities_and_polygons_styled(provider, models, tmp_path):
    feedback = RecordingFeedback()
    result = run({"INPUT": str(S2_IMAGE), "MODEL": str(models["classifier"]), "EXTENT": extent_text(),
                  "OUTPUT": str(tmp_path / "cells.tif"), "OUTPUT_PROBABILITIES": str(tmp_path / "p.tif"),
                  "OUTPUT_VECTOR": str(tmp_path / "cells.gpkg")}, feedback)
    classes = gdal.Open(result["OUTPUT"]).ReadAsArray()
    assert (classes == expected_means(*AREA, 16).argmax(axis=2) + 1).all()
    assert result["CELLS"] == 48 and result["PROVIDER"] == "CPUExecutionProvider"
    assert sum(json.loads(result["CLASS_COUNTS"]).values()) == 48
    layer = QgsRasterLayer(result["OUTPUT"], "cells")
    assert isinstance(layer.renderer(), QgsPalettedRasterRenderer)
    assert [c.label for c in layer.renderer().classes()] == ["blue", "green", "red", "near infrared"]
    polygons = QgsVectorLayer(result["OUTPUT_VECTOR"], "cells")
    assert polygons.featureCount() == 48 and polygons.renderer().type() == "categorizedSymbol"
    assert any("cell(s)" in line for line in feedback.lines)


def test_regression_values_get_a_colour_ramp(provider, models, tmp_path):
    result = run({"INPUT": str(S2_IMAGE), "MODEL": str(models["regressor"]), "EXTENT": extent_text(),
                  "OUTPUT": str(tmp_path / "v.tif"), "OUTPUT_VECTOR": str(tmp_path / "v.gpkg")})
    values = gdal.Open(result["OUTPUT"]).ReadAsArray()
    assert np.allclose(values, expected_means(*AREA, 16)[:, :, 3], atol=1e-6)
    renderer = QgsRasterLayer(result["OUTPUT"], "v").renderer()
    assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
    assert (renderer.classificationMin(), renderer.classificationMax()) == (0.0, 1.0)  # the contract's valid range
    assert QgsVectorLayer(result["OUTPUT_VECTOR"], "v").renderer().type() == "graduatedSymbol"
    assert result["CLASS_COUNTS"] == "" and len(read_features(result["OUTPUT_VECTOR"])) == 48


@pytest.mark.parametrize("change, message", [
    ({"MODEL": "segmentation"}, r"is a segmentation model .*Classify raster \(seamless:classify\)"),
    ({"CELL_SIZE": -5}, "CELL_SIZE must be at least 0"),
    ({"BANDS": "1,2,3,9"}, "BANDS names band 9"),
    ({"TTA": "sideways"}, "TTA 'sideways' is not one of its options"),
    ({"OUTPUT": "cells.gpkg"}, "OUTPUT"),
])
def test_parameter_checks_say_what_is_wrong(provider, models, tmp_path, change, message):
    parameters = {"INPUT": str(S2_IMAGE), "MODEL": str(models["classifier"]), "OUTPUT": str(tmp_path / "c.tif")}
    if "MODEL" in change:
        change = {"MODEL": str(models[change["MODEL"]])}
    if change.get("OUTPUT"):
        change = {"OUTPUT": str(tmp_path / change["OUTPUT"])}
    ok, text = check({**parameters, **change})
    assert not ok and __import__("re").search(message, text), text
    assert check(parameters) == (True, "")


def test_a_cell_smaller_than_a_pixel_stops_the_run_with_its_message(provider, models, tmp_path):
    with pytest.raises(QgsProcessingException, match="smaller than a pixel of the raster"):
        run({"INPUT": str(S2_IMAGE), "MODEL": str(models["classifier"]), "CELL_SIZE": 4,
             "OUTPUT": str(tmp_path / "c.tif")})
    assert leftover_files(tmp_path) == []


@pytest.mark.slow
def test_classify_tiles_from_qgis_process(qgis_process, models, tmp_path):
    xmin, ymin, xmax, ymax = area_extent(*AREA)
    result = qgis_process(ALGORITHM, {"INPUT": S2_IMAGE, "MODEL": models["classifier"], "CELL_SIZE": 320,
                                      "EXTENT": f"{xmin},{xmax},{ymin},{ymax} [EPSG:32633]",
                                      "OUTPUT": tmp_path / "c.tif", "OUTPUT_VECTOR": tmp_path / "c.gpkg"})
    assert result.returncode == 0, result.log
    dataset = gdal.Open(str(tmp_path / "c.tif"))
    assert dataset.GetGeoTransform()[1] == 320.0 and (dataset.RasterXSize, dataset.RasterYSize) == (4, 3)
    assert int(result.results["CELLS"]) == 12 and (tmp_path / "c.qml").exists()
    refused = qgis_process(ALGORITHM, {"INPUT": S2_IMAGE, "MODEL": models["segmentation"],
                                       "OUTPUT": tmp_path / "x.tif"})
    assert refused.returncode != 0 and "Classify raster (seamless:classify)" in refused.log
    assert not (tmp_path / "x.tif").exists()
