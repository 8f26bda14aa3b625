"""seamless:classify through processing.run on real rasters: grid, styling, nodata, extent, outputs,
parameter checks and every kind of bad input (clear message, nothing left behind)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingException,
    QgsRasterLayer,
)
from scipy.ndimage import correlate

from tests.qgis.helpers import RecordingFeedback, classify
from tests.support.data import DEEPNESS_MODELS, DETECTREE_TILE, LANDSAT_EDGE, S2_IMAGE, SPACENET, leftover_files
from tests.support.onnx_factory import box_filter_model, contract_dict, identity_model

FIXED_MODEL = DEEPNESS_MODELS / "dummy_segmentation_models__one_output_softmax_bsx2x512x512.onnx"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    s2 = contract_dict(4, 4, kind="probabilities", tile=128, multiple=16, scale=1e-4, values=[1, 2, 3, 4])
    s2["outputs"][0]["classes"] = [{"value": v, "name": n, "color": c} for v, n, c in
                                   [(1, "blue", "#0000ff"), (2, "green", "#00ff00"), (3, "red", "#ff0000"),
                                    (4, "nir", "#aa00aa")]]
    panchromatic = contract_dict(1, 2, kind="probabilities", tile=128, multiple=16, scale=1 / 1024)
    return {
        "s2_box": box_filter_model(folder / "s2_box.onnx", 4, 5, s2),
        "s2_identity": identity_model(folder / "s2_identity.onnx", 4, None, s2),
        "pan_identity": identity_model(folder / "pan_identity.onnx", 1, None, panchromatic),
        "rgb_identity": identity_model(folder / "rgb_identity.onnx", 3, None,
                                       contract_dict(3, 3, tile=64, multiple=16, scale=1 / 255)),
    }


def read(path: Path | str) -> tuple[np.ndarray, gdal.Dataset]:
    dataset = gdal.Open(str(path))
    return dataset.ReadAsArray(), dataset


def test_output_has_the_input_grid_classes_and_style(provider, models, tmp_path):
    feedback = RecordingFeedback()
    result = classify({"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_box"]), "OUTPUT": str(tmp_path / "c.tif")},
                      feedback)
    classes, output = read(result["OUTPUT"])
    source = gdal.Open(str(S2_IMAGE))
    assert (output.RasterXSize, output.RasterYSize) == (source.RasterXSize, source.RasterYSize)
    assert output.GetGeoTransform() == source.GetGeoTransform()
    assert output.GetProjection() == source.GetProjection()
    band = output.GetRasterBand(1)
    assert band.GetNoDataValue() == 255 and band.DataType == gdal.GDT_Byte
    assert set(np.unique(classes)) <= {1, 2, 3, 4} and len(np.unique(classes)) >= 2
    assert band.GetRasterColorTable().GetColorEntry(3)[:3] == (255, 0, 0)
    assert band.GetCategoryNames()[1:5] == ["blue", "green", "red", "nir"]
    layer = QgsRasterLayer(result["OUTPUT"], "classes", "gdal")
    renderer = layer.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    assert [c.label for c in renderer.classes()] == ["blue", "green", "red", "nir"]
    areas = json.loads(result["CLASS_AREAS"])
    assert sum(areas.values()) == pytest.approx(1536 * 768 * 100)
    assert result["PROVIDER"] == "CPUExecutionProvider"
    assert any("Ran on CPUExecutionProvider" in line for line in feedback.lines)


def test_overlap_not_set_is_measured_from_the_model_and_seam_free(provider, models, tmp_path, monkeypatch):
    """OVERLAP left unset: the 5 x 5 filter's margin (1 or 2 px: where its change falls below the tolerance depends
    on the pixels) is measured once and the windows overlap just enough for it, so the classes equal one pass of
    the filter over the whole image (zero beyond its edges, as the filter pads: the windows are flush with them)."""
    monkeypatch.setenv("SEAMLESS_SEGMENTATION_CACHE", str(tmp_path / "cache"))  # not measured by an earlier test
    feedback = RecordingFeedback()
    result = classify({"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_box"]), "WINDOW_SIZE": 256,
                       "OUTPUT": str(tmp_path / "c.tif")}, feedback)
    log = "\n".join(feedback.lines)
    margin = re.search(r"Context margin of the model: (\d) px, measured", log)
    assert margin and margin.group(1) in "12"
    assert f"overlap 32 px, smooth blending (context margin {margin.group(1)} px, measured)" in log
    assert "batch 1" in log
    image, _ = read(S2_IMAGE)
    reference = np.stack([correlate(band * 1e-4, np.ones((5, 5)) / 25, mode="constant") for band in image]).argmax(0)
    classes, _ = read(result["OUTPUT"])
    assert (classes == reference + 1).mean() > 0.9999
    again = RecordingFeedback()
    classify({"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_box"]), "OUTPUT": str(tmp_path / "d.tif")}, again)
    assert any("measured on an earlier run" in line for line in again.lines)


def test_overlap_unset_and_batch_zero_are_the_defaults_everywhere(provider):
    """The toolbox, batch dialog and modeler show an optional OVERLAP as "Not set" and qgis_process leaves it out:
    both mean auto; a number is still checked against 0 to 90."""
    from qgis.core import QgsApplication, QgsProcessingParameterDefinition

    algorithm = QgsApplication.processingRegistry().algorithmById("seamless:classify")
    overlap = algorithm.parameterDefinition("OVERLAP")
    assert overlap.flags() & QgsProcessingParameterDefinition.FlagOptional and overlap.defaultValue() is None
    assert overlap.checkValueIsAcceptable(None) and overlap.checkValueIsAcceptable(12.5)
    assert not overlap.checkValueIsAcceptable(95)
    assert algorithm.parameterDefinition("BATCH_SIZE").defaultValue() == 0


def test_extent_writes_the_subset_grid_with_real_context(provider, models, tmp_path):
    full = classify({"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_box"]), "OUTPUT": str(tmp_path / "full.tif")})
    source = gdal.Open(str(S2_IMAGE))
    x0, dx, _, y0, _, dy = source.GetGeoTransform()
    col, row, width, height = 301, 207, 411, 233
    extent = f"{x0 + col * dx},{x0 + (col + width) * dx},{y0 + (row + height) * dy},{y0 + row * dy} [EPSG:32633]"
    part = classify({"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_box"]), "EXTENT": extent,
                     "OUTPUT": str(tmp_path / "part.tif")})
    part_classes, part_ds = read(part["OUTPUT"])
    full_classes, _ = read(full["OUTPUT"])
    assert part_classes.shape == (height, width)
    assert part_ds.GetGeoTransform() == pytest.approx((x0 + col * dx, dx, 0, y0 + row * dy, 0, dy))
    assert np.array_equal(part_classes, full_classes[row:row + height, col:col + width])


@pytest.mark.parametrize("rule", ["all", "any"])
def test_nodata_input_gives_nodata_output_and_probabilities(provider, models, tmp_path, rule):
    feedback = RecordingFeedback()
    result = classify({"INPUT": str(LANDSAT_EDGE), "MODEL": str(models["rgb_identity"]), "NODATA_RULE": rule,
                       "OUTPUT": str(tmp_path / "c.tif"), "OUTPUT_PROBABILITIES": str(tmp_path / "p.tif"),
                       "OUTPUT_CONFIDENCE": str(tmp_path / "k.tif"), "OVERLAP": 25}, feedback)
    image, _ = read(LANDSAT_EDGE)
    classes, _ = read(result["OUTPUT"])
    probabilities, probability_ds = read(result["OUTPUT_PROBABILITIES"])
    confidence, _ = read(result["OUTPUT_CONFIDENCE"])
    # "all": nodata only where every band is 0 (the scene's collar); "any": wherever one band is (water too).
    missing = image == 0
    nodata = missing.all(axis=0) if rule == "all" else missing.any(axis=0)
    assert 0.1 < nodata.mean() < 0.8
    assert (classes[nodata] == 255).all() and (classes[~nodata] != 255).all()
    # Missing bands of a classified pixel get the contract's fill, the band mean (0 here): their raw 0 again.
    expected = image[:, ~nodata] / 255.0
    np.testing.assert_allclose(probabilities[:, ~nodata], expected, atol=1e-5)
    assert (probabilities[:, nodata] == -1).all() and probability_ds.RasterCount == 3
    np.testing.assert_allclose(confidence[~nodata], expected.max(0), atol=1e-5)
    assert probability_ds.GetRasterBand(1).GetNoDataValue() == -1
    share = f"{100 * nodata.mean():.1f} % of the pixels in the processing area"
    assert any(share in line for line in feedback.lines), feedback.lines
    assert any("NODATA_RULE=any to leave such pixels out" in line for line in feedback.lines) == (rule == "all")


def test_nodata_declared_without_nodata_pixels_changes_nothing(provider, models, tmp_path):
    result = classify({"INPUT": str(SPACENET), "MODEL": str(models["pan_identity"]), "OUTPUT": str(tmp_path / "c.tif")})
    image, _ = read(SPACENET)
    classes, _ = read(result["OUTPUT"])
    assert (classes != 255).all()
    assert np.array_equal(classes, (image / 1024 > 0.5).astype(np.uint8))


def test_bands_are_fed_in_the_given_order(provider, models, tmp_path):
    result = classify({"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_identity"]), "BANDS": "3,2,1,4",
                       "OVERLAP": 0, "OUTPUT": str(tmp_path / "c.tif")})
    classes, _ = read(result["OUTPUT"])
    image, _ = read(S2_IMAGE)
    assert np.array_equal(classes, image[[2, 1, 0, 3]].argmax(0) + 1)


def test_resolution_from_the_contract_resamples_and_writes_back_on_the_input_grid(provider, models, tmp_path):
    sidecar = tmp_path / "coarse.json"
    sidecar.write_text(json.dumps({"resolution_m": 20}))
    feedback = RecordingFeedback()
    coarse = classify({"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_identity"]), "CONTRACT": str(sidecar),
                       "OUTPUT": str(tmp_path / "coarse.tif")}, feedback)
    fine = classify({"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_identity"]), "OUTPUT": str(tmp_path / "f.tif")})
    coarse_classes, coarse_ds = read(coarse["OUTPUT"])
    fine_classes, _ = read(fine["OUTPUT"])
    assert coarse_classes.shape == fine_classes.shape
    assert coarse_ds.GetGeoTransform() == gdal.Open(str(S2_IMAGE)).GetGeoTransform()
    assert any("resampled on the fly" in line for line in feedback.lines)
    agreement = (coarse_classes == fine_classes).mean()
    assert 0.6 < agreement < 1.0  # the same scene at half the resolution: similar, not identical


def test_raster_without_crs_works_and_warns(provider, models, tmp_path):
    no_crs = tmp_path / "no_crs.tif"
    source = gdal.Open(str(DETECTREE_TILE))
    copy = gdal.GetDriverByName("GTiff").Create(str(no_crs), source.RasterXSize, source.RasterYSize, 3)
    copy.WriteArray(source.ReadAsArray())  # the real pixels, without georeferencing
    del copy  # close it so GDAL writes it
    assert gdal.Open(str(no_crs)).GetProjection() == ""
    feedback = RecordingFeedback()
    result = classify({"INPUT": str(no_crs), "MODEL": str(models["rgb_identity"]), "OUTPUT": str(tmp_path / "c.tif")},
                      feedback)
    classes, _ = read(result["OUTPUT"])
    assert classes.shape == (120, 175)
    assert any("has no CRS" in line for line in feedback.lines)


def check(parameters: dict) -> tuple[bool, str]:
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().createAlgorithmById("seamless:classify")
    return algorithm.checkParameterValues(parameters, QgsProcessingContext())


def test_check_parameter_values_accepts_good_parameters(provider, models, tmp_path):
    good = {"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_box"]), "OUTPUT": str(tmp_path / "c.tif")}
    assert check(good) == (True, "")


@pytest.mark.parametrize("change, message", [
    ({"MODEL": "{tmp}/missing.onnx"}, "does not exist"),
    ({"MODEL": "{tmp}/readme.onnx"}, "not an ONNX model"),
    ({"BANDS": "1,2,9,4"}, "BANDS names band 9, but the raster has 4"),
    ({"BANDS": "a,b"}, "must list band numbers"),
    ({"DEVICE": "gpu2"}, "DEVICE 'gpu2' is not known"),
    ({"CONTRACT": "{tmp}/bad.json"}, "is not valid JSON"),
], ids=["missing model", "text model", "missing band", "band text", "device", "contract JSON"])
def test_check_parameter_values_names_bad_parameters(provider, models, tmp_path, change, message):
    (tmp_path / "readme.onnx").write_text("not a model")
    (tmp_path / "bad.json").write_text("{oops")
    good = {"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_box"]), "OUTPUT": str(tmp_path / "c.tif")}
    ok, text = check({**good, **{key: value.format(tmp=tmp_path) for key, value in change.items()}})
    assert not ok and message in text, (change, text)


def assert_fails_cleanly(parameters: dict, message: str, folder: Path, feedback=None) -> None:
    before = leftover_files(folder)
    with pytest.raises(QgsProcessingException, match=message):
        classify(parameters, feedback)
    assert leftover_files(folder) == before, "a failed run must leave nothing behind"


def test_bad_inputs_fail_with_clear_messages_and_leave_nothing(provider, models, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    base = {"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_box"]), "OUTPUT": str(out / "c.tif")}
    assert_fails_cleanly({**base, "MODEL": str(models["rgb_identity"])},
                         "model takes 3 band.*raster has 4. Set BANDS", out)
    assert_fails_cleanly({**base, "MODEL": str(FIXED_MODEL), "BANDS": "1,2,3", "WINDOW_SIZE": 256},
                         "WINDOW_SIZE 256 is not accepted by the model: its input is fixed at 512", out)
    assert_fails_cleanly({**base, "WINDOW_SIZE": 100}, "needs multiples of 16", out)
    assert_fails_cleanly({**base, "EXTENT": "0,10,0,10 [EPSG:32633]"}, "does not overlap the raster", out)
    assert_fails_cleanly({**base, "DEVICE": "cuda"}, "needs CUDAExecutionProvider", out)
    assert_fails_cleanly({**base, "BANDS": "1,2,3"}, "BANDS lists 3 band", out)
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    assert_fails_cleanly({**base, "OUTPUT": str(blocker / "c.tif")}, "Cannot write the output", out)


def test_cancelled_run_leaves_no_output(provider, models, tmp_path):
    feedback = RecordingFeedback()
    feedback.progressChanged.connect(lambda value: feedback.cancel() if value > 0 else None)
    parameters = {"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_box"]), "OUTPUT": str(tmp_path / "c.tif"),
                  "OUTPUT_PROBABILITIES": str(tmp_path / "p.tif"), "WINDOW_SIZE": 64, "BATCH_SIZE": 1}
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        classify(parameters, feedback)
    assert leftover_files(tmp_path) == []


def test_existing_output_is_replaced_only_on_success(provider, models, tmp_path):
    target = tmp_path / "c.tif"
    target.write_bytes(b"previous result")
    with pytest.raises(QgsProcessingException):
        classify({"INPUT": str(S2_IMAGE), "MODEL": str(models["rgb_identity"]), "OUTPUT": str(target)})
    assert target.read_bytes() == b"previous result"
    classify({"INPUT": str(S2_IMAGE), "MODEL": str(models["s2_box"]), "OUTPUT": str(target)})
    assert gdal.Open(str(target)).RasterXSize == 1536


def test_modelinfo_reports_contract_sources_and_io(provider, tmp_path):
    import processing

    model = DEEPNESS_MODELS / "dummy_segmentation_models__two_outputs_softmax_bsx2x512x512.onnx"
    result = processing.run("seamless:modelinfo", {"MODEL": str(model), "OUTPUT": str(tmp_path / "m.json")})
    described = json.loads(Path(result["OUTPUT"]).read_text())
    assert described["sources"] == "Deepness metadata"
    assert [c["name"] for o in described["contract"]["outputs"] for c in o["classes"]] == \
        ["Coffee", "Tea", "Juice", "Beer"]
    assert [o["name"] for o in described["outputs"]] == ["output", "output2"]
    assert "CPUExecutionProvider" in result["PROVIDERS"]
