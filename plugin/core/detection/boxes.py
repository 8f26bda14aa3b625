"""Box geometry in pixel coordinates (x to the right, y down; a pixel's edges at whole numbers).

Axis-aligned boxes are ``(n, 4)`` arrays ``x1, y1, x2, y2``; oriented boxes are ``cx, cy, w, h`` with an
angle in radians and are handled as their four corners (convex polygons). Everything is vectorised
numpy except the polygon intersection, which clips one convex polygon by another (Sutherland-Hodgman).
"""
from __future__ import annotations

import numpy as np

EPSILON = 1e-12


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Centre, width, height -> corners."""
    boxes = np.asarray(boxes, np.float64)
    half = boxes[..., 2:4] / 2
    return np.concatenate([boxes[..., :2] - half, boxes[..., :2] + half], axis=-1)


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    """Corners -> centre, width, height."""
    boxes = np.asarray(boxes, np.float64)
    return np.concatenate([(boxes[..., :2] + boxes[..., 2:4]) / 2, boxes[..., 2:4] - boxes[..., :2]], axis=-1)


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas of xyxy boxes (zero for inverted ones)."""
    boxes = np.asarray(boxes, np.float64)
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def intersection_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) areas shared by each pair of xyxy boxes."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(width, 0, None) * np.clip(height, 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of xyxy boxes (0 where both are empty)."""
    inter = intersection_matrix(a, b)
    union = box_area(np.asarray(a).reshape(-1, 4))[:, None] + box_area(np.asarray(b).reshape(-1, 4))[None, :] - inter
    return np.where(union > EPSILON, inter / np.maximum(union, EPSILON), 0.0)


def ioa_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) share of each box of ``a`` covered by each box of ``b`` (intersection over a's area)."""
    inter = intersection_matrix(a, b)
    area = box_area(np.asarray(a).reshape(-1, 4))[:, None]
    return np.where(area > EPSILON, inter / np.maximum(area, EPSILON), 0.0)


def clip_boxes(boxes: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """xyxy boxes clipped to the rectangle [x0, x1] x [y0, y1]."""
    boxes = np.asarray(boxes, np.float64).copy()
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], x0, x1)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], y0, y1)
    return boxes


# ---- oriented boxes as polygons ----------------------------------------------------------------------
def oriented_corners(cxcywh: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(n, 4, 2) corners of boxes of centre (cx, cy), size (w, h) turned by ``angles`` radians.

    The angle turns the box's width axis from the x axis towards the y axis (on an image, y pointing down,
    that looks clockwise; on a map, y pointing up, counter-clockwise). Corners go round in that order,
    starting at the (-w/2, -h/2) corner.
    """
    cxcywh = np.asarray(cxcywh, np.float64).reshape(-1, 4)
    cos, sin = np.cos(angles), np.sin(angles)
    local = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    dx = local[None, :, 0] * cxcywh[:, None, 2]
    dy = local[None, :, 1] * cxcywh[:, None, 3]
    x = cxcywh[:, None, 0] + dx * cos[:, None] - dy * sin[:, None]
    y = cxcywh[:, None, 1] + dx * sin[:, None] + dy * cos[:, None]
    return np.stack([x, y], axis=-1)


def axis_corners(boxes: np.ndarray) -> np.ndarray:
    """(n, 4, 2) corners of xyxy boxes, in the order of :func:`oriented_corners` at angle 0."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = boxes.T
    return np.stack([np.stack([x1, y1], -1), np.stack([x2, y1], -1), np.stack([x2, y2], -1),
                     np.stack([x1, y2], -1)], axis=1)


