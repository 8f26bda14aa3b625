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
from ..errors import CancelledError
from ..model.contract import ModelContract
from ..progress import Progress
from .decode import CellDecoder, CellValues
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


def run_windows(source: RasterSource, predictor: Predictor, contract: ModelContract, plan: RunPlan,
                corners: list[tuple[int, int]], progress: Progress | None = None) -> tuple[CellValues, np.ndarray]:
    """The results of single windows of the plan's size with their top-left corners at ``corners`` (row, column;
    source coordinates, possibly beyond the raster, which is mirrored as the engine mirrors), with the plan's
    variants and batch size; and, per window, the share of its cell (the window less the border) that is valid.
    For a few windows off any grid: the examples of a similarity search."""
    from ..engine.reading import read_padded
    from ..engine.tta import expand
    from ..model.preprocess import normalise

    decoder = CellDecoder(contract, len(plan.transforms), progress)
    size, inner = plan.window, slice(plan.offset, plan.window - plan.offset)
    found: list[CellValues] = []
    shares = np.zeros(len(corners), np.float32)
    for start in range(0, len(corners), plan.batch_size):
        if progress is not None and progress.is_cancelled():
            raise CancelledError("the run was cancelled; no output was written.")
        chunk = corners[start:start + plan.batch_size]
        batch = np.empty((len(chunk), contract.input.bands, size, size), np.float32)
        for index, (top, left) in enumerate(chunk):
            raw, valid = read_padded(source, top, left, size, size)
            normalise(raw, contract.input, valid, out=batch[index])
            shares[start + index] = float(valid[inner, inner].mean())
        found.append(decoder.decode(predictor.predict(expand(batch, plan.transforms)), len(chunk)))
    joined = CellValues()
    for name in ("classes", "scores", "probabilities", "values", "embeddings"):
        arrays = [getattr(f, name) for f in found if getattr(f, name) is not None]
        if arrays:
            setattr(joined, name, np.concatenate(arrays))
    return joined, shares
