"""A detection run cut into blocks (a distributed run's tasks) that gives exactly the detections of one run.

Each block is run over the windows of the whole run's grid that touch it (:mod:`..engine.blocks`: the same
windows, read from the same pixels), and records, for every window it runs, that window's *candidates*
(:class:`.merger.WindowCandidates`: decoded, turned back, suppressed and capped within the window, flagged cut
where they touch an interior edge of the whole grid, in the whole area's pixels). A window's candidates
depend only on its pixels and its place in the whole grid, so every block that runs a window records the
same ones, and every window one run runs is run by some block (the block holding one of its valid pixels).

The assembly (:func:`replay`) feeds each window's candidates, once, to the whole run's
:class:`.merger.DetectionMerger` in the order one run feeds them (panel by panel, window row by window row),
so the cross-window merge settles the same detections at the same steps: the same detections, in the same
order, as one process. Candidates are few (at most MAX_DETECTIONS per window), so the blocks' records are
small; the assembly holds them all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from ..areas.window import PixelWindow
from ..engine.blocks import Block, block_plan
from ..engine.plan import RunPlan
from ..engine.reading import AreaMask, RasterSource, WindowBatch, WindowRef
from ..engine.run import Predictor, RunSummary, run
from ..model.contract import ModelContract
from ..progress import Progress
from .detections import Detections
from .merger import DetectionMerger, DetectionSettings, FinishedDetections, WindowCandidates


@dataclass
class BlockRecord:
    """The windows a block run ran (whole-grid row, column; in run order) and their candidates with cut flags
    (``candidates.windows`` says which window reported each)."""

    windows: np.ndarray
    candidates: Detections
    cut: np.ndarray
    found: int = 0  # detections its windows gave, and of those centred outside their window (see
    outside: int = 0  # :attr:`..run.DetectionSummary.detector_misplaced`)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The record as named arrays (for ``numpy.savez``)."""
        found = self.candidates
        return {"windows": self.windows, "boxes": found.boxes, "scores": found.scores, "classes": found.classes,
                "rotated": found.rotated if found.rotated is not None else np.zeros((0, 5)),
                "oriented": np.array(found.oriented), "reported_by": found.windows, "cut": self.cut,
                "counts": np.array([self.found, self.outside], np.int64)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "BlockRecord":
        """A record read back from :meth:`to_arrays` (raises KeyError or ValueError when it is not one)."""
        rotated = arrays["rotated"] if bool(arrays["oriented"]) else None
        found = Detections(arrays["boxes"], arrays["scores"], arrays["classes"], rotated, arrays["reported_by"])
        found_count, outside = (int(v) for v in arrays["counts"])
        return cls(np.asarray(arrays["windows"], np.int64).reshape(-1, 2), found, np.asarray(arrays["cut"], bool),
                   found_count, outside)


class CandidateRecorder:
    """A :class:`..engine.run.WindowMerger` that merges nothing: it records each window's candidates (see the
    module's description). Its block run's windows are moved by (``first_row``, ``first_col``) into the whole
    run's grid."""

    def __init__(self, contract: ModelContract, whole_plan: RunPlan, settings: DetectionSettings, first_row: int,
                 first_col: int) -> None:
        self.candidates = WindowCandidates(contract, whole_plan, settings)
        self.first_row, self.first_col = first_row, first_col
        self._windows: list[tuple[int, int]] = []
        self._found: list[Detections] = []
        self._cut: list[np.ndarray] = []

    def take(self, batch: WindowBatch, outputs: list[np.ndarray] | None) -> Iterator[FinishedDetections]:
        if outputs is None or not batch.windows:
            return iter(())
        for window, found, cut in self.candidates.of_batch(batch, outputs, self.first_row, self.first_col):
            self._windows.append((window.row_index, window.col_index))
            self._found.append(found)
            self._cut.append(cut)
        return iter(())

    def finish(self) -> Iterator[FinishedDetections]:
        return iter(())

    def record(self) -> BlockRecord:
        oriented = self.candidates.decoder.oriented
        windows = np.array(self._windows, np.int64).reshape(-1, 2)
        return BlockRecord(windows, Detections.concat(self._found, oriented),
                           np.concatenate(self._cut) if self._cut else np.zeros(0, bool), self.candidates.found,
                           self.candidates.outside)


class _NoSink:
    def write(self, part: object) -> None:
        pass


def record_block(source: RasterSource, predictor: Predictor, contract: ModelContract, area: PixelWindow, block: Block,
                 whole_plan: RunPlan, settings: DetectionSettings, progress: Progress,
                 mask: AreaMask | None = None) -> tuple[BlockRecord, RunSummary]:
    """Run the windows of the whole run's grid that touch ``block`` (:func:`..engine.blocks.block_plan`) and record
    their candidates; ``area`` is the whole run's area in raster coordinates."""
    run_area, _ = block.in_raster(area)
    recorder = CandidateRecorder(contract, whole_plan, settings, block.rows[0], block.columns[0])
    summary = run(source, predictor, recorder, _NoSink(), contract.input, run_area, block_plan(whole_plan, block),
                  progress, mask)
    return recorder.record(), summary


def replay(records: Sequence[BlockRecord], contract: ModelContract, whole_plan: RunPlan,
           settings: DetectionSettings) -> Iterator[FinishedDetections]:
    """The whole run's final detections from its blocks' records, as one run would yield them."""
    ran: dict[tuple[int, int], tuple[Detections, np.ndarray]] = {}
    for record in records:
        reported = {tuple(w) for w in record.windows.tolist()}
        new = [w for w in reported if w not in ran]
        for row, col in new:
            chosen = (record.candidates.windows[:, 0] == row) & (record.candidates.windows[:, 1] == col)
            ran[(row, col)] = (record.candidates.select(chosen), record.cut[chosen])
    merger = DetectionMerger(contract, whole_plan, settings)
    grid = whole_plan.grid
    for panel in grid.panels:
        yield from merger.enter_panel(panel)
        for row in range(grid.rows.count):
            for col in range(panel.first_window, panel.last_window + 1):
                if (row, col) in ran:
                    found, cut = ran[(row, col)]
                    yield from merger.add_window(WindowRef(panel, row, col), found, cut)
    yield from merger.finish()
