"""Which input pixels are nodata, and what the model sees where only some bands are missing.

A raster reader hands over raw values and, per band, which values are valid (GDAL's masks: nodata
values, alpha bands, mask files). Here the rest is decided, the same way for every source:

- a declared nodata value (``INPUT_NODATA``) makes equal values invalid in every band;
- NaN and infinite values are invalid (they would spread through a whole window's predictions);
- ``NODATA_RULE``: a pixel is nodata when **all** its bands are invalid (the default), or when **any**
  band is. Under ``all``, a pixel missing only some bands is still classified: those bands get the
  contract's fill value (``input.nodata_fill``: the band's mean, or a raw number), as whole nodata
  pixels do. A Landsat 7 scene whose SWIR band reads 0 over water keeps its water this way.

Nodata pixels get no weight when windows are merged and are written as nodata.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..model.contract import NODATA_FILL_MEAN, InputSpec

NODATA_RULES = ("all", "any")


def raw_fill_values(spec: InputSpec) -> np.ndarray:
    """Per band, the raw value whose normalised value is the contract's fill (float64)."""
    scale, offset = np.asarray(spec.scale, np.float64), np.asarray(spec.offset, np.float64)
    mean = np.asarray(spec.mean, np.float64)
    if spec.nodata_fill == NODATA_FILL_MEAN:
        return (mean - offset) / scale  # x * scale + offset == mean normalises to 0, whatever std is
    return np.full(spec.bands, float(spec.nodata_fill), np.float64)  # given in raw units


@dataclass(frozen=True)
class NodataPolicy:
    """The user's choices: the rule, and an optional nodata value declared for every band."""

    rule: str = "all"
    declared: float | None = None

    def validate(self) -> None:
        if self.rule not in NODATA_RULES:
            raise InputError(f"NODATA_RULE '{self.rule}' is not known; use one of: {', '.join(NODATA_RULES)}.")
        if self.declared is not None and not np.isfinite(self.declared):
            raise InputError(f"INPUT_NODATA must be a finite number, got {self.declared}.")


class NodataDecider:
    """Turns raw values and per-band validity into the values the model reads and one validity mask.

    Remembers the first NaN/infinite pixel and the first partly missing pixel, in raster coordinates,
    so the job can say once, after the run, that there were some.
    """

    def __init__(self, policy: NodataPolicy, raw_fill: np.ndarray) -> None:
        policy.validate()
        self.policy = policy
        self._fill = np.asarray(raw_fill, np.float64)
        self.first_non_finite: tuple[int, int] | None = None
        self.first_partial: tuple[int, int] | None = None

    def decide(self, raw: np.ndarray, band_valid: np.ndarray, col: int, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(values for the model, (h, w) validity) from (bands, h, w) raw values and band validity."""
        if self.policy.declared is not None:
            band_valid = band_valid & (raw != self.policy.declared)
        if raw.dtype.kind in "fc":
            finite = np.isfinite(raw)
            if not finite.all():
                self._remember("first_non_finite", np.asarray(~finite.all(axis=0)), col, row)
                band_valid = band_valid & finite
        if self.policy.rule == "any":
            return raw, np.asarray(band_valid.all(axis=0))
        valid = np.asarray(band_valid.any(axis=0))  # (h, w) arrays (numpy 2's stubs also allow a scalar)
        partial = valid & ~band_valid.all(axis=0)
        if partial.any():
            self._remember("first_partial", partial, col, row)
            raw = self._filled(raw, band_valid, valid)
        return raw, valid

    def _filled(self, raw: np.ndarray, band_valid: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """A copy where bands missing in an otherwise valid pixel hold the fill value (float where needed)."""
        integral = np.all(self._fill == np.round(self._fill))
        dtype = raw.dtype if raw.dtype.kind == "f" or (integral and _fits(self._fill, raw.dtype)) else np.float32
        filled = raw.astype(dtype, copy=True)
        for band in range(raw.shape[0]):
            missing = valid & ~band_valid[band]
            if missing.any():
                filled[band][missing] = self._fill[band]
        return filled

    def _remember(self, name: str, where: np.ndarray, col: int, row: int) -> None:
        if getattr(self, name) is None:
            rows, cols = np.nonzero(where)
            setattr(self, name, (col + int(cols[0]), row + int(rows[0])))


def _fits(values: np.ndarray, dtype: np.dtype) -> bool:
    if dtype.kind not in "iu":
        return True
    info = np.iinfo(dtype)
    return bool(np.all((values >= info.min) & (values <= info.max)))
