"""Segmentation (and per-pixel regression) over an area: the engine with the pixel-blending merger."""
from __future__ import annotations

from ..areas.window import PixelWindow
from ..engine.plan import RunPlan
from ..engine.reading import AreaMask, RasterSource
from ..engine.run import Predictor, ResultSink, RunSummary, run
from ..model.contract import ModelContract
from ..progress import Progress
from .merging import Merger


def segment(source: RasterSource, predictor: Predictor, sink: ResultSink, contract: ModelContract, area: PixelWindow,
            plan: RunPlan, progress: Progress, mask: AreaMask | None = None) -> RunSummary:
    """Classify ``area`` of ``source`` into ``sink`` (finished class rows, :class:`.outputs.FinishedRows`):
    overlapping windows blended pixel by pixel as the plan says."""
    merger = Merger(contract, plan, progress)
    return run(source, predictor, merger, sink, contract.input, area, plan, progress, mask)
