"""Real square detectors (tests/support/detectors.py) through onnxruntime and the streaming detection engine.

Every layout is read and decoded exactly; a raster whose squares sit on every window edge and corner gives,
tiled, what one whole-raster pass gives (with several panels, batch sizes and D4 test-time augmentation);
bad detectors and bad contracts get messages that say what to fix."""
from __future__ import annotations

import json

import numpy as np
import pytest

from plugin.core.areas.window import PixelWindow
from plugin.core.detection import (
    CollectingSink,
    Decoder,
    Detections,
    DetectionSettings,
    detect,
    load_detector,
    plan_detection,
    required_overlap,
)
from plugin.core.detection.windows import finish_window
from plugin.core.errors import ContractError, ModelError
from plugin.core.model.loading import load_model
from plugin.core.progress import LoggingProgress
from tests.support.detectors import (
    LAYOUT_KINDS,
    SIZES,
    build_detector,
    detector_contract,
    edge_squares,
    expected_boxes,
    paint_squares,
)
from tests.support.engine import ArraySource
from tests.support.onnx_factory import contract_dict, identity_model

SQUARES = [(5, 5, 0, 0.9), (20, 30, 1, 0.5), (40, 10, 0, 0.7), (44, 44, 1, 0.35)]
WIDTH, HEIGHT, WINDOW = 203, 171, 64


def as_set(found: Detections, offset: int = 0) -> set[tuple]:
    return {tuple(np.round(b, 4).tolist()) + (round(float(s), 4), int(c) - offset)
            for b, s, c in zip(found.boxes, found.scores, found.classes)}


def detector(tmp_path, layout: str, angles: bool = False, **contract):
    path = build_detector(tmp_path / f"{layout}.onnx", layout, angles=angles,
                          contract=detector_contract(layout, angles=angles, **contract))
    return load_detector(path, "cpu")


def whole_pass(loaded, raster: np.ndarray) -> Detections:
    """The model once over the whole raster: the reference a tiled run must reproduce."""
    found = Decoder(loaded.contract).decode(loaded.predictor.predict(raster[None]), 0.1)[0]
    return finish_window(found, 0.5, 100_000)


def tiled(loaded, raster: np.ndarray, **options) -> Detections:
    bands, height, width = raster.shape
    plan = plan_detection(loaded.contract, loaded.fixed_size, width, height, LoggingProgress(), window_size=WINDOW,
                          **options)
    sink = CollectingSink()
    detect(ArraySource(raster), loaded.predictor, sink, loaded.contract, PixelWindow(0, 0, width, height), plan,
           DetectionSettings.for_contract(loaded.contract, max_detections=1000), LoggingProgress())
    return sink.result(Decoder(loaded.contract).oriented)


@pytest.mark.parametrize("layout, angles", [(layout, False) for layout in sorted(LAYOUT_KINDS)]
                         + [("anchors", True), ("boxes_scores_labels", True)])
def test_each_layout_is_read_and_decoded(tmp_path, layout, angles):
    loaded = detector(tmp_path, layout, angles)
    assert loaded.per_image == (layout == "boxes_scores_labels")  # torchvision style: no batch axis
    found = whole_pass(loaded, paint_squares(64, 64, SQUARES))
    offset = 1 if layout == "boxes_scores_labels" else 0  # its labels count from 1, background 0
    assert as_set(found, offset) == expected_boxes(SQUARES)
    assert found.oriented == (angles or layout == "yolo_obb")
    if found.oriented:  # turned by a quarter turn about the centre: the same squares
        assert np.allclose(found.rotated[:, 4], np.pi / 2)


@pytest.fixture(scope="module")
def edge_raster():
    # squares on the edges of the windows the run lays (the shared helper follows the engine's flush grid)
    squares = edge_squares(HEIGHT, WIDTH, WINDOW, required_overlap(max(SIZES), 1))
    assert len(squares) > 50
    return squares, paint_squares(HEIGHT, WIDTH, squares)


