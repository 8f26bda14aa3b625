"""Detection accuracy: detections matched to reference boxes (by IoU) or reference points (by distance).

Matching, per image and per class: detections in descending score order (ties by position), each taking the
unmatched reference of its class that it overlaps most (IoU at least the threshold) or, for points, the
nearest within the distance; a detection that takes one is a true positive (TP), the others false positives
(FP); references nobody took are false negatives (FN). This is the PASCAL VOC / COCO rule.

- precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean, over the detections scoring
  at least ``score_threshold`` (the run's MIN_SCORE), at IoU 0.5;
- AP per class: the area under the precision-recall curve with **all-point interpolation** (precision made
  monotone from the right, summed over every recall step, as PASCAL VOC 2010 and later do; COCO samples the
  same envelope at 101 recalls instead), over every detection given;
- mAP@0.5: mean AP over the classes that have references; mAP@0.5:0.95: mean of mAP at IoU 0.50, 0.55, ...,
  0.95 (COCO's primary figure). With points there is one distance, so only mAP at it is given.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .boxes import axis_corners, iou_matrix, polygon_iou_matrix, score_order
from .detections import Detections

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """All-point interpolated AP of a curve sorted by descending score (recall rising)."""
    if not len(recall):
        return 0.0
    r = np.concatenate([[0.0], recall, [recall[-1]]])
    p = np.concatenate([[1.0 if len(precision) else 0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def match(scores: np.ndarray, overlap: np.ndarray, threshold: float, larger_is_closer: bool = True,
          boxes: np.ndarray | None = None) -> np.ndarray:
    """For each detection (rows of ``overlap``, references in columns): the reference it takes, or -1.

    ``overlap`` holds IoU (``larger_is_closer``, kept when at least ``threshold``) or distances (kept when at
    most ``threshold``). Detections go from the best score down; each takes its closest free reference.
    """
    taken = np.zeros(overlap.shape[1], bool)
    result = np.full(overlap.shape[0], -1, np.int64)
    order = score_order(scores, boxes) if boxes is not None else np.argsort(-scores, kind="stable")
    for index in order:
        row = overlap[index]
        ok = (row >= threshold if larger_is_closer else row <= threshold) & ~taken
        if ok.any():
            best = np.flatnonzero(ok)[np.argmax(row[ok]) if larger_is_closer else np.argmin(row[ok])]
            taken[best] = True
            result[index] = best
    return result


@dataclass
class ClassScores:
    """One class's figures (``curve_*``: the precision-recall curve at the first threshold, best score first)."""

    references: int
    detections: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    ap: list[float]  # per matching threshold (IoU 0.5..0.95, or the one distance)
    curve_recall: np.ndarray = field(repr=False)
    curve_precision: np.ndarray = field(repr=False)
    curve_scores: np.ndarray = field(repr=False)

    @property
    def ap50(self) -> float:
        return self.ap[0]

    @property
    def ap50_95(self) -> float | None:
        return float(np.mean(self.ap)) if len(self.ap) == len(IOU_THRESHOLDS) else None


@dataclass
class DetectionScores:
    """Every figure of a detection assessment; classes by index (names are the caller's)."""

    classes: dict[int, ClassScores]
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    map50: float
    map50_95: float | None
    score_threshold: float
    matched_by: str  # "IoU" or "distance"

    def to_dict(self, names: dict[int, str] | None = None, curves: bool = True) -> dict[str, Any]:
        """JSON-ready figures (NaN where undefined becomes None); curves as lists when ``curves``."""
        names = names or {}
        per_class = []
        for index, scores in sorted(self.classes.items()):
            entry = {"index": index, "name": names.get(index, str(index)), "references": scores.references,
                     "detections": scores.detections, "tp": scores.tp, "fp": scores.fp, "fn": scores.fn,
                     "precision": _finite(scores.precision), "recall": _finite(scores.recall),
                     "f1": _finite(scores.f1), "ap50": _finite(scores.ap50),
                     "ap50_95": None if scores.ap50_95 is None else _finite(scores.ap50_95)}
            if curves:
                entry["curve"] = {"recall": scores.curve_recall.round(6).tolist(),
                                  "precision": scores.curve_precision.round(6).tolist(),
                                  "score": scores.curve_scores.round(6).tolist()}
            per_class.append(entry)
        return {"matched_by": self.matched_by, "score_threshold": self.score_threshold, "tp": self.tp,
                "fp": self.fp, "fn": self.fn, "precision": _finite(self.precision), "recall": _finite(self.recall),
                "f1": _finite(self.f1), "map50": _finite(self.map50),
                "map50_95": None if self.map50_95 is None else _finite(self.map50_95), "classes": per_class}


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


