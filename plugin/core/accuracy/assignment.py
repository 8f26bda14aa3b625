"""Does a confusion matrix look permuted? The best one-to-one matching of reference classes to classified classes.

Two legends that number the same classes differently (a model trained from a text field numbers its classes
alphabetically, 1 farm, 2 forest, 3 grass; a dataset's raster codes them 1 farm, 2 meadow, 3 forest) give a
confusion matrix whose large counts sit off the diagonal. The assignment of reference classes to classified
classes that maximises the matched samples (the Hungarian method, on the square matrix) says how much an honest
relabelling would score; when that is far above the diagonal, the codes were most likely compared blindly.

Pure (numpy only).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import ConfusionMatrix

# The best matching must beat the diagonal by this much overall accuracy before the matrix "looks permuted".
PERMUTED_MARGIN = 0.10


def best_assignment(weights: np.ndarray) -> np.ndarray:
    """``columns`` with ``columns[i]`` the column matched to row ``i``, one-to-one, maximising the sum of the
    matched weights of a square matrix (the Hungarian method with potentials, O(n³))."""
    weights = np.asarray(weights, dtype=np.float64)
    n = weights.shape[0]
    if weights.shape != (n, n):
        raise ValueError(f"a square matrix is needed, got {weights.shape}")
    if n == 0:
        return np.zeros(0, np.int64)
    cost = weights.max() - weights  # maximising the weights is minimising this
    row_potential, column_potential = np.zeros(n + 1), np.zeros(n + 1)
    row_of = np.zeros(n + 1, np.int64)  # row_of[j]: the row (1-based) matched to column j; column 0 is a sentinel
    previous = np.zeros(n + 1, np.int64)
    for row in range(1, n + 1):
        row_of[0], column = row, 0
        slack = np.full(n + 1, np.inf)
        used = np.zeros(n + 1, bool)
        while row_of[column] != 0 or column == 0:
            used[column] = True
            current = row_of[column]
            free = ~used[1:]
            reduced = cost[current - 1] - row_potential[current] - column_potential[1:]
            better = free & (reduced < slack[1:])
            slack[1:][better] = reduced[better]
            previous[1:][better] = column
            candidates = np.where(free, slack[1:], np.inf)
            next_column = int(np.argmin(candidates)) + 1
            delta = candidates[next_column - 1]
            row_potential[row_of[used]] += delta
            column_potential[used] -= delta
            slack[~used] -= delta
            column = next_column
        while column:  # flip the augmenting path back to the start
            row_of[column] = row_of[previous[column]]
            column = previous[column]
    columns = np.zeros(n, np.int64)
    for column in range(1, n + 1):
        columns[row_of[column] - 1] = column - 1
    return columns


@dataclass(frozen=True)
class Relabelling:
    """The best one-to-one matching of reference classes to classified classes and what it would score."""

    pairs: tuple[tuple[int, int], ...]  # (reference value, classification value) where they differ
    overall_accuracy: float  # with the matching
    diagonal_accuracy: float  # as the codes are compared

    @property
    def looks_permuted(self) -> bool:
        return bool(self.pairs) and self.overall_accuracy - self.diagonal_accuracy >= PERMUTED_MARGIN

    def to_dict(self) -> dict[str, object]:
        return {"overall_accuracy": round(self.overall_accuracy, 6), "pairs": [
            {"reference": r, "classification": c} for r, c in self.pairs], "looks_permuted": self.looks_permuted}


def best_relabelling(confusion: ConfusionMatrix) -> Relabelling:
    """The matching of reference classes to classified classes with the most samples on it."""
    total = confusion.total
    if total == 0:
        return Relabelling((), float("nan"), float("nan"))
    columns = best_assignment(confusion.matrix)
    matched = int(confusion.matrix[np.arange(len(columns)), columns].sum())
    values = confusion.values
    pairs = tuple((values[r], values[int(c)]) for r, c in enumerate(columns)
                  if r != c and confusion.matrix[r, c] > 0)
    return Relabelling(pairs, matched / total, float(np.trace(confusion.matrix)) / total)
