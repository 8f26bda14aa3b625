"""Accuracy assessment: one implementation of the confusion matrix and its scores.

Used by the "Assess classification accuracy" algorithm and by training validation. Rows are the
reference (truth), columns the prediction, as in scikit-learn. Producer's accuracy is recall,
user's accuracy is precision (Congalton & Green). Scores that divide by zero are NaN.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

_BINCOUNT_LIMIT = 1024  # values below this are counted with one bincount, others via np.unique


class ConfusionAccumulator:
    """Counts (reference, predicted) pairs block by block; any integer class values, found as they come."""

    def __init__(self, class_values: Iterable[int] = ()) -> None:
        self._counts: dict[tuple[int, int], int] = {}
        self._declared = sorted({int(v) for v in class_values})

    def update(self, reference: np.ndarray, predicted: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Add the pixels (or points) where ``valid`` is True; arrays of the same shape."""
        if reference.shape != predicted.shape:
            raise ValueError(f"reference {reference.shape} and prediction {predicted.shape} differ in shape")
        ref, pred = reference.ravel(), predicted.ravel()
        if valid is not None:
            keep = valid.ravel()
            ref, pred = ref[keep], pred[keep]
        if ref.size == 0:
            return
        ref, pred = ref.astype(np.int64), pred.astype(np.int64)
        low = min(ref.min(), pred.min())
        high = max(ref.max(), pred.max())
        if low >= 0 and high < _BINCOUNT_LIMIT:
            counts = np.bincount(ref * _BINCOUNT_LIMIT + pred, minlength=0)
            codes = np.nonzero(counts)[0]
            pairs = zip(codes // _BINCOUNT_LIMIT, codes % _BINCOUNT_LIMIT, counts[codes])
        else:
            stacked, counts = np.unique(np.stack([ref, pred], axis=1), axis=0, return_counts=True)
            pairs = zip(stacked[:, 0], stacked[:, 1], counts)
        for r, p, n in pairs:
            key = (int(r), int(p))
            self._counts[key] = self._counts.get(key, 0) + int(n)

    def merge(self, other: "ConfusionAccumulator") -> None:
        for key, n in other._counts.items():
            self._counts[key] = self._counts.get(key, 0) + n

    def result(self) -> "ConfusionMatrix":
        values = set(self._declared)
        for r, p in self._counts:
            values.update((r, p))
        order = sorted(values)
        index = {v: i for i, v in enumerate(order)}
        matrix = np.zeros((len(order), len(order)), np.int64)
        for (r, p), n in self._counts.items():
            matrix[index[r], index[p]] += n
        return ConfusionMatrix(tuple(order), matrix)


@dataclass(frozen=True)
class ConfusionMatrix:
    """A square matrix of counts over ``values``: rows reference, columns prediction."""

    values: tuple[int, ...]
    matrix: np.ndarray

    @classmethod
    def from_arrays(cls, reference: np.ndarray, predicted: np.ndarray, class_values: Iterable[int] = (),
                    valid: np.ndarray | None = None) -> "ConfusionMatrix":
        acc = ConfusionAccumulator(class_values)
        acc.update(reference, predicted, valid)
        return acc.result()

    @property
    def total(self) -> int:
        return int(self.matrix.sum())

    def scores(self) -> "Scores":
        return Scores.from_matrix(self)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


@dataclass(frozen=True)
class Scores:
    """Overall and per-class scores of a confusion matrix."""

    values: tuple[int, ...]
    total: int
    overall_accuracy: float
    kappa: float
    producers_accuracy: np.ndarray  # recall, per class
    users_accuracy: np.ndarray  # precision, per class
    f1: np.ndarray
    iou: np.ndarray
    reference_count: np.ndarray
    predicted_count: np.ndarray

    @property
    def mean_iou(self) -> float:
        """Mean IoU over the classes that occur in the reference or the prediction."""
        present = (self.reference_count + self.predicted_count) > 0
        return float(np.nanmean(self.iou[present])) if present.any() else float("nan")

    @classmethod
    def from_matrix(cls, cm: ConfusionMatrix) -> "Scores":
        m = cm.matrix.astype(np.float64)
        total = m.sum()
        diagonal = np.diag(m)
        reference, predicted = m.sum(axis=1), m.sum(axis=0)
        overall = float(diagonal.sum() / total) if total else float("nan")
        expected = float((reference * predicted).sum() / total ** 2) if total else float("nan")
        kappa = (overall - expected) / (1 - expected) if total and expected < 1 else float("nan")
        recall, precision = _ratio(diagonal, reference), _ratio(diagonal, predicted)
        f1 = _ratio(2 * diagonal, reference + predicted)
        iou = _ratio(diagonal, reference + predicted - diagonal)
        return cls(cm.values, int(total), overall, float(kappa), recall, precision, f1, iou,
                   reference.astype(np.int64), predicted.astype(np.int64))

    def to_dict(self, names: dict[int, str] | None = None) -> dict[str, Any]:
        """JSON-ready: NaN becomes None."""
        def clean(x: float) -> float | None:
            return None if np.isnan(x) else round(float(x), 6)
        names = names or {}
        return {
            "total": self.total,
            "overall_accuracy": clean(self.overall_accuracy),
            "kappa": clean(self.kappa),
            "mean_iou": clean(self.mean_iou),
            "classes": [
                {"value": v, "name": names.get(v, f"class {v}"),
                 "reference_count": int(self.reference_count[i]), "predicted_count": int(self.predicted_count[i]),
                 "producers_accuracy": clean(self.producers_accuracy[i]),
                 "users_accuracy": clean(self.users_accuracy[i]),
                 "f1": clean(self.f1[i]), "iou": clean(self.iou[i])}
                for i, v in enumerate(self.values)
            ],
        }


class ValueCounter:
    """Counts integer values block by block: a histogram over any int values (e.g. mapped class areas)."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def update(self, values: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Add the values where ``valid`` is True."""
        flat = values.ravel() if valid is None else values.ravel()[valid.ravel()]
        if flat.size == 0:
            return
        found, counts = np.unique(flat.astype(np.int64), return_counts=True)
        for value, n in zip(found, counts):
            self._counts[int(value)] = self._counts.get(int(value), 0) + int(n)

    @property
    def counts(self) -> dict[int, int]:
        """Value -> count, sorted by value."""
        return dict(sorted(self._counts.items()))

    @property
    def total(self) -> int:
        return sum(self._counts.values())
