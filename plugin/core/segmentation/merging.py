"""Merging overlapping windows into finished rows: window weights, accumulation, and the rows no later
window reaches, finished and handed on.

The engine gives :class:`Merger` each batch's model outputs in reading order (panel by panel, window
row by window row); :meth:`Merger.take` checks them, averages their test-time variants, weights each
window (zero over nodata), adds it into a buffer that holds only the rows still receiving
contributions, and yields every row block that is now complete (:class:`~.outputs.FinishedRows`, or for a
regression model :class:`~.blended_values.FinishedValues`: the same weighted sums, finished as values).
Memory depends on the window size and the panel width, never on the raster's height or area.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..engine import tta
from ..engine.blending import window_weights
from ..engine.grid import Panel
from ..engine.plan import RunPlan
from ..engine.reading import WindowBatch, WindowRef
from ..errors import ModelError
from ..model.contract import ModelContract
from ..model.contract_regression import is_regression
from ..progress import Progress
from .blended_values import FinishedValues, ValueLayout
from .outputs import FinishedRows, OutputKinds, OutputLayout

Finished = FinishedRows | FinishedValues


class RowAccumulator:
    """Weighted sums for the rows still receiving contributions, over one panel's columns.

    Holds ``window`` rows of ``channels`` sums plus one row of summed weights: memory depends on the
    window and the panel width, never on the raster's height. With ``single_prediction`` every pixel gets at
    most one prediction (no overlap, no TTA): values are stored, not summed, which saves a pass.
    """

    def __init__(self, channels: int, height: int, col0: int, width: int, top: int,
                 single_prediction: bool = False) -> None:
        self.values = np.zeros((channels, height, width), np.float32)
        self.weights = np.zeros((height, width), np.float32)
        self.col0, self.top = col0, top
        self.single_prediction = single_prediction

    def add(self, row: int, col: int, values: np.ndarray, weights: np.ndarray | None) -> None:
        """Add ``values * weights`` (``values`` is modified in place) at area position (row, col).

        ``weights`` None means weight one everywhere: the values are added as they are.
        """
        r, c = row - self.top, col - self.col0
        h, w = values.shape[-2:]
        if self.single_prediction:
            self.values[:, r:r + h, c:c + w] = values
            self.weights[r:r + h, c:c + w] = 1.0 if weights is None else weights
            return
        if weights is None:
            self.values[:, r:r + h, c:c + w] += values
            self.weights[r:r + h, c:c + w] += 1.0
            return
        np.multiply(values, weights, out=values)
        self.values[:, r:r + h, c:c + w] += values
        self.weights[r:r + h, c:c + w] += weights

    def top_rows(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Views of the first ``count`` rows (sums, weights); call :meth:`drop_rows` when done with them."""
        if not 0 < count <= self.weights.shape[0]:
            raise ValueError(f"cannot take {count} rows from a buffer of {self.weights.shape[0]}")
        return self.values[:, :count], self.weights[:count]

    def drop_rows(self, count: int) -> None:
        """Forget the first ``count`` rows; later rows move up and the freed rows are zeroed."""
        keep = self.weights.shape[0] - count
        if keep > 0:
            self.values[:, :keep] = self.values[:, count:]
            self.weights[:keep] = self.weights[count:]
        if not self.single_prediction:  # stored values are overwritten; only sums need zeros
            self.values[:, keep:] = 0.0
        self.weights[keep:] = 0.0
        self.top += count


class _PanelState:
    """The accumulator of the panel being merged."""

    def __init__(self, panel: Panel, plan: RunPlan, channels: int) -> None:
        columns, rows = plan.grid.columns, plan.grid.rows
        col0 = columns.start(panel.first_window) + plan.offset
        width = columns.start(panel.last_window) + plan.window - plan.offset - col0
        self.panel = panel
        self.accumulator = RowAccumulator(channels, plan.footprint, col0, width, rows.start(0) + plan.offset,
                                          single_prediction=plan.single_prediction)
        self.end_row = rows.start(rows.count - 1) + plan.window - plan.offset


