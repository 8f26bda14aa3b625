"""Cells compared with examples: cosine similarity to each class of examples, and k-nearest-neighbour classes.

- Similarity to a class is the cosine between a cell's vector and the class's *prototype*: the mean of its
  examples' unit vectors, made a unit vector again (prototypical networks, Snell et al. 2017). 1 is the same
  direction, 0 unrelated, -1 opposite.
- k-NN: the ``k`` examples nearest to a cell (cosine distance 1 - cosine, or euclidean distance between the raw
  vectors) vote; the class with most votes wins; a tie goes to the tied class whose voting examples are nearer in
  sum, then to the lower class. The score is the winner's share of the votes.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

DISTANCES = ("cosine", "euclidean")
DISTANCE_ELEMENTS = 4_000_000  # distances computed at once (32 MB of float64): rows x examples


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row divided by its length (rows of zeros stay zeros)."""
    vectors = np.asarray(vectors, np.float64)
    lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, lengths, out=np.zeros_like(vectors), where=lengths > 0)


def prototypes(vectors: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """(classes, D) unit vectors: the mean direction of each class's examples (zeros for a class without any)."""
    units = unit_rows(vectors)
    sums = np.zeros((classes, units.shape[1]))
    np.add.at(sums, labels, units)
    return unit_rows(sums)


def cosine_similarity(vectors: np.ndarray, prototype_rows: np.ndarray) -> np.ndarray:
    """(n, classes) cosine similarity of each vector to each prototype."""
    return np.clip(unit_rows(vectors) @ prototype_rows.T, -1.0, 1.0).astype(np.float32)


def distances(vectors: np.ndarray, examples: np.ndarray, distance: str) -> np.ndarray:
    """(n, M) distance of each vector to each example."""
    if distance == "cosine":
        return 1.0 - unit_rows(vectors) @ unit_rows(examples).T
    if distance == "euclidean":
        a, b = np.asarray(vectors, np.float64), np.asarray(examples, np.float64)
        squared = (a * a).sum(axis=1)[:, None] - 2 * a @ b.T + (b * b).sum(axis=1)[None, :]
        return np.sqrt(np.maximum(squared, 0.0))
    raise InputError(f"DISTANCE '{distance}' is not known; use one of {', '.join(DISTANCES)}.")


class NearestNeighbours:
    """k-NN over labelled example vectors (``labels``: class indices from 0)."""

    def __init__(self, examples: np.ndarray, labels: np.ndarray, classes: int, k: int,
                 distance: str = "cosine") -> None:
        if distance not in DISTANCES:
            raise InputError(f"DISTANCE '{distance}' is not known; use one of {', '.join(DISTANCES)}.")
        if k < 1:
            raise InputError(f"K must be at least 1, got {k}.")
        if k > len(examples):
            raise InputError(f"K is {k} but there are only {len(examples)} labelled example cells: a cell cannot have "
                             f"more neighbours than there are examples. Lower K to at most {len(examples)}, or give "
                             "more examples.")
        self.examples, self.labels = np.asarray(examples, np.float64), np.asarray(labels, np.int64)
        self.classes, self.k, self.distance = classes, k, distance

    def predict(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(class index, score) of each vector; in chunks, so the distance matrix stays under
        :data:`DISTANCE_ELEMENTS` values whatever the number of examples."""
        if not len(vectors):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        step = max(1, DISTANCE_ELEMENTS // len(self.examples))
        parts = [self._predict(vectors[start:start + step]) for start in range(0, len(vectors), step)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _predict(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        far = distances(vectors, self.examples, self.distance)
        order = np.argsort(far, axis=1, kind="stable")[:, :self.k]  # ties: the earlier example
        near = np.take_along_axis(far, order, axis=1)
        labels = self.labels[order]
        rows = np.arange(len(vectors))[:, None]
        votes = np.zeros((len(vectors), self.classes))
        sums = np.zeros((len(vectors), self.classes))
        np.add.at(votes, (np.broadcast_to(rows, labels.shape), labels), 1.0)
        np.add.at(sums, (np.broadcast_to(rows, labels.shape), labels), near)
        most = votes.max(axis=1, keepdims=True)
        tied = np.where(votes == most, sums, np.inf)  # among the tied classes, the nearer in sum
        winner = np.argmin(tied, axis=1)
        return winner, (most[:, 0] / self.k).astype(np.float32)
