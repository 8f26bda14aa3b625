"""The pure detection core against hand-computed cases: IoU, NMS, oriented boxes, the D4 inverse for boxes, the
streaming cross-window merge against one greedy pass, and the detection metrics."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.core.detection.boxes import (
    corners_to_oriented,
    cxcywh_to_xyxy,
    ioa_matrix,
    iou_matrix,
    nms,
    oriented_corners,
    polygon_iou_matrix,
    xyxy_to_cxcywh,
)
from plugin.core.detection.detections import Detections
from plugin.core.detection.metrics import DetectionAccumulator, average_precision
from plugin.core.detection.pool import DetectionPool
from plugin.core.detection.windows import inverse_detections, merge_variants
from plugin.core.engine import tta


def test_box_formats_and_iou_by_hand():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 40]], float)
    assert np.array_equal(cxcywh_to_xyxy(xyxy_to_cxcywh(boxes)), boxes)
    iou = iou_matrix(boxes, boxes)
    assert iou[0, 1] == pytest.approx(50 / 150) and iou[0, 2] == 0 and np.allclose(np.diag(iou), 1)
    assert ioa_matrix(np.array([[5, 0, 10, 10]]), boxes[:1])[0, 0] == 1.0  # fully covered
    assert ioa_matrix(boxes[:1], np.array([[5, 0, 10, 10]]))[0, 0] == 0.5


def test_nms_is_class_wise_and_greedy():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [2, 0, 12, 10], [0, 0, 10, 10]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # Box 3 (class 1) does not suppress class 0; 0 suppresses 1 (IoU 0.82) and 2 (IoU 0.67).
    assert nms(boxes, scores, 0.5, np.array([0, 0, 0, 1])).tolist() == [3, 0]
    # At IoU 0.7 box 2 survives box 0 (0.67) but greedy has already dropped box 1, which would have removed it.
    assert nms(boxes, scores, 0.7, np.array([0, 0, 0, 1])).tolist() == [3, 0, 2]
    assert nms(boxes, scores, 0.5).tolist() == [3]  # class-agnostic


def test_oriented_boxes_are_polygons():
    square = oriented_corners(np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([math.pi / 4]))
    assert np.allclose(np.abs(square[0]).max(axis=0), math.sqrt(2))  # a diamond
    axis = oriented_corners(np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([0.0]))
    # Intersection of the square and the diamond: an octagon of area 8 (sqrt 2 - 1), union 8 - that.
    octagon = 8 * (math.sqrt(2) - 1)
    assert polygon_iou_matrix(axis, square)[0, 0] == pytest.approx(octagon / (8 - octagon))
    turned = oriented_corners(np.array([[5.0, 5.0, 4.0, 2.0]]), np.array([math.pi / 2]))
    assert np.allclose(turned[0].min(axis=0), [4, 3]) and np.allclose(turned[0].max(axis=0), [6, 7])


@pytest.mark.parametrize("transform", range(8))
def test_boxes_found_on_a_d4_variant_map_back_onto_the_window(transform):
    """A rectangle painted in a window, shown by each D4 variant: its box there turns back into the painted box."""
    size = 40
    x, y, w, h = (int(v) for v in np.random.default_rng(transform).integers([0, 0, 2, 2], [25, 25, 14, 14]))
    image = np.zeros((1, 1, size, size), np.float32)
    image[0, 0, y:y + h, x:x + w] = 1
    rows, cols = np.nonzero(tta.forward(image, transform)[0, 0])
    seen = Detections(np.array([[cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]], float), [1.0], [0])
    assert inverse_detections(seen, transform, size).boxes[0].tolist() == [x, y, x + w, y + h]


def _forward_points(corners: np.ndarray, transform: int, size: int) -> np.ndarray:
    """Where points of a window lie on its D4 variant: a quarter turn moves (x, y) to (y, size - x)."""
    x, y = corners[..., 0], corners[..., 1]
    for _ in range(transform % 4):
        x, y = y, size - x
    if transform >= 4:
        x = size - x
    return np.stack([x, y], axis=-1)


@pytest.mark.parametrize("transform", range(8))
def test_oriented_boxes_turn_back_with_their_angle(transform):
    found = Detections.from_rotated(np.array([[10.0, 6.0, 8.0, 2.0, 0.3]]), [0.8], [0])
    centre_size, angles = corners_to_oriented(_forward_points(found.polygons(), transform, 32))
    shown = Detections.from_rotated(np.column_stack([centre_size, angles]), [0.8], [0])
    back = inverse_detections(shown, transform, 32)
    assert back.oriented and polygon_iou_matrix(back.polygons(), found.polygons())[0, 0] == pytest.approx(1.0)


# ---- the streaming merge -------------------------------------------------------------------------------
def _reference(found: Detections, cut: np.ndarray, iou: float) -> set[tuple]:
    """One pass: cut boxes covered by half or more by a whole box of their class dropped, then greedy NMS."""
    cover = ioa_matrix(found.boxes, found.boxes) * (found.classes[:, None] == found.classes[None, :])
    dropped = cut & ((cover >= 0.5) & ~cut[None, :]).any(axis=1)
    rest = found.select(~dropped)
    kept = rest.select(nms(rest.boxes, rest.scores, iou, rest.classes))
    return _as_set(kept)


def _as_set(found: Detections) -> set[tuple]:
    return {tuple(b) + (s, c) for b, s, c in zip(found.boxes.tolist(), found.scores.tolist(), found.classes.tolist())}


BOXES = st.lists(st.tuples(st.integers(0, 90), st.integers(0, 90), st.integers(1, 25), st.integers(1, 25),
                           st.sampled_from([0.3, 0.5, 0.7, 0.9]), st.integers(0, 1), st.booleans()),
                 min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(boxes=BOXES, bands=st.lists(st.integers(1, 110), min_size=1, max_size=5, unique=True),
       iou=st.sampled_from([0.3, 0.5, 0.7]))
def test_deciding_row_band_by_row_band_gives_what_one_pass_gives(boxes, bands, iou):
    """Boxes arrive in bands of their top edge; after each band, whatever lies above the next band is decided."""
    array = np.array([[x, y, x + w, y + h] for x, y, w, h, *_ in boxes], float)
    found = Detections(array, [b[4] for b in boxes], [b[5] for b in boxes])
    cut = np.array([b[6] for b in boxes])
    frontiers = sorted(bands) + [math.inf]
    pool, kept, start = DetectionPool(iou), [], -math.inf
    for frontier in frontiers:
        band = (array[:, 1] >= start) & (array[:, 1] < frontier)
        pool.add(found.select(band), cut[band])
        kept.append(pool.settle(frontier, math.inf))
        start = frontier
    assert not len(pool)
    result = Detections.concat(kept)
    assert _as_set(result) == _reference(found, cut, iou)
    assert len(result) == len(_as_set(result))  # nothing reported twice


# ---- metrics --------------------------------------------------------------------------------------------
def test_average_precision_by_hand():
    # Detections TP, FP, TP, FP over two references: precision 1, 1/2, 2/3, 1/2 at recall 1/2, 1/2, 1, 1.
    assert average_precision(np.array([0.5, 0.5, 1, 1]), np.array([1, 0.5, 2 / 3, 0.5])) == pytest.approx(
        0.5 * 1 + 0.5 * 2 / 3)


def test_detection_scores_by_hand():
    refs = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [50, 0, 60, 10]], float)
    ref_classes = np.array([0, 0, 1])
    found = Detections(np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 0, 30, 10], [70, 70, 80, 80],
                                 [90, 0, 99, 9]], float), [0.9, 0.8, 0.7, 0.6, 0.5], [0, 0, 0, 0, 2])
    accumulator = DetectionAccumulator(3)
    accumulator.add_boxes(found, refs, ref_classes)
    scores = accumulator.result()
    first = scores.classes[0]
    assert (first.tp, first.fp, first.fn) == (2, 2, 0)
    assert first.precision == 0.5 and first.recall == 1.0 and first.f1 == pytest.approx(2 / 3)
    assert first.ap50 == pytest.approx(0.5 + 0.5 * 2 / 3) and first.ap50_95 == pytest.approx(first.ap50)
    assert scores.classes[1].ap50 == 0.0 and scores.classes[1].fn == 1  # missed
    assert math.isnan(scores.classes[2].ap50) and scores.classes[2].fp == 1  # no reference: not in the mean
    assert scores.map50 == pytest.approx((first.ap50 + 0.0) / 2)
    assert (scores.tp, scores.fp, scores.fn) == (2, 3, 1)
    assert scores.precision == pytest.approx(2 / 5) and scores.recall == pytest.approx(2 / 3)
    assert first.curve_recall.tolist() == [0.5, 0.5, 1.0, 1.0]
    document = scores.to_dict({0: "tree", 1: "house", 2: "car"})
    assert document["classes"][0]["name"] == "tree" and document["classes"][2]["ap50"] is None


def test_iou_thresholds_above_the_overlap_turn_matches_into_misses():
    accumulator = DetectionAccumulator(1)
    accumulator.add_boxes(Detections(np.array([[0, 0, 10, 8]], float), [0.9], [0]), np.array([[0, 0, 10, 10.0]]),
                          np.array([0]))  # IoU 0.8: a match up to the 0.8 threshold, a miss at 0.85 and above
    scores = accumulator.result()
    assert scores.classes[0].ap == [1.0] * 7 + [0.0] * 3
    assert scores.map50_95 == pytest.approx(0.7)


def test_detections_matched_to_points_by_distance_and_per_image():
    accumulator = DetectionAccumulator(1, score_threshold=0.5)
    found = Detections(np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], float), [0.9, 0.6, 0.4], [0, 0, 0])
    accumulator.add_points(found, np.array([[6.0, 6.0], [60.0, 5.0]]), np.array([0, 0]), max_distance=2.0)
    accumulator.add_points(Detections.empty(), np.array([[1.0, 1.0]]), np.array([0]), max_distance=2.0)
    scores = accumulator.result()
    assert scores.matched_by == "distance" and scores.map50_95 is None
    assert (scores.tp, scores.fp, scores.fn) == (1, 1, 2)  # the 0.4 detection is below the score threshold
    assert scores.classes[0].ap50 == pytest.approx(1 / 3)


def test_test_time_variants_vote_on_each_box():
    everywhere = Detections(np.array([[10, 10, 20, 20]], float), [0.8], [0])
    once = Detections(np.array([[40, 40, 50, 50]], float), [0.9], [0])
    shifted = Detections(np.array([[11, 10, 21, 20]], float), [0.6], [0])  # IoU 0.82 with the first
    variants = [Detections.concat([everywhere, once])] + [everywhere] * 6 + [shifted]
    merged = merge_variants(variants, (0,) * 8, 64, 0.5, 100)
    assert merged.boxes.tolist() == [[10, 10, 20, 20], [40, 40, 50, 50]]  # the best box of each object
    assert merged.scores.tolist() == pytest.approx([(0.8 * 7 + 0.6) / 8, 0.9 / 8])
    assert len(merge_variants(variants, (0,) * 8, 64, 0.5, 100, min_score=0.25)) == 1
