"""The detection part of the model contract: output layouts and the ``detection`` section.

A detector's contract has ``task: "detection"``; each entry of ``outputs[]`` names, by its ``kind``,
what that ONNX output holds. The kinds combine into one of these layouts (``b`` batch, ``n`` boxes,
``nc`` classes; coordinates in pixels of the window the model was given, x to the right, y down)::

    layout              outputs (kinds)            shapes                        boxes are
    anchors             boxes, scores [, angles]   [b, n, 4], [b, n, nc]         x1 y1 x2 y2 per anchor,
                                                                                 sigmoid scores per class;
                                                                                 NMS by the plugin (what
                                                                                 our training exports)
    yolo_v5             yolo_v5                    [b, n, 5 + nc]                cx cy w h, objectness,
                                                                                 class scores; score =
                                                                                 objectness x class score
    yolo_v6             yolo_v6                    [b, n, 5 + nc]                as yolo_v5, objectness
                                                                                 ignored (score = class)
    yolo_v8             yolo_v8                    [b, 4 + nc, n]                cx cy w h, class scores
                                                                                 (YOLOv8, v9, v11)
    yolo_obb            yolo_obb                   [b, 4 + nc + 1, n]            cx cy w h, class scores,
                                                                                 angle (radians): oriented
    yolo_nms            yolo_nms                   [b, n, 6]                     x1 y1 x2 y2 score class,
                                                                                 NMS done by the model
                                                                                 (rows of score 0 pad)
    boxes_scores_labels boxes, scores, labels      [b, n, 4], [b, n], [b, n]     torchvision style, final
                        [, angles]                 (or without the batch axis)   detections per image

``angles`` (optional, [b, n] or [n], radians, counter-clockwise as seen on the map) turns boxes into
oriented boxes rotated about their centre. The classes are listed on one output (``classes[]``):
class *i* of a score channel, a ``labels`` value or a ``yolo_nms`` class column is ``classes[i]``
(models that number classes from 1, as torchvision's do, list a background class first).

The ``detection`` section (all optional)::

    score_threshold     0.25   detections scoring less are dropped (MIN_SCORE overrides it)
    iou_threshold       0.5    class-wise non-maximum suppression, within and across windows
    max_detections      300    per window, the best-scoring kept (MAX_DETECTIONS overrides it)
    max_object_size_px  null   the largest object in pixels: windows overlap by at least this, so every
                               object is seen whole in some window (null: a quarter of the window)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..errors import ContractError
from . import contract_validation as check

TASKS = ("segmentation", "detection")
YOLO_KINDS = ("yolo_v5", "yolo_v6", "yolo_v8", "yolo_obb", "yolo_nms")
PART_KINDS = ("boxes", "scores", "labels", "angles")
DETECTION_OUTPUT_KINDS = YOLO_KINDS + PART_KINDS
LAYOUT_ANCHORS = "anchors"
LAYOUT_BOXES_SCORES_LABELS = "boxes_scores_labels"
LAYOUTS = (LAYOUT_ANCHORS, *YOLO_KINDS, LAYOUT_BOXES_SCORES_LABELS)
DETECTION_KEYS = ("score_threshold", "iou_threshold", "max_detections", "max_object_size_px")
DEFAULT_SCORE_THRESHOLD = 0.25
DEFAULT_IOU_THRESHOLD = 0.5
DEFAULT_MAX_DETECTIONS = 300
MAX_DETECTIONS_LIMIT = 100_000
_COMBINATIONS = ("one output of kind " + ", ".join(YOLO_KINDS) + "; or 'boxes' and 'scores' (anchors, NMS by the "
                 "plugin); or 'boxes', 'scores' and 'labels' (final detections); each optionally with 'angles'")


@dataclass(frozen=True)
class DetectionSpec:
    """The detection settings of a contract (see the module docstring)."""

    score_threshold: float = DEFAULT_SCORE_THRESHOLD
    iou_threshold: float = DEFAULT_IOU_THRESHOLD
    max_detections: int = DEFAULT_MAX_DETECTIONS
    max_object_size_px: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"score_threshold": self.score_threshold, "iou_threshold": self.iou_threshold,
                "max_detections": self.max_detections, "max_object_size_px": self.max_object_size_px}


def detection_from_dict(value: Any, source: str) -> DetectionSpec:
    """The ``detection`` section (absent or null: the defaults)."""
    if value is None:
        return DetectionSpec()
    if not isinstance(value, Mapping):
        raise ContractError(f"{source}: 'detection' must be an object or null, got {value!r}.")
    check.check_keys(value, DETECTION_KEYS, "detection", source)
    score = check.optional_float(value, "score_threshold", source, 0.0, 1.0, "detection")
    iou = check.optional_float(value, "iou_threshold", source, 0.0, 1.0, "detection")
    most = check.optional_int(value, "max_detections", source, 1, MAX_DETECTIONS_LIMIT, "detection")
    size = check.optional_int(value, "max_object_size_px", source, 1, check.MAX_TILE_SIZE, "detection")
    return DetectionSpec(DEFAULT_SCORE_THRESHOLD if score is None else score,
                         DEFAULT_IOU_THRESHOLD if iou is None else iou,
                         DEFAULT_MAX_DETECTIONS if most is None else most, size)


def check_output_kind(kind: Any, task: str, source: str, where: str, segmentation_kinds: Sequence[str]) -> str:
    """``kind`` if it belongs to ``task``; a message naming the task's kinds otherwise."""
    if task == "detection":
        if kind is None:
            raise ContractError(f"{source}: '{where}.kind' is missing: the model's output names and shapes do not "
                                "tell what it holds. Give it in a CONTRACT sidecar, one of "
                                f"{', '.join(DETECTION_OUTPUT_KINDS)} (the README's detection section shows them).")
        if kind in DETECTION_OUTPUT_KINDS:
            return str(kind)
        if kind in segmentation_kinds:
            raise ContractError(f"{source}: '{where}.kind' is {kind!r}, a kind of segmentation output (only "
                                "'segmentation' models output logits, probabilities or sigmoid maps); a "
                                f"'detection' model's outputs are of kind {', '.join(DETECTION_OUTPUT_KINDS)}.")
        raise ContractError(f"{source}: '{where}.kind' is {kind!r}; a detection model's outputs are of kind "
                            f"{', '.join(DETECTION_OUTPUT_KINDS)}.")
    if kind in segmentation_kinds:
        return str(kind)
    if kind in DETECTION_OUTPUT_KINDS:
        raise ContractError(f"{source}: '{where}.kind' is {kind!r}, a detection output; set \"task\": "
                            "\"detection\" for an object detector, or use one of "
                            f"{', '.join(segmentation_kinds)} for a segmentation model.")
    raise ContractError(f"{source}: '{where}.kind' is {kind!r}; use one of {', '.join(segmentation_kinds)}.")


