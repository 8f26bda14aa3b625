"""Detections from the engine's stream of window batches, merged across windows: the detection counterpart
of :class:`..segmentation.merging.Merger`, a :class:`..engine.run.WindowMerger` with the same two methods.

The engine gives :meth:`DetectionMerger.take` each batch (:class:`..engine.reading.WindowBatch`, panel by panel,
window row by window row) with the model's raw outputs (transform-major when test-time variants are run).
Per window: decode (:mod:`.decode`), turn the variants back and merge them, suppress and cap
(:mod:`.windows`); flag the detections touching an interior window edge as cut; move them into area pixels,
drop those centred outside the area or on pixels that are not to be processed (nodata, outside the mask),
clip the rest to their window and the area. Across windows, :class:`.pool.DetectionPool` decides each
detection as soon as no later window can reach it, so what is yielded is final and memory holds only the
detections of the rows still open. Each part (:class:`FinishedDetections`) also counts the area pixels whose
detections it completes, for the run's figures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..engine.grid import Panel
from ..engine.plan import RunPlan
from ..engine.reading import WindowBatch, WindowRef
from ..errors import InputError, ModelError
from ..model.contract import ModelContract
from ..model.contract_detection import DetectionSpec
from .decode import Decoder
from .detections import Detections
from .pool import DetectionPool
from .windows import merge_variants

EDGE_TOLERANCE = 2.0  # pixels: a box this close to an interior window edge counts as cut by it
COVER_SHARE = 0.5  # a cut box is dropped when a whole box of its class covers this share of it


@dataclass(frozen=True)
class FinishedDetections:
    """Detections decided for good (area pixels), and the area pixels whose detections are now all final."""

    detections: Detections
    pixels: int


@dataclass(frozen=True)
class DetectionSettings:
    """The numbers a detection run uses (Processing parameters MIN_SCORE, IOU, MAX_DETECTIONS)."""

    min_score: float = 0.25
    iou_threshold: float = 0.5
    max_detections: int = 300  # per window
    edge_tolerance: float = EDGE_TOLERANCE
    cover_share: float = COVER_SHARE

    @classmethod
    def for_contract(cls, contract: ModelContract, min_score: float | None = None,
                     iou_threshold: float | None = None, max_detections: int | None = None) -> "DetectionSettings":
        """The contract's defaults, each overridden by the value given (None: the contract's)."""
        spec = contract.detection or DetectionSpec()
        settings = cls(spec.score_threshold if min_score is None else float(min_score),
                       spec.iou_threshold if iou_threshold is None else float(iou_threshold),
                       spec.max_detections if max_detections is None else int(max_detections))
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise InputError(f"MIN_SCORE must be from 0 to 1, got {self.min_score:g}.")
        if not 0.0 < self.iou_threshold <= 1.0:
            raise InputError(f"IOU must be above 0 and at most 1, got {self.iou_threshold:g}.")
        if self.max_detections < 1:
            raise InputError(f"MAX_DETECTIONS must be at least 1 (per window), got {self.max_detections}.")
        if self.edge_tolerance < 0 or not 0.0 < self.cover_share <= 1.0:
            raise InputError("The edge tolerance must be 0 or more and the cover share above 0 and at most 1.")


class WindowCandidates:
    """Each window's detections as candidates for the cross-window merge: decoded, test-time variants turned
    back and merged, suppressed and capped; flagged *cut* where they touch an interior edge of the whole run's
    grid; moved into area pixels; those centred outside the area or on pixels not to be processed dropped, the
    rest clipped to their window and the area. A window's candidates depend only on its pixels and its place in
    ``plan``'s grid, so a block of a larger run (:mod:`.blocks`) computes exactly what one run computes."""

    def __init__(self, contract: ModelContract, plan: RunPlan, settings: DetectionSettings) -> None:
        if plan.offset:
            raise ModelError("A detector's output describes its whole input window; a plan with an output smaller "
                             "than the window does not apply to detectors.")
        self.plan, self.settings = plan, settings
        self.decoder = Decoder(contract)
        self.found = 0  # detections the windows gave (after their own suppression)
        self.outside = 0  # of those, centred outside the window that gave them (a detector whose boxes are not
        # in its input's pixels: the run says so)

    def of_batch(self, batch: WindowBatch, outputs: list[np.ndarray], first_row: int = 0,
                 first_col: int = 0) -> Iterator[tuple[WindowRef, Detections, np.ndarray]]:
        """(window, candidates, cut flags) per window of the batch; the batch's window indices are moved by
        ``first_row``, ``first_col`` into the plan's grid (a block run's grid is a part of it)."""
        found = self.decoder.decode(outputs, self.settings.min_score)
        count, transforms = len(batch.windows), self.plan.transforms
        if len(found) != count * len(transforms):
            raise ModelError(f"The detector returned results for {len(found)} images; it was given "
                             f"{count * len(transforms)}.")
        for index, window in enumerate(batch.windows):
            variants = [found[t * count + index] for t in range(len(transforms))]
            merged = merge_variants(variants, transforms, self.plan.window, self.settings.iou_threshold,
                                    self.settings.max_detections, self.settings.min_score)
            placed = WindowRef(window.panel, window.row_index + first_row, window.col_index + first_col)
            moved, cut = self.place(placed.row_index, placed.col_index, merged, batch.valid[index])
            yield placed, moved, cut

    def place(self, row: int, col: int, found: Detections, valid: np.ndarray | None) -> tuple[Detections, np.ndarray]:
        """Flag cut detections of window (``row``, ``col``), move them into area pixels, keep those centred on
        pixels to process."""
        if not len(found):
            return Detections.empty(self.decoder.oriented), np.zeros(0, bool)
        grid, size, tolerance = self.plan.grid, self.plan.window, self.settings.edge_tolerance
        centres = found.centres()
        self.found += len(found)
        self.outside += int(np.count_nonzero((centres < 0).any(axis=1) | (centres >= size).any(axis=1)))
        boxes = found.boxes
        cut = np.zeros(len(found), bool)
        if col > 0:
            cut |= boxes[:, 0] <= tolerance
        if col < grid.columns.count - 1:
            cut |= boxes[:, 2] >= size - tolerance
        if row > 0:
            cut |= boxes[:, 1] <= tolerance
        if row < grid.rows.count - 1:
            cut |= boxes[:, 3] >= size - tolerance
        keep = _centred_on_valid(found, valid, size)
        left, top = grid.columns.start(col), grid.rows.start(row)
        moved = _clipped(found.select(keep), size).shifted(left, top).with_window(row, col)
        inside = _centred_inside(moved, grid.columns.length, grid.rows.length)
        moved = _clipped(moved.select(inside), None, grid.columns.length, grid.rows.length)
        return moved, cut[keep][inside]


