"""The simple baseline of a regression model: a pixel random forest (scikit-learn's regressor) trained on the same
training pixels and scored on the same validation pixels as the network, with the same metrics, so a network that
learnt less than each pixel's own values tell never goes out without a word (as :mod:`..forest` does for
classes). Features are the raw band values and the spectral indices the network computes. scikit-learn is
optional: without it the comparison is skipped and the report says so."""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from .. import forest as class_forest
from .._plugin import progress as progress_module
from .._plugin import regression_metrics
from ..nets.indices import band_positions
from .data import RegressionData
from .evaluate import RegressionEvaluation

Progress = progress_module.Progress
MAX_TRAINING_PIXELS = 100_000


def _pairs(data: RegressionData, indices: list[str] | None, roles: dict[str, int]) -> list[tuple[int, int]]:
    return band_positions(indices, roles, data.input.band_names) if indices else []


def _training_pixels(data: RegressionData, pairs: list[tuple[int, int]],
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, F), targets (n, T)): a seeded sample of the training chips' pixels with a target."""
    features, targets = [], []
    per_chip = max(MAX_TRAINING_PIXELS // max(len(data.train_refs), 1), 1)
    for index, ref in enumerate(data.train_refs):
        raw, valid = data.train_images[index] if data.train_images else data.scene.read_image(ref)
        values = data.train_targets[index]
        keep = np.flatnonzero((np.isfinite(values).all(axis=0) & valid).ravel())
        if len(keep) > per_chip:
            keep = np.sort(rng.choice(keep, per_chip, replace=False))
        features.append(class_forest.pixel_features(raw, pairs).reshape(-1, raw.shape[1] * raw.shape[2])[:, keep].T)
        targets.append(values.reshape(len(values), -1)[:, keep].T)
    return np.concatenate(features), np.concatenate(targets)


def fit_and_score(data: RegressionData, indices: list[str] | None, roles: dict[str, int], trees: int,
                  seed: int) -> tuple[list[regression_metrics.RegressionScores], int, float]:
    """The forest's scores per target band on the validation pixels, its training pixels and its seconds."""
    from sklearn.ensemble import RandomForestRegressor

    started = time.perf_counter()
    pairs = _pairs(data, indices, roles)
    features, targets = _training_pixels(data, pairs, np.random.default_rng(seed))
    model = RandomForestRegressor(n_estimators=trees, min_samples_leaf=2, n_jobs=-1, random_state=seed)
    model.fit(features, targets if targets.shape[1] > 1 else targets[:, 0])
    accumulators = [regression_metrics.RegressionAccumulator(shift=m) for m in data.targets.mean]
    windows = data.validation
    for index, item in enumerate(windows.windows):
        raw, valid = windows.images[index] if windows.images else data.scene.read_image(item.read)
        reference = windows.targets[index]
        scored = np.isfinite(reference).all(axis=0)
        if not scored.any():
            continue
        predicted = model.predict(class_forest.pixel_features(raw, pairs)[:, scored].T).reshape(scored.sum(), -1)
        for band, accumulator in enumerate(accumulators):
            accumulator.update(predicted[:, band], reference[band][scored], np.ones(int(scored.sum()), bool))
    return [a.result() for a in accumulators], len(features), time.perf_counter() - started


def forest_baseline(data: RegressionData, evaluation: RegressionEvaluation, indices: list[str] | None,
                    roles: dict[str, int], trees: int, seed: int, progress: Progress) -> dict[str, Any] | None:
    """The forest scored beside the network on the same validation pixels (None when ``trees`` is 0)."""
    if trees <= 0:
        return None
    if not class_forest.available():
        progress.warning("scikit-learn is not installed, so the network is not compared with a pixel random forest "
                         "(python3 -m pip install scikit-learn).")
        return {"skipped": "scikit-learn is not installed"}
    scores, pixels, seconds = fit_and_score(data, indices, roles, trees, seed)
    names = data.targets.names
    ours, theirs = evaluation.scores[0], scores[0]
    line = (f"Pixel random forest ({trees} trees, {pixels} training pixels) on the same validation pixels: "
            f"{names[0]} R² {_text(theirs.r2)}, RMSE {_text(theirs.rmse)}, MAE {_text(theirs.mae)}; the network: "
            f"R² {_text(ours.r2)}, RMSE {_text(ours.rmse)}, MAE {_text(ours.mae)}")
    forest_better = (theirs.r2 or -np.inf) > (ours.r2 or -np.inf)
    if forest_better:
        progress.warning(f"{line}. The forest is better on this validation area: with this little data or these "
                         "settings the network has not learnt more than each pixel's own values tell.")
    else:
        progress.info(f"{line}.")
    return {"random_forest": {"bands": {name: s.to_dict() for name, s in zip(names, scores)}, "trees": trees,
                              "training_pixels": pixels, "seconds": round(seconds, 1)},
            "verdict": "the random forest scores higher than the network (R²)" if forest_better
            else "the network scores higher than the random forest (R²)"}


def _text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
