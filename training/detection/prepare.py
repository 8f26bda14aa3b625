"""From a configuration to :class:`.data.DetectionData`: objects, split, chips, validation windows, statistics,
and the test area's windows after training."""
from __future__ import annotations

import math

import numpy as np

from .._plugin import errors
from .._plugin import progress as progress_module
from ..config import TrainConfig
from ..data import split as split_module
from ..data.raster import resolution_in_metres
from ..data.stats import PixelSampler, input_spec
from ..data.test_area import TestAreaOnly
from .data import DetectionData, PixelWindow, ScoredWindow, _Preparation, roles_at

InputError = errors.InputError
Progress = progress_module.Progress


def prepare_detection(config: TrainConfig, progress: Progress) -> DetectionData:
    """Read the objects, split them, place the chips and validation windows, measure the bands."""
    step = _Preparation(config, progress)
    objects = step.outside_test_area()
    split = step.make_split(objects)
    roles = roles_at(split, step.ref, objects.centres, step.grid.width, step.grid.height)
    _check_roles(objects, roles, progress)
    training = np.flatnonzero(roles == split_module.TRAIN)
    chips, chip_objects = [], []
    for index in training:
        placed = step.placements(objects.boxes[index])
        if placed:
            chips.append(placed)
            chip_objects.append(int(index))
        _cancel_point(progress)
    background = step.background(int(round(len(chips) * config.detection.background_chips)), split)
    chips += background
    chip_objects += [-1] * len(background)
    if not chips:
        raise InputError("No training chip can be placed clear of the test area; make the test area smaller or "
                         "the chips (data.chip_size) smaller.")
    sizes = objects.boxes[:, 2:] - objects.boxes[:, :2]
    largest = int(math.ceil(float(sizes.max())))
    validation = step.validation_windows(split, _context(largest, step.chip))
    cache = _whole_image(step, config.data.cache_mb)
    data = DetectionData(step.image, objects, roles, split, split.description, chips, chip_objects, validation,
                         None, step.chip, largest, resolution_in_metres(step.image.dataset), cache)  # type: ignore[arg-type]
    data.input = _statistics(data, config.training.seed)
    progress.info(f"{len(objects)} objects ({len(training)} training, {int((roles == split_module.VALIDATION).sum())} "
                  f"validation) in {len(data.classes)} class(es): {', '.join(c.name for c in data.classes)}; "
                  f"{len(chips)} training chips of {step.chip} px ({len(background)} on background), "
                  f"{len(validation)} validation windows; the largest object is {largest} px.")
    return data


def prepare_detection_test(config: TrainConfig, data: DetectionData, progress: Progress) -> list[ScoredWindow] | None:
    """Windows tiling the test area alone (None without one), scored once after training."""
    step = _Preparation(config, progress)
    if step.test_area is None:
        return None
    only = TestAreaOnly(step.test_area)
    step.test_area = None  # the test windows read the test area, of course
    windows = step.validation_windows(only, _context(data.max_object_px, step.chip), only)
    if not windows:
        raise InputError("The test area covers no pixel of the image, so it cannot be scored; move it (test.extent "
                         "or test.layer) over the image or leave it out.")
    progress.info(f"Test area: {len(windows)} windows.")
    return windows


def _context(largest: int, chip: int) -> int:
    return min(max(largest, 16), chip)


def _check_roles(objects, roles: np.ndarray, progress: Progress) -> None:
    train, validation = roles == split_module.TRAIN, roles == split_module.VALIDATION
    if not train.any() or not validation.any():
        raise InputError(f"The split leaves {int(train.sum())} training and {int(validation.sum())} validation "
                         "objects; both need some. Give validation.fraction, a smaller validation.block_size, or a "
                         "validation layer or extent that holds some of the objects but not all.")
    for index, info in enumerate(objects.class_table):
        mine = objects.classes == index
        if not (mine & train).any():
            progress.warning(f"Class '{info.name}' has no training objects; the detector cannot learn it.")
        elif not (mine & validation).any():
            progress.warning(f"Class '{info.name}' has no validation objects; its accuracy is not measured.")


def _whole_image(step: _Preparation, cache_mb: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The whole image in memory when it fits in ``data.cache_mb`` (chips are then cut from it)."""
    grid = step.grid
    itemsize = step.image.read(PixelWindow(0, 0, 1, 1)).dtype.itemsize
    if itemsize * len(step.image.bands.numbers) * grid.width * grid.height > cache_mb * 2 ** 20:
        return None
    whole = PixelWindow(0, 0, grid.width, grid.height)
    raw = step.image.read(whole)
    return raw, step.image.valid(whole, raw)


def _statistics(data: DetectionData, seed: int):
    """Normalisation: winsorised mean and std of valid pixels of the training chips' first placements."""
    sampler = PixelSampler(len(data.chips), seed=seed)
    for placements in data.chips:
        raw, valid = data.read(placements[0])
        sampler.add(raw, valid)
    sample = sampler.sample()
    if not len(sample):
        raise InputError("The training chips hold no valid pixel (the image is nodata there); check the image's "
                         "nodata value.")
    return input_spec(sample, data.image.bands.names)


def _cancel_point(progress: Progress) -> None:
    if progress.is_cancelled():
        raise errors.CancelledError("Placing chips: cancelled before training started.")
