"""From a detector's raw outputs to detections per window: every layout of :mod:`..contract_detection`.

:class:`Decoder` checks each output's shape against the layout and the contract's class count (a clear
:class:`ModelError` names the output, its shape and what was expected), keeps the candidates scoring at
least ``min_score`` (at most ``PRE_NMS_LIMIT`` per image, the best) and returns them in the pixels of
the window the model was given. Non-maximum suppression and the per-window cap come after
(:func:`.windows.finish_window`), so that test-time variants are merged first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ModelError
from ..model.contract import ModelContract
from ..model.contract_detection import LAYOUT_ANCHORS, LAYOUT_BOXES_SCORES_LABELS, detection_layout
from .boxes import cxcywh_to_xyxy
from .detections import Detections

PRE_NMS_LIMIT = 10_000  # candidates per image kept for NMS (the best); more cost time and never survive it


@dataclass(frozen=True)
class _Parts:
    """One image's candidate arrays before they become Detections."""

    boxes: np.ndarray  # (n, 4) x1 y1 x2 y2, or (n, 4) cx cy w h when ``angles`` is given
    scores: np.ndarray
    classes: np.ndarray
    angles: np.ndarray | None = None


class Decoder:
    """Decodes one batch of raw outputs (one array per contract output, in order) into detections per image."""

    def __init__(self, contract: ModelContract) -> None:
        self.contract = contract
        self.kinds = [o.kind for o in contract.outputs]
        self.names = [o.name or f"output {i}" for i, o in enumerate(contract.outputs)]
        self.layout = detection_layout(self.kinds)
        self.class_count = len(contract.all_classes)
        self.oriented = self.layout == "yolo_obb" or "angles" in self.kinds
        readers: dict[str, Callable[[dict[str, np.ndarray], int, float], _Parts]] = {
            LAYOUT_ANCHORS: self._anchors, "yolo_v5": self._yolo_rows, "yolo_v6": self._yolo_rows,
            "yolo_v8": self._yolo_columns, "yolo_obb": self._yolo_columns, "yolo_nms": self._yolo_nms,
            LAYOUT_BOXES_SCORES_LABELS: self._boxes_scores_labels}
        self._read = readers[self.layout]

    def decode(self, outputs: list[np.ndarray], min_score: float) -> list[Detections]:
        """Candidates scoring at least ``min_score`` for each image of the batch, in window pixels."""
        if len(outputs) != len(self.kinds):
            raise ModelError(f"The detector returned {len(outputs)} outputs; its contract describes {len(self.kinds)} "
                             f"({', '.join(self.kinds)}).")
        named = {kind: np.asarray(array) for kind, array in zip(self.kinds, outputs)}
        images = self._batch_size(named)
        return [self._detections(self._read(named, image, min_score)) for image in range(images)]

    # ---- shapes -------------------------------------------------------------------------------------
    def _batch_size(self, named: dict[str, np.ndarray]) -> int:
        sizes = set()
        for kind, array in named.items():
            per_box = kind in ("labels", "angles") or (kind == "scores" and self.layout != LAYOUT_ANCHORS)
            rank = 2 if per_box else 3
            if array.ndim == rank - 1:  # a single image without the batch axis (torchvision style)
                named[kind] = array = array[None]
            if array.ndim != rank:
                self._refuse(kind, array, f"{rank} axes (batch first)")
            sizes.add(array.shape[0])
        if len(sizes) != 1:
            raise ModelError(f"The detector's outputs disagree on the batch size ({sorted(sizes)}).")
        return sizes.pop()

    def _refuse(self, kind: str, array: np.ndarray, expected: str) -> None:
        name = self.names[self.kinds.index(kind)]
        raise ModelError(f"The detector's output '{name}' (kind '{kind}') has shape {list(array.shape)}; expected "
                         f"{expected} for the '{self.layout}' layout with the {self.class_count} class(es) its "
                         "contract lists. Check outputs[].kind and outputs[].classes in the contract (a CONTRACT "
                         "sidecar can correct them).")

    def _require_finite(self, kind: str, array: np.ndarray) -> None:
        if not np.isfinite(array).all():
            name = self.names[self.kinds.index(kind) if kind in self.kinds else 0]
            raise ModelError(f"The detector returned NaN or infinite values in output '{name}'; the run was stopped "
                             "and nothing was written. Check the model and its normalisation (input.scale, offset, "
                             "mean, std in the contract).")

    # ---- layouts ------------------------------------------------------------------------------------
    def _anchors(self, named: dict[str, np.ndarray], image: int, min_score: float) -> _Parts:
        boxes, scores = named["boxes"][image], named["scores"][image]
        if boxes.shape[-1] != 4:
            self._refuse("boxes", named["boxes"], "(batch, anchors, 4) boxes x1 y1 x2 y2")
        if scores.shape != (len(boxes), self.class_count):
            self._refuse("scores", named["scores"], f"(batch, {len(boxes)} anchors, {self.class_count} classes)")
        self._require_finite("scores", scores)
        anchor, label = np.nonzero(scores >= min_score)  # every class over the threshold, as torchvision does
        return self._angled(named, image, boxes[anchor], scores[anchor, label], label, anchor)

    def _yolo_rows(self, named: dict[str, np.ndarray], image: int, min_score: float) -> _Parts:
        kind = self.layout
        rows = named[kind][image]
        if rows.shape[-1] != 5 + self.class_count:
            self._refuse(kind, named[kind], f"(batch, boxes, {5 + self.class_count}): cx cy w h, objectness, one "
                         "score per class")
        self._require_finite(kind, rows)
        classes = rows[:, 5:]
        if kind == "yolo_v5":
            classes = classes * rows[:, 4:5]  # YOLOv5/v7: objectness times the class probability
        keep, score, label = self._best_class(classes, min_score)
        return _Parts(cxcywh_to_xyxy(rows[keep, :4]), score, label)

    def _yolo_columns(self, named: dict[str, np.ndarray], image: int, min_score: float) -> _Parts:
        kind = self.layout
        extra = 5 if kind == "yolo_obb" else 4
        columns = named[kind][image]
        if columns.shape[0] != extra + self.class_count:
            what = "cx cy w h, one score per class, angle" if kind == "yolo_obb" else "cx cy w h, one score per class"
            self._refuse(kind, named[kind], f"(batch, {extra + self.class_count}, boxes): {what}")
        self._require_finite(kind, columns)
        rows = columns.T
        keep, score, label = self._best_class(rows[:, 4:4 + self.class_count], min_score)
        if kind == "yolo_obb":
            return _Parts(rows[keep, :4], score, label, rows[keep, -1])
        return _Parts(cxcywh_to_xyxy(rows[keep, :4]), score, label)

    def _yolo_nms(self, named: dict[str, np.ndarray], image: int, min_score: float) -> _Parts:
        rows = named["yolo_nms"][image]
        if rows.shape[-1] != 6:
            self._refuse("yolo_nms", named["yolo_nms"], "(batch, boxes, 6): x1 y1 x2 y2 score class")
        self._require_finite("yolo_nms", rows)
        rows = rows[rows[:, 4] >= min_score]
        return _Parts(rows[:, :4], rows[:, 4], self._class_indices("yolo_nms", rows[:, 5]))

    def _boxes_scores_labels(self, named: dict[str, np.ndarray], image: int, min_score: float) -> _Parts:
        boxes, scores, labels = named["boxes"][image], named["scores"][image], named["labels"][image]
        if boxes.shape[-1] != 4:
            self._refuse("boxes", named["boxes"], "(batch, boxes, 4) boxes x1 y1 x2 y2")
        if scores.shape != (len(boxes),) or labels.shape != (len(boxes),):
            self._refuse("scores" if scores.shape != (len(boxes),) else "labels",
                         named["scores"] if scores.shape != (len(boxes),) else named["labels"],
                         f"(batch, {len(boxes)}): one value per box")
        self._require_finite("scores", scores)
        keep = np.flatnonzero(scores >= min_score)
        return self._angled(named, image, boxes[keep], scores[keep], self._class_indices("labels", labels[keep]), keep)

    # ---- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _best_class(classes: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One detection per row, of its best class: (rows kept, their scores, their classes)."""
        if not classes.size:
            return np.zeros(len(classes), bool), np.zeros(0), np.zeros(0, np.int64)
        label = np.argmax(classes, axis=1)
        score = classes[np.arange(len(classes)), label]
        keep = score >= min_score
        return keep, score[keep], label[keep]

    def _class_indices(self, kind: str, values: np.ndarray) -> np.ndarray:
        """Class values a model wrote as numbers (labels, a class column) checked against the classes listed."""
        if not len(values):
            return np.zeros(0, np.int64)
        self._require_finite(kind, values)
        rounded = np.rint(values)
        bad = (np.abs(values - rounded) > 1e-3) | (rounded < 0) | (rounded >= self.class_count)
        if bad.any():
            name = self.names[self.kinds.index(kind)]
            raise ModelError(f"The detector's output '{name}' gives class {values[bad][0]:g}, but its contract lists "
                             f"{self.class_count} class(es) (indices 0 to {self.class_count - 1}). List every class "
                             "the model predicts in outputs[].classes, in the order of its class numbers (background "
                             "first for models that number classes from 1).")
        return rounded.astype(np.int64)

    def _angled(self, named: dict[str, np.ndarray], image: int, boxes: np.ndarray, scores: np.ndarray,
                classes: np.ndarray, rows: np.ndarray) -> _Parts:
        """Axis-aligned parts, or with an 'angles' output, oriented ones (boxes turned about their centre)."""
        if "angles" not in named:
            return _Parts(boxes, scores, classes)
        angles = named["angles"][image]
        if angles.shape != (len(named["boxes"][image]),):
            self._refuse("angles", named["angles"], "(batch, boxes): one angle per box, in radians")
        self._require_finite("angles", angles)
        centre, size = (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]
        return _Parts(np.column_stack([centre, size]), scores, classes, angles[rows])

    def _detections(self, parts: _Parts) -> Detections:
        self._require_finite("boxes" if "boxes" in self.kinds else self.kinds[0], parts.boxes)
        # Boxes without area or without score (a model's padding rows) are no detections, whatever MIN_SCORE.
        if parts.angles is None:
            sized = (parts.boxes[:, 2] > parts.boxes[:, 0]) & (parts.boxes[:, 3] > parts.boxes[:, 1])
        else:
            sized = (parts.boxes[:, 2] > 0) & (parts.boxes[:, 3] > 0)
        sized &= parts.scores > 0
        if not sized.all():
            parts = _Parts(parts.boxes[sized], parts.scores[sized], parts.classes[sized],
                           None if parts.angles is None else parts.angles[sized])
        if len(parts.scores) > PRE_NMS_LIMIT:
            best = np.argsort(-parts.scores, kind="stable")[:PRE_NMS_LIMIT]
            parts = _Parts(parts.boxes[best], parts.scores[best], parts.classes[best],
                           None if parts.angles is None else parts.angles[best])
        if parts.angles is not None:
            return Detections.from_rotated(np.column_stack([parts.boxes, parts.angles]), parts.scores, parts.classes)
        if self.oriented:
            return Detections.from_rotated(np.column_stack([(parts.boxes[:, :2] + parts.boxes[:, 2:]) / 2,
                                                            parts.boxes[:, 2:] - parts.boxes[:, :2],
                                                            np.zeros(len(parts.scores))]), parts.scores, parts.classes)
        return Detections(parts.boxes, parts.scores, parts.classes)
