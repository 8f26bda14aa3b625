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

from ._plugin import metrics
from .data.dataset import validation_batches
from .data.labels import IGNORE_INDEX
from .data.prepare import PreparedData
from .distributed import DistState, all_sum

Predict = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Evaluation:
    """Confusion matrix and mean loss over the labelled validation pixels."""

    confusion: metrics.ConfusionMatrix
    loss: float

    @property
    def scores(self) -> metrics.Scores:
        return self.confusion.scores()

    def summary(self, names: dict[int, str]) -> dict[str, Any]:
        """JSON-ready: loss, OA, kappa, mIoU and per-class scores."""
        return {"loss": round(self.loss, 6), **self.scores.to_dict(names)}


def evaluate(predict: Predict, data: PreparedData, criterion: torch.nn.Module, multiple: int, batch_size: int,
             state: DistState) -> Evaluation:
    """Run ``predict`` over this rank's validation windows; sum the matrix and loss over ranks."""
    values = data.classes.values
    accumulator = metrics.ConfusionAccumulator([int(v) for v in values])  # typed ints with numpy 1 and 2
    loss_sum, pixels = 0.0, 0
    with torch.no_grad():
        for images, labels in validation_batches(data, multiple, batch_size, state.rank, state.world):
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
    matrix = accumulator.result()
    totals = all_sum(state, torch.tensor([loss_sum, float(pixels)], dtype=torch.float64))
    summed = all_sum(state, torch.from_numpy(matrix.matrix)).numpy()
    loss = float(totals[0] / totals[1]) if totals[1] > 0 else float("nan")
    return Evaluation(metrics.ConfusionMatrix(matrix.values, summed), loss)
