"""The simple baseline: a pixel random forest, trained on the same training pixels and scored on the same
validation pixels as the network, so a network worse than it never goes out without a word.

Each pixel's features are its raw band values and the same spectral indices the network computes
(normalised differences of raw values). Training pixels are those of the training chips (each pixel
once, a seeded sample of at most ``max_training_pixels``); the forest (scikit-learn, ``trees`` trees) is
scored on every labelled validation pixel (a seeded sample when there are more than
``MAX_VALIDATION_PIXELS``), unit by unit, so its figures carry the same bootstrap intervals and can be
compared with the network's pair by pair. scikit-learn is optional: without it the comparison is
skipped and the report says so.
"""
from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._plugin import metrics
from .data.labels import IGNORE_INDEX
from .data.prepare import PreparedData
from .nets.indices import band_positions
from .validation import Evaluation

MAX_TRAINING_PIXELS = 100_000  # for the comparison inside train and tune; the benchmark takes more
MAX_VALIDATION_PIXELS = 2_000_000


@dataclass
class ForestResult:
    """The forest's scores on the validation area and what it was trained on."""

    evaluation: Evaluation
    trees: int
    training_pixels: int
    validation_pixels: int
    seconds: float


def available() -> bool:
    """Whether scikit-learn is installed."""
    return importlib.util.find_spec("sklearn") is not None


def pixel_features(raw: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """(bands + indices, h, w) float32: raw bands and the normalised differences the network computes."""
    values = raw.astype(np.float64)
    features = [values]
    for first, second in pairs:
        a, b = values[first], values[second]
        total = a + b
        small = np.abs(total) < 1e-6
        features.append(np.where(small, 0.0, (a - b) / np.where(small, 1.0, total))[None])
    return np.concatenate(features).astype(np.float32)


def _training_pixels(data: PreparedData, pairs: list[tuple[int, int]], limit: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Features and class indices of the training chips' labelled pixels, each pixel once."""
    per_chip = max(4 * limit // max(len(data.train.refs), 1), 1)
    keys, features, targets = [], [], []
    for index, ref in enumerate(data.train.refs):
        raw, valid = data.train.images[index] if data.train.images is not None else data.scene.read_image(ref)
        labels = data.train.labels[index]
        rows, cols = np.nonzero((labels != IGNORE_INDEX) & valid)
        if len(rows) > per_chip:
            pick = rng.choice(len(rows), per_chip, replace=False)
            rows, cols = rows[pick], cols[pick]
        keys.append((ref.window.row + rows).astype(np.int64) * 10 ** 7 + ref.window.col + cols)
        features.append(pixel_features(raw, pairs)[:, rows, cols].T)
        targets.append(labels[rows, cols])
    key = np.concatenate(keys)
    _, first = np.unique(key, return_index=True)
    if len(first) > limit:
        first = rng.choice(first, limit, replace=False)
    return np.concatenate(features)[first], np.concatenate(targets)[first].astype(np.int64)


def fit_and_score(data: PreparedData, indices: list[str] | None, roles: dict[str, int], trees: int,
                  seed: int, scored: PreparedData | None = None,
                  max_training_pixels: int = MAX_TRAINING_PIXELS) -> ForestResult:
    """Train the forest on ``data``'s training pixels and score it on the validation windows of ``scored``
    (default: ``data``'s own validation area), unit by unit."""
    from sklearn.ensemble import RandomForestClassifier

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    pairs = band_positions(indices or [], roles, data.input.band_names)
    x_train, y_train = _training_pixels(data, pairs, max_training_pixels, rng)
    forest = RandomForestClassifier(n_estimators=trees, n_jobs=-1, random_state=seed)
    forest.fit(x_train, y_train)
    evaluation, pixels = _score(forest, scored or data, pairs, rng)
    return ForestResult(evaluation, trees, int(len(y_train)), pixels, time.perf_counter() - started)


def _score(forest: Any, data: PreparedData, pairs: list[tuple[int, int]],
           rng: np.random.Generator) -> tuple[Evaluation, int]:
    values = data.classes.values
    classes = len(values)
    total = sum(int((labels != IGNORE_INDEX).sum()) for labels in data.validation.labels)
    share = min(1.0, MAX_VALIDATION_PIXELS / max(total, 1))
    units = np.zeros((max(data.validation.units, default=-1) + 1, classes, classes), np.int64)
    for index, item in enumerate(data.validation.windows):
        raw, valid = (data.validation.images[index] if data.validation.images is not None
                      else data.scene.read_image(item.read))
        labels = data.validation.labels[index]
        rows, cols = np.nonzero((labels != IGNORE_INDEX) & valid)
        if share < 1.0:
            keep = rng.random(len(rows)) < share
            rows, cols = rows[keep], cols[keep]
        if not len(rows):
            continue
        predicted = forest.predict(pixel_features(raw, pairs)[:, rows, cols].T).astype(np.int64)
        pairs_index = labels[rows, cols].astype(np.int64) * classes + predicted
        units[data.validation.units[index]] += np.bincount(pairs_index, minlength=classes ** 2).reshape(classes,
                                                                                                      classes)
    matrix = metrics.ConfusionMatrix(tuple(int(v) for v in values), units.sum(axis=0))
    return Evaluation(matrix, float("nan"), units), int(units.sum())