@pytest.mark.parametrize("layout", ["anchors", "yolo_v8", "boxes_scores_labels", "yolo_obb"])
@pytest.mark.parametrize("options", [{}, {"batch_size": 3, "max_panel_width": 80}, {"tta": "d4", "batch_size": 2}])
def test_objects_on_every_window_edge_are_reported_once_as_by_a_whole_raster_pass(tmp_path, edge_raster, layout,
                                                                                  options):
    squares, raster = edge_raster
    loaded = detector(tmp_path, layout)
    reference = whole_pass(loaded, raster)
    offset = 1 if layout == "boxes_scores_labels" else 0
    assert as_set(reference, offset) == expected_boxes(squares)
    found = tiled(loaded, raster, **options)
    assert len(found) == len(squares)  # each once
    assert as_set(found) == as_set(reference)
    assert len({tuple(w) for w in found.windows}) > 6  # reported by many different windows


def test_the_tiled_run_cut_every_square_it_reports_whole(tmp_path, edge_raster):
    """Without the cross-window merge the edge squares would be reported in pieces: the plan really cuts them."""
    squares, raster = edge_raster
    loaded = detector(tmp_path, "anchors")
    plan = plan_detection(loaded.contract, None, WIDTH, HEIGHT, LoggingProgress(), window_size=WINDOW)
    starts = plan.grid.columns.starts()
    crossing = [s for s in squares if any(s[1] < x < s[1] + SIZES[s[2]] or s[1] < x + WINDOW < s[1] + SIZES[s[2]]
                                          for x in starts[1:])]
    assert len(crossing) > 20


def test_a_model_with_built_in_nms_keeps_its_cap_per_window_not_per_raster(tmp_path, edge_raster):
    squares, raster = edge_raster
    loaded = detector(tmp_path, "yolo_nms")
    assert len(whole_pass(loaded, raster)) == 50  # the model's own cap over the whole raster
    assert as_set(tiled(loaded, raster)) == expected_boxes(squares)
    few = paint_squares(64, 64, SQUARES)  # 4 squares: the model's other 46 rows score 0, which is no detection
    found = Decoder(loaded.contract).decode(loaded.predictor.predict(few[None]), 0.0)[0]
    assert as_set(found) == expected_boxes(SQUARES)


def test_nodata_and_the_area_decide_which_detections_count(tmp_path):
    squares = [(10, 10, 0, 0.9), (10, 100, 0, 0.8), (100, 10, 1, 0.7), (150, 180, 0, 0.6)]
    raster = paint_squares(HEIGHT, WIDTH, squares)
    valid = np.ones((HEIGHT, WIDTH), bool)
    valid[:60, 80:140] = False  # the second square's centre is nodata
    loaded = detector(tmp_path, "anchors")
    plan = plan_detection(loaded.contract, None, 150, 120, LoggingProgress(), window_size=WINDOW)
    sink = CollectingSink()
    summary = detect(ArraySource(raster, valid), loaded.predictor, sink, loaded.contract, PixelWindow(0, 0, 150, 120),
                     plan, DetectionSettings.for_contract(loaded.contract), LoggingProgress())
    assert as_set(sink.result()) == expected_boxes([squares[0], squares[2]])  # the last lies outside the area
    assert summary.per_class == {0: 1, 1: 1} and summary.windows_run == plan.grid.window_count


def test_min_score_and_max_detections_per_window(tmp_path):
    squares = [(5, 5 + 14 * i, 0, 0.3 + 0.05 * i) for i in range(4)]
    raster = paint_squares(64, 64, squares)
    loaded = detector(tmp_path, "yolo_v5")
    settings = DetectionSettings.for_contract(loaded.contract, min_score=0.38, max_detections=2)
    plan = plan_detection(loaded.contract, None, 64, 64, LoggingProgress(), window_size=WINDOW)
    sink = CollectingSink()
    detect(ArraySource(raster), loaded.predictor, sink, loaded.contract, PixelWindow(0, 0, 64, 64), plan, settings,
           LoggingProgress())
    assert sorted(sink.result().scores.round(4).tolist()) == [0.4, 0.45]  # 0.3 and 0.35 fail MIN_SCORE


