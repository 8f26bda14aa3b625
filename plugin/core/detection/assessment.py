"""Scoring a map's detections against reference objects (boxes or points) over a whole area, in map units.

The matching and the figures are those of :mod:`.metrics` (PASCAL VOC / COCO greedy matching by score, AP with
all-point interpolation, mAP@0.5 and mAP@0.5:0.95). A map holds thousands of objects, and one IoU matrix of every
detection against every reference would not fit in memory; but a detection can only take a reference that its
box overlaps (or, for points, whose point lies within the distance of its centre). So the objects are split into
*groups* linked by such contacts (:func:`contact_groups`: a uniform grid of cells, then union-find over the pairs
whose bounds really meet), and each group is matched on its own: no match can cross two groups, so the result is
exactly that of one matrix over everything. Detections and references in no group are false positives and false
negatives without any matrix.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .detections import Detections
from .metrics import DetectionAccumulator, DetectionScores

MAX_CELLS_PER_OBJECT = 64  # an object spanning more cells than this is linked by a direct bounds test instead
MAX_CELLS_PER_AXIS = 4096  # cells are at least the map's extent over this (objects of no size: points)


@dataclass(frozen=True)
class Reference:
    """Reference objects in map units: boxes (n, 4: xmin, ymin, xmax, ymax) or points (n, 2), and class indices
    (those of the detections' classes)."""

    coordinates: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        coordinates = np.asarray(self.coordinates, np.float64)
        if coordinates.ndim != 2 or coordinates.shape[1] not in (2, 4):
            raise ValueError("reference coordinates must be boxes (n, 4) or points (n, 2)")
        object.__setattr__(self, "coordinates", coordinates)
        object.__setattr__(self, "classes", np.asarray(self.classes, np.int64).reshape(-1))

    @property
    def points(self) -> bool:
        return self.coordinates.shape[1] == 2

    def bounds(self) -> np.ndarray:
        """(n, 4) xmin, ymin, xmax, ymax (a point's bounds are the point)."""
        return self.coordinates if not self.points else np.concatenate([self.coordinates, self.coordinates], 1)

    def __len__(self) -> int:
        return len(self.classes)


class _UnionFind:
    def __init__(self, count: int) -> None:
        self.parent = np.arange(count)

    def find(self, item: int) -> int:
        parent = self.parent
        root = item
        while parent[root] != root:
            root = parent[root]
        while parent[item] != root:  # path compression
            parent[item], item = root, parent[item]
        return int(root)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _meet(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3])


def contact_groups(first: np.ndarray, second: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups of objects linked, directly or through others, by bounds that meet (touching counts): for each
    group holding at least one object of each set, the indices of ``first``'s and of ``second``'s objects in it.
    Bounds are (n, 4) xmin, ymin, xmax, ymax."""
    bounds = np.concatenate([np.asarray(first, np.float64).reshape(-1, 4),
                             np.asarray(second, np.float64).reshape(-1, 4)])
    count, split = len(bounds), len(first)
    if not split or count == split:
        return []
    sizes = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
    origin = bounds[:, :2].min(axis=0)
    span = max(float((bounds[:, 2:].max(axis=0) - origin).max()), 1e-9)
    positive = sizes[sizes > 0]  # points have none
    cell = max(2 * float(np.median(positive)) if len(positive) else 0.0, span / MAX_CELLS_PER_AXIS)
    low = np.floor((bounds[:, :2] - origin) / cell).astype(np.int64)
    high = np.floor((bounds[:, 2:] - origin) / cell).astype(np.int64)
    groups = _UnionFind(count)
    cells: dict[tuple[int, int], list[int]] = {}
    large = []
    for index in range(count):
        (x0, y0), (x1, y1) = low[index], high[index]
        if (x1 - x0 + 1) * (y1 - y0 + 1) > MAX_CELLS_PER_OBJECT:
            large.append(index)
            continue
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                members = cells.setdefault((x, y), [])
                for other in members:
                    if (other < split) != (index < split) and _meet(bounds[index], bounds[other]):
                        groups.union(index, other)
                members.append(index)
    for index in large:  # few: each tested against everything of the other set
        others = range(split, count) if index < split else range(split)
        hits = [o for o in others if _meet(bounds[index], bounds[o])]
        for other in hits:
            groups.union(index, other)
    roots = np.array([groups.find(i) for i in range(count)])
    order = np.argsort(roots, kind="stable")
    starts = np.flatnonzero(np.r_[True, roots[order][1:] != roots[order][:-1]])
    result = []
    for in_group in np.split(order, starts[1:]):
        mine, theirs = in_group[in_group < split], in_group[in_group >= split] - split
        if len(mine) and len(theirs):
            result.append((mine, theirs))
    return result


def score_detections(found: Detections, reference: Reference, class_count: int, score_threshold: float = 0.0,
                     max_distance: float = 0.0) -> DetectionScores:
    """Every figure of ``found`` against ``reference`` (boxes: matched by IoU at 0.5 to 0.95; points: a detection's
    centre within ``max_distance`` of the point); precision, recall and F1 over the detections scoring at least
    ``score_threshold``, AP and mAP over all of them."""
    accumulator = DetectionAccumulator(class_count, score_threshold)
    if reference.points:
        if max_distance <= 0:
            raise ValueError("points are matched within a distance above 0")
        centres = found.centres()
        reach = np.concatenate([centres - max_distance, centres + max_distance], axis=1)
    else:
        reach = found.boxes
    groups = contact_groups(reach, reference.bounds())
    linked_found = np.zeros(len(found), bool)
    linked_reference = np.zeros(len(reference), bool)
    for mine, theirs in groups:
        linked_found[mine], linked_reference[theirs] = True, True
        _add(accumulator, found.select(mine), reference.coordinates[theirs], reference.classes[theirs],
             reference.points, max_distance)
    empty = reference.coordinates[:0]
    _add(accumulator, found.select(~linked_found), empty, reference.classes[:0], reference.points, max_distance)
    _add(accumulator, found.select(np.zeros(len(found), bool)), reference.coordinates[~linked_reference],
         reference.classes[~linked_reference], reference.points, max_distance)
    return accumulator.result()


def _add(accumulator: DetectionAccumulator, found: Detections, coordinates: np.ndarray, classes: np.ndarray,
         points: bool, max_distance: float) -> None:
    if points:
        accumulator.add_points(found, coordinates, classes, max_distance)
    else:
        accumulator.add_boxes(found, coordinates, classes)
