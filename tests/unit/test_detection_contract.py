"""Detector contracts: the detection section and output layouts, their messages, what shapes and Deepness
metadata say about a detector, and segmentation contracts unchanged."""
from __future__ import annotations

import json

import pytest

from plugin.core.errors import ContractError, ModelError
from plugin.core.model.contract import ModelContract
from plugin.core.model.contract_detection import DetectionSpec, detection_layout
from plugin.core.model.contract_sources import ModelIO, TensorInfo, resolve_contract
from tests.support.detectors import LAYOUT_KINDS, detector_contract


def io(inputs, outputs) -> ModelIO:
    return ModelIO(tuple(TensorInfo(n, s) for n, s in inputs), tuple(TensorInfo(n, s) for n, s in outputs))


@pytest.mark.parametrize("layout", sorted(LAYOUT_KINDS))
def test_every_layout_round_trips(layout):
    contract = ModelContract.from_dict(detector_contract(layout, score_threshold=0.4))
    assert contract.task == "detection" and detection_layout([o.kind for o in contract.outputs]) == layout
    assert contract.detection == DetectionSpec(0.4, 0.5, 300, 12)
    assert ModelContract.from_json(contract.to_json()) == contract
    assert contract.to_dict()["detection"]["max_object_size_px"] == 12


def test_segmentation_contracts_carry_no_detection_section():
    data = detector_contract("anchors")
    segmentation = {**data, "task": "segmentation", "detection": None,
                    "outputs": [{"kind": "logits", "classes": [{"value": 1}, {"value": 2}]}]}
    contract = ModelContract.from_dict(segmentation)
    assert contract.detection is None and "detection" not in contract.to_dict()


@pytest.mark.parametrize("change, message", [
    ({"outputs": [{"kind": "logits", "classes": [{"value": 0}]}]}, "only 'segmentation' models output logits"),
    ({"outputs": [{"kind": "boxes", "classes": [{"value": 0}]}]}, "make no known layout"),
    ({"outputs": [{"kind": "yolo_v8", "classes": [{"value": 0}]}, {"kind": "yolo_v5"}]}, "make no known layout"),
    ({"outputs": [{"kind": "boxes", "classes": [{"value": 0}]}, {"kind": "boxes"}]}, "repeat a kind"),
    ({"outputs": [{"kind": "yolo_v8"}]}, "lists its classes on one output"),
    ({"outputs": [{"kind": "boxes", "classes": [{"value": 0}]}, {"kind": "scores", "classes": [{"value": 0}]}]},
     "lists its classes on one output"),
    ({"outputs": [{"kind": "yolo_v8", "threshold": 0.5, "classes": [{"value": 0}]}]}, "detection.score_threshold"),
    ({"outputs": [{"classes": [{"value": 0}]}]}, "'outputs\\[0\\].kind' is missing"),
    ({"detection": {"iou_threshold": 1.5}}, "'detection.iou_threshold' must be a number from 0 to 1"),
    ({"detection": {"max_object_size": 30}}, "Did you mean 'max_object_size_px'"),
    ({"detection": {"max_detections": 0}}, "'detection.max_detections' must be a whole number"),
    ({"detection": [1]}, "'detection' must be an object or null"),
])
def test_invalid_detector_contracts_say_what_to_fix(change, message):
    with pytest.raises(ContractError, match=message):
        ModelContract.from_dict({**detector_contract("anchors"), **change})


def test_detection_kinds_or_section_in_a_segmentation_contract_are_refused():
    base = {"input": {"bands": 1}, "outputs": [{"kind": "yolo_v8", "classes": [{"value": 0}]}], "tile_size": 64}
    with pytest.raises(ContractError, match='set "task": "detection"'):
        ModelContract.from_dict(base)
    with pytest.raises(ContractError, match="belongs to object detectors"):
        ModelContract.from_dict({**base, "outputs": [{"kind": "logits", "classes": [{"value": 0}]}],
                                 "detection": {"score_threshold": 0.3}})


@pytest.mark.parametrize("shape, kind, classes", [
    (("b", 84, 8400), "yolo_v8", 80), ((1, 25200, 85), "yolo_v5", 80), (("b", "n", 7), "yolo_v5", 2),
    (("b", 6, "n"), "yolo_v8", 2)])
def test_a_single_output_shape_suggests_its_layout(shape, kind, classes):
    sidecar = json.dumps({"task": "detection"})
    contract, _ = resolve_contract(io([("images", ("b", 3, 640, 640))], [("output0", shape)]), {}, sidecar)
    assert contract.outputs[0].kind == kind and len(contract.all_classes) == classes
    assert contract.tile_size == 640 and contract.input.scale == (pytest.approx(1 / 255),) * 3


