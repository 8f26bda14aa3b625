"""Scores of per-cell (or any) regression: mean absolute error, root mean square error, R², bias.

R² is 1 - (residual sum of squares) / (total sum of squares about the reference mean): 1 is perfect, 0 is no
better than predicting the mean everywhere, negative is worse. Bias is the mean of prediction - reference
(positive: overestimates). Non-finite pairs are left out; with fewer than two pairs R² is NaN.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RegressionScores:
    count: int
    mae: float
    rmse: float
    r2: float
    bias: float

    def to_dict(self) -> dict[str, float | int | None]:
        def clean(value: float) -> float | None:
            return None if not np.isfinite(value) else round(float(value), 6)
        return {"count": self.count, "mae": clean(self.mae), "rmse": clean(self.rmse), "r2": clean(self.r2),
                "bias": clean(self.bias)}


def regression_scores(reference: np.ndarray, predicted: np.ndarray) -> RegressionScores:
    """Scores of ``predicted`` against ``reference`` (arrays of the same shape, flattened)."""
    truth, guess = np.asarray(reference, np.float64).ravel(), np.asarray(predicted, np.float64).ravel()
    if truth.shape != guess.shape:
        raise ValueError(f"reference {truth.shape} and prediction {guess.shape} differ in shape")
    keep = np.isfinite(truth) & np.isfinite(guess)
    truth, guess = truth[keep], guess[keep]
    if not len(truth):
        nan = float("nan")
        return RegressionScores(0, nan, nan, nan, nan)
    error = guess - truth
    total = float(((truth - truth.mean()) ** 2).sum())
    r2 = 1.0 - float((error ** 2).sum()) / total if len(truth) > 1 and total > 0 else float("nan")
    return RegressionScores(len(truth), float(np.abs(error).mean()), float(np.sqrt((error ** 2).mean())), r2,
                            float(error.mean()))
