"""One window's detections: test-time variants turned back, merged, suppressed and capped.

The engine runs each window's D4 variants (:mod:`..tta`: ``forward`` rotates by ``t % 4`` quarter turns,
then mirrors left-right when ``t >= 4``); a detector then finds each object where the variant shows it.
:func:`inverse_detections` maps those boxes back into the window as it was read, so the variants can be
merged like detections of one image: pooled, class-wise non-maximum suppression, and each box kept scored by
the variants' votes (:func:`merge_variants`).
"""
from __future__ import annotations

import numpy as np

from .boxes import corners_to_oriented, iou_matrix, nms, polygon_iou_matrix
from .detections import Detections


def inverse_points(x: np.ndarray, y: np.ndarray, transform: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Where points of a window shown by D4 ``transform`` lie in the window itself (``size`` pixels wide).

    One quarter turn of :func:`numpy.rot90` moves a point (x, y) to (y, size - x); the mirror moves it to
    (size - x, y). The inverse undoes the mirror, then the turns.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if transform >= 4:
        x = size - x
    for _ in range(transform % 4):
        x, y = size - y, x
    return x, y


def inverse_detections(detections: Detections, transform: int, size: int) -> Detections:
    """Detections made on variant ``transform`` of a ``size`` px window, in the window's own pixels."""
    if transform == 0 or not len(detections):
        return detections
    corners = detections.polygons()
    x, y = inverse_points(corners[..., 0], corners[..., 1], transform, size)
    corners = np.stack([x, y], axis=-1)
    if detections.oriented:
        centre_size, angles = corners_to_oriented(corners)
        return Detections.from_rotated(np.column_stack([centre_size, angles]), detections.scores, detections.classes,
                                       detections.windows)
    boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    return Detections(boxes, detections.scores, detections.classes, None, detections.windows)


def finish_window(detections: Detections, iou_threshold: float, max_detections: int) -> Detections:
    """Class-wise non-maximum suppression, then the ``max_detections`` best (kept in score order)."""
    if not len(detections):
        return detections
    polygons = detections.polygons() if detections.oriented else None
    kept = nms(detections.boxes, detections.scores, iou_threshold, detections.classes, polygons)
    return detections.select(kept[:max_detections])


def merge_variants(variants: list[Detections], transforms: tuple[int, ...], size: int, iou_threshold: float,
                   max_detections: int, min_score: float = 0.0) -> Detections:
    """One window's detections from its test-time variants (in the order of ``transforms``).

    The variants' boxes are pooled and suppressed as one image's; each box kept then scores the mean, over the
    variants, of the best score among that variant's boxes it suppressed, itself included (0 where a variant
    found nothing there; a box votes once, for the first kept box that suppressed it, so near-duplicates gain
    nothing). An object every variant finds keeps its score; one that a single variant of eight finds scores an
    eighth, so MIN_SCORE keeps its meaning with TTA. Those scoring less than ``min_score`` then are dropped.
    """
    turned = [inverse_detections(found, transform, size) for found, transform in zip(variants, transforms)]
    if len(turned) == 1:
        return finish_window(turned[0], iou_threshold, max_detections)
    pooled = Detections.concat(turned)
    origin = np.concatenate([np.full(len(found), index) for index, found in enumerate(turned)]).astype(np.int64)
    if not len(pooled):
        return pooled
    polygons = pooled.polygons() if pooled.oriented else None
    kept = nms(pooled.boxes, pooled.scores, iou_threshold, pooled.classes, polygons)
    overlap = polygon_iou_matrix(polygons[kept], polygons) if polygons is not None else \
        iou_matrix(pooled.boxes[kept], pooled.boxes)
    agree = (overlap > iou_threshold) | (np.arange(len(pooled))[None, :] == kept[:, None])
    agree &= pooled.classes[kept][:, None] == pooled.classes[None, :]
    # Each box votes once, for the kept box that suppressed it (the first, best, kept box it agrees with).
    owner = np.where(agree.any(axis=0), agree.argmax(axis=0), -1)
    member = owner[None, :] == np.arange(len(kept))[:, None]
    votes = np.zeros((len(kept), len(turned)))
    for variant in range(len(turned)):
        mine = np.where(member & (origin == variant)[None, :], pooled.scores[None, :], 0.0)
        votes[:, variant] = mine.max(axis=1)
    merged = pooled.select(kept)
    merged = Detections(merged.boxes, votes.mean(axis=1), merged.classes, merged.rotated, merged.windows)
    order = np.argsort(-merged.scores, kind="stable")
    order = order[merged.scores[order] >= min_score][:max_detections]
    return merged.select(order)