class Merger:
    """Turns each batch's outputs into weighted sums, and yields the rows that are finished."""

    def __init__(self, contract: ModelContract, plan: RunPlan, progress: Progress) -> None:
        self.contract, self.plan = contract, plan
        self.layout: OutputLayout | ValueLayout = (ValueLayout(contract, plan) if is_regression(contract)
                                                   else OutputLayout(contract, plan))
        self.kinds = OutputKinds(contract, progress)
        self._state: _PanelState | None = None
        self._weights: dict[tuple, np.ndarray | None] = {}

    def take(self, batch: WindowBatch, outputs: list[np.ndarray] | None) -> Iterator[Finished]:
        """Merge one batch (``outputs`` None when all its windows were skipped as nodata)."""
        if self._state is not None and batch.panel is not self._state.panel:
            yield from self.finish()
        if self._state is None:
            self._state = _PanelState(batch.panel, self.plan, self.layout.channels)
        if outputs is not None:
            merged = _merge_outputs(outputs, self.plan, len(self.contract.outputs), batch)
            values = self.layout.window_values(merged, self.kinds.resolve(merged))
            yield from self._accumulate(batch, values)

    def finish(self) -> Iterator[Finished]:
        """Every row of the current panel not yet yielded (at a panel's end and at the end of the run)."""
        if self._state is not None:
            yield from self._rows_above(self._state.end_row)
            self._state = None

    def _accumulate(self, batch: WindowBatch, values: np.ndarray) -> Iterator[Finished]:
        """Weight each window's values into the accumulator, finishing rows no later window reaches."""
        plan, state = self.plan, self._state
        if state is None:
            raise RuntimeError("a batch was accumulated before its panel started")
        for index, window in enumerate(batch.windows):
            top = plan.grid.rows.start(window.row_index) + plan.offset
            yield from self._rows_above(top)
            weights, valid = _weights(plan, window, self._weights), batch.valid[index]
            if valid is not None:  # some pixels are nodata: they get no weight
                weights = valid if weights is None else weights * valid
            left = plan.grid.columns.start(window.col_index) + plan.offset
            state.accumulator.add(top, left, values[index], weights)

    def _rows_above(self, new_top: int) -> Iterator[Finished]:
        """Finish every accumulated row above ``new_top``; yield the area rows among them."""
        if self._state is None:
            return
        accumulator, panel = self._state.accumulator, self._state.panel
        area_height = self.plan.grid.rows.length
        while accumulator.top < new_top:
            first = accumulator.top
            count = min(new_top - first, accumulator.weights.shape[0])
            lo, hi = max(first, 0), min(first + count, area_height)
            if hi > lo:
                values, weights = accumulator.top_rows(count)
                c0, c1 = panel.out_start - accumulator.col0, panel.out_end - accumulator.col0
                rows = slice(lo - first, hi - first)
                yield self.layout.finish(lo, panel.out_start, values[:, rows, c0:c1], weights[rows, c0:c1],
                                         self.kinds.kinds)
            accumulator.drop_rows(count)


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


def _weights(plan: RunPlan, window: WindowRef, cache: dict[tuple, np.ndarray | None]) -> np.ndarray | None:
    """The footprint weights of a window, by its sides' overlaps with its neighbours (0 where a side faces the
    edge of the area); None when they are one everywhere."""
    row_sides, column_sides = plan.grid.rows.sides(window.row_index), plan.grid.columns.sides(window.col_index)
    key = (row_sides, column_sides)
    if key not in cache:
        full = window_weights(plan.blending, plan.window, (*row_sides, *plan.side_margins(row_sides)),
                              (*column_sides, *plan.side_margins(column_sides)))
        end = plan.window - plan.offset
        footprint = np.ascontiguousarray(full[plan.offset:end, plan.offset:end])
        cache[key] = None if (footprint == 1.0).all() else footprint
    return cache[key]
