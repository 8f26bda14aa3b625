"""Does the input look like what the model was trained on? A plain-words warning when it clearly does not.

A model's contract carries the normalisation statistics of its training data (``input.mean``/``std``
after ``scale``/``offset``), its band names and, through them, the value scale it expects. A sample of
the input is compared with them: when most bands hold values of another scale (8-bit aerial images fed
to a model trained on 16-bit Sentinel-2 reflectance, reflectance 0-1 against 0-10000), or the raster's
band names are the model's in another order, the run goes on but the user is told why the result is
probably wrong: such runs otherwise produce a confident, uniform and meaningless map (one "water" class
at 0.94 confidence). A scene that is merely unusual (all water, all cloud) is not flagged.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from .contract import InputSpec

MIN_SAMPLE = 100  # fewer valid pixels than this: no judgement


def _expected_raw(spec: InputSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per band, the raw value of the training mean and the raw size of one training standard deviation."""
    scale, offset = np.asarray(spec.scale, np.float64), np.asarray(spec.offset, np.float64)
    mean, std = np.asarray(spec.mean, np.float64), np.asarray(spec.std, np.float64)
    return (mean - offset) / scale, np.abs(std / scale)


def _name_key(name: str) -> str:
    """'B02', 'b2', 'B 2' -> 'b2': band names compared without case, spaces or leading zeros."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return re.sub(r"(?<=[a-z])0+(?=\d)", "", key)


def band_order_problem(raster_names: Sequence[str], spec: InputSpec) -> str | None:
    """A sentence when the raster's band names are the model's names in another order, else None."""
    model_keys = [_name_key(n) for n in spec.band_names]
    keys = [_name_key(n) for n in raster_names]
    if len(keys) != len(model_keys) or not all(keys) or keys == model_keys:
        return None
    if sorted(keys) != sorted(model_keys) or len(set(keys)) != len(keys):
        return None
    order = [keys.index(k) for k in model_keys]
    return (f"the bands read are named {', '.join(raster_names)}, but the model takes "
            f"{', '.join(spec.band_names)} in that order: set BANDS so they match (the bands read, renumbered "
            f"1..{len(keys)}, would be {','.join(str(i + 1) for i in order)})")


DTYPE_MAXIMUM = {"Byte": 255, "Int8": 127, "UInt16": 65535, "Int16": 32767}
SCALE_FACTOR = 10.0  # values this many times smaller or larger than the model expects: another value scale
FAR_OFF = 10.0  # or this many training standard deviations away, on average over the bands


def _off_bands(medians: np.ndarray, expected: np.ndarray, spread: np.ndarray, data_types: Sequence[str]) -> np.ndarray:
    """Per band, whether the values clearly belong to another value scale than the model's.

    A band is off when its data type cannot even hold the values the model expects (8-bit data for a model
    trained on 16-bit reflectance), or when its median is an order of magnitude away from the training mean
    (reflectance 0-1 against 0-10000), where that mean is clearly not zero. Being a few standard deviations
    away is not enough: a scene of only water or only clouds is far from the average of the training data
    and still the right kind of data."""
    maximum = np.array([DTYPE_MAXIMUM.get(t, np.inf) for t in data_types], np.float64)
    cannot_hold = maximum < expected - 2 * spread
    nonzero = np.abs(expected) > 2 * spread
    ratio = np.abs(medians) / np.maximum(np.abs(expected), 1e-12)
    other_scale = nonzero & ((ratio > SCALE_FACTOR) | (ratio < 1 / SCALE_FACTOR))
    return cannot_hold | other_scale


def scale_problem(samples: np.ndarray, spec: InputSpec, data_types: Sequence[str]) -> str | None:
    """A sentence when the values clearly do not match the training data's value scale, else None.

    ``samples`` is (bands, pixels) of valid raw values in the model's band order."""
    if samples.shape[1] < MIN_SAMPLE:
        return None
    expected, spread = _expected_raw(spec)
    medians = np.median(samples, axis=1)
    distance = np.abs(medians - expected) / np.maximum(spread, 1e-12)
    off = _off_bands(medians, expected, spread, data_types)
    if off.sum() * 2 <= spec.bands and distance.mean() <= FAR_OFF:
        return None
    shown = np.flatnonzero(off) if off.any() else np.argsort(-distance)
    low, high = np.percentile(samples, 1, axis=1), np.percentile(samples, 99, axis=1)
    parts = [f"band {i + 1} ({spec.band_names[i]}) has values {low[i]:.4g} to {high[i]:.4g} (median "
             f"{medians[i]:.4g}) where the model expects about {expected[i]:.4g} ± {spread[i]:.4g}"
             for i in shown[:3]]
    text = "; ".join(parts) + (f"; and {len(shown) - 3} more band(s)" if len(shown) > 3 else "")
    if all(t == "Byte" for t in data_types) and float(np.max(expected - 2 * spread)) > 255:
        text += (". The raster holds 8-bit values (0 to 255), but the model was trained on larger numbers "
                 "(16-bit reflectance, for example)")
    return text


def suitability_warning(samples: np.ndarray, spec: InputSpec, data_types: Sequence[str],
                        raster_names: Sequence[str]) -> str | None:
    """One plain-words warning when the input clearly does not match the model's contract, else None."""
    problems = [p for p in (scale_problem(samples, spec, data_types), band_order_problem(raster_names, spec)) if p]
    if not problems:
        return None
    return ("The input does not look like the data the model was trained on: " + "; ".join(problems)
            + ". The result is probably wrong. Check BANDS and their order, the raster's value scale (for example "
            "reflectance 0-1 against 0-10000) and that the model suits this imagery.")
