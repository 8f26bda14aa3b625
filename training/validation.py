"""Scoring on the validation area with the plugin's one implementation of the metrics.

Only labelled validation pixels count; unlabelled pixels, training pixels and image nodata never
enter the confusion matrix. Class channels are mapped back to the label class values, so the
matrix speaks in the same codes as the labels and the classified raster.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from . import uncertainty
from ._plugin import metrics
from .data.dataset import indexed_validation_batches
from .data.labels import IGNORE_INDEX
from .data.prepare import PreparedData
from .distributed import DistState, all_sum

Predict = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Evaluation:
    """Confusion matrix and mean loss over the labelled validation pixels."""

    confusion: metrics.ConfusionMatrix
    loss: float
    units: np.ndarray | None = None  # (units, C, C): one confusion matrix per validation unit (block or window)

    @property
    def scores(self) -> metrics.Scores:
        return self.confusion.scores()

    def interval(self, resamples: int = uncertainty.DEFAULT_RESAMPLES, seed: int = 0) -> dict[str, Any] | None:
        """95 % bootstrap intervals of OA, kappa and mIoU over the validation units (None: fewer than two)."""
        return None if self.units is None else uncertainty.bootstrap(self.units, resamples, seed)

    def summary(self, names: dict[int, str], resamples: int = 0) -> dict[str, Any]:
        """JSON-ready: loss, OA, kappa, mIoU and per-class scores (and their intervals, with ``resamples``)."""
        result = {"loss": round(self.loss, 6), **self.scores.to_dict(names)}
        interval = self.interval(resamples) if resamples else None
        if interval is not None:
            result["interval_95"] = interval
        return result


def evaluate(predict: Predict, data: PreparedData, criterion: torch.nn.Module, multiple: int, batch_size: int,
             state: DistState) -> Evaluation:
    """Run ``predict`` over this rank's validation windows; sum the matrix and loss over ranks."""
    values = data.classes.values
    accumulator = metrics.ConfusionAccumulator([int(v) for v in values])  # typed ints with numpy 1 and 2
    loss_sum, pixels = 0.0, 0
    units = unit_matrices(data)
    with torch.no_grad():
        for images, labels, indices in indexed_validation_batches(data, multiple, batch_size, state.rank,
                                                                  state.world):
            logits = predict(images.to(state.device)).float()
            target = labels.to(logits.device)
            count = int((labels != IGNORE_INDEX).sum())
            if count:
                loss_sum += float(criterion(logits, target)) * count
                pixels += count
            predicted = logits.argmax(dim=1).cpu().numpy()
            reference = labels.numpy()
            valid = reference != IGNORE_INDEX
            accumulator.update(values[np.where(valid, reference, 0)], values[predicted], valid)
            add_to_units(units, data.validation.units, indices, reference, predicted)
    matrix = accumulator.result()
    totals = all_sum(state, torch.tensor([loss_sum, float(pixels)], dtype=torch.float64))
    summed = all_sum(state, torch.from_numpy(matrix.matrix)).numpy()
    units = all_sum(state, torch.from_numpy(units)).numpy()
    loss = float(totals[0] / totals[1]) if totals[1] > 0 else float("nan")
    return Evaluation(metrics.ConfusionMatrix(matrix.values, summed), loss, units)


def unit_matrices(data: PreparedData) -> np.ndarray:
    """Zeroed per-unit confusion matrices (units, C, C) for ``data``'s validation windows."""
    count = max(data.validation.units, default=-1) + 1
    classes = len(data.classes.classes)
    return np.zeros((count, classes, classes), np.int64)


def add_to_units(units: np.ndarray, unit_of: list[int], windows: list[int], reference: np.ndarray,
                 predicted: np.ndarray) -> None:
    """Add each window's labelled pixels (class indices; IGNORE_INDEX unlabelled) to its unit's matrix."""
    classes = units.shape[1]
    for row, window in enumerate(windows):
        valid = reference[row] != IGNORE_INDEX
        pairs = reference[row][valid].astype(np.int64) * classes + predicted[row][valid]
        units[unit_of[window]] += np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)
