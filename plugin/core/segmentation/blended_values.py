"""Per-pixel regression: window outputs blended as values, never decided as classes.

A regression model (outputs of kind ``regression``, :mod:`plugin.core.model.contract_regression`) gives
continuous values per pixel. The merger (:mod:`.merging`) weights and accumulates them exactly as it does
class probabilities; :class:`ValueLayout` then divides each pixel's weighted sum by its summed weights, so a
finished pixel is the weighted mean of every window's prediction there (with ``smooth`` blending the weights
of overlapping windows add up to one, so context-starved window edges count for nothing). Pixels without a
valid input pixel are written as the contract's nodata value (``value_nodata``: -9999 unless that is a valid
value). Values outside the contract's ``valid_range`` are kept as the model gave them here; the finishing
step counts them (and clips them when asked).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..areas.window import PixelWindow
from ..engine.plan import RunPlan
from ..errors import ModelError
from ..model.contract import ModelContract
from ..model.contract_regression import regression_specs, value_nodata


@dataclass
class FinishedValues:
    """Finished rows of one panel in area coordinates: (bands, h, w) float32 values, ``nodata`` where no valid
    input pixel was."""

    row: int
    col: int
    values: np.ndarray
    nodata: float

    @property
    def pixels(self) -> int:
        return int(self.values.shape[1] * self.values.shape[2])

    def inside(self, block: PixelWindow) -> "FinishedValues | None":
        """The part of these rows inside ``block`` (area coordinates), moved to the block's origin."""
        height, width = self.values.shape[1:]
        inside = PixelWindow(self.col, self.row, width, height).intersect(block)
        if inside is None:
            return None
        part = self.values[:, inside.row - self.row:inside.row_end - self.row,
                           inside.col - self.col:inside.col_end - self.col]
        return FinishedValues(inside.row - block.row, inside.col - block.col, part, self.nodata)


class ValueLayout:
    """How regression outputs are carried from windows to finished rows: their values, weighted and averaged."""

    def __init__(self, contract: ModelContract, plan: RunPlan) -> None:
        self.bands = [spec.bands for spec in regression_specs(contract)]
        self.channels = sum(self.bands)
        self.nodata = value_nodata(contract)
        self.single_prediction = plan.single_prediction
        self._names = [o.name or f"output {i + 1}" for i, o in enumerate(contract.outputs)]

    def window_values(self, outputs: list[np.ndarray], kinds: list[str]) -> np.ndarray:
        """(B, channels, h, w) float32 values to accumulate: each output's channels, one after another."""
        for raw, bands, name in zip(outputs, self.bands, self._names):
            if raw.shape[1] != bands:
                raise ModelError(f"Output '{name}' has {raw.shape[1]} channel(s) but the contract names {bands} "
                                 "band(s) (outputs[].band_names); give one name per channel in a CONTRACT sidecar.")
        values = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=1)
        return values.astype(np.float32, copy=False)

    def finish(self, row: int, col: int, values: np.ndarray, weights: np.ndarray,
               kinds: list[str] | None) -> FinishedValues:
        """The weighted mean of the windows' values per pixel (``values`` is overwritten); nodata where no window
        gave a weight (``kinds`` None: no window has run yet, every pixel so far was nodata)."""
        if not kinds:
            return FinishedValues(row, col, np.full((self.channels, *weights.shape), self.nodata, np.float32),
                                  self.nodata)
        valid = weights > 0
        if not self.single_prediction:  # without blending every weight is 0 or 1: nothing to divide
            values /= np.where(valid, weights, 1.0)
        result = np.array(values, np.float32, copy=True)  # the accumulator's rows are reused after this
        if not valid.all():
            result[:, ~valid] = self.nodata
        return FinishedValues(row, col, result, self.nodata)


class ValueSink(Protocol):
    """Where finished values go (the engine's sink for regression runs)."""

    def write(self, part: FinishedValues) -> None:
        ...


class ClippedValueSink:
    """Passes on only the values inside ``block`` (coordinates of the run's area), moved to the block's origin:
    a block run of a distributed job writes its block and nothing of its halo."""

    def __init__(self, sink: ValueSink, block: PixelWindow) -> None:
        self._sink, self._block = sink, block

    def write(self, part: FinishedValues) -> None:
        inside = part.inside(self._block)
        if inside is not None:
            self._sink.write(inside)


def outside_range(values: np.ndarray, nodata: float, valid_range: tuple[float, float] | None) -> np.ndarray:
    """Where a (h, w) band of values holds data outside ``valid_range`` (none without a range)."""
    if valid_range is None:
        return np.zeros(values.shape, bool)
    low, high = valid_range
    return (values != nodata) & ((values < low) | (values > high))
