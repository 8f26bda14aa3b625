"""How sure a validation figure is: a bootstrap over the validation's spatial units.

Neighbouring pixels are alike, so pixels are not independent samples and an interval over pixels would
be far too narrow. The units resampled here are the validation blocks (or, for a validation layer or
extent, the validation windows): each unit keeps its own confusion matrix, a resample draws as many
units with replacement, and the 2.5th and 97.5th percentiles of the scores over the resamples give a
95 % interval. Two models scored on the same units are compared with the same draws (a paired
bootstrap): the interval of the difference says whether one is better beyond the validation's noise.
"""
from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_RESAMPLES = 200


def _weights(units: int, resamples: int, seed: int) -> np.ndarray:
    picks = np.random.default_rng(seed).integers(0, units, size=(resamples, units))
    weights = np.zeros((resamples, units))
    np.add.at(weights, (np.repeat(np.arange(resamples), units), picks.ravel()), 1.0)
    return weights


def _scores(matrices: np.ndarray) -> dict[str, np.ndarray]:
    """OA, kappa and mean IoU (over classes in reference or prediction) of a stack of (C, C) matrices."""
    total = matrices.sum(axis=(1, 2))
    diagonal = np.trace(matrices, axis1=1, axis2=2)
    reference, predicted = matrices.sum(axis=2), matrices.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = diagonal / total
        chance = (reference * predicted).sum(axis=1) / total ** 2
        kappa = np.where(chance < 1, (accuracy - chance) / (1 - chance), np.nan)
        union = reference + predicted - np.diagonal(matrices, axis1=1, axis2=2)
        iou = np.where(union > 0, np.diagonal(matrices, axis1=1, axis2=2) / np.where(union > 0, union, 1), np.nan)
        mean_iou = np.nanmean(np.where((reference + predicted) > 0, iou, np.nan), axis=1)
    return {"overall_accuracy": accuracy, "kappa": kappa, "mean_iou": mean_iou}


def _summary(values: np.ndarray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return {"low": float("nan"), "high": float("nan"), "standard_error": float("nan")}
    low, high = np.percentile(finite, [2.5, 97.5])
    return {"low": float(low), "high": float(high), "standard_error": float(finite.std(ddof=1)) if len(finite) > 1
            else 0.0}


def bootstrap(units: np.ndarray, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict[str, Any] | None:
    """95 % intervals and standard errors of OA, kappa and mIoU from per-unit confusion matrices (U, C, C);
    None with fewer than two units (no spread can be measured) or no resamples."""
    count = int(units.shape[0]) if units.ndim == 3 else 0
    if count < 2 or resamples <= 0:
        return None
    flat = units.reshape(count, -1).astype(np.float64)
    stacked = (_weights(count, resamples, seed) @ flat).reshape(resamples, *units.shape[1:])
    scores = _scores(stacked)
    return {"method": f"bootstrap over {count} validation units (blocks or windows), {resamples} resamples",
            "units": count, "resamples": resamples, **{name: _summary(v) for name, v in scores.items()}}


def paired_difference(first: np.ndarray, second: np.ndarray, resamples: int = DEFAULT_RESAMPLES,
                      seed: int = 0) -> dict[str, Any] | None:
    """The difference first - second of OA, kappa and mIoU, with its 95 % interval, drawing the same units
    for both (they must be scored on the same units, in the same order)."""
    count = int(first.shape[0]) if first.ndim == 3 else 0
    if count < 2 or resamples <= 0 or first.shape != second.shape:
        return None
    weights = _weights(count, resamples, seed)
    shape = (resamples, *first.shape[1:])
    one = _scores((weights @ first.reshape(count, -1).astype(np.float64)).reshape(shape))
    two = _scores((weights @ second.reshape(count, -1).astype(np.float64)).reshape(shape))
    point_one, point_two = _scores(first.sum(axis=0)[None]), _scores(second.sum(axis=0)[None])
    return {name: {"difference": float(point_one[name][0] - point_two[name][0]),
                   **_summary(one[name] - two[name])} for name in one}
