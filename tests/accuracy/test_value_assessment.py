"""``seamless:evaluate`` on continuous values: a regression model's value raster of real Sentinel-2 pixels against
the real B08 (near-infrared) band as reference, through processing.run, qgis_process and the command line: MAE,
RMSE, R², bias equal to their definitions, a density scatter plot in the report, JSON and a one-row table; a
reference on another grid resampled; class-only parameters refused."""
from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.core.engine.plan import RunOptions
from plugin.core.progress import LoggingProgress
from tests.cli.helpers import cli
from tests.support.data import S2_IMAGE, S2_POLYGONS
from tests.support.onnx_factory import linear_model, regression_contract_dict

gdal.UseExceptions()


@pytest.fixture(scope="module")
def rasters(tmp_path_factory) -> dict[str, Path]:
    """A value raster predicted from B02, B03, B04 of a real crop, and the crop's B08 as reference (nodata 0)."""
    folder = tmp_path_factory.mktemp("values")
    scene = folder / "scene.tif"
    gdal.Translate(str(scene), str(S2_IMAGE), srcWin=[400, 200, 256, 192])
    contract = regression_contract_dict(3, tile=64, multiple=16)
    contract["input"].update({"mean": [1400, 1140, 1120], "std": [150, 180, 260]})
    model = linear_model(folder / "nir.onnx", np.array([[-300.0, 250.0, 400.0]]), np.array([1500.0]), kernel=3,
                         contract=contract)
    predicted = folder / "nir.tif"
    classify(ClassifyRequest(str(scene), str(model), str(predicted), bands=[1, 2, 3],
                             options=RunOptions(window_size=64)), LoggingProgress())
    reference = folder / "b08.tif"
    gdal.Translate(str(reference), str(scene), bandList=[4], noData=0)
    dataset = gdal.Open(str(reference), gdal.GA_Update)
    values = dataset.GetRasterBand(1).ReadAsArray()
    values[:10, :] = 0  # a strip without reference
    dataset.GetRasterBand(1).WriteArray(values)
    dataset = None
    coarse = folder / "b08_20m.tif"
    gdal.Translate(str(coarse), str(reference), xRes=20, yRes=20, resampleAlg="average")
    return {"predicted": predicted, "reference": reference, "coarse": coarse, "folder": folder}


def _expected(rasters: dict[str, Path]) -> dict[str, float]:
    predicted = gdal.Open(str(rasters["predicted"])).ReadAsArray().astype(np.float64)
    reference = gdal.Open(str(rasters["reference"])).ReadAsArray().astype(np.float64)
    valid = reference != 0
    error = predicted[valid] - reference[valid]
    return {"count": int(valid.sum()), "mae": np.abs(error).mean(), "rmse": np.sqrt((error ** 2).mean()),
            "bias": error.mean(),
            "r2": 1 - (error ** 2).sum() / ((reference[valid] - reference[valid].mean()) ** 2).sum()}


def _run(parameters: dict) -> dict:
    import processing

    return processing.run("seamless:evaluate", parameters)


def test_a_value_raster_is_scored_against_reference_values(provider, rasters, tmp_path):
    result = _run({"INPUT": str(rasters["predicted"]), "REFERENCE": str(rasters["reference"]),
                   "OUTPUT_REPORT": str(tmp_path / "report.html"), "OUTPUT_JSON": str(tmp_path / "scores.json"),
                   "OUTPUT_TABLE": "TEMPORARY_OUTPUT"})
    expected = _expected(rasters)
    for key, output in (("mae", "MAE"), ("rmse", "RMSE"), ("bias", "BIAS"), ("r2", "R2")):
        assert result[output] == pytest.approx(expected[key], rel=1e-6, abs=1e-9)
    assert result["MAE"] > 10  # a crude linear model of NIR: really imperfect, so the figures mean something
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["kind"] == "values" and scores["samples"] == expected["count"]
    assert scores["units"] == "reflectance x 10000" and scores["excluded"]["no_reference"] == 10 * 256
    page = (tmp_path / "report.html").read_text()
    assert "Coefficient of determination" in page
    image = re.search(r"src='data:image/png;base64,([^']+)'", page)
    assert image and base64.b64decode(image.group(1)).startswith(b"\x89PNG")
    rows = list(result["OUTPUT_TABLE"].getFeatures())
    assert len(rows) == 1 and rows[0]["rmse"] == pytest.approx(expected["rmse"], rel=1e-6)
    assert "OVERALL_ACCURACY" not in result  # no class scores for values


