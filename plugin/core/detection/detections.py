"""A set of detections as parallel numpy arrays: boxes, scores, class indices, optional angles, windows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .boxes import axis_corners, oriented_corners


@dataclass
class Detections:
    """Detections in one coordinate frame (a window's pixels, or the processing area's).

    ``boxes`` are x1 y1 x2 y2; for oriented boxes they are the bounding boxes of ``rotated`` (cx, cy, w, h,
    angle in radians, see :func:`.boxes.oriented_corners`). ``classes`` index the contract's classes.
    ``windows`` is the (window row, window column) of the grid that reported each detection, or -1.
    """

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    rotated: np.ndarray | None = None
    windows: np.ndarray = None  # type: ignore[assignment]  # None: -1 (no window) for every detection

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, np.float64).reshape(-1, 4)
        self.scores = np.asarray(self.scores, np.float64).reshape(-1)
        self.classes = np.asarray(self.classes, np.int64).reshape(-1)
        if self.rotated is not None:
            self.rotated = np.asarray(self.rotated, np.float64).reshape(-1, 5)
        self.windows = (np.full((len(self.scores), 2), -1, np.int64) if self.windows is None
                        else np.asarray(self.windows, np.int64).reshape(-1, 2))
        lengths = {len(self.boxes), len(self.scores), len(self.classes), len(self.windows)}
        if self.rotated is not None:
            lengths.add(len(self.rotated))
        if len(lengths) != 1:
            raise ValueError(f"detection arrays of different lengths: {sorted(lengths)}")

    @classmethod
    def empty(cls, oriented: bool = False) -> "Detections":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), np.zeros((0, 5)) if oriented else None)

    @classmethod
    def from_rotated(cls, rotated: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                     windows: np.ndarray = None) -> "Detections":  # type: ignore[assignment]
        """Oriented boxes (cx, cy, w, h, angle); their bounding boxes are computed."""
        rotated = np.asarray(rotated, np.float64).reshape(-1, 5)
        corners = oriented_corners(rotated[:, :4], rotated[:, 4])
        bounds = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1) if len(rotated) else \
            np.zeros((0, 4))
        return cls(bounds, scores, classes, rotated, windows)

    @classmethod
    def concat(cls, parts: Sequence["Detections"], oriented: bool | None = None) -> "Detections":
        """All ``parts`` in one set (oriented when any part is)."""
        oriented = any(p.oriented for p in parts) if oriented is None else oriented
        if not parts:
            return cls.empty(oriented)
        rotated = np.concatenate([p.rotated_or_axis() for p in parts]) if oriented else None
        return cls(np.concatenate([p.boxes for p in parts]), np.concatenate([p.scores for p in parts]),
                   np.concatenate([p.classes for p in parts]), rotated,
                   np.concatenate([p.windows for p in parts]))

    @property
    def oriented(self) -> bool:
        return self.rotated is not None

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, index: np.ndarray) -> "Detections":
        """The detections at ``index`` (indices or a boolean mask)."""
        return Detections(self.boxes[index], self.scores[index], self.classes[index],
                          None if self.rotated is None else self.rotated[index],
                          self.windows[index])

    def rotated_or_axis(self) -> np.ndarray:
        """(n, 5) cx, cy, w, h, angle: the oriented boxes, or the axis-aligned ones at angle 0."""
        if self.rotated is not None:
            return self.rotated
        centre = (self.boxes[:, :2] + self.boxes[:, 2:]) / 2
        size = self.boxes[:, 2:] - self.boxes[:, :2]
        return np.column_stack([centre, size, np.zeros(len(self))])

    def polygons(self) -> np.ndarray:
        """(n, 4, 2) corners of each box (oriented ones turned)."""
        if self.rotated is not None:
            return oriented_corners(self.rotated[:, :4], self.rotated[:, 4])
        return axis_corners(self.boxes)

    def centres(self) -> np.ndarray:
        """(n, 2) box centres."""
        if self.rotated is not None:
            return self.rotated[:, :2].copy()
        return (self.boxes[:, :2] + self.boxes[:, 2:]) / 2

    def shifted(self, dx: float, dy: float) -> "Detections":
        """The same detections moved by (dx, dy) pixels."""
        rotated = None
        if self.rotated is not None:
            rotated = self.rotated.copy()
            rotated[:, 0] += dx
            rotated[:, 1] += dy
        return Detections(self.boxes + np.array([dx, dy, dx, dy]), self.scores, self.classes, rotated, self.windows)

    def with_window(self, row: int, col: int) -> "Detections":
        """The same detections, all reported by window (``row``, ``col``) of the grid."""
        windows = np.tile(np.array([[row, col]], np.int64), (len(self), 1))
        return Detections(self.boxes, self.scores, self.classes, self.rotated, windows)