def test_segmentation_models_and_detectors_are_each_refused_by_the_other(tmp_path):
    segmentation = identity_model(tmp_path / "identity.onnx", 2, contract=contract_dict(2, 2))
    with pytest.raises(ModelError, match="is a segmentation model, not an object detector"):
        load_detector(segmentation, "cpu")
    path = build_detector(tmp_path / "squares.onnx", "anchors", contract=detector_contract("anchors"))
    with pytest.raises(ModelError, match=r"is an object detector.*Detect objects \(seamless:detect\)"):
        load_model(path, "cpu")


@pytest.mark.parametrize("layout, change, message", [
    ("yolo_v8", {"classes": 3}, r"has shape \[1, 6, 8192\]; expected \(batch, 7, boxes\)"),
    ("anchors", {"classes": 1}, r"expected \(batch, 8192 anchors, 1 classes\)"),
    ("boxes_scores_labels", {"no_background": True}, "gives class 2, but its contract lists 2 class"),
    ("yolo_v5", {"kind": "yolo_nms"}, r"expected \(batch, boxes, 6\)"),
])
def test_outputs_that_do_not_fit_the_contract_get_a_message(tmp_path, layout, change, message):
    contract = detector_contract(layout)
    carrier = next(o for o in contract["outputs"] if "classes" in o)
    if "classes" in change:
        carrier["classes"] = [{"value": i} for i in range(change["classes"])]
    if change.get("no_background"):
        carrier["classes"] = carrier["classes"][1:]
    if "kind" in change:
        contract["outputs"][0]["kind"] = change["kind"]
    loaded = load_detector(build_detector(tmp_path / "bad.onnx", layout, contract=contract), "cpu")
    with pytest.raises(ModelError, match=message):
        tiled(loaded, paint_squares(64, 64, SQUARES))


def test_non_finite_outputs_and_wrong_ranks_are_refused(tmp_path):
    loaded = detector(tmp_path, "yolo_v8")
    outputs = loaded.predictor.predict(paint_squares(64, 64, SQUARES)[None])
    outputs[0][0, 4, 7] = np.nan
    with pytest.raises(ModelError, match="NaN or infinite values in output 'yolo_v8'"):
        Decoder(loaded.contract).decode(outputs, 0.1)
    sidecar = tmp_path / "sidecar.json"
    sidecar.write_text(json.dumps({"outputs": [{"kind": "labels"}]}))
    with pytest.raises(ContractError, match="make no known layout"):
        load_detector(tmp_path / "yolo_v8.onnx", "cpu", sidecar)
    single = build_detector(tmp_path / "tv.onnx", "boxes_scores_labels")
    sidecar.write_text(json.dumps({"task": "detection", "outputs": [{"kind": "yolo_v5"}, {"kind": "scores"},
                                                                   {"kind": "labels"}]}))
    with pytest.raises(ContractError, match="make no known layout"):
        load_detector(single, "cpu", sidecar)


def test_a_deepness_detector_runs_from_its_metadata(tmp_path):
    import onnx

    path = build_detector(tmp_path / "deepness.onnx", "yolo_v8")
    model = onnx.load(str(path))
    for key, value in {"model_type": '"Detector"', "class_names": '{"0": "small", "1": "large"}',
                       "det_type": '"YOLO_Ultralytics"', "det_conf": "0.2", "tiles_size": "64",
                       "standardization_mean": "[0, 0]", "standardization_std": "[1, 1]"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    loaded = load_detector(path, "cpu")
    assert loaded.origin.deepness and loaded.contract.detection.score_threshold == 0.2
    raster = paint_squares(64, 64, SQUARES) * 255  # Deepness scales pixels by 1/255
    found = tiled(loaded, raster)
    assert as_set(found) == expected_boxes([s for s in SQUARES if s[3] >= 0.2])
