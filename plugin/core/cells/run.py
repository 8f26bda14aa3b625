"""A cell run over an area: the shared streaming engine with the cell merger.

    source --(read-ahead thread)--> batches of windows --(this thread)--> predictor
           --(merging thread)--> CellMerger --> finished cell rows --(writing thread)--> sink

The same reader, threads and protocols as every kind (:func:`..engine.run.run`); nothing here knows GDAL, QGIS or
onnxruntime. :class:`CollectingSink` keeps every cell in memory (tests, the similarity job's examples).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..areas.window import PixelWindow
from ..engine.plan import RunPlan
from ..engine.reading import AreaMask, RasterSource
from ..engine.run import Predictor, run
from ..model.contract import ModelContract
from ..progress import Progress
from .decode import CellDecoder
from .merger import CellMerger, FinishedCells


class CellSink(Protocol):
    """Receives finished cell rows, in order within each panel."""

    def write(self, part: FinishedCells) -> None:
        ...


@dataclass
class CellSummary:
    """What happened: cells with a result, per class channel, timings, regression values clipped."""

    cells: int = 0
    windows_total: int = 0
    windows_run: int = 0
    per_class: dict[int, int] = field(default_factory=dict)
    clipped: int = 0
    pixels: int = 0
    seconds: float = 0.0
    inference_seconds: float = 0.0


class _Counting:
    """Counts what passes to the sink (in the writing thread)."""

    def __init__(self, sink: CellSink, summary: CellSummary) -> None:
        self.sink, self.summary = sink, summary

    def write(self, part: FinishedCells) -> None:
        self.summary.cells += int(part.present.sum())
        if part.classes is not None:
            found, counts = np.unique(part.classes[part.present], return_counts=True)
            for channel, count in zip(found, counts):
                self.summary.per_class[int(channel)] = self.summary.per_class.get(int(channel), 0) + int(count)
        self.sink.write(part)


def run_cells(source: RasterSource, predictor: Predictor, sink: CellSink, contract: ModelContract, area: PixelWindow,
              plan: RunPlan, progress: Progress, mask: AreaMask | None = None) -> CellSummary:
    """One result per cell of ``plan`` over ``area`` of ``source`` into ``sink``; raises CancelledError when the
    user cancels. Cells without a valid pixel inside the area (and ``mask``) are neither read nor run."""
    summary = CellSummary()
    decoder = CellDecoder(contract, len(plan.transforms), progress)
    merger = CellMerger(plan, decoder, area.width, area.height)
    ran = run(source, predictor, merger, _Counting(sink, summary), contract.input, area, plan, progress, mask)
    summary.windows_total, summary.windows_run = ran.windows_total, ran.windows_run
    summary.pixels, summary.seconds, summary.inference_seconds = ran.pixels_written, ran.seconds, ran.inference_seconds
    summary.clipped = decoder.clipped
    return summary


class CollectingSink:
    """Every cell row kept, assembled into whole-grid arrays by :meth:`grid` (small areas and tests)."""

    def __init__(self, columns: int, rows: int) -> None:
        self.columns, self.rows = columns, rows
        self.parts: list[FinishedCells] = []

    def write(self, part: FinishedCells) -> None:
        self.parts.append(part)

    def grid(self, name: str) -> np.ndarray:
        """(rows, columns, ...) of one result (``present``, ``coverage``, ``classes``...), zeros where absent."""
        sample = next((getattr(p, name) for p in self.parts if getattr(p, name) is not None), None)
        if sample is None:
            raise KeyError(f"no cell has a '{name}' result")
        out = np.zeros((self.rows, self.columns, *sample.shape[1:]), sample.dtype)
        for part in self.parts:
            values = getattr(part, name)
            if values is not None:
                out[part.row, part.col:part.col + part.width] = values
        return out
