"""Detections of neighbouring windows merged as they stream in, decided as soon as no later window can change
them.

The pool holds detections in area pixels, each flagged *cut* when it touches an interior edge of its window.
Windows overlap by at least the largest object, so every object lies whole in some window; a cut detection
is therefore dropped when a whole detection of its class covers most of it (``cover_share``). The others go
through class-wise greedy non-maximum suppression over all windows, best score first, ties broken by
position (:func:`.boxes.score_order`).

:meth:`DetectionPool.settle` decides what it can: later windows only add boxes below ``frontier`` (the top
of the next window row) or right of ``next_panel`` (the next column panel), so a box reaching neither can
meet no later box. Going down the score order, a box is *kept* when it is settled and no better box of its
class that is kept or still open overlaps it; *suppressed* when a better kept box does; otherwise it stays
open. Kept boxes are final (yielded), suppressed and dropped ones are forgotten, open ones wait. When the
last window is in, nothing is open, and the result is exactly what one greedy pass over every window's
detections gives, whatever the order the windows came in.
"""
from __future__ import annotations

import numpy as np

from .boxes import convex_intersection as _clip
from .boxes import intersection_matrix, polygon_area, score_order
from .detections import Detections

OPEN, KEPT, SUPPRESSED, DROPPED = 0, 1, 2, 3


class DetectionPool:
    """Undecided detections in area pixels, with their cut flags."""

    def __init__(self, iou_threshold: float, cover_share: float = 0.5, oriented: bool = False) -> None:
        self.iou_threshold, self.cover_share = iou_threshold, cover_share
        self.detections = Detections.empty(oriented)
        self.cut = np.zeros(0, bool)

    def __len__(self) -> int:
        return len(self.detections)

    def add(self, detections: Detections, cut: np.ndarray) -> None:
        self.detections = Detections.concat([self.detections, detections], self.detections.oriented)
        self.cut = np.concatenate([self.cut, np.asarray(cut, bool)])

    def forget_windows_from(self, column: int) -> None:
        """Drop open detections of windows in grid column ``column`` or right of it (the next panel runs those
        windows again)."""
        keep = self.detections.windows[:, 1] < column
        self.detections, self.cut = self.detections.select(keep), self.cut[keep]

    def settle(self, frontier: float, next_panel: float) -> Detections:
        """Decide every detection no later box can reach; return the kept ones (in score order)."""
        boxes = self.detections.boxes
        if not len(boxes):
            return self.detections
        reachable = (boxes[:, 3] > frontier) | (boxes[:, 2] > next_panel)
        order = score_order(self.detections.scores, boxes)
        rank = np.empty(len(boxes), np.int64)
        rank[order] = np.arange(len(boxes))  # 0: the best
        pairs = self._overlaps()
        exists = self._existence(pairs, reachable)
        state = np.full(len(boxes), OPEN)
        for index in order:
            state[index] = self._decide(index, exists[index], bool(reachable[index]), pairs, state, rank)
        kept = self.detections.select(order[state[order] == KEPT])
        still_open = state == OPEN
        self.detections, self.cut = self.detections.select(still_open), self.cut[still_open]
        return kept

    # ---- the decisions --------------------------------------------------------------------------------
    def _decide(self, index: int, exists: int, reachable: bool, pairs: dict[int, list[tuple[int, float, float]]],
                state: np.ndarray, rank: np.ndarray) -> int:
        if exists == DROPPED:
            return DROPPED
        open_above = False
        for other, iou, _ in pairs.get(index, ()):
            if rank[other] > rank[index] or iou <= self.iou_threshold:
                continue  # a worse box, or one that overlaps too little to matter
            if state[other] == KEPT:
                return SUPPRESSED
            if state[other] == OPEN:
                open_above = True
        return OPEN if open_above or reachable or exists == OPEN else KEPT

    def _existence(self, pairs: dict[int, list[tuple[int, float, float]]], reachable: np.ndarray) -> np.ndarray:
        """KEPT for whole detections and cut ones no whole one covers (when no later one can), DROPPED for cut
        ones a whole one covers, OPEN for cut ones a later window may still cover."""
        exists = np.full(len(self.cut), KEPT)
        for index in np.flatnonzero(self.cut):
            covered = any(not self.cut[other] and share >= self.cover_share
                          for other, _, share in pairs.get(int(index), ()))
            exists[index] = DROPPED if covered else (OPEN if reachable[index] else KEPT)
        return exists

    def _overlaps(self) -> dict[int, list[tuple[int, float, float]]]:
        """For each detection, the others of its class it shares area with: (other, IoU, share of this one the
        other covers). A sweep along x finds the candidates, so the cost follows the overlaps, not n squared."""
        found = self.detections
        boxes, classes = found.boxes, found.classes
        order = np.argsort(boxes[:, 0], kind="stable")
        starts = boxes[order, 0]
        polygons = found.polygons() if found.oriented else None
        areas = self._areas(polygons)
        pairs: dict[int, list[tuple[int, float, float]]] = {}
        for position, index in enumerate(order):
            end = np.searchsorted(starts, boxes[index, 2], side="left")
            others = order[position + 1:end]
            others = others[classes[others] == classes[index]]
            if not len(others):
                continue
            shared = self._shared(index, others, polygons)
            for other, area in zip(others, shared):
                if area <= 0:
                    continue
                union = areas[index] + areas[other] - area
                iou = area / union if union > 0 else 0.0
                pairs.setdefault(int(index), []).append((int(other), iou, area / max(areas[index], 1e-12)))
                pairs.setdefault(int(other), []).append((int(index), iou, area / max(areas[other], 1e-12)))
        return pairs

    def _areas(self, polygons: np.ndarray | None) -> np.ndarray:
        if polygons is None:
            boxes = self.detections.boxes
            return (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
        return np.array([polygon_area(p) for p in polygons])

    def _shared(self, index: int, others: np.ndarray, polygons: np.ndarray | None) -> np.ndarray:
        boxes = self.detections.boxes
        shared = intersection_matrix(boxes[index:index + 1], boxes[others])[0]
        if polygons is None:
            return shared
        return np.array([polygon_area(_clip(polygons[index], polygons[o])) if s > 0 else 0.0
                         for o, s in zip(others, shared)])
