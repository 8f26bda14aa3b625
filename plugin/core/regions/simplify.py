"""Simplifying the outlines of class regions so neighbours keep sharing their boundaries (``SIMPLIFY``).

Region outlines from a class raster follow pixel edges. Simplifying each polygon on its own (Douglas-
Peucker, even "preserving topology") moves a boundary differently in the two polygons that share it,
leaving gaps and overlaps. Here a ring is cut at its *junctions*, the pixel corners where three or more
regions meet (or where two regions touch only diagonally), into arcs; each arc is simplified with its
ends fixed, always in one canonical direction. The two polygons on either side of a boundary hold the
same arc between the same junctions, so they simplify it identically: no gap, no overlap, and every
junction stays where it was.

Coordinates are integer pixel corners (column, row), so comparisons are exact. Every arc that had
interior vertices keeps at least one, so a region bounded by two arcs never collapses to a line. Arcs
simplified independently can still cross each other where a region is only a pixel or two wide; the
caller then *freezes* the arcs of such a polygon (each arc has a key, the same for both of its
polygons) and simplifies again, leaving frozen arcs exactly as they were on both sides.
"""
from __future__ import annotations

import hashlib
from typing import Collection

import numpy as np


def densify(ring: np.ndarray) -> np.ndarray:
    """Every pixel corner along a closed ring of axis-parallel segments ((n, 2) ints, not repeating the
    first point at the end)."""
    ends = np.roll(ring, -1, axis=0)
    steps = np.abs(ends - ring).max(axis=1)
    if not steps.sum():
        return ring
    direction = np.sign(ends - ring)
    first = np.repeat(np.cumsum(steps) - steps, steps)
    along = np.arange(int(steps.sum())) - first
    return np.repeat(ring, steps, axis=0) + np.repeat(direction, steps, axis=0) * along[:, None]


def _turning(points: np.ndarray) -> np.ndarray:
    """True where the ring changes direction."""
    step = np.sign(np.diff(points, axis=0, append=points[:1]))
    return np.any(step != np.concatenate([step[-1:], step[:-1]]), axis=1)


def _douglas_peucker(arc: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices kept from an open polyline (ends always kept; at least one interior point when it has any)."""
    last = len(arc) - 1
    if last < 2:
        return np.arange(len(arc))
    keep = {0, last}
    stack = [(0, last)]
    while stack:
        first, end = stack.pop()
        if end - first < 2:
            continue
        inner = arc[first + 1:end].astype(np.float64)
        chord = (arc[end] - arc[first]).astype(np.float64)
        offset = inner - arc[first]
        length = float(np.hypot(*chord))
        distance = (np.abs(chord[0] * offset[:, 1] - chord[1] * offset[:, 0]) / length if length
                    else np.hypot(offset[:, 0], offset[:, 1]))
        index = int(np.argmax(distance))
        if distance[index] > tolerance or (first, end) == (0, last) and len(keep) == 2:
            keep.add(first + 1 + index)
            stack += [(first, first + 1 + index), (first + 1 + index, end)]
    return np.array(sorted(keep))


def _canonical(arc: np.ndarray) -> bool:
    """Whether an arc is in its canonical direction (so both of its polygons simplify it alike)."""
    ends = (tuple(arc[0]), tuple(arc[-1]))
    if ends[0] != ends[1]:
        return ends[0] < ends[1]
    return tuple(arc[1]) < tuple(arc[-2])


def _simplified_arc(arc: np.ndarray, tolerance: float, frozen: Collection[bytes]) -> tuple[np.ndarray, bytes]:
    """The arc simplified in its canonical direction, returned in the given direction (last point dropped),
    and its key; a frozen arc is returned as it is."""
    forward = _canonical(arc)
    oriented = np.ascontiguousarray(arc if forward else arc[::-1])
    key = hashlib.blake2b(oriented.astype(np.int64).tobytes(), digest_size=16).digest()
    kept = oriented if key in frozen else oriented[_douglas_peucker(oriented, tolerance)]
    if not forward:
        kept = kept[::-1]
    return kept[:-1], key


def simplify_ring(dense: np.ndarray, junction: np.ndarray, tolerance: float,
                  frozen: Collection[bytes] = ()) -> tuple[np.ndarray, list[bytes]]:
    """A ring of every pixel corner (:func:`densify`) simplified with ``tolerance`` (in pixels), keeping every
    junction (``junction``: one flag per corner) and every arc whose key is in ``frozen``; returns the ring
    and the keys of its arcs."""
    keep = _turning(dense) | junction
    points, fixed = dense[keep], junction[keep]
    if len(points) < 4:
        return points, []
    if not fixed.any():  # a ring alone (an island and the hole around it): start at its smallest corner
        start = min(range(len(points)), key=lambda i: tuple(points[i]))
        fixed = np.zeros(len(points), bool)
        fixed[start] = True
    starts = np.flatnonzero(fixed)
    points = np.roll(points, -starts[0], axis=0)
    starts = starts - starts[0]
    pieces, keys = [], []
    for first, end in zip(starts, list(starts[1:]) + [len(points)]):
        arc = points[first:end + 1] if end < len(points) else np.vstack([points[first:], points[:1]])
        piece, key = _simplified_arc(arc, tolerance, frozen)
        pieces.append(piece)
        keys.append(key)
    result = np.concatenate(pieces)
    return (result, keys) if len(result) >= 3 else (points, keys)
