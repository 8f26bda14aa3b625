"""Raw raster values -> model input, as the contract describes. Training uses the same code.

x_model = ((x * scale + offset) - mean) / std, fused into one multiply-add per band:
x_model = x * a + b with a = scale / std and b = (offset - mean) / std.
"""
from __future__ import annotations

import numpy as np

from .contract import NODATA_FILL_MEAN, InputSpec


def affine_coefficients(spec: InputSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per-band (a, b) with x_model = x * a + b, shaped (bands, 1, 1) for broadcasting."""
    scale, offset = np.asarray(spec.scale, np.float64), np.asarray(spec.offset, np.float64)
    mean, std = np.asarray(spec.mean, np.float64), np.asarray(spec.std, np.float64)
    a = (scale / std).astype(np.float32).reshape(-1, 1, 1)
    b = ((offset - mean) / std).astype(np.float32).reshape(-1, 1, 1)
    return a, b


def fill_values(spec: InputSpec) -> np.ndarray:
    """The normalised value the model sees at nodata pixels, per band."""
    if spec.nodata_fill == NODATA_FILL_MEAN:
        return np.zeros(spec.bands, np.float32)
    a, b = affine_coefficients(spec)
    return (float(spec.nodata_fill) * a + b).reshape(-1).astype(np.float32)


def normalise(block: np.ndarray, spec: InputSpec, valid: np.ndarray | None = None,
              out: np.ndarray | None = None) -> np.ndarray:
    """Normalise a (bands, height, width) block of raw values to float32 model input.

    Where ``valid`` is False the band's fill value is written instead (see ``InputSpec.nodata_fill``).
    """
    if block.ndim != 3 or block.shape[0] != spec.bands:
        raise ValueError(f"expected ({spec.bands}, h, w) raw values, got {block.shape}")
    a, b = affine_coefficients(spec)
    result = np.multiply(block, a, out=out, dtype=np.float32, casting="unsafe")
    result += b
    if valid is not None and not valid.all():
        invalid = ~valid
        for band, fill in enumerate(fill_values(spec)):
            result[band][invalid] = fill
    return result


MAX_BANDS_DESCRIBED = 16  # the log names each band's normalisation up to this many bands


def describe_normalisation(spec: InputSpec) -> str:
    """The normalisation applied, for the log: scale, offset, mean and std of each band (bands with the same
    four numbers named together)."""
    groups: dict[tuple[float, ...], list[str]] = {}
    for index in range(spec.bands):
        numbers = (spec.scale[index], spec.offset[index], spec.mean[index], spec.std[index])
        name = spec.band_names[index] if index < len(spec.band_names) else ""
        groups.setdefault(numbers, []).append(f"{index + 1}" + (f" ({name})" if name and name != f"band {index + 1}"
                                                                 else ""))
    parts = [f"band{'s' if len(bands) > 1 else ''} {', '.join(bands)}: scale {scale:.6g}, offset {offset:.6g}, "
             f"mean {mean:.6g}, std {std:.6g}" for (scale, offset, mean, std), bands in groups.items()]
    shown = "; ".join(parts[:MAX_BANDS_DESCRIBED])
    more = len(parts) - MAX_BANDS_DESCRIBED
    return "x' = (x * scale + offset - mean) / std with " + shown + (f"; and {more} more band(s)" if more > 0 else "")