def detection_layout(kinds: Sequence[str], source: str = "contract") -> str:
    """The layout that a detector's output kinds make (raises ContractError for any other combination)."""
    if len(set(kinds)) != len(kinds):
        raise ContractError(f"{source}: the outputs repeat a kind ({list(kinds)}); each part of a detection "
                            f"comes from one output. Accepted: {_COMBINATIONS}.")
    parts = set(kinds) - {"angles"}
    if len(kinds) == 1 and kinds[0] in YOLO_KINDS:
        return kinds[0]
    if parts == {"boxes", "scores"}:
        return LAYOUT_ANCHORS
    if parts == {"boxes", "scores", "labels"}:
        return LAYOUT_BOXES_SCORES_LABELS
    raise ContractError(f"{source}: a detection model's outputs of kinds {list(kinds)} make no known layout. "
                        f"Accepted: {_COMBINATIONS}.")


def check_detection_classes(class_counts: Sequence[int], source: str) -> None:
    """The classes of a detector are listed on exactly one of its outputs."""
    carrying = [i for i, count in enumerate(class_counts) if count]
    if len(carrying) != 1:
        listed = "none of its outputs" if not carrying else f"outputs {carrying}"
        raise ContractError(f"{source}: a detection model lists its classes on one output (outputs[].classes), "
                            f"here {listed}; give the classes the model predicts, in the order of its class "
                            "indices, on one output.")
