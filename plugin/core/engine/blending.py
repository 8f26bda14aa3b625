"""Window weights and the streaming accumulator that merges overlapping windows.

Three ways to merge the overlap between neighbouring windows (``BLENDING``):

- ``smooth`` (default): zero weight in a context margin at the window's edge (predictions there lack
  context; see the project's seam measurements), then a raised-cosine ramp, then a plateau of one.
  Neighbouring ramps are complementary (sin^2 + cos^2 = 1), so weights already sum to one where two
  windows meet; the accumulator still divides by the summed weights so any layout is exact.
- ``average``: flat weights over the whole window (what naive tiling tools do; worst at seams).
- ``crop``: each pixel from the window whose centre is nearest (as the Deepness plugin does).

Each side of a window is weighted by its own overlap with the neighbour on that side (the grid's strides
differ by a few pixels, and a block's windows keep the whole run's neighbours). Sides that face the edge of
the processing area have no neighbour: they keep weight one up to the window's edge, so the pixels at the
raster's edge are predicted by the window that reaches them, at full weight (no data lies beyond them, so
no context is missing there), and at an edge inside the raster the pixels beyond the area are real
context.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

BLENDINGS = ("smooth", "average", "crop")


RAMP = 16  # the ramp kept between two zero-weight margins when the overlap is short (pixels)


def smooth_margin(overlap: int, context_margin: int | None = None, footprint_offset: int = 0) -> int:
    """Zero-weight margin for ``smooth``: the model's context margin if known, else a quarter of the
    overlap; always leaving a ramp of a quarter of the overlap or ``RAMP`` pixels, whichever is shorter
    (2 px at least)."""
    if overlap <= 2:
        return footprint_offset
    wanted = overlap // 4 if context_margin is None else context_margin
    ramp = max(2, min(overlap // 4, RAMP))
    return max(footprint_offset, min(wanted, (overlap - ramp) // 2))


def _ramp(length: int) -> np.ndarray:
    """Rising raised-cosine of ``length`` samples, complementary to its own reverse."""
    t = (np.arange(length, dtype=np.float64) + 0.5) / length
    return np.sin(0.5 * math.pi * t) ** 2


@lru_cache(maxsize=256)
def axis_weights(mode: str, window: int, lead: int, trail: int, lead_margin: int = 0,
                 trail_margin: int = 0) -> np.ndarray:
    """Weights along one axis of a window (float32, length ``window``) whose leading and trailing sides
    overlap their neighbours by ``lead`` and ``trail`` pixels; 0 means no neighbour on that side (the
    area's edge): weight one up to the window's edge there. ``*_margin``: the zero-weight margins of
    ``smooth`` on each side."""
    weights = np.ones(window, np.float64)
    if mode == "average":
        pass
    elif mode == "crop":
        if lead:
            weights[: (lead + 1) // 2] = 0.0
        if trail:
            weights[window - trail // 2:] = 0.0
    elif mode == "smooth":
        if lead:
            weights *= _rise(window, lead, lead_margin)
        if trail:
            weights *= _rise(window, trail, trail_margin)[::-1]
    else:
        raise ValueError(f"unknown blending {mode!r}; expected one of {BLENDINGS}")
    result = weights.astype(np.float32)
    result.flags.writeable = False  # shared by the cache
    return result


def _rise(window: int, overlap: int, margin: int) -> np.ndarray:
    """Zero over ``margin``, then the raised-cosine ramp over the rest of the ``overlap`` less the neighbour's
    margin, then one."""
    ramp_length = overlap - 2 * margin
    rise = np.zeros(window)
    rise[margin: margin + ramp_length] = _ramp(ramp_length) if ramp_length > 0 else 1.0
    rise[margin + max(ramp_length, 0):] = 1.0
    return rise


def window_weights(mode: str, window: int, row_sides: tuple[int, int, int, int],
                   column_sides: tuple[int, int, int, int]) -> np.ndarray:
    """2-D weights of one window: the outer product of its row and column profiles, each given as
    (lead overlap, trail overlap, lead margin, trail margin)."""
    return np.outer(axis_weights(mode, window, *row_sides), axis_weights(mode, window, *column_sides))
