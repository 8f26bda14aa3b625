"""The streaming engine: windows in, blended class rows out.

``run`` reads the raster window row by window row (one panel of columns at a time), normalises,
runs batches through the predictor (with D4 variants when TTA is on), weights each window's
probabilities, accumulates them in a buffer that holds only the rows still receiving contributions,
and hands finished rows to the sink. Reading runs ahead in a thread and writing runs behind in
another. Memory depends on the window size and the panel width, never on the raster's height or area.

The engine knows nothing of GDAL, QGIS or onnxruntime: it talks to a :class:`RasterSource`, a
:class:`Predictor` and a :class:`ResultSink`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator, Protocol

import numpy as np

from .blending import RowAccumulator, window_weights
from .contract import ModelContract
from .errors import CancelledError, ModelError
from .grid import Panel
from .pipeline import ReadAhead, InOrderWorker
from .plan import RunPlan
from .postprocess import decide_kind
from .progress import Progress
from .reading import Area, RasterSource, WindowBatch, generate_batches
from .results import RowFinisher
from . import tta


class Predictor(Protocol):
    """Runs the model: (B, bands, H, W) float32 -> one array per contract output, in order."""

    def predict(self, batch: np.ndarray) -> list[np.ndarray]:
        ...


class ResultSink(Protocol):
    """Receives finished rows in area coordinates (see :class:`results.RowFinisher` for the arrays)."""

    def write(self, row: int, col: int, classes: np.ndarray, probabilities: np.ndarray | None,
              confidence: np.ndarray | None) -> None:
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
    output_kinds: list[str] = field(default_factory=list)

    @property
    def megapixels_per_second(self) -> float:
        return self.pixels_written / 1e6 / self.seconds if self.seconds else 0.0


class _OutputKinds:
    """Each output's kind, with ``auto`` resolved from the first batch and logged once."""

    def __init__(self, contract: ModelContract, progress: Progress) -> None:
        self._contract, self._progress = contract, progress
        self.kinds: list[str] | None = None

    def resolve(self, raw: list[np.ndarray]) -> list[str]:
        if self.kinds is None:
            self.kinds = [decide_kind(r, spec) for r, spec in zip(raw, self._contract.outputs)]
            for spec, kind in zip(self._contract.outputs, self.kinds):
                if spec.kind == "auto":
                    self._progress.info(f"Output '{spec.name}' has no kind in its contract: its values look like "
                                        f"{kind}. Set outputs[].kind in a CONTRACT sidecar to be explicit.")
        return self.kinds


def _merge_outputs(outputs: list[np.ndarray], plan: RunPlan, expected_outputs: int,
                   batch: WindowBatch) -> list[np.ndarray]:
    """Check the outputs of one batch and average its TTA variants: (B, C, h, w) per output."""
    if len(outputs) != expected_outputs:
        raise ModelError(f"The model returned {len(outputs)} outputs; its contract describes {expected_outputs}.")
    merged = []
    for raw in outputs:
        raw = raw[:, None] if raw.ndim == 3 else raw
        if raw.shape[-1] != plan.footprint or raw.shape[-2] != plan.footprint:
            raise ModelError(f"The model returned {raw.shape[-2]} x {raw.shape[-1]} px for a {plan.window} px "
                             f"window; expected {plan.footprint} px. Give the output size in a CONTRACT sidecar.")
        _require_finite(raw, plan, batch)
        merged.append(tta.merge(raw, plan.transforms))
    return merged


def _require_finite(raw: np.ndarray, plan: RunPlan, batch: WindowBatch) -> None:
    """Stop at the first window whose output holds NaN or infinity: a class raster made from it would look
    ordinary and be wrong. One sum per window finds them (checked element-wise before refusing)."""
    sums = raw.reshape(len(raw), -1).sum(axis=1)
    for index in np.flatnonzero(~np.isfinite(sums)):
        if np.isfinite(raw[index]).all():  # a float32 sum of huge but finite scores overflowed
            continue
        window = batch.windows[int(index) % len(batch.windows)]
        cols = _clipped(plan.grid.columns.start(window.col_index), plan.window, plan.grid.columns.length)
        rows = _clipped(plan.grid.rows.start(window.row_index), plan.window, plan.grid.rows.length)
        raise ModelError(f"The model returned NaN or infinite values for the window over columns {cols} and rows "
                         f"{rows} of the processing area; the run was stopped and no output was written. Check the "
                         "model, its normalisation (input.scale, offset, mean, std in the contract) and the input "
                         "values there.")


def _clipped(start: int, size: int, length: int) -> str:
    """'first to last' pixel of a window along one axis, inside the area."""
    return f"{max(start, 0)} to {min(start + size, length) - 1}"