def corners_to_oriented(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cx, cy, w, h) and angles of rectangles given by their corners (inverse of :func:`oriented_corners`)."""
    corners = np.asarray(corners, np.float64).reshape(-1, 4, 2)
    centre = corners.mean(axis=1)
    edge_w = corners[:, 1] - corners[:, 0]
    edge_h = corners[:, 3] - corners[:, 0]
    width, height = np.hypot(*edge_w.T), np.hypot(*edge_h.T)
    angles = np.arctan2(edge_w[:, 1], edge_w[:, 0])
    return np.column_stack([centre, width, height]), angles


def polygon_area(polygon: np.ndarray) -> float:
    """Area of a simple polygon (k, 2) by the shoelace formula."""
    if len(polygon) < 3:
        return 0.0
    x, y = polygon[:, 0], polygon[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _oriented(polygon: np.ndarray) -> np.ndarray:
    """The polygon with its vertices in counter-clockwise order (positive signed area in x-y axes)."""
    x, y = polygon[:, 0], polygon[:, 1]
    signed = np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))
    return polygon if signed >= 0 else polygon[::-1]


def _inside(point: np.ndarray, a: np.ndarray, edge: np.ndarray) -> bool:
    """Whether ``point`` lies left of (or on) the directed edge from ``a`` along ``edge``."""
    return bool(edge[0] * (point[1] - a[1]) - edge[1] * (point[0] - a[0]) >= -EPSILON)


def _crossing(p: np.ndarray, q: np.ndarray, a: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """Where the segment p-q crosses the line through ``a`` along ``edge``."""
    d = q - p
    denominator = edge[0] * d[1] - edge[1] * d[0]
    if abs(denominator) <= EPSILON:
        return p
    t = (edge[1] * (p[0] - a[0]) - edge[0] * (p[1] - a[1])) / denominator
    return p + t * d


def convex_intersection(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """The intersection of two convex polygons (Sutherland-Hodgman), as a (k, 2) polygon (k may be 0)."""
    output = list(_oriented(np.asarray(subject, np.float64)))
    clip = _oriented(np.asarray(clip, np.float64))
    for index in range(len(clip)):
        if not output:
            break
        a = clip[index]
        edge = clip[(index + 1) % len(clip)] - a
        points, output = output, []
        for i, current in enumerate(points):
            previous = points[i - 1]
            if _inside(current, a, edge):
                if not _inside(previous, a, edge):
                    output.append(_crossing(previous, current, a, edge))
                output.append(current)
            elif _inside(previous, a, edge):
                output.append(_crossing(previous, current, a, edge))
    return np.array(output, np.float64).reshape(-1, 2)


def polygon_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of convex polygons (n, 4, 2); pairs whose bounding boxes miss are not clipped."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    result = np.zeros((len(a), len(b)))
    if not len(a) or not len(b):
        return result
    hits = intersection_matrix(_bounds(a), _bounds(b)) > 0
    areas_a = [polygon_area(p) for p in a]
    areas_b = [polygon_area(p) for p in b]
    for i, j in zip(*np.nonzero(hits)):
        inter = polygon_area(convex_intersection(a[i], b[j]))
        union = areas_a[i] + areas_b[j] - inter
        result[i, j] = inter / union if union > EPSILON else 0.0
    return result


def _bounds(polygons: np.ndarray) -> np.ndarray:
    return np.concatenate([polygons.min(axis=1), polygons.max(axis=1)], axis=1)


# ---- non-maximum suppression ----------------------------------------------------------------------
def score_order(scores: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Indices from the best score down; ties broken by position (top, left, bottom, right) so that any two
    runs over the same boxes, in any order, visit them in the same order."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.lexsort((boxes[:, 2], boxes[:, 3], boxes[:, 0], boxes[:, 1], -np.asarray(scores, np.float64)))


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, classes: np.ndarray | None = None,
        polygons: np.ndarray | None = None) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first.

    A box is dropped when a kept box of the same class (any class when ``classes`` is None) with a higher
    score overlaps it by an IoU above ``iou_threshold``. With ``polygons`` (n, 4, 2), the IoU of those
    oriented boxes is used; ``boxes`` then holds their bounding boxes.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    order = score_order(scores, boxes)
    labels = np.zeros(len(boxes), np.int64) if classes is None else np.asarray(classes, np.int64)
    kept = []
    while len(order):
        best, rest = order[0], order[1:]
        kept.append(best)
        rest = rest[labels[rest] == labels[best]] if classes is not None else rest
        if polygons is not None:
            overlap = polygon_iou_matrix(polygons[best:best + 1], polygons[rest])[0]
        else:
            overlap = iou_matrix(boxes[best:best + 1], boxes[rest])[0]
        dropped = rest[overlap > iou_threshold]
        order = order[1:][~np.isin(order[1:], dropped)] if len(dropped) else order[1:]
    return np.array(kept, np.int64)
