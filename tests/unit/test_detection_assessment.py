"""Scoring a map's detections in groups of objects that touch (plugin/core/detection/assessment.py) gives exactly the
figures of one matching over everything (random maps of boxes and points, oriented detections, an object spanning
the whole map), and the groups hold only objects linked by contact."""
from __future__ import annotations

import numpy as np
import pytest

from plugin.core.detection.assessment import Reference, contact_groups, score_detections
from plugin.core.detection.detections import Detections
from plugin.core.detection.metrics import DetectionAccumulator


def _map(seed: int, count: int = 300, oriented: bool = False) -> tuple[Detections, Reference, Reference]:
    """Reference boxes over a 2 km map (and their centres as points), detections near most of them, false alarms."""
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 2000, (count, 2))
    size = rng.uniform(5, 30, (count, 2))
    boxes = np.concatenate([corner, corner + size], axis=1)
    classes = rng.integers(0, 3, count)
    seen = rng.random(count) < 0.8
    jitter = rng.normal(0, 2, (int(seen.sum()), 4))
    found_boxes = np.concatenate([boxes[seen] + jitter, np.concatenate([c := rng.uniform(0, 2000, (40, 2)),
                                                                         c + 12], axis=1)])
    found_classes = np.concatenate([np.where(rng.random(int(seen.sum())) < 0.9, classes[seen], (classes[seen] + 1) % 3),
                                    rng.integers(0, 3, 40)])
    scores = rng.random(len(found_boxes)).round(3)
    found = Detections(found_boxes, scores, found_classes)
    if oriented:
        rotated = found.rotated_or_axis()
        rotated[:, 4] = rng.uniform(-0.2, 0.2, len(rotated))
        found = Detections.from_rotated(rotated, scores, found_classes)
    giant = np.array([[-10.0, -10.0, 2100.0, 2100.0]])  # touches everything: linked without the grid
    return found, Reference(np.concatenate([boxes, giant]), np.append(classes, 0)), \
        Reference((boxes[:, :2] + boxes[:, 2:]) / 2, classes)


def _at_once(found: Detections, reference: Reference, threshold: float, distance: float = 0.0) -> dict:
    accumulator = DetectionAccumulator(3, threshold)
    if reference.points:
        accumulator.add_points(found, reference.coordinates, reference.classes, distance)
    else:
        accumulator.add_boxes(found, reference.coordinates, reference.classes)
    return accumulator.result().to_dict()


@pytest.mark.parametrize("seed, oriented", [(1, False), (2, False), (3, True)])
def test_grouped_scores_equal_one_matching_over_everything(seed, oriented):
    found, boxes, points = _map(seed, oriented=oriented)
    grouped = score_detections(found, boxes, 3, 0.4).to_dict()
    assert grouped == _at_once(found, boxes, 0.4)
    assert 0.3 < grouped["recall"] < 0.8 and grouped["fp"] > 20
    assert score_detections(found, points, 3, 0.4, max_distance=6.0).to_dict() == _at_once(found, points, 0.4, 6.0)


def test_groups_hold_only_objects_that_touch():
    first = np.array([[0, 0, 10, 10], [100, 100, 110, 110], [500, 500, 510, 510], [20, 0, 30, 10]], float)
    second = np.array([[5, 5, 25, 8], [108, 108, 120, 120], [900, 900, 905, 905]], float)
    groups = sorted((sorted(a.tolist()), sorted(b.tolist())) for a, b in contact_groups(first, second))
    assert groups == [([0, 3], [0]), ([1], [1])]  # linked through the second set's box 0; lonely ones in none
    assert contact_groups(first, second[:0]) == []
