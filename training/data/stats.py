"""Normalisation statistics of the training area, written into the contract as input.mean/std.

Per band, the mean and standard deviation of the raw values of a seeded random sample of valid
pixels of the training chips, after clipping the sample to its 0.5th and 99.5th percentiles
(winsorising). Why winsorised: clouds, saturated or burnt pixels are rare but extreme, and would
otherwise inflate the standard deviation and squeeze ordinary land cover into a narrow range of
inputs. The result is still a plain affine mapping, so ``plugin.core.preprocess.normalise``
reproduces it exactly at inference (no clipping there: the network learns to cope with outliers).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .._plugin import contract

LOW_PERCENTILE, HIGH_PERCENTILE = 0.5, 99.5
_MIN_STD = 1e-6


class PixelSampler:
    """Collects up to ``limit`` valid pixels from chips, spread evenly over the chips (seeded)."""

    def __init__(self, chips_expected: int, limit: int = 1_000_000, seed: int = 0) -> None:
        self._per_chip = max(limit // max(chips_expected, 1), 1)
        self._rng = np.random.default_rng(seed)
        self._parts: list[np.ndarray] = []

    def add(self, raw: np.ndarray, valid: np.ndarray) -> None:
        """Add a sample of the valid pixels of a (bands, h, w) chip."""
        pixels = raw.reshape(raw.shape[0], -1)[:, valid.ravel()]
        if pixels.shape[1] > self._per_chip:
            pick = self._rng.choice(pixels.shape[1], self._per_chip, replace=False)
            pixels = pixels[:, np.sort(pick)]
        self._parts.append(pixels.T.astype(np.float64))

    def sample(self) -> np.ndarray:
        """(pixels, bands) raw values collected so far."""
        if not self._parts:
            return np.zeros((0, 0))
        return np.concatenate(self._parts, axis=0)


def winsorised_mean_std(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: mean and std of the values clipped to the 0.5th-99.5th percentiles."""
    low, high = np.percentile(sample, [LOW_PERCENTILE, HIGH_PERCENTILE], axis=0)
    clipped = np.clip(sample, low, high)
    return clipped.mean(axis=0), np.maximum(clipped.std(axis=0), _MIN_STD)


def input_spec(sample: np.ndarray, band_names: Iterable[str]) -> contract.InputSpec:
    """The contract's input section for raw bands normalised by the sample's statistics."""
    names = tuple(band_names)
    mean, std = winsorised_mean_std(sample)
    return contract.InputSpec(
        name="image", bands=len(names), band_names=names, scale=(1.0,) * len(names),
        offset=(0.0,) * len(names), mean=tuple(float(v) for v in mean), std=tuple(float(v) for v in std),
        nodata_fill=contract.NODATA_FILL_MEAN)