class DetectionAccumulator:
    """Collects matches image by image (detections of one image never match references of another)."""

    def __init__(self, class_count: int, score_threshold: float = 0.0) -> None:
        self.class_count, self.score_threshold = class_count, score_threshold
        self._scores: list[list[np.ndarray]] = [[] for _ in range(class_count)]
        self._hits: list[list[np.ndarray]] = [[] for _ in range(class_count)]
        self._references = np.zeros(class_count, np.int64)
        self.matched_by = ""

    def add_boxes(self, found: Detections, boxes: np.ndarray, classes: np.ndarray,
                  thresholds: tuple[float, ...] = IOU_THRESHOLDS) -> None:
        """One image: detections against reference boxes (x1 y1 x2 y2) and their class indices."""
        self._kind("IoU")
        boxes, classes = np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(classes, np.int64).reshape(-1)
        for label in range(self.class_count):
            mine, refs = found.select(found.classes == label), boxes[classes == label]
            if found.oriented:
                overlap = polygon_iou_matrix(mine.polygons(), axis_corners(refs))
            else:
                overlap = iou_matrix(mine.boxes, refs)
            hits = np.stack([match(mine.scores, overlap, t, True, mine.boxes) >= 0 for t in thresholds], axis=1) \
                if len(mine) else np.zeros((0, len(thresholds)), bool)
            self._record(label, mine.scores, hits, len(refs))

    def add_points(self, found: Detections, points: np.ndarray, classes: np.ndarray, max_distance: float) -> None:
        """One image: detections (their centres) against reference points within ``max_distance`` pixels."""
        self._kind("distance")
        points, classes = np.asarray(points, np.float64).reshape(-1, 2), np.asarray(classes, np.int64).reshape(-1)
        centres = found.centres()
        for label in range(self.class_count):
            chosen = found.classes == label
            refs = points[classes == label]
            distance = np.hypot(*(centres[chosen][:, None, :] - refs[None, :, :]).transpose(2, 0, 1))
            taken = match(found.scores[chosen], distance, max_distance, False, found.boxes[chosen])
            self._record(label, found.scores[chosen], (taken >= 0)[:, None], len(refs))

    def _kind(self, kind: str) -> None:
        if self.matched_by and self.matched_by != kind:
            raise ValueError("reference boxes and reference points cannot be scored together")
        self.matched_by = kind

    def _record(self, label: int, scores: np.ndarray, hits: np.ndarray, references: int) -> None:
        self._scores[label].append(np.asarray(scores, np.float64))
        self._hits[label].append(hits)
        self._references[label] += references

    def best_threshold(self) -> float:
        """The score threshold at which F1 over all classes (first matching threshold) is highest (0 when nothing
        was detected): a model's default MIN_SCORE, chosen on validation ground."""
        scores = np.concatenate([np.concatenate(s) for s in self._scores if s] or [np.zeros(0)])
        hits = np.concatenate([np.concatenate(h)[:, 0] for h in self._hits if h] or [np.zeros(0, bool)])
        if not len(scores):
            return 0.0
        order = np.argsort(-scores, kind="stable")
        scores, hits = scores[order], hits[order]
        tp = np.cumsum(hits)
        f1 = 2 * tp / (np.arange(1, len(tp) + 1) + int(self._references.sum()))
        last = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True])  # the end of each run of equal scores
        return float(scores[last[np.argmax(f1[last])]])

    def result(self, score_threshold: float | None = None) -> DetectionScores:
        """The figures over everything added (P, R, F1 at ``score_threshold``, else the accumulator's)."""
        if score_threshold is not None:
            self.score_threshold = float(score_threshold)
        per_class = {label: self._class(label) for label in range(self.class_count)}
        tp, fp, fn = (sum(getattr(c, k) for c in per_class.values()) for k in ("tp", "fp", "fn"))
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        present = [c for c in per_class.values() if c.references]
        map50 = float(np.mean([c.ap50 for c in present])) if present else float("nan")
        map50_95 = None
        if self.matched_by != "distance":
            full = [c.ap50_95 for c in present]
            map50_95 = float(np.mean([v for v in full if v is not None])) if present else float("nan")
        return DetectionScores(per_class, tp, fp, fn, precision, recall, _f1(precision, recall), map50, map50_95,
                               self.score_threshold, self.matched_by or "IoU")

    def _class(self, label: int) -> ClassScores:
        scores = np.concatenate(self._scores[label]) if self._scores[label] else np.zeros(0)
        width = self._hits[label][0].shape[1] if self._hits[label] else 1
        hits = np.concatenate(self._hits[label]) if self._hits[label] else np.zeros((0, width), bool)
        references = int(self._references[label])
        order = np.argsort(-scores, kind="stable")
        scores, hits = scores[order], hits[order]
        ap, curves = [], []
        for column in range(hits.shape[1]):
            tp_cum = np.cumsum(hits[:, column])
            recall = tp_cum / references if references else np.zeros(len(tp_cum))
            precision = tp_cum / np.arange(1, len(tp_cum) + 1)
            ap.append(average_precision(recall, precision) if references else float("nan"))
            curves.append((recall, precision))
        counted = scores >= self.score_threshold
        tp = int(hits[counted, 0].sum())
        fp = int(counted.sum()) - tp
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, references)
        return ClassScores(references, int(counted.sum()), tp, fp, references - tp, precision, recall,
                           _f1(precision, recall), ap, curves[0][0], curves[0][1], scores)


def _f1(precision: float, recall: float) -> float:
    if not (np.isfinite(precision) and np.isfinite(recall)) or precision + recall == 0:
        return 0.0 if np.isfinite(precision) and np.isfinite(recall) else float("nan")
    return 2 * precision * recall / (precision + recall)
