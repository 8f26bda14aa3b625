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


class DetectionMerger:
    """Turns each batch's raw outputs into detections and yields those that are final, in area pixels."""

    def __init__(self, contract: ModelContract, plan: RunPlan, settings: DetectionSettings) -> None:
        if plan.offset:
            raise ModelError("A detector's output describes its whole input window; a plan with an output smaller "
                             "than the window does not apply to detectors.")
        self.plan, self.settings = plan, settings
        self.decoder = Decoder(contract)
        self.pool = DetectionPool(settings.iou_threshold, settings.cover_share, self.decoder.oriented)
        self._panel: Panel | None = None
        self._row = -1
        self._rows_done = 0  # area rows of the current panel whose detections are all final
        self.windows_decoded = 0

    def take(self, batch: WindowBatch, outputs: list[np.ndarray] | None) -> Iterator[FinishedDetections]:
        """Merge one batch (``outputs`` None when all its windows were skipped); yield final detections."""
        if self._panel is not None and batch.panel is not self._panel:
            yield from self._end_panel(batch.panel)
        self._panel = batch.panel
        if outputs is None or not batch.windows:
            return
        found = self.decoder.decode(outputs, self.settings.min_score)
        count, transforms = len(batch.windows), self.plan.transforms
        if len(found) != count * len(transforms):
            raise ModelError(f"The detector returned results for {len(found)} images; it was given "
                             f"{count * len(transforms)}.")
        for index, window in enumerate(batch.windows):
            if window.row_index != self._row:
                yield from self._settled(self.plan.grid.rows.start(window.row_index))
                self._row = window.row_index
            variants = [found[t * count + index] for t in range(len(transforms))]
            merged = merge_variants(variants, transforms, self.plan.window, self.settings.iou_threshold,
                                    self.settings.max_detections, self.settings.min_score)
            self._add(window, merged, batch.valid[index])
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

    def _add(self, window: WindowRef, found: Detections, valid: np.ndarray | None) -> None:
        """Flag cut detections, move them into area pixels, keep those centred on pixels to process."""
        if not len(found):
            return
        grid, size, tolerance = self.plan.grid, self.plan.window, self.settings.edge_tolerance
        boxes = found.boxes
        cut = np.zeros(len(found), bool)
        if window.col_index > 0:
            cut |= boxes[:, 0] <= tolerance
        if window.col_index < grid.columns.count - 1:
            cut |= boxes[:, 2] >= size - tolerance
        if window.row_index > 0:
            cut |= boxes[:, 1] <= tolerance
        if window.row_index < grid.rows.count - 1:
            cut |= boxes[:, 3] >= size - tolerance
        keep = _centred_on_valid(found, valid, size)
        left, top = grid.columns.start(window.col_index), grid.rows.start(window.row_index)
        moved = _clipped(found.select(keep), size).shifted(left, top).with_window(window.row_index, window.col_index)
        inside = _centred_inside(moved, grid.columns.length, grid.rows.length)
        moved = _clipped(moved.select(inside), None, grid.columns.length, grid.rows.length)
        self.pool.add(moved, cut[keep][inside])


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