def run(source: RasterSource, predictor: Predictor, sink: ResultSink, contract: ModelContract, area: Area,
        plan: RunPlan, options_probabilities: bool, options_confidence: bool, progress: Progress) -> RunSummary:
    """Classify ``area`` of ``source`` into ``sink``; raises CancelledError when the user cancels.

    Four stages overlap: reading and normalising (a thread), the model (this thread, which does nothing
    else so the model never waits), blending and finishing rows (a thread), writing (a thread).
    """
    summary = RunSummary(windows_total=plan.grid.window_count)
    started = time.perf_counter()
    kinds = _OutputKinds(contract, progress)
    reader = ReadAhead(lambda stop: generate_batches(source, contract.input, area, plan, stop), depth=2)
    writer = InOrderWorker(sink.write)
    blender = _Blender(contract, plan, RowFinisher(contract, plan, options_probabilities, options_confidence),
                       kinds, writer, summary)
    blending = InOrderWorker(blender.take, depth=1)  # each item holds a batch of model outputs
    try:
        _infer(reader, predictor, blending, summary, progress)
        blending.submit(None, None)  # the end: finish the last panel
        blending.close()
        writer.close()
    except BaseException:
        blending.abandon()
        writer.abandon()
        raise
    finally:
        reader.close()
    summary.seconds = time.perf_counter() - started
    summary.output_kinds = kinds.kinds or []
    return summary


def _infer(batches: Iterator[WindowBatch], predictor: Predictor, blending: InOrderWorker, summary: RunSummary,
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
        blending.submit(batch, outputs)
        done += batch.windows_done
        summary.windows_run += len(batch.windows)
        summary.windows_skipped = done - summary.windows_run
        progress.set_fraction(done / max(summary.windows_total, 1))


class _PanelState:
    """The accumulator of the panel being processed and the rows it has finished."""

    def __init__(self, panel: Panel, plan: RunPlan, channels: int) -> None:
        columns, rows = plan.grid.columns, plan.grid.rows
        col0 = columns.start(panel.first_window) + plan.offset
        width = columns.start(panel.last_window) + plan.window - plan.offset - col0
        self.panel = panel
        self.accumulator = RowAccumulator(channels, plan.footprint, col0, width, rows.start(0) + plan.offset,
                                          single_cover=plan.raw_blend)
        self.end_row = rows.start(rows.count - 1) + plan.window - plan.offset


class _Blender:
    """Turns each batch's outputs into weighted sums and finished rows (runs in its own thread, in order)."""

    def __init__(self, contract: ModelContract, plan: RunPlan, finisher: RowFinisher, kinds: _OutputKinds,
                 writer: InOrderWorker, summary: RunSummary) -> None:
        self.contract, self.plan, self.finisher, self.kinds = contract, plan, finisher, kinds
        self.writer, self.summary = writer, summary
        self.state: _PanelState | None = None
        self.weights_cache: dict[tuple, np.ndarray | None] = {}

    def take(self, batch: WindowBatch | None, outputs: list[np.ndarray] | None) -> None:
        if batch is None or (self.state is not None and batch.panel is not self.state.panel):
            self._finish_panel()
        if batch is None:
            return
        if self.state is None:
            self.state = _PanelState(batch.panel, self.plan, self.finisher.channels)
        if outputs is not None:
            merged = _merge_outputs(outputs, self.plan, len(self.contract.outputs), batch)
            values = self.finisher.window_values(merged, self.kinds.resolve(merged))
            self._accumulate(batch, values)

    def _finish_panel(self) -> None:
        if self.state is not None:
            self.finisher.flush(self.state.accumulator, self.state.end_row, self.state.panel, self.kinds.kinds or [],
                                self.writer, self.summary)
            self.state = None

    def _accumulate(self, batch: WindowBatch, values: np.ndarray) -> None:
        """Weight each window's values into the accumulator, finishing rows no later window reaches."""
        plan, state = self.plan, self.state
        for index, window in enumerate(batch.windows):
            top = plan.grid.rows.start(window.row_index) + plan.offset
            self.finisher.flush(state.accumulator, top, state.panel, self.kinds.kinds or [], self.writer,
                                self.summary)
            weights, valid = _weights(plan, window, self.weights_cache), batch.valid[index]
            if valid is not None:  # some pixels are nodata: they get no weight
                weights = valid if weights is None else weights * valid
            left = plan.grid.columns.start(window.col_index) + plan.offset
            state.accumulator.add(top, left, values[index], weights)


def _weights(plan: RunPlan, window, cache: dict[tuple, np.ndarray | None]) -> np.ndarray | None:
    """The footprint weights of a window, by which of its sides face the edge of the area (None: all one)."""
    grid = plan.grid
    key = (window.row_index == 0, window.row_index == grid.rows.count - 1,
           window.col_index == 0, window.col_index == grid.columns.count - 1)
    if key not in cache:
        full = window_weights(plan.blending, plan.window, plan.overlap, plan.margin, key[:2], key[2:])
        end = plan.window - plan.offset
        footprint = np.ascontiguousarray(full[plan.offset:end, plan.offset:end])
        cache[key] = None if (footprint == 1.0).all() else footprint
    return cache[key]
