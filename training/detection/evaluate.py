"""Scoring a detector on windows of validation (or test) ground with the plugin's own decoding, suppression and
metrics, exactly as the exported model will be run: the anchors layout decoded by ``Decoder``, class-wise NMS
per window, detections and objects counted where their centre lies on the scored ground of the window's tile."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._plugin import contract, detection, preprocess
from ..data import split as split_module
from .data import DetectionData, ScoredWindow
from .labels import ObjectSet

EVAL_MIN_SCORE = 0.05  # detections kept for AP (the precision-recall curve needs the low scores too)
Detections = detection.Detections


@dataclass
class DetectionEvaluation:
    """The figures of one scoring, at the score threshold used for precision, recall and F1."""

    scores: detection.DetectionScores
    threshold: float
    windows: int

    @property
    def map50(self) -> float:
        value = self.scores.map50
        return 0.0 if not np.isfinite(value) else float(value)


def predict(model: torch.nn.Module, image: np.ndarray, device: torch.device) -> list[np.ndarray]:
    """Boxes and scores of one normalised (bands, h, w) image, padded to a multiple of 32 (zeros: the mean)."""
    bands, height, width = image.shape
    padded = np.zeros((bands, -(-height // 32) * 32, -(-width // 32) * 32), np.float32)
    padded[:, :height, :width] = image
    with torch.no_grad():
        boxes, scores = model(torch.from_numpy(padded)[None].to(device))
    return [boxes.float().cpu().numpy(), scores.float().cpu().numpy()]


def _on_ground(points: np.ndarray, item: ScoredWindow) -> np.ndarray:
    """Points (read-window pixels) inside the scored tile and on scored (VALIDATION) ground."""
    (r0, r1), (c0, c1) = item.window.rows, item.window.cols
    inside = (points[:, 0] >= c0) & (points[:, 0] < c1) & (points[:, 1] >= r0) & (points[:, 1] < r1)
    result = np.zeros(len(points), bool)
    cols, rows = np.floor(points[inside]).astype(int).T
    result[inside] = item.roles[rows, cols] == split_module.VALIDATION
    return result


def evaluate_detector(model: torch.nn.Module, data: DetectionData, windows: list[ScoredWindow],
                      model_contract: contract.ModelContract, objects: ObjectSet, device: torch.device,
                      score_threshold: float | None = None) -> DetectionEvaluation:
    """Score ``model`` on ``windows`` against ``objects``; ``score_threshold`` None: the best F1's."""
    decoder = detection.Decoder(model_contract)
    spec = model_contract.detection or contract.DetectionSpec()
    accumulator = detection.DetectionAccumulator(len(data.classes))
    model.eval()
    for item in windows:
        read = item.window.read.window
        raw, valid = data.read(read)
        outputs = predict(model, preprocess.normalise(raw, data.input, valid), device)
        found = decoder.decode(outputs, EVAL_MIN_SCORE)[0]
        found = detection.finish_window(found, spec.iou_threshold, spec.max_detections)
        found = found.select(_on_ground(found.centres(), item))
        origin = np.array([read.col, read.row], np.float64)
        references = objects.select(_on_ground(objects.centres - origin, item))
        accumulator.add_boxes(found, references.boxes - np.tile(origin, 2), references.classes)
    threshold = accumulator.best_threshold() if score_threshold is None else score_threshold
    return DetectionEvaluation(accumulator.result(threshold), threshold, len(windows))
