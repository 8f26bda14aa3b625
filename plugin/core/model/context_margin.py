"""Measuring a model's context margin without gradients: how far from a window's edge its predictions
still differ from what the same network predicts with full context.

Tiled inference cuts the image at every window edge; pixels near the cut lose context and their
predictions change. Smooth blending gives those pixels zero weight, so it needs to know how wide that
band is. Models trained by the training subpackage carry it in their contract (``context_margin``,
from gradients); for any other model it is measured here, on real pixels, with the model alone:

1. three windows: R, and R shifted by half a window to the right (H) and down (V). H's left edge runs
   through R's centre, and R's right edge through H's centre; likewise V's top edge and R's bottom edge.
   So each window is the full-context reference for the pixels along the other's edge, and the four
   edges are measured with three model runs (the first method used a reference and four shifted windows:
   five runs, for the same four edges);
2. along each edge, the pixels lie 0, 1, 2, ... pixels inside the cut window;
3. at each distance from the edge, the share of pixels whose class differs from the reference's, and the
   mean change of the class probabilities, are averaged over the four edges and over bands of
   ``SMOOTHING`` distances and compared with tolerances. The margin is the smallest distance from which
   every band stays within them.

For a regression output (continuous values) there are no classes to disagree: the change is measured on
the values divided by their standard deviation over the reference window, so the tolerance is 1 % of the
spread of the values whatever their units.

Shifts are multiples of the model's size multiple, so the windows sit on the same pooling grid (a
network is only shift-equivariant by whole strides). The largest margin a window of ``W`` pixels can
measure is ``W / 4``; a larger one is reported as that limit (``limited``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .contract import OutputSpec
from .contract_regression import REGRESSION_KIND
from .postprocess import channel_argmax, decide_kind, to_probabilities

METHOD_VERSION = 2  # bump when the measurement changes, so cached figures are measured again (2: three windows)
CLASS_TOLERANCE = 0.0025  # share of pixels whose class may differ from the full-context prediction
PROBABILITY_TOLERANCE = 0.01  # mean absolute change of the class probabilities allowed
SMOOTHING = 8  # distances averaged together (bands of 8 px), so a few flipped pixels are not a margin

Predict = Callable[[np.ndarray], Sequence[np.ndarray]]


@dataclass(frozen=True)
class MarginMeasurement:
    """The measured margin and what it was measured with."""

    margin: int  # pixels from a window's edge whose predictions lack context
    window: int  # the window size the measurement used
    limited: bool  # the disagreement had not settled within a quarter of the window: margin is that limit
    class_disagreement: tuple[float, ...]  # per distance from the edge, share of pixels of another class
    probability_change: tuple[float, ...]  # per distance, mean absolute change of the probabilities

    def describe(self) -> str:
        limit = " (the most a window of this size can measure; the real margin may be larger)" if self.limited else ""
        return f"{self.margin} px{limit}"


def sample_size(window: int, multiple: int) -> int:
    """Side of the normalised sample :func:`measure_margin` needs for ``window``: the window and a shift."""
    return window + _shift(window, multiple)


def _shift(window: int, multiple: int) -> int:
    return max(multiple, window // 2 // multiple * multiple)


def measure_margin(predict: Predict, sample: np.ndarray, window: int, multiple: int, spec: OutputSpec,
                   offset: int = 0) -> MarginMeasurement:
    """Measure the context margin of ``predict`` on a normalised (bands, S, S) ``sample``.

    ``S`` must be :func:`sample_size` (``window`` plus a shift). ``offset`` is how much smaller the
    model's output is than its input on each side (0 for "same" outputs); the margin returned counts
    from the window's edge, so it includes the offset.
    """
    shift = _shift(window, multiple)
    size = window + shift
    if sample.ndim != 3 or sample.shape[1:] != (size, size):
        raise ValueError(f"expected a (bands, {size}, {size}) sample, got {sample.shape}")
    # R at the top left, H moved right and V moved down by one shift.
    first, right, down = (_probabilities(predict, sample[:, r:r + window, c:c + window], spec)
                          for r, c in ((0, 0), (0, shift), (shift, 0)))
    regression = spec.kind == REGRESSION_KIND
    if regression:  # values in units of their spread, so the tolerance means the same whatever the units
        spread = np.maximum(first.std(axis=(1, 2)), 1e-12)[:, None, None]
        first, right, down = first / spread, right / spread, down / spread
    reach = min(window // 4, shift) - offset
    # (cut window, its reference, quarter turns that bring the cut edge to the left)
    pairs = ((right, first, 0), (first, right, 2), (down, first, 1), (first, down, 3))
    bands = [_edge_bands(test, reference, turns, shift, reach, classes=not regression)
             for test, reference, turns in pairs]
    disagreement = np.mean([b[0] for b in bands], axis=0)
    change = np.mean([b[1] for b in bands], axis=0)
    margin, limited = _settled_distance(disagreement, change)
    return MarginMeasurement(margin + offset, window, limited, tuple(float(x) for x in disagreement),
                             tuple(float(x) for x in change))


def _probabilities(predict: Predict, window: np.ndarray, spec: OutputSpec) -> np.ndarray:
    """(K, h, w) class probabilities of the first output for one window (a regression output: its values)."""
    raw = np.asarray(predict(np.ascontiguousarray(window[None], dtype=np.float32))[0], np.float32)
    if spec.kind == REGRESSION_KIND:
        return raw[0] if raw.ndim == 4 else raw
    return to_probabilities(raw, spec, decide_kind(raw, spec))[0]


def _edge_bands(test: np.ndarray, reference: np.ndarray, turns: int, shift: int,
                reach: int, classes: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per distance from the test window's cut edge (0 .. reach-1): class disagreement (none without
    ``classes``) and mean absolute probability change against the reference, over the central half of the edge."""
    # Output coordinates: once both are turned by ``turns`` quarters, the test window's cut edge is on the
    # left and lies ``shift`` pixels into the reference's output, the rows aligned.
    test, reference = np.rot90(test, turns, axes=(1, 2)), np.rot90(reference, turns, axes=(1, 2))
    height = test.shape[1]
    rows = slice(height // 4, height - height // 4)
    ours = test[:, rows, :reach]
    theirs = reference[:, rows, shift:shift + reach]
    different = ((channel_argmax(ours) != channel_argmax(theirs)).mean(axis=0) if classes
                 else np.zeros(ours.shape[2]))
    change = np.abs(ours - theirs).mean(axis=(0, 1))
    return different, change


def _settled_distance(disagreement: np.ndarray, change: np.ndarray) -> tuple[int, bool]:
    """The smallest distance from which every band of ``SMOOTHING`` distances (a band starting there or
    further in) is within the tolerances; and whether the measurable reach ended first."""
    length = len(disagreement)
    kernel = np.ones(min(SMOOTHING, length)) / min(SMOOTHING, length)
    classes = np.convolve(disagreement, kernel, mode="valid")
    values = np.convolve(change, kernel, mode="valid")
    outside = np.nonzero((classes > CLASS_TOLERANCE) | (values > PROBABILITY_TOLERANCE))[0]
    if len(outside) == 0:
        return 0, False
    # Every band of distances starting at the margin or beyond is within the tolerances.
    last = int(outside[-1])
    if last == len(classes) - 1:  # still out of tolerance at the end of the reach: report the reach
        return length, True
    return last + 1, False
