"""Accuracy of continuous predictions against reference values: MAE, RMSE, R², bias, correlation.

One implementation for the assessment of value rasters (``seamless:evaluate``) and for regression
training's validation. Pairs are added batch by batch into exact running sums (float64, of values shifted
by a fixed amount so that large values with a small spread keep their precision), so the figures do not
depend on how the pixels were cut into blocks and memory does not grow with their number. A uniform random
sample of the pairs (at most ``sample_limit``, seeded) is kept for the scatter plot.

Definitions (p predicted, r reference, n pairs, e = p - r):
MAE = Σ|e|/n; RMSE = √(Σe²/n); bias = Σe/n (positive: the predictions are too high);
R² = 1 - Σe² / Σ(r - r̄)² (the share of the reference's variance explained, 1 is perfect, 0 is no better than
predicting the reference mean everywhere, negative is worse); correlation: Pearson's r of p and r.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

SUMS = ("count", "predicted", "reference", "predicted_squares", "reference_squares", "products", "absolute_errors",
        "errors", "squared_errors")


@dataclass(frozen=True)
class RegressionScores:
    """The figures of one set of (predicted, reference) pairs; None where undefined (no pairs, no variance)."""

    count: int
    mae: float | None
    rmse: float | None
    r2: float | None
    bias: float | None
    correlation: float | None
    reference_mean: float | None
    predicted_mean: float | None
    reference_std: float | None
    predicted_std: float | None

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


class RegressionAccumulator:
    """Running sums of (predicted, reference) pairs, and a seeded uniform sample of them."""

    def __init__(self, shift: float | None = None, sample_limit: int = 100_000, seed: int = 0) -> None:
        self.shift = shift  # None: the first batch's reference mean
        self.sums = np.zeros(len(SUMS), np.float64)
        self.sample_limit = sample_limit
        self._rng = np.random.default_rng(seed)
        self._sample = (np.zeros(0), np.zeros(0), np.zeros(0))  # predicted, reference, random keys

    def update(self, predicted: np.ndarray, reference: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Add the pairs where ``valid`` (every pair when None); both arrays of the same shape."""
        p = np.asarray(predicted, np.float64)
        r = np.asarray(reference, np.float64)
        if valid is not None:
            p, r = p[valid], r[valid]
        p, r = p.ravel(), r.ravel()
        if not p.size:
            return
        if self.shift is None:
            self.shift = float(r.mean())
        ps, rs, e = p - self.shift, r - self.shift, p - r
        self.sums += np.array([p.size, ps.sum(), rs.sum(), (ps * ps).sum(), (rs * rs).sum(), (ps * rs).sum(),
                               np.abs(e).sum(), e.sum(), (e * e).sum()])
        self._keep(p, r)

    def _keep(self, p: np.ndarray, r: np.ndarray) -> None:
        """Reservoir by random keys: the pairs with the smallest keys over everything seen are a uniform sample."""
        if not self.sample_limit:
            return
        keys = self._rng.random(p.size)
        kept_p, kept_r, kept_k = self._sample
        p, r, keys = np.concatenate([kept_p, p]), np.concatenate([kept_r, r]), np.concatenate([kept_k, keys])
        if keys.size > self.sample_limit:
            chosen = np.argpartition(keys, self.sample_limit)[:self.sample_limit]
            chosen.sort()
            p, r, keys = p[chosen], r[chosen], keys[chosen]
        self._sample = (p, r, keys)

    def add_sums(self, sums: np.ndarray) -> None:
        """Add another accumulator's :attr:`sums` made with the same ``shift`` (e.g. summed over processes)."""
        self.sums += np.asarray(sums, np.float64)

    @property
    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """(predicted, reference) of the kept sample of pairs."""
        return self._sample[0], self._sample[1]

    def result(self) -> RegressionScores:
        n, sp, sr, spp, srr, spr, sabs, se, see = (float(v) for v in self.sums)
        if n <= 0:
            return RegressionScores(0, None, None, None, None, None, None, None, None, None)
        shift = self.shift or 0.0
        reference_var = max(srr / n - (sr / n) ** 2, 0.0)
        predicted_var = max(spp / n - (sp / n) ** 2, 0.0)
        covariance = spr / n - (sp / n) * (sr / n)
        total = reference_var * n
        r2 = 1.0 - see / total if total > 0 else None
        spread = math.sqrt(reference_var * predicted_var)
        correlation = covariance / spread if spread > 0 else None
        return RegressionScores(int(n), sabs / n, math.sqrt(see / n), r2, se / n, correlation, sr / n + shift,
                                sp / n + shift, math.sqrt(reference_var), math.sqrt(predicted_var))
