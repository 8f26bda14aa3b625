"""The streaming engine: windows in, finished results out, in one direction, whatever the model kind.

    source --(read-ahead thread)--> batches of windows --(this thread)--> predictor
           --(merging thread)--> WindowMerger --> finished parts --(writing thread)--> sink

:func:`run` reads the raster window row by window row (one panel of columns at a time) and
normalises it (:mod:`.reading`), runs batches through the predictor (with test-time variants), hands
each batch's outputs to the model kind's :class:`WindowMerger`, which decodes and merges them into
finished parts, and passes those to the sink. The model's thread does nothing else, so the model never
waits. Every choice is in the :class:`~.plan.RunPlan`.

This is the extension point for model kinds: a kind brings its merger (how a window's outputs are
decoded and how overlapping windows are merged, e.g. :class:`plugin.core.segmentation.merging.Merger`)
and its sink (how finished parts are written, on the GDAL side). The engine knows nothing of GDAL,
QGIS or onnxruntime, nor of classes or boxes: it talks to a :class:`RasterSource`, a
:class:`Predictor`, a :class:`WindowMerger` and a :class:`ResultSink`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

import numpy as np

from ..areas.window import PixelWindow
from ..errors import CancelledError
from ..model.contract import InputSpec
from ..progress import Progress
from .plan import RunPlan
from .reading import AreaMask, RasterSource, WindowBatch, generate_batches
from .threads import InOrderWorker, ReadAhead


class Predictor(Protocol):
    """Runs the model: (B, bands, H, W) float32 -> one array per contract output, in order."""

    def predict(self, batch: np.ndarray) -> list[np.ndarray]:
        ...


class FinishedPart(Protocol):
    """Something a merger has finished (rows of a class raster, detections...), for the sink."""

    @property
    def pixels(self) -> int:
        """Area pixels this part finishes (for the run's figures)."""
        ...


class WindowMerger(Protocol):
    """A model kind's merging: each batch's raw outputs in reading order, finished parts out."""

    def take(self, batch: WindowBatch, outputs: list[np.ndarray] | None) -> Iterable[FinishedPart]:
        """Merge one batch (``outputs`` None when all its windows were skipped as nodata)."""
        ...

    def finish(self) -> Iterable[FinishedPart]:
        """Everything not yet finished, at a panel's end and at the end of the run."""
        ...


class ResultSink(Protocol):
    """Receives finished parts in area coordinates, in order."""

    def write(self, part: Any) -> None:  # each model kind's sink takes its own part type
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
    """The merging thread's work: a batch (None at the end) in, finished parts out to the writer."""

    def __init__(self, merger: WindowMerger, writer: InOrderWorker, summary: RunSummary) -> None:
        self.merger, self.writer, self.summary = merger, writer, summary

    def __call__(self, batch: WindowBatch | None, outputs: list[np.ndarray] | None) -> None:
        parts = self.merger.finish() if batch is None else self.merger.take(batch, outputs)
        for finished in parts:
            self.writer.submit(finished)
            self.summary.pixels_written += finished.pixels


def run(source: RasterSource, predictor: Predictor, merger: WindowMerger, sink: ResultSink, spec: InputSpec,
        area: PixelWindow, plan: RunPlan, progress: Progress, mask: AreaMask | None = None) -> RunSummary:
    """Run the model over ``area`` of ``source``, merging with ``merger`` into ``sink``; raises CancelledError
    when the user cancels. ``spec`` says how raw values are normalised for the model.

    With ``mask`` only its pixels are used (the others are nodata) and windows entirely outside it are
    neither read nor run."""
    summary = RunSummary(windows_total=plan.grid.window_count)
    started = time.perf_counter()
    reader = ReadAhead(lambda stop: generate_batches(source, spec, area, plan, stop, mask), depth=2)
    writer = InOrderWorker(sink.write, name="write")
    merging = InOrderWorker(_MergeStage(merger, writer, summary), depth=1, name="merge")
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
