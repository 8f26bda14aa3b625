"""The streaming engine: windows in, finished class rows out, in one direction.

    source --(read-ahead thread)--> batches of windows --(this thread)--> predictor
           --(merging thread)--> Merger --> finished rows --(writing thread)--> sink

:func:`run` reads the raster window row by window row (one panel of columns at a time) and
normalises it (:mod:`.reading`), runs batches through the predictor (with test-time variants), merges
each batch's outputs into finished rows (:mod:`.merging`) and hands them to the sink. The model's
thread does nothing else, so the model never waits. Every choice is in the :class:`~.plan.RunPlan`.

The engine knows nothing of GDAL, QGIS or onnxruntime: it talks to a :class:`RasterSource`, a
:class:`Predictor` and a :class:`ResultSink`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable, Protocol

import numpy as np

from .contract import ModelContract
from .errors import CancelledError
from .merging import Merger
from .outputs import FinishedRows
from .plan import RunPlan
from .progress import Progress
from .reading import AreaMask, RasterSource, WindowBatch, generate_batches
from .threads import InOrderWorker, ReadAhead
from .window import PixelWindow


class Predictor(Protocol):
    """Runs the model: (B, bands, H, W) float32 -> one array per contract output, in order."""

    def predict(self, batch: np.ndarray) -> list[np.ndarray]:
        ...


class ResultSink(Protocol):
    """Receives finished rows in area coordinates, in order."""

    def write(self, rows: FinishedRows) -> None:
        ...


@dataclass
class RunSummary:
    """What happened: counts and timings, for the log and the benchmarks."""

    windows_total: int = 0
    windows_run: int = 0
    windows_skipped: int = 0
    pixels_written: int = 0
    seconds: float = 0.0
    inference_seconds: float = 0.0

    @property
    def megapixels_per_second(self) -> float:
        return self.pixels_written / 1e6 / self.seconds if self.seconds else 0.0


class _MergeStage:
    """The merging thread's work: a batch (None at the end) in, finished rows out to the writer."""

    def __init__(self, merger: Merger, writer: InOrderWorker, summary: RunSummary) -> None:
        self.merger, self.writer, self.summary = merger, writer, summary

    def __call__(self, batch: WindowBatch | None, outputs: list[np.ndarray] | None) -> None:
        rows: Iterable[FinishedRows] = self.merger.finish() if batch is None else self.merger.take(batch, outputs)
        for finished in rows:
            self.writer.submit(finished)
            self.summary.pixels_written += finished.pixels


def run(source: RasterSource, predictor: Predictor, sink: ResultSink, contract: ModelContract, area: PixelWindow,
        plan: RunPlan, progress: Progress, mask: AreaMask | None = None) -> RunSummary:
    """Classify ``area`` of ``source`` into ``sink``; raises CancelledError when the user cancels.

    With ``mask`` only its pixels are classified (the others are nodata) and windows entirely outside
    it are neither read nor run."""
    summary = RunSummary(windows_total=plan.grid.window_count)
    started = time.perf_counter()
    reader = ReadAhead(lambda stop: generate_batches(source, contract.input, area, plan, stop, mask), depth=2)
    writer = InOrderWorker(sink.write, name="write")
    merging = InOrderWorker(_MergeStage(Merger(contract, plan, progress), writer, summary), depth=1, name="merge")
    try:
        _infer(reader, predictor, merging, summary, progress)
        merging.submit(None, None)  # the end: finish the last panel
        merging.close()
        writer.close()
    except BaseException:
        merging.abandon()
        writer.abandon()
        raise
    finally:
        reader.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _infer(batches: Iterable[WindowBatch], predictor: Predictor, merging: InOrderWorker, summary: RunSummary,
           progress: Progress) -> None:
    """The model loop: run each batch and hand its outputs on; check for cancellation every batch."""
    done = 0
    for batch in batches:
        if progress.is_cancelled():
            raise CancelledError("the run was cancelled; no output was written.")
        outputs = None
        if batch.windows:
            tick = time.perf_counter()
            outputs = predictor.predict(batch.tensor)
            summary.inference_seconds += time.perf_counter() - tick
        merging.submit(batch, outputs)
        done += batch.windows_done
        summary.windows_run += len(batch.windows)
        summary.windows_skipped = done - summary.windows_run
        progress.set_fraction(done / max(summary.windows_total, 1))