class DetectionMerger:
    """Turns each batch's raw outputs into detections and yields those that are final, in area pixels.

    :meth:`enter_panel` and :meth:`add_window` are the steps :meth:`take` makes; a distributed run's assembly
    replays its blocks' candidates through them, window by window in the order one run takes them, and so
    yields what one run yields."""

    def __init__(self, contract: ModelContract, plan: RunPlan, settings: DetectionSettings) -> None:
        self.candidates = WindowCandidates(contract, plan, settings)
        self.plan, self.settings = plan, settings
        self.decoder = self.candidates.decoder
        self.pool = DetectionPool(settings.iou_threshold, settings.cover_share, self.decoder.oriented)
        self._panel: Panel | None = None
        self._row = -1
        self._rows_done = 0  # area rows of the current panel whose detections are all final
        self.windows_decoded = 0

    def take(self, batch: WindowBatch, outputs: list[np.ndarray] | None) -> Iterator[FinishedDetections]:
        """Merge one batch (``outputs`` None when all its windows were skipped); yield final detections."""
        yield from self.enter_panel(batch.panel)
        if outputs is None or not batch.windows:
            return
        for window, found, cut in self.candidates.of_batch(batch, outputs):
            yield from self.add_window(window, found, cut)

    def enter_panel(self, panel: Panel) -> Iterator[FinishedDetections]:
        """The windows that follow belong to ``panel``: at a new panel, decide what it cannot reach."""
        if self._panel is not None and panel is not self._panel:
            yield from self._end_panel(panel)
        self._panel = panel

    def add_window(self, window: WindowRef, found: Detections, cut: np.ndarray) -> Iterator[FinishedDetections]:
        """One window's candidates (area pixels, with their cut flags); at a new window row, decide what the
        rows below cannot reach."""
        if window.row_index != self._row:
            yield from self._settled(self.plan.grid.rows.start(window.row_index))
            self._row = window.row_index
        if len(found):
            self.pool.add(found, cut)
        self.windows_decoded += 1

    def finish(self) -> Iterator[FinishedDetections]:
        """Every detection still open: the run has ended."""
        yield from self._settled(math.inf, math.inf)
        self._panel, self._row, self._rows_done = None, -1, 0

    # ---- steps --------------------------------------------------------------------------------------
    def _end_panel(self, following: Panel) -> Iterator[FinishedDetections]:
        """The current panel is done: decide what the next panel cannot reach, forget what it runs again."""
        yield from self._settled(math.inf, self._panel_left(following))
        self.pool.forget_windows_from(following.first_window)
        self._row, self._rows_done = -1, 0

    def _panel_left(self, panel: Panel | None) -> float:
        return math.inf if panel is None else float(self.plan.grid.columns.start(panel.first_window))

    def _next_panel(self) -> Panel | None:
        panels = self.plan.grid.panels
        position = next((i for i, p in enumerate(panels) if p is self._panel or p == self._panel), len(panels))
        return panels[position + 1] if position + 1 < len(panels) else None

    def _settled(self, frontier: float, next_panel: float | None = None) -> Iterator[FinishedDetections]:
        limit = self._panel_left(self._next_panel()) if next_panel is None else next_panel
        kept = self.pool.settle(frontier, limit)
        rows = self.plan.grid.rows.length
        done = int(max(0, min(frontier, rows)))
        width = self._panel.out_end - self._panel.out_start if self._panel is not None else 0
        pixels = max(done - self._rows_done, 0) * width
        self._rows_done = max(done, self._rows_done)
        if len(kept) or pixels:
            yield FinishedDetections(kept, pixels)


def _centred_on_valid(found: Detections, valid: np.ndarray | None, size: int) -> np.ndarray:
    """Detections whose centre lies on a pixel the run processes (``valid``: the window's 0/1 footprint)."""
    if valid is None:
        return np.ones(len(found), bool)
    centres = np.clip(np.floor(found.centres()).astype(np.int64), 0, size - 1)
    return valid[centres[:, 1], centres[:, 0]] > 0


def _centred_inside(found: Detections, width: int, height: int) -> np.ndarray:
    centres = found.centres()
    return (centres[:, 0] >= 0) & (centres[:, 0] < width) & (centres[:, 1] >= 0) & (centres[:, 1] < height)


def _clipped(found: Detections, size: int | None, width: int | None = None, height: int | None = None) -> Detections:
    """Axis-aligned boxes clipped to the window (``size``) or the area (``width`` x ``height``): a model sees
    nothing beyond its window, and nothing is reported beyond the area. Oriented boxes are left whole."""
    if found.oriented or not len(found):
        return found
    right, bottom = (size, size) if size is not None else (width, height)
    boxes = found.boxes.copy()
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, right)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, bottom)
    return Detections(boxes, found.scores, found.classes, None, found.windows)
