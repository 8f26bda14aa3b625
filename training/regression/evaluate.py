"""Scoring a regression network on validation (or test) windows with the plugin's one implementation of the
regression metrics, in the target's own units: MAE, RMSE, R², bias and correlation per target band, the loss,
a sample of (predicted, reference) pairs for the scatter plot and a map of the residuals over the scene."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._plugin import regression_metrics
from .data import RegressionData, Windows
from .dataset import window_batches

MAP_SIDE = 800  # the residual map's longest side, in cells (pixels are averaged into cells beyond that)


@dataclass
class RegressionEvaluation:
    """The scores per target band, the mean loss, samples for the scatter plot, and the residual map."""

    scores: list[regression_metrics.RegressionScores]
    loss: float
    samples: list[tuple[np.ndarray, np.ndarray]]
    residuals: np.ndarray  # (rows, cols) mean predicted - reference of the first band per cell, NaN where none
    objective: str

    @property
    def score(self) -> float:
        """The selection's figure (higher is better), averaged over the bands: R², or the RMSE's or MAE's skill
        1 - error / (standard deviation of the reference), which orders epochs and trials as the error does."""
        values = [objective_value(s, self.objective) for s in self.scores]
        return float(np.mean(values)) if values else float("nan")

    def summary(self, names: tuple[str, ...]) -> dict[str, Any]:
        return {"loss": self.loss, "objective": self.objective, "score": self.score,
                "bands": {name: s.to_dict() for name, s in zip(names, self.scores)}}


def objective_value(scores: regression_metrics.RegressionScores, objective: str) -> float:
    """R², or 1 - RMSE/σ, or 1 - MAE/σ (σ: the reference's standard deviation); -inf when undefined."""
    if objective == "r2":
        value = scores.r2
    else:
        error = scores.rmse if objective == "rmse" else scores.mae
        value = 1.0 - error / scores.reference_std if error is not None and scores.reference_std else None
    return float(value) if value is not None and math.isfinite(value) else -math.inf


class _ResidualMap:
    """Mean residual per cell of the scene grid (cells of ``step`` x ``step`` pixels)."""

    def __init__(self, width: int, height: int) -> None:
        self.step = max(1, math.ceil(max(width, height) / MAP_SIDE))
        shape = (math.ceil(height / self.step), math.ceil(width / self.step))
        self.sums, self.counts = np.zeros(shape), np.zeros(shape)

    def add(self, residual: np.ndarray, row: int, col: int) -> None:
        rows, cols = np.nonzero(np.isfinite(residual))
        cells = ((rows + row) // self.step, (cols + col) // self.step)
        np.add.at(self.sums, cells, residual[rows, cols])
        np.add.at(self.counts, cells, 1)

    def result(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)


def evaluate_regression(model: torch.nn.Module, data: RegressionData, windows: Windows, criterion: torch.nn.Module,
                        device: torch.device, batch_size: int, objective: str) -> RegressionEvaluation:
    """Run ``model`` (standardised outputs) over ``windows`` and score it in units."""
    spec = data.targets
    mean = torch.tensor(spec.mean, dtype=torch.float32)[None, :, None, None]
    std = torch.tensor(spec.std, dtype=torch.float32)[None, :, None, None]
    accumulators = [regression_metrics.RegressionAccumulator(shift=m) for m in spec.mean]
    width, height = data.scene.extent_pixels
    residuals = _ResidualMap(width, height)
    loss_sum, pixels = 0.0, 0
    model.eval()
    with torch.no_grad():
        for images, items in window_batches(data, windows, getattr(model, "size_multiple", 1), batch_size):
            outputs = model(images.to(device)).float().cpu()
            values = (outputs * std + mean).numpy()
            for position, (index, targets) in enumerate(items):
                height_w, width_w = targets.shape[1:]
                predicted = values[position, :, :height_w, :width_w]
                count = int(np.isfinite(targets[0]).sum())
                if count:
                    standardised = torch.from_numpy(spec.standardise(targets))[None]
                    loss_sum += float(criterion(outputs[position:position + 1, :, :height_w, :width_w],
                                                standardised)) * count
                    pixels += count
                for band, accumulator in enumerate(accumulators):
                    accumulator.update(predicted[band], targets[band], np.isfinite(targets[band]))
                read = windows.windows[index].read.window
                residuals.add(predicted[0] - targets[0], read.row, read.col)
    return RegressionEvaluation([a.result() for a in accumulators], loss_sum / pixels if pixels else float("nan"),
                                [a.sample for a in accumulators], residuals.result(), objective)
