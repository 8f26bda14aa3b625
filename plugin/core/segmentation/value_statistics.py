"""What a value raster holds, band by band: counts, range, mean, spread, the 2nd and 98th percentiles, and
how many values fall outside the contract's valid range. Accumulated strip by strip (memory does not depend
on the raster's size) and stored as JSON in the raster, so a style, a report or a distributed run's client
reads it back without another pass.

The percentiles come from an evenly spaced sample of the valid values (every ``step``-th pixel of each
strip, at most about :data:`SAMPLE_LIMIT` values in all); the other figures are exact.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

SAMPLE_LIMIT = 1_000_000
LOW_PERCENTILE, HIGH_PERCENTILE = 2.0, 98.0


@dataclass(frozen=True)
class BandStatistics:
    """One band of a value raster: its name and units, and what its valid pixels hold."""

    name: str
    units: str
    count: int  # pixels with a value (not nodata)
    minimum: float | None
    maximum: float | None
    mean: float | None
    std: float | None
    low: float | None  # 2nd percentile: where a style's colour ramp starts
    high: float | None  # 98th percentile
    below: int = 0  # values under the valid range (before clipping, when clipped)
    above: int = 0  # values over it
    valid_range: tuple[float, float] | None = None
    clipped: bool = False  # the values outside the valid range were set to its bounds

    @property
    def outside(self) -> int:
        return self.below + self.above

    def describe(self) -> str:
        """One line for the log."""
        units = f" {self.units}" if self.units else ""
        if not self.count:
            return f"{self.name}: no value (every pixel is nodata)"
        return (f"{self.name}: {self.count} px, mean {self.mean:.4g}{units} (std {self.std:.4g}), range "
                f"{self.minimum:.4g} to {self.maximum:.4g}{units}, 2-98 % {self.low:.4g} to {self.high:.4g}{units}")


@dataclass(frozen=True)
class ValueSummary:
    """Every band of a value raster, with its nodata value and the pixels of the area."""

    bands: tuple[BandStatistics, ...]
    nodata: float
    pixels: int

    def to_json(self) -> str:
        return json.dumps({"bands": [asdict(b) for b in self.bands], "nodata": self.nodata, "pixels": self.pixels})

    @classmethod
    def from_json(cls, text: str) -> "ValueSummary":
        """Read back :meth:`to_json` (raises ValueError, KeyError or TypeError when it is not that)."""
        data = json.loads(text)
        bands = []
        for entry in data["bands"]:
            limits = entry.get("valid_range")
            bands.append(BandStatistics(**{**entry, "valid_range": tuple(limits) if limits else None}))
        return cls(tuple(bands), float(data["nodata"]), int(data["pixels"]))

    def to_dict(self) -> dict[str, Any]:
        """Per band, by name: the figures (for JSON outputs and the Processing results)."""
        return {b.name: {"units": b.units, "pixels": b.count, "mean": b.mean, "std": b.std, "minimum": b.minimum,
                         "maximum": b.maximum, "p2": b.low, "p98": b.high, "below_valid_range": b.below,
                         "above_valid_range": b.above, "clipped": b.clipped} for b in self.bands}


class BandAccumulator:
    """Running figures of one band, strip by strip."""

    def __init__(self, name: str, units: str, valid_range: tuple[float, float] | None, step: int,
                 clip: bool = False) -> None:
        self.name, self.units, self.valid_range, self.step = name, units, valid_range, max(step, 1)
        self.clip = clip and valid_range is not None
        self.count, self.total, self.squares = 0, 0.0, 0.0
        self.minimum, self.maximum = math.inf, -math.inf
        self.below = self.above = 0
        self.samples: list[np.ndarray] = []
        self._offset = 0  # position of the next sampled pixel, so the sample is even across strips

    def add(self, values: np.ndarray, valid: np.ndarray) -> np.ndarray | None:
        """Count the valid values of a strip: those outside the valid range as they came, the rest of the
        figures after clipping (when clipping). Returns the strip clipped, or None when nothing changed."""
        data = values[valid].astype(np.float64)
        if not data.size:
            return None
        clipped = None
        if self.valid_range is not None:
            low, high = self.valid_range
            below, above = data < low, data > high
            self.below += int(np.count_nonzero(below))
            self.above += int(np.count_nonzero(above))
            if self.clip and (below.any() or above.any()):
                data = np.clip(data, low, high)
                clipped = values.copy()
                clipped[valid] = data
        self.count += data.size
        self.total += float(data.sum())
        self.squares += float(np.square(data).sum())
        self.minimum, self.maximum = min(self.minimum, float(data.min())), max(self.maximum, float(data.max()))
        first = (-self._offset) % self.step
        self.samples.append(data[first::self.step])
        self._offset += data.size
        return clipped

    def result(self) -> BandStatistics:
        """The band's figures (of the clipped values, when clipping)."""
        if not self.count:
            return BandStatistics(self.name, self.units, 0, None, None, None, None, None, None, 0, 0,
                                  self.valid_range, self.clip)
        mean = self.total / self.count
        variance = max(self.squares / self.count - mean * mean, 0.0)
        low, high = np.percentile(np.concatenate(self.samples), [LOW_PERCENTILE, HIGH_PERCENTILE])
        return BandStatistics(self.name, self.units, self.count, self.minimum, self.maximum, mean, math.sqrt(variance),
                              float(low), float(high), self.below, self.above, self.valid_range, self.clip)


def sample_step(pixels: int, bands: int = 1) -> int:
    """Every how many valid pixels one goes into a band's percentile sample."""
    return max(1, math.ceil(pixels * max(bands, 1) / SAMPLE_LIMIT))


def summary_of(accumulators: Sequence[BandAccumulator], nodata: float, pixels: int) -> ValueSummary:
    return ValueSummary(tuple(a.result() for a in accumulators), nodata, pixels)
