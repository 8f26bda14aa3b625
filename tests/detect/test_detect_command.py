"""``seamless-segmentation detect`` in one process: the detection job's GeoPackage and report, its options checked
with the Processing algorithm's messages, and bad input named with exit status 2."""
from __future__ import annotations

import pytest

from tests.cli.helpers import cli, cli_process
from tests.detect.helpers import WINDOW, expected, pixel_boxes, read_features, square_detector, write_raster
from tests.support.data import BUNDLED_MODEL
from tests.support.detectors import edge_squares, paint_squares


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    squares = edge_squares(120, 140, WINDOW, 17, seed=11)
    return {"squares": squares, "raster": write_raster(folder / "squares.tif", paint_squares(120, 140, squares)),
            "model": square_detector(folder)}


def test_detect_writes_the_boxes_and_reports_them_as_json(capsys, scene, tmp_path):
    result = cli(capsys, "detect", scene["raster"], scene["model"], f"{tmp_path / 'out.gpkg'}|layername=squares",
                 "--centroids", tmp_path / "centres.gpkg", "--min-score", "0.4", "--json")
    assert result.returncode == 0, result.log
    wanted = {box for box in expected(scene["squares"]) if box[4] >= 0.4}
    assert pixel_boxes(read_features(tmp_path / "out.gpkg", "squares")) == wanted
    report = result.json
    assert report["DETECTIONS"] == len(wanted) == sum(report["CLASS_COUNTS"].values())
    assert set(report["CLASS_COUNTS"]) == {"small", "large"} and report["PROVIDER"] == "CPUExecutionProvider"
    assert len(read_features(tmp_path / "centres.gpkg")) == len(wanted)
    assert "Detections per class:" in result.stderr


@pytest.mark.parametrize("arguments, message", [
    (["--min-score", "2"], "MIN_SCORE must be from 0 to 1, got 2."),
    (["--tta", "spin"], "TTA 'spin' is not one of its options"),
    (["--resume"], "--resume and --block-size are for distributed runs"),
])
def test_bad_options_are_named(capsys, scene, tmp_path, arguments, message):
    result = cli(capsys, "detect", scene["raster"], scene["model"], tmp_path / "out.gpkg", *arguments)
    assert result.returncode == 2 and message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_segmentation_model_is_refused_from_a_separate_process(scene, tmp_path):
    completed = cli_process("detect", scene["raster"], BUNDLED_MODEL, tmp_path / "out.gpkg")
    assert completed.returncode == 2
    assert "not an object detector: run it with Classify raster (seamless:classify)" in completed.stderr
    assert list(tmp_path.iterdir()) == []
