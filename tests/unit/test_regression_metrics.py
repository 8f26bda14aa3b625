"""The one implementation of the regression scores: exact against numpy, independent of how pixels are cut into
blocks, precise for large values with a small spread, and a uniform sample for the scatter plot."""
from __future__ import annotations

import numpy as np
import pytest

from plugin.core.accuracy.regression_metrics import RegressionAccumulator


def _pairs(seed: int, n: int = 50_000, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    reference = rng.gamma(2.0, 400.0, n) + offset
    predicted = 0.8 * reference + 150 + rng.normal(0, 120, n)
    return predicted, reference


def test_scores_equal_their_definitions():
    predicted, reference = _pairs(0)
    accumulator = RegressionAccumulator()
    accumulator.update(predicted, reference)
    scores = accumulator.result()
    error = predicted - reference
    assert scores.count == len(error)
    assert scores.mae == pytest.approx(np.abs(error).mean(), rel=1e-12)
    assert scores.rmse == pytest.approx(np.sqrt((error ** 2).mean()), rel=1e-12)
    assert scores.bias == pytest.approx(error.mean(), rel=1e-9)
    assert scores.r2 == pytest.approx(1 - (error ** 2).sum() / ((reference - reference.mean()) ** 2).sum(), rel=1e-9)
    assert scores.correlation == pytest.approx(np.corrcoef(predicted, reference)[0, 1], rel=1e-9)
    assert 0.5 < scores.r2 < 0.99  # an informative, imperfect prediction


def test_blocks_and_masks_give_the_same_scores_as_one_pass():
    predicted, reference = _pairs(1)
    valid = np.random.default_rng(2).random(len(predicted)) > 0.3
    whole = RegressionAccumulator(shift=0.0)
    whole.update(predicted[valid], reference[valid])
    blocks = RegressionAccumulator(shift=0.0)
    for part in np.array_split(np.arange(len(predicted)), 7):
        blocks.update(predicted[part], reference[part], valid[part])
    assert blocks.result().to_dict() == pytest.approx(whole.result().to_dict(), rel=1e-10)
    merged = RegressionAccumulator(shift=0.0)
    for part in np.array_split(np.arange(len(predicted)), 3):  # sums of several processes added up
        other = RegressionAccumulator(shift=0.0)
        other.update(predicted[part], reference[part], valid[part])
        merged.add_sums(other.sums)
    assert merged.result().to_dict() == pytest.approx(whole.result().to_dict(), rel=1e-10)


def test_large_values_with_a_small_spread_keep_their_precision():
    predicted, reference = _pairs(3, offset=1e7)  # e.g. elevations in millimetres: spread tiny against the mean
    accumulator = RegressionAccumulator()
    accumulator.update(predicted, reference)
    error = predicted - reference
    expected = 1 - (error ** 2).sum() / ((reference - reference.mean()) ** 2).sum()
    assert accumulator.result().r2 == pytest.approx(expected, rel=1e-6)


def test_no_pairs_or_no_variance_give_undefined_scores_not_errors():
    empty = RegressionAccumulator()
    empty.update(np.array([1.0]), np.array([2.0]), np.array([False]))
    assert empty.result().count == 0 and empty.result().r2 is None
    flat = RegressionAccumulator()
    flat.update(np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0, 5.0]))
    assert flat.result().r2 is None and flat.result().correlation is None and flat.result().mae == 3.0


def test_the_kept_sample_is_bounded_uniform_and_paired():
    predicted, reference = _pairs(4, n=30_000)
    accumulator = RegressionAccumulator(sample_limit=5_000, seed=1)
    for part in np.array_split(np.arange(len(predicted)), 10):
        accumulator.update(predicted[part], reference[part])
    sample_p, sample_r = accumulator.sample
    assert len(sample_p) == len(sample_r) == 5_000
    index = np.searchsorted(np.sort(reference), sample_r)  # every kept pair is one of the input pairs
    assert np.allclose(np.sort(reference)[np.minimum(index, len(reference) - 1)], sample_r)
    assert sample_r.mean() == pytest.approx(reference.mean(), rel=0.03)  # drawn from the whole run, not its start
    lookup = dict(zip(reference.tolist(), predicted.tolist()))
    assert all(lookup[r] == p for r, p in zip(sample_r[:200].tolist(), sample_p[:200].tolist()))
