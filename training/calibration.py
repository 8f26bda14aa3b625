"""Windows of real pixels for INT8 quantization: some to calibrate the activation ranges, others (never
used for calibrating) to check that the quantized model's classes agree with the float model's.

Two sources: the chips and validation windows of a training run (``python -m training export
--quantize int8``), or any raster (``python -m training quantize --calibration RASTER``), cut into
windows on a grid whose checkerboard halves calibrate and check.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._plugin import contract, errors, preprocess, window
from .data.prepare import PreparedData
from .data.raster import RasterSource

MIN_VALID_SHARE = 0.5  # windows with fewer valid pixels are left out
DEFAULT_WINDOWS = 48  # calibration windows (as many again check the agreement)


@dataclass
class CheckWindow:
    """A normalised (bands, h, w) window and the (h, w) pixels whose classes are compared."""

    image: np.ndarray
    scored: np.ndarray


@dataclass
class CalibrationData:
    """Normalised windows to calibrate on, windows to check on, and where they came from."""

    calibration: list[np.ndarray]
    check: list[CheckWindow]
    description: str

    def __post_init__(self) -> None:
        if not self.calibration or not self.check:
            raise errors.InputError(f"Too few windows with valid pixels to quantize ({len(self.calibration)} to "
                                    f"calibrate, {len(self.check)} to check) in {self.description}; give a larger "
                                    "calibration raster with data.")


def pad_to(image: np.ndarray, multiple: int) -> np.ndarray:
    """Mirror-pad a (bands, h, w) window at the bottom and right to multiples of ``multiple``."""
    pad_h, pad_w = -image.shape[1] % multiple, -image.shape[2] % multiple
    if not (pad_h or pad_w):
        return image
    return np.pad(image, ((0, 0), (0, pad_h), (0, pad_w)), mode="reflect" if min(image.shape[1:]) > 1 else "edge")


def from_training_data(data: PreparedData, spec: contract.InputSpec, multiple: int) -> CalibrationData:
    """Calibrate on the run's training chips; check on its validation windows (their scored part)."""
    calibration = []
    for index, ref in enumerate(data.train.refs):
        raw, valid = data.train.images[index] if data.train.images is not None else data.scene.read_image(ref)
        calibration.append(pad_to(preprocess.normalise(raw, spec, valid), multiple))
    check = []
    for index, item in enumerate(data.validation.windows):
        raw, valid = (data.validation.images[index] if data.validation.images is not None
                      else data.scene.read_image(item.read))
        scored = np.zeros(valid.shape, bool)
        scored[item.rows[0]:item.rows[1], item.cols[0]:item.cols[1]] = True
        image = pad_to(preprocess.normalise(raw, spec, valid), multiple)
        check.append(CheckWindow(image, _padded_mask(scored & valid, image.shape[1:])))
    return CalibrationData(calibration, check, f"{len(calibration)} training chips and {len(check)} validation "
                           "windows of the training run")


def from_raster(path: str, spec: contract.InputSpec, size: int, bands: Sequence[int] | None = None,
                windows: int = DEFAULT_WINDOWS) -> CalibrationData:
    """Windows of ``size`` px on a grid over the raster, spread evenly over it, at most ``windows`` of each
    kind: consecutive ones (neighbours, row by row) alternately calibrate and check."""
    source = RasterSource(path, bands)
    if len(source.bands.numbers) != spec.bands:
        raise errors.InputError(f"The model takes {spec.bands} band(s) but the calibration raster '{path}' gives "
                                f"{len(source.bands.numbers)}; choose the bands with --bands (for example "
                                f"{','.join(str(b) for b in range(1, spec.bands + 1))}).")
    grid = source.grid
    if grid.width < size or grid.height < size:
        raise errors.InputError(f"The calibration raster '{path}' ({grid.width} x {grid.height} px) is smaller than "
                                f"one {size} px window of the model; give a larger raster.")
    cells = [(r, c) for r in range(grid.height // size) for c in range(grid.width // size)]
    halves: tuple[list[np.ndarray], list[CheckWindow]] = ([], [])
    for position, (r, c) in enumerate(_spread(cells, 2 * windows)):
        piece = window.PixelWindow(c * size, r * size, size, size)
        raw = source.read(piece)
        valid = source.valid(piece, raw)
        if valid.mean() < MIN_VALID_SHARE:
            continue
        image = preprocess.normalise(raw, spec, valid)
        if position % 2 == 0:
            halves[0].append(image)
        else:
            halves[1].append(CheckWindow(image, valid))
    return CalibrationData(halves[0][:windows], halves[1][:windows],
                           f"'{path}' ({size} px windows, alternate ones calibrating and checking)")


def _spread(cells: list[tuple[int, int]], count: int) -> list[tuple[int, int]]:
    """At most ``count`` cells, evenly spaced through the list (row by row over the raster)."""
    if len(cells) <= count:
        return cells
    step = len(cells) / count
    return [cells[int(i * step)] for i in range(count)]


def _padded_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    padded = np.zeros(shape, bool)
    padded[:mask.shape[0], :mask.shape[1]] = mask
    return padded