def test_output_names_suggest_the_parts_of_a_torchvision_model():
    sidecar = json.dumps({"task": "detection", "outputs": [{}, {}, {"classes": [{"value": 0, "name": "background"},
                                                                              {"value": 1, "name": "tree"}]}]})
    contract, origin = resolve_contract(io([("image", (1, 3, "h", "w"))], [
        ("pred_boxes", ("n", 4)), ("pred_scores", ("n",)), ("pred_labels", ("n",))]), {}, sidecar)
    assert [o.kind for o in contract.outputs] == ["boxes", "scores", "labels"] and origin.sidecar
    assert [c.name for c in contract.all_classes] == ["background", "tree"]


DEEPNESS = {"model_type": '"Detector"', "class_names": '{"0": "car", "1": "truck"}', "det_conf": "0.4",
            "det_iou_thresh": "0.45", "det_type": '"YOLO_v5_or_v7_default"', "resolution": "10", "tiles_size": "640",
            "tiles_overlap": "10", "standardization_mean": "[0, 0, 0]", "standardization_std": "[1, 1, 1]"}


def test_deepness_detector_metadata_is_read_as_for_segmentation_models():
    contract, origin = resolve_contract(io([("x", (1, 3, 640, 640))], [("y", (1, 25200, 7)), ("extra", (1, 3))]),
                                        DEEPNESS)
    assert origin.deepness and contract.task == "detection"
    assert [o.kind for o in contract.outputs] == ["yolo_v5"] and contract.outputs[0].name == "y"
    assert [c.name for c in contract.all_classes] == ["car", "truck"]
    assert contract.detection == DetectionSpec(0.4, 0.45, 300, None)
    assert contract.resolution_m == 0.1 and contract.tile_size == 640 and contract.recommended_overlap == 10


@pytest.mark.parametrize("det_type, shape, kind", [
    ("YOLO_v6", (1, 100, 7), "yolo_v6"), ("YOLO_v9", (1, 6, 100), "yolo_v8"),
    ("YOLO_Ultralytics", (1, 6, 100), "yolo_v8"), ("YOLO_Ultralytics_obb", (1, 7, 100), "yolo_obb")])
def test_deepness_detector_types_map_to_layouts(det_type, shape, kind):
    meta = {"model_type": '"Detector"', "det_type": json.dumps(det_type)}
    contract, _ = resolve_contract(io([("x", (1, 3, 64, 64))], [("y", shape)]), meta)
    assert contract.outputs[0].kind == kind and len(contract.all_classes) == 2


def test_unsupported_deepness_detectors_are_refused_with_the_reason():
    meta = {"model_type": '"Detector"', "det_type": '"YOLO_Ultralytics_segmentation"'}
    with pytest.raises(ModelError, match="instance segmentation is not"):
        resolve_contract(io([("x", (1, 3, 64, 64))], [("y", (1, 38, 100)), ("p", (1, 32, 16, 16))]), meta)
    with pytest.raises(ModelError, match="'Recognition', not a segmentation model"):
        resolve_contract(io([("x", (1, 3, 64, 64))], [("y", (1, 2, 64, 64))]), {"model_type": '"Recognition"'})


def test_a_sidecar_turns_a_deepness_detector_layout_around():
    contract, origin = resolve_contract(io([("x", (1, 3, 64, 64))], [("y", (1, 6, 100))]),
                                        {"model_type": '"Detector"'},
                                        json.dumps({"outputs": [{"kind": "yolo_nms", "classes": [{"value": 0}]}],
                                                    "detection": {"max_object_size_px": 40}}))
    assert contract.outputs[0].kind == "yolo_nms" and contract.detection.max_object_size_px == 40
    assert origin.deepness and origin.sidecar


def test_an_ultralytics_export_runs_from_its_own_metadata():
    meta = {"task": "obb", "names": "{0: 'plane', 1: 'ship', 2: 'harbor'}", "imgsz": "[1024, 1024]", "stride": "32"}
    contract, origin = resolve_contract(io([("images", (1, 3, 1024, 1024))], [("output0", (1, 8, 21504))]), meta)
    assert contract.task == "detection" and contract.outputs[0].kind == "yolo_obb" and not origin.deepness
    assert [c.name for c in contract.all_classes] == ["plane", "ship", "harbor"] and contract.tile_size == 1024
    plain, _ = resolve_contract(io([("images", ("b", 3, "h", "w"))], [("output0", ("b", 6, "n"))]),
                                {"task": "detect", "names": "not a dict"})
    assert plain.outputs[0].kind == "yolo_v8" and len(plain.all_classes) == 2  # the shape's count, names unreadable
