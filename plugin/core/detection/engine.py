"""The streaming detection run: windows in, final detections out, in one direction.

    source --(read-ahead thread)--> batches of windows --(this thread)--> predictor
           --(merging thread)--> DetectionMerger --> final detections --(writing thread)--> sink

The same reader as segmentation (:func:`..reading.generate_batches`), the same threads; the merging thread
runs :class:`.merger.DetectionMerger` instead of the segmentation merger and hands the sink detections in
area pixels (a :class:`.detections.Detections` at a time). Nothing here knows GDAL, QGIS or onnxruntime.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable, Protocol

import numpy as np

from ..contract import ModelContract
from ..engine import Predictor
from ..errors import CancelledError
from ..plan import RunPlan
from ..progress import Progress
from ..reading import AreaMask, RasterSource, WindowBatch, generate_batches
from ..threads import InOrderWorker, ReadAhead
from ..window import PixelWindow
from .detections import Detections
from .merger import DetectionMerger, DetectionSettings


class DetectionSink(Protocol):
    """Receives final detections in area pixels, in the order they are decided."""

    def write(self, detections: Detections) -> None:
        ...


@dataclass
class DetectionSummary:
    """What happened: counts and timings."""

    windows_total: int = 0
    windows_run: int = 0
    windows_skipped: int = 0
    detections: int = 0
    per_class: dict[int, int] = field(default_factory=dict)  # class index -> detections
    seconds: float = 0.0
    inference_seconds: float = 0.0


class _MergeStage:
    def __init__(self, merger: DetectionMerger, writer: InOrderWorker, summary: DetectionSummary) -> None:
        self.merger, self.writer, self.summary = merger, writer, summary

    def __call__(self, batch: WindowBatch | None, outputs: list[np.ndarray] | None) -> None:
        found: Iterable[Detections] = self.merger.finish() if batch is None else self.merger.take(batch, outputs)
        for detections in found:
            self.summary.detections += len(detections)
            for value, count in zip(*np.unique(detections.classes, return_counts=True)):
                self.summary.per_class[int(value)] = self.summary.per_class.get(int(value), 0) + int(count)
            self.writer.submit(detections)


def detect(source: RasterSource, predictor: Predictor, sink: DetectionSink, contract: ModelContract,
           area: PixelWindow, plan: RunPlan, settings: DetectionSettings, progress: Progress,
           mask: AreaMask | None = None) -> DetectionSummary:
    """Detect objects over ``area`` of ``source`` into ``sink``; raises CancelledError when the user cancels.

    With ``mask`` only detections centred on its pixels are kept, and windows entirely outside it are neither
    read nor run."""
    summary = DetectionSummary(windows_total=plan.grid.window_count)
    started = time.perf_counter()
    reader = ReadAhead(lambda stop: generate_batches(source, contract.input, area, plan, stop, mask), depth=2)
    writer = InOrderWorker(sink.write, name="write")
    merger = DetectionMerger(contract, plan, settings)
    merging = InOrderWorker(_MergeStage(merger, writer, summary), depth=1, name="merge")
    try:
        done = 0
        for batch in reader:
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
        merging.submit(None, None)
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


class CollectingSink:
    """A sink that keeps every detection in memory (tests, small areas, the accuracy assessment)."""

    def __init__(self) -> None:
        self.parts: list[Detections] = []

    def write(self, detections: Detections) -> None:
        self.parts.append(detections)

    def result(self, oriented: bool = False) -> Detections:
        return Detections.concat(self.parts, oriented if not self.parts else None)
