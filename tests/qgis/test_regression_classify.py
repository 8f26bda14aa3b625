"""seamless:classify with a regression model (outputs of kind "regression") on real Sentinel-2 pixels, through
processing.run and qgis_process: a float32 value raster blended exactly like one pass of the model over the
whole raster, nodata, units, averaged overviews, a continuous style with the units in its legend; the options of
the other kind refused with a message; values outside the valid range warned about, or clipped on request."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsRasterLayer, QgsSingleBandPseudoColorRenderer

from tests.qgis.helpers import RecordingFeedback, classify
from tests.support.data import S2_IMAGE, leftover_files
from tests.support.onnx_factory import box_filter_model, contract_dict, linear_model, regression_contract_dict

UNITS = "reflectance x 10000"
MEAN, STD = [1400.0, 1140.0, 1120.0], [150.0, 180.0, 260.0]
WEIGHTS, BIAS = np.array([[-300.0, 250.0, 400.0]]), np.array([1500.0])  # an "NIR" estimate from B02, B03, B04


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    """301 x 203 px of the Sentinel-2 subset (odd sizes), with a nodata corner."""
    folder = tmp_path_factory.mktemp("scene")
    path = folder / "scene.tif"
    gdal.Translate(str(path), str(S2_IMAGE), srcWin=[500, 300, 301, 203], noData=0)
    dataset = gdal.Open(str(path), gdal.GA_Update)
    for index in range(1, 5):
        band = dataset.GetRasterBand(index)
        values = band.ReadAsArray()
        values[:20, :30] = 0
        band.WriteArray(values)
    dataset = None
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    contract = regression_contract_dict(3, tile=64, multiple=16, valid_range=[0, 10000], units=UNITS)
    contract["input"].update({"mean": MEAN, "std": STD})
    contract["outputs"][0]["band_names"] = ["NIR (B08)"]
    contract["context_margin"] = 4
    return linear_model(tmp_path_factory.mktemp("model") / "nir.onnx", WEIGHTS, BIAS, kernel=5, contract=contract)


def one_pass(model: Path, scene: Path) -> np.ndarray:
    """The model over the whole raster in one pass, seeing the raster's own top and left edges (windows lie flush
    with them), mirrored at the bottom and right up to a multiple of its size multiple (16) as the engine's last
    windows are, the model seeing its fill value (the mean: 0 once normalised) at nodata pixels."""
    image = gdal.Open(str(scene)).ReadAsArray()[:3].astype(np.float32)
    normalised = (image - np.array(MEAN, np.float32)[:, None, None]) / np.array(STD, np.float32)[:, None, None]
    normalised[:, image[0] == 0] = 0.0
    height, width = image.shape[1:]
    normalised = np.pad(normalised, ((0, 0), (0, -height % 16), (0, -width % 16)), mode="reflect")
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": normalised[None]})[0][0, 0, :height, :width]


def run(parameters: dict, feedback: RecordingFeedback | None = None) -> dict:
    return classify({"BANDS": "1,2,3", **parameters}, feedback)


def test_a_value_raster_with_units_nodata_overviews_and_a_continuous_style(provider, model, scene, tmp_path):
    feedback = RecordingFeedback()
    result = run({"INPUT": str(scene), "MODEL": str(model), "OUTPUT": str(tmp_path / "nir.tif"), "WINDOW_SIZE": 64,
                  "OVERLAP": 50}, feedback)
    dataset = gdal.Open(result["OUTPUT"])
    band = dataset.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Float32 and band.GetNoDataValue() == -9999.0
    assert band.GetDescription() == f"NIR (B08) [{UNITS}]" and band.GetUnitType() == UNITS
    assert dataset.GetMetadata("IMAGE_STRUCTURE")["LAYOUT"] == "COG" and band.GetOverviewCount() >= 1
    values = band.ReadAsArray()
    nodata = gdal.Open(str(scene)).ReadAsArray()[0] == 0
    assert (values[nodata] == -9999.0).all() and (values[~nodata] != -9999.0).all()
    reference = one_pass(model, scene)
    np.testing.assert_allclose(values[~nodata], reference[~nodata], rtol=1e-5, atol=0.05)  # blended = one pass
    assert reference[~nodata].std() > 50  # real, varied values
    overview = band.GetOverview(0).ReadAsArray()
    inner = overview[20:, 20:]  # clear of the nodata corner
    assert np.isin(inner, values).mean() < 0.2  # averaged overviews make new values; nearest would pick old ones
    assert inner.mean() == pytest.approx(values[40:, 40:].mean(), rel=0.01)
    statistics = json.loads(result["VALUE_STATISTICS"])[f"NIR (B08) [{UNITS}]"]
    assert statistics["pixels"] == int((~nodata).sum()) and statistics["units"] == UNITS
    assert statistics["mean"] == pytest.approx(float(values[~nodata].astype(np.float64).mean()), rel=1e-6)
    layer = QgsRasterLayer(result["OUTPUT"], "values", "gdal")  # picks up values.qml, the default style
    renderer = layer.renderer()
    assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
    shader = renderer.shader().rasterShaderFunction()
    assert shader.minimumValue() == pytest.approx(statistics["p2"]) and shader.maximumValue() == pytest.approx(
        statistics["p98"])
    assert shader.legendSettings().suffix() == f" {UNITS}" and len(shader.colorRampItemList()) == 5
    assert "outside its valid range" not in "\n".join(feedback.lines)
    assert result["CLASS_AREAS"] == "{}"


@pytest.mark.parametrize("extra, named", [
    ({"OUTPUT_VECTOR": "regions.gpkg"}, "OUTPUT_VECTOR"),
    ({"MIN_AREA": 200, "SIEVE": True}, "MIN_AREA, SIEVE"),
    ({"OUTPUT_PROBABILITIES": "probabilities.tif"}, "OUTPUT_PROBABILITIES"),
])
def test_class_only_options_are_refused_for_a_regression_model(provider, model, scene, tmp_path, extra, named):
    parameters = {key: str(tmp_path / value) if key.startswith("OUTPUT") else value for key, value in extra.items()}
    with pytest.raises(QgsProcessingException, match=f"is a regression model.*so {named} \\(for class models"):
        run({"INPUT": str(scene), "MODEL": str(model), "OUTPUT": str(tmp_path / "nir.tif"), **parameters})
    assert leftover_files(tmp_path) == []


def test_clip_to_range_is_refused_for_a_class_model_and_without_a_valid_range(provider, model, scene, tmp_path):
    classes = box_filter_model(tmp_path / "classes.onnx", 3, 3, contract_dict(3, 3, tile=64, multiple=16))
    with pytest.raises(QgsProcessingException, match="CLIP_TO_RANGE is for regression models.*is a class model"):
        run({"INPUT": str(scene), "MODEL": str(classes), "OUTPUT": str(tmp_path / "c.tif"), "CLIP_TO_RANGE": True})
    sidecar = tmp_path / "no_range.json"
    sidecar.write_text(json.dumps({"outputs": [{"valid_range": None}]}))
    with pytest.raises(QgsProcessingException, match="CLIP_TO_RANGE needs the model's valid range"):
        run({"INPUT": str(scene), "MODEL": str(model), "CONTRACT": str(sidecar), "OUTPUT": str(tmp_path / "v.tif"),
             "CLIP_TO_RANGE": True})
    assert leftover_files(tmp_path, {"classes.onnx", "no_range.json"}) == []


def test_values_outside_the_valid_range_are_warned_about_and_clipped_on_request(provider, model, scene, tmp_path):
    reference = one_pass(model, scene)
    high = float(np.percentile(reference, 90))  # a range the model's values leave: about a tenth above it
    sidecar = tmp_path / "range.json"
    sidecar.write_text(json.dumps({"outputs": [{"valid_range": [0, high]}]}))
    common = {"INPUT": str(scene), "MODEL": str(model), "CONTRACT": str(sidecar)}
    feedback = RecordingFeedback()
    kept = run({**common, "OUTPUT": str(tmp_path / "kept.tif")}, feedback)
    log = "\n".join(feedback.lines)
    assert "WARNING The model predicted" in log and f"outside its valid range 0 to {high:g}" in log
    assert "set CLIP_TO_RANGE to clip them" in log
    values = gdal.Open(kept["OUTPUT"]).ReadAsArray()
    assert values.max() > high
    feedback = RecordingFeedback()
    clipped = run({**common, "OUTPUT": str(tmp_path / "clipped.tif"), "CLIP_TO_RANGE": True}, feedback)
    assert "they were clipped to the range (CLIP_TO_RANGE)" in "\n".join(feedback.lines)
    clipped_values = gdal.Open(clipped["OUTPUT"]).ReadAsArray()
    data = values != -9999.0
    assert clipped_values[data].max() == pytest.approx(high) and clipped_values[data].min() >= 0
    np.testing.assert_array_equal(clipped_values[data], np.clip(values[data], 0, high).astype(np.float32))
    statistics = json.loads(clipped["VALUE_STATISTICS"])[f"NIR (B08) [{UNITS}]"]
    assert statistics["clipped"] and statistics["above_valid_range"] == int((values[data] > high).sum())


def test_a_model_of_another_ground_resolution_is_run_at_it_and_warped_back_bilinearly(provider, model, scene,
                                                                                    tmp_path):
    sidecar = tmp_path / "coarser.json"
    sidecar.write_text(json.dumps({"resolution_m": 20}))
    feedback = RecordingFeedback()
    result = run({"INPUT": str(scene), "MODEL": str(model), "CONTRACT": str(sidecar),
                  "OUTPUT": str(tmp_path / "warped.tif")}, feedback)
    dataset, source = gdal.Open(result["OUTPUT"]), gdal.Open(str(scene))
    assert (dataset.RasterXSize, dataset.RasterYSize) == (source.RasterXSize, source.RasterYSize)
    assert dataset.GetRasterBand(1).GetUnitType() == UNITS
    values = dataset.ReadAsArray()
    inner = values[40:-4, 40:-4]
    assert (inner != -9999.0).all()
    # Bilinear warping of a 20 m result onto the 10 m grid: values between their neighbours', not repeated.
    assert len(np.unique(inner)) > 0.8 * inner.size
    assert "model's resolution" in "\n".join(feedback.lines)


def test_qgis_process_runs_a_regression_model(qgis_process, model, scene, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": scene, "MODEL": model, "BANDS": "1,2,3",
                                                "OUTPUT": tmp_path / "nir.tif", "CLIP_TO_RANGE": "true"})
    assert result.returncode == 0, result.log
    statistics = result.results["VALUE_STATISTICS"]
    statistics = json.loads(statistics) if isinstance(statistics, str) else statistics
    assert statistics[f"NIR (B08) [{UNITS}]"]["clipped"] is True
    dataset = gdal.Open(str(tmp_path / "nir.tif"))
    assert dataset.GetRasterBand(1).DataType == gdal.GDT_Float32 and (tmp_path / "nir.qml").exists()
    refused = qgis_process("seamless:classify", {"INPUT": scene, "MODEL": model, "BANDS": "1,2,3",
                                                 "OUTPUT": tmp_path / "again.tif", "MIN_AREA": 100})
    assert refused.returncode != 0 and "is a regression model" in refused.log
    assert not (tmp_path / "again.tif").exists()


def test_the_value_raster_processing_loads_is_named_values_and_has_its_continuous_style(provider, model, scene,
                                                                                        tmp_path):
    """Processing's own loader skips default styles: the loaded layer gets the colour ramp written beside it."""
    import processing
    from qgis.core import QgsProject

    project = QgsProject.instance()
    before = set(project.mapLayers())
    try:
        results = processing.runAndLoadResults("seamless:classify", {
            "INPUT": str(scene), "MODEL": str(model), "BANDS": "1,2,3", "OUTPUT": str(tmp_path / "nir.tif")})
        loaded = [layer for key, layer in project.mapLayers().items() if key not in before]
        assert [layer.source() for layer in loaded] == [results["OUTPUT"]]
        layer = loaded[0]
        assert layer.name().startswith("Values")
        renderer = layer.renderer()
        assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
        assert renderer.shader().rasterShaderFunction().legendSettings().suffix() == f" {UNITS}"
    finally:
        project.removeMapLayers([key for key in project.mapLayers() if key not in before])
