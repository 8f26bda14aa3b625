"""What a model's outputs become: values to accumulate per window, then classes, probabilities and
confidence per finished row.

Output conventions (documented in docs/inference.md, 'The outputs'):
- class raster: one band per model output; the contract's class values; nodata 255 (65535 when a
  class value is 255 or more) where no valid input pixel was;
- probabilities: one float32 band per class of every output, nodata -1;
- confidence: the highest class probability per output, float32, nodata -1.

Three ways to carry a window's outputs to its finished rows, chosen once per run (:class:`OutputLayout`):
blended probabilities (windows overlap or TTA averages variants), the model's raw scores (each pixel
gets one prediction: converted once per pixel, not per window), or the decided class index (no
overlap and only classes wanted: one value per pixel to keep instead of one per class).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..areas.window import PixelWindow
from ..engine.plan import RunPlan
from ..model.contract import ModelContract
from ..model.postprocess import channel_argmax, class_indices, decide_kind, to_probabilities
from ..progress import Progress

PROBABILITY_NODATA = -1.0


def class_dtype_and_nodata(contract: ModelContract) -> tuple[type, int]:
    """uint8 with nodata 255 when every class value fits below it, else uint16 with nodata 65535."""
    largest = max(c.value for c in contract.all_classes)
    return (np.uint8, 255) if largest < 255 else (np.uint16, 65535)


@dataclass
class FinishedRows:
    """Finished rows of one panel, in area coordinates: (outputs, h, w) classes, and the optional
    (classes, h, w) probabilities and (outputs, h, w) confidence."""

    row: int
    col: int
    classes: np.ndarray
    probabilities: np.ndarray | None
    confidence: np.ndarray | None

    @property
    def pixels(self) -> int:
        return int(self.classes.shape[1] * self.classes.shape[2])


class OutputKinds:
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


class OutputLayout:
    """How each model output is carried from windows to finished rows, and finished."""

    def __init__(self, contract: ModelContract, plan: RunPlan) -> None:
        self.contract = contract
        self.want_probabilities, self.want_confidence = plan.want_probabilities, plan.want_confidence
        self.dtype, self.nodata = class_dtype_and_nodata(contract)
        self._lookups: list[np.ndarray] = [np.array([c.value for c in o.classes], self.dtype) for o in contract.outputs]
        # Consecutive class values (1, 2, 3...) are the channel index plus the first: one add, no table look-up.
        self._firsts = [int(lookup[0]) if len(lookup) and (np.diff(lookup.astype(np.int64)) == 1).all() else None
                        for lookup in self._lookups]
        # Without blending each pixel has one prediction: keep raw scores, convert once per pixel.
        self.single_prediction = plan.single_prediction
        # ... and when only classes are wanted, decide them per window (argmax is the same for logits and their
        # softmax; thresholds and binary maps need probabilities).
        self.decided = self.single_prediction and not (self.want_probabilities or self.want_confidence) and all(
            o.threshold is None and channels > 1 for o, channels in zip(contract.outputs, plan.raw_channels))
        counts = [o.class_count for o in contract.outputs]
        if self.decided:
            counts = [1] * len(contract.outputs)
        elif self.single_prediction:
            counts = list(plan.raw_channels)
        self._slices, start = [], 0
        for count in counts:
            self._slices.append(slice(start, start + count))
            start += count
        self.channels = start

    def window_values(self, outputs: list[np.ndarray], kinds: list[str]) -> np.ndarray:
        """(B, channels, h, w) values to accumulate: probabilities, raw scores or decided class indices."""
        parts = []
        for raw, spec, kind in zip(outputs, self.contract.outputs, kinds):
            if self.decided:  # the channel index of the best class, per window
                parts.append(np.stack([channel_argmax(window) for window in raw])[:, None].astype(np.float32))
            elif self.single_prediction:  # the model's own output array: ours to modify
                parts.append(raw.astype(np.float32, copy=False))
            else:
                parts.append(to_probabilities(raw, spec, kind))
        values = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        if values.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got {values.shape[1]}")
        return values

    def finish(self, row: int, col: int, values: np.ndarray, weights: np.ndarray,
               kinds: list[str] | None) -> FinishedRows:
        """Divide by the summed weights and decide classes for a block of rows (``values`` is overwritten).

        ``kinds`` is None while no window has run (every pixel so far was nodata): the rows are nodata.
        """
        if not kinds:
            return self._nodata_rows(row, col, weights.shape)
        valid = weights > 0
        if not self.single_prediction:  # without blending every weight is 0 or 1: nothing to divide
            values /= np.where(valid, weights, 1.0)
        classes, probabilities, confidence = [], [], []
        for spec, kind, part, lookup, first in zip(self.contract.outputs, kinds, self._slices, self._lookups,
                                                   self._firsts):
            head = values[part]
            if self.decided:
                classes.append(self._decided_classes(head[0], lookup, first, valid))
                continue
            needs_probabilities = (not self.single_prediction or self.want_probabilities or self.want_confidence
                                   or spec.threshold is not None or kind != "logits" or head.shape[0] == 1)
            if needs_probabilities:
                head = to_probabilities(head[None], spec, kind)[0] if self.single_prediction else head
                index = class_indices(head, spec.threshold)
            else:
                index = channel_argmax(head)  # argmax of logits is argmax of their softmax
            values_out = lookup[index]
            if not valid.all():
                values_out[~valid] = self.nodata
            classes.append(values_out)
            if self.want_probabilities:
                probabilities.append(np.where(valid, head, PROBABILITY_NODATA).astype(np.float32))
            if self.want_confidence:
                confidence.append(np.where(valid, head.max(axis=0), PROBABILITY_NODATA).astype(np.float32))
        return FinishedRows(row, col, np.stack(classes), np.concatenate(probabilities) if probabilities else None,
                            np.stack(confidence) if confidence else None)

    def _nodata_rows(self, row: int, col: int, shape: tuple[int, ...]) -> FinishedRows:
        outputs, classes = len(self.contract.outputs), self.contract.class_count
        probabilities = (np.full((classes, *shape), PROBABILITY_NODATA, np.float32) if self.want_probabilities
                         else None)
        confidence = np.full((outputs, *shape), PROBABILITY_NODATA, np.float32) if self.want_confidence else None
        return FinishedRows(row, col, np.full((outputs, *shape), self.nodata, self.dtype), probabilities, confidence)

    def _decided_classes(self, index: np.ndarray, lookup: np.ndarray, first: int | None,
                         valid: np.ndarray) -> np.ndarray:
        """Class values from accumulated channel indices (whole numbers stored as float32)."""
        if first is None:
            values_out = lookup[index.astype(np.intp)]
        else:
            values_out = np.add(index, first, out=np.empty(index.shape, self.dtype), casting="unsafe")
        if not valid.all():
            values_out[~valid] = self.nodata
        return values_out


class RowSink(Protocol):
    """Where finished rows go (the engine's sink for segmentation runs)."""

    def write(self, rows: FinishedRows) -> None:
        ...


class ClippedSink:
    """A RowSink that passes on only the rows inside ``block`` (coordinates of the run's area), moved to
    the block's origin: a block run writes its block and nothing of its halo."""

    def __init__(self, sink: RowSink, block: PixelWindow) -> None:
        self._sink, self._block = sink, block

    def write(self, rows: FinishedRows) -> None:
        height, width = rows.classes.shape[1:]
        inside = PixelWindow(rows.col, rows.row, width, height).intersect(self._block)
        if inside is None:
            return
        r = slice(inside.row - rows.row, inside.row_end - rows.row)
        c = slice(inside.col - rows.col, inside.col_end - rows.col)
        self._sink.write(FinishedRows(
            inside.row - self._block.row, inside.col - self._block.col, rows.classes[:, r, c],
            None if rows.probabilities is None else rows.probabilities[:, r, c],
            None if rows.confidence is None else rows.confidence[:, r, c]))