def test_a_reference_on_another_grid_is_resampled_onto_the_assessed_one(provider, rasters, tmp_path):
    import processing
    from qgis.core import QgsProcessingFeedback

    infos: list[str] = []

    class Feedback(QgsProcessingFeedback):
        def pushInfo(self, info: str) -> None:  # noqa: N802 - QGIS API name
            infos.append(info)

    result = processing.run("seamless:evaluate", {"INPUT": str(rasters["predicted"]),
                                                  "REFERENCE": str(rasters["coarse"]),
                                                  "OUTPUT_JSON": str(tmp_path / "scores.json")}, feedback=Feedback())
    assert any("resampled onto the assessed raster's grid (bilinear)" in line for line in infos)
    same_grid = _expected(rasters)
    assert result["R2"] == pytest.approx(same_grid["r2"], abs=0.2)  # the same comparison at a coarser reference
    assert json.loads((tmp_path / "scores.json").read_text())["samples"] > 0.8 * same_grid["count"]


def test_class_parameters_are_refused_for_values_and_values_can_be_asked_for(provider, rasters, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="REFERENCE_LAYER, REFERENCE_FIELD belong to class rasters"):
        _run({"INPUT": str(rasters["predicted"]), "REFERENCE_LAYER": str(S2_POLYGONS), "REFERENCE_FIELD": "fclass",
              "OUTPUT_JSON": str(tmp_path / "s.json")})
    with pytest.raises(QgsProcessingException, match="REFERENCE is missing"):
        _run({"INPUT": str(rasters["predicted"]), "OUTPUT_JSON": str(tmp_path / "s.json")})
    assert not (tmp_path / "s.json").exists()
    plain = tmp_path / "plain.tif"  # no metadata at all: a float raster from elsewhere, assessed as values on request
    gdal.Translate(str(plain), str(rasters["predicted"]), format="GTiff", options=["-mo", "SEAMLESS_VALUES="])
    result = _run({"INPUT": str(plain), "REFERENCE": str(rasters["reference"]), "KIND": "values"})
    assert result["MAE"] == pytest.approx(_expected(rasters)["mae"], rel=1e-6)


def test_qgis_process_and_the_command_line_assess_values(qgis_process, capsys, rasters, tmp_path):
    expected = _expected(rasters)
    result = qgis_process("seamless:evaluate", {"INPUT": rasters["predicted"], "REFERENCE": rasters["reference"],
                                                "OUTPUT_JSON": tmp_path / "q.json"})
    assert result.returncode == 0, result.log
    assert float(result.results["RMSE"]) == pytest.approx(expected["rmse"], rel=1e-6)
    done = cli(capsys, "evaluate", rasters["predicted"], "--reference", rasters["reference"], "--table",
               tmp_path / "t.csv", "--json")
    assert done.returncode == 0, done.log
    assert done.json["R2"] == pytest.approx(expected["r2"], rel=1e-6)
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert len(rows) == 1 and float(rows[0]["mae"]) == pytest.approx(expected["mae"], rel=1e-6)
    refused = cli(capsys, "evaluate", rasters["predicted"], "--reference", rasters["reference"], "--class-names",
                  "1=a")
    assert refused.returncode != 0 and "belong to class rasters" in refused.log
