"""Object detection over an area: the shared streaming engine with the detection merger.

    source --(read-ahead thread)--> batches of windows --(this thread)--> predictor
           --(merging thread)--> DetectionMerger --> final detections --(writing thread)--> sink

The same reader, threads and protocols as segmentation (:func:`..engine.run.run`); the merging thread runs
:class:`.merger.DetectionMerger`, whose parts (:class:`.merger.FinishedDetections`) hold detections in area
pixels, decided for good. Nothing here knows GDAL, QGIS or onnxruntime.
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
from .detections import Detections
from .merger import DetectionMerger, DetectionSettings, FinishedDetections


class DetectionSink(Protocol):
    """Receives the final detections, part by part, in the order they are decided."""

    def write(self, part: FinishedDetections) -> None:
        ...


@dataclass
class DetectionSummary:
    """What happened: windows, detections per class index, timings."""

    windows_total: int = 0
    windows_run: int = 0
    windows_skipped: int = 0
    detections: int = 0
    per_class: dict[int, int] = field(default_factory=dict)
    pixels: int = 0
    seconds: float = 0.0
    inference_seconds: float = 0.0
    window_detections: int = 0  # what the windows gave before the cross-window merge
    centred_outside: int = 0  # of those, centred outside their own window (see :attr:`detector_misplaced`)

    @property
    def detector_misplaced(self) -> bool:
        """The windows gave detections and every one was centred outside its window: the detector's boxes are not
        in pixels of the window it was given."""
        return self.window_detections > 0 and self.centred_outside == self.window_detections


class _Counting:
    """Counts what passes to the sink (in the writing thread, which sees every part in order)."""

    def __init__(self, sink: DetectionSink, summary: DetectionSummary) -> None:
        self.sink, self.summary = sink, summary

    def write(self, part: FinishedDetections) -> None:
        self.summary.detections += len(part.detections)
        for value, count in zip(*np.unique(part.detections.classes, return_counts=True)):
            self.summary.per_class[int(value)] = self.summary.per_class.get(int(value), 0) + int(count)
        self.sink.write(part)


def detect(source: RasterSource, predictor: Predictor, sink: DetectionSink, contract: ModelContract,
           area: PixelWindow, plan: RunPlan, settings: DetectionSettings, progress: Progress,
           mask: AreaMask | None = None) -> DetectionSummary:
    """Detect objects over ``area`` of ``source`` into ``sink``; raises CancelledError when the user cancels.

    With ``mask`` only detections centred on its pixels are kept, and windows entirely outside it are neither
    read nor run."""
    summary = DetectionSummary()
    merger = DetectionMerger(contract, plan, settings)
    ran = run(source, predictor, merger, _Counting(sink, summary), contract.input, area, plan, progress, mask)
    summary.windows_total, summary.windows_run, summary.windows_skipped = (ran.windows_total, ran.windows_run,
                                                                           ran.windows_skipped)
    summary.pixels, summary.seconds, summary.inference_seconds = ran.pixels_written, ran.seconds, ran.inference_seconds
    summary.window_detections, summary.centred_outside = merger.candidates.found, merger.candidates.outside
    return summary


class CollectingSink:
    """A sink that keeps every detection in memory (tests, small areas, the accuracy assessment)."""

    def __init__(self) -> None:
        self.parts: list[Detections] = []

    def write(self, part: FinishedDetections) -> None:
        self.parts.append(part.detections)

    def result(self, oriented: bool = False) -> Detections:
        return Detections.concat(self.parts, oriented if not self.parts else None)
