"""From a configuration with a ``regression`` section to training chips and validation windows of target values.

The same passes as class labels take (:mod:`..data.prepare`), with values instead of classes:

1. the census (:mod:`..data.census`) of the pixels with a target value, counted as one "class": the settings
   left out are chosen from it as for labels (:mod:`..plan`), and the validation blocks are drawn from it;
2. validation windows tiling the scene (none reading the test area), their targets kept where they score
   validation pixels only;
3. training chips every ``stride`` pixels, their targets kept on training pixels only.

A pixel has a target where the target raster has a value (not nodata, not ``regression.nodata``, finite) and
the image has data; elsewhere the target is NaN, which the loss and the metrics leave out. The targets are
standardised for the network by the training area's mean and standard deviation per band (the exported model
undoes it, so it outputs values in the target's own units).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._plugin import contract, errors, value_rasters
from .._plugin import progress as progress_module
from ..config import RegressionConfig, TrainConfig
from ..data import split as split_module
from ..data.census import LabelCensus, census_cell, scan_labels
from ..data.prepare import _census_for, _make_split, _MemoryBudget, default_block_size
from ..data.raster import RasterSource, resolution_in_metres
from ..data.scene import RasterScene
from ..data.scene_types import ChipRef, ValidationWindow
from ..data.stats import PixelSampler, input_spec
from ..data.test_area import TestArea, TestAreaOnly, open_test_area, training_refs_clear_of, validation_windows_clear_of
from ..plan import Choice, plan_data, with_values

InputError = errors.InputError
Progress = progress_module.Progress
TARGET_SAMPLE = 1_000_000


@dataclass(frozen=True)
class TargetSpec:
    """What the network learns: the target bands' names, units and valid range, and how they are standardised."""

    names: tuple[str, ...]
    units: str
    valid_range: tuple[float, float] | None
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def standardise(self, values: np.ndarray) -> np.ndarray:
        """(T, h, w) values in units -> standardised float32 (NaN stays NaN)."""
        mean = np.asarray(self.mean, np.float32)[:, None, None]
        std = np.asarray(self.std, np.float32)[:, None, None]
        return ((values - mean) / std).astype(np.float32)


@dataclass
class Windows:
    """Windows to score (validation or test), their targets (NaN where not scored) and raw pixels when cached."""

    windows: list[ValidationWindow]
    targets: list[np.ndarray]
    images: list[tuple[np.ndarray, np.ndarray]] | None = None


@dataclass
class RegressionData:
    """Everything the trainer and the exporter need to know about the data."""

    scene: "RegressionScene"
    input: contract.InputSpec
    targets: TargetSpec
    train_refs: list[ChipRef]
    train_targets: list[np.ndarray]
    train_images: list[tuple[np.ndarray, np.ndarray]] | None
    validation: Windows
    split: dict[str, Any]
    pixel_sample: np.ndarray
    chip_size: int
    train_pixels: int
    validation_pixels: int
    notes: list[str] = field(default_factory=list)

    def provenance(self) -> dict[str, Any]:
        return {**self.scene.description, "split": self.split, "training_chips": len(self.train_refs),
                "validation_windows": len(self.validation.windows), "training_pixels": self.train_pixels,
                "validation_pixels": self.validation_pixels,
                "target_mean": list(self.targets.mean), "target_std": list(self.targets.std)}


class RegressionScene(RasterScene):
    """The image raster and the target raster read on its grid. Windows are cut as for a raster with labels
    (the methods of :class:`RasterScene`); what is read for them is values, not classes."""

    def __init__(self, config: TrainConfig) -> None:  # noqa: D107 - no labels to open: RasterScene's fields set here
        data, regression = config.data, config.regression
        self.image = RasterSource(data.image or "", data.bands, data.band_names, data.additional_images)
        self.grid, self.bands = self.image.grid, self.image.bands
        self.crs_wkt = self.grid.crs_wkt
        self.resolution_m = resolution_in_metres(self.image.dataset)
        self.unlabelled, self.known_classes = frozenset(), None
        self.target_bands = list(regression.bands or [1])
        target = regression.target or ""
        self.targets = [value_rasters.ValueRaster(target, self.grid, band, "target raster", regression.nodata)
                        for band in self.target_bands]
        self.target_names = tuple(regression.names or [_band_name(t, b) for t, b in zip(self.targets,
                                                                                          self.target_bands)])
        self.description = {"image": Path(self.image.path).name, "target": Path(target).name,
                            "target_bands": self.target_bands, "target_names": list(self.target_names)}
        if data.additional_images:
            self.description["additional_images"] = [Path(p).name for p in data.additional_images]
        self.notes = [self.targets[0].note] if self.targets[0].note else []

    def __getstate__(self) -> dict[str, Any]:
        """DataLoader workers need the image alone (the targets are read while the data is prepared)."""
        state = dict(self.__dict__)
        state["targets"] = None
        return state

    def read_targets(self, ref: ChipRef, valid: np.ndarray | None = None) -> np.ndarray:
        """(T, h, w) float32 target values of a window; NaN where there is none (or the image has no data)."""
        planes = []
        for raster in self.targets:
            values, has_value = raster.read(ref.window)
            planes.append(np.where(has_value if valid is None else has_value & valid, values, np.nan))
        return np.stack(planes).astype(np.float32)

    def read_labels(self, ref: ChipRef) -> np.ndarray:
        """1 where every target band has a value, -1 elsewhere: what the census counts (one "class")."""
        return np.where(np.isfinite(self.read_targets(ref)).all(axis=0), 1, -1).astype(np.int32)


def _band_name(raster: Any, band: int) -> str:
    return raster.band.GetDescription().strip() or f"band {band}"


def resolve_regression(config: TrainConfig, progress: Progress) -> tuple[TrainConfig, RegressionScene,
                                                                          LabelCensus, list[Choice]]:
    """Open the scene, count where the target has values, and fill in the settings left out (as for labels:
    chip, stride, validation blocks, network size, batch, indices; the epochs follow once the chips are cut)."""
    scene = RegressionScene(config)
    for note in scene.notes:
        progress.info(note)
    test_area = open_test_area(config.test, scene.crs_wkt)
    width, height = scene.extent_pixels
    try:
        census = scan_labels(scene, census_cell(width, height, config.validation.block_size), progress, test_area)
    except InputError:
        raise InputError("The target raster has no value where the image is (nodata everywhere, or no overlap): "
                         "there is nothing to learn. Check that both cover the same area and the target's nodata "
                         "value (regression.nodata).") from None
    choices = plan_data(config, census, (width, height), list(scene.bands.names))
    for choice in choices:
        progress.info(f"Chosen from the data: {choice.text()}.")
    return with_values(config, choices), scene, census, choices


def prepare_regression(config: TrainConfig, progress: Progress, scene: RegressionScene | None = None,
                       census: LabelCensus | None = None) -> RegressionData:
    """Split the scene, cut chips and validation windows, compute the input and target statistics
    (``config`` with its chip size chosen: :func:`resolve_regression`)."""
    scene = scene or RegressionScene(config)
    chip_size = config.data.chip_size
    if chip_size is None:
        raise ValueError("prepare_regression needs a chip size: resolve the configuration first")
    scene.check_chip_size(chip_size)
    block_size = config.validation.block_size or default_block_size(scene, chip_size)
    test_area = open_test_area(config.test, scene.crs_wkt)
    census = _census_for(census, scene, block_size, progress, test_area)
    split = _make_split(config, scene, census, block_size, test_area)
    budget = _MemoryBudget(config.data.cache_mb)
    validation, train_pixels, validation_pixels = _validation(scene, split, config, chip_size, budget, test_area)
    refs, targets, images, sampler, sample = _training_chips(scene, split, config, chip_size, budget, test_area,
                                                             progress)
    if not budget.fits:
        images = validation.images = None
    spec = input_spec(sampler.sample(), scene.bands.names)
    target_spec = _target_spec(sample, scene.target_names, config.regression)
    means = ", ".join(f"{m:.4g}" for m in target_spec.mean)
    stds = ", ".join(f"{s:.4g}" for s in target_spec.std)
    progress.info(f"Regression target {', '.join(scene.target_names)}: training mean {means}, std {stds}; "
                  f"{len(refs)} training chips of {chip_size} px, {len(validation.windows)} validation windows; "
                  f"{train_pixels} training and {validation_pixels} validation pixels with a value; split: "
                  f"{split.description['method']}.")
    return RegressionData(scene, spec, target_spec, refs, targets, images, validation, split.description,
                          sampler.sample(), chip_size, train_pixels, validation_pixels, list(scene.notes))


def prepare_regression_test(config: TrainConfig, data: RegressionData, progress: Progress) -> Windows | None:
    """Windows tiling the test area alone (None without one); never used for training or selection."""
    area = open_test_area(config.test, data.scene.crs_wkt)
    if area is None:
        return None
    windows, _, scored = _validation(data.scene, TestAreaOnly(area), config, data.chip_size, _MemoryBudget(0))
    progress.info(f"Test area: {len(windows.windows)} windows, {scored} pixels with a value.")
    return windows


def _validation(scene: RegressionScene, split: Any, config: TrainConfig, chip_size: int, budget: _MemoryBudget,
                test_area: TestArea | None = None) -> tuple[Windows, int, int]:
    """Windows tiling the scene and their targets on validation pixels; pixels with a value in both areas."""
    window = config.validation.window or chip_size
    context = config.validation.context if config.validation.context is not None else chip_size // 4
    kept, targets, images = [], [], budget.new_list()
    train_pixels = validation_pixels = 0
    for item in validation_windows_clear_of(scene.validation_windows(window, context), test_area):
        raw, valid = scene.read_image(item.read)
        values = scene.read_targets(item.read, valid)
        scored = np.zeros(valid.shape, bool)
        scored[item.rows[0]:item.rows[1], item.cols[0]:item.cols[1]] = True
        roles = split.roles(item.read.window, item.read.geotransform)
        has_value = np.isfinite(values[0])
        train_pixels += int(np.count_nonzero(has_value & scored & (roles == split_module.TRAIN)))
        in_validation = scored & (roles == split_module.VALIDATION) & has_value
        if in_validation.any():
            validation_pixels += int(in_validation.sum())
            kept.append(item)
            targets.append(np.where(in_validation, values, np.nan).astype(np.float32))
            budget.keep(images, raw, valid)
    if not kept:
        raise InputError("The validation area holds no pixel with a target value, so no honest accuracy can be "
                         "measured; move the validation area (layer or extent) over the target, or use blocks.")
    return Windows(kept, targets, images if budget.fits else None), train_pixels, validation_pixels


def _training_chips(scene: RegressionScene, split: Any, config: TrainConfig, chip_size: int, budget: _MemoryBudget,
                    test_area: TestArea | None, progress: Progress) -> tuple[list[ChipRef], list[np.ndarray], Any,
                                                                            PixelSampler, np.ndarray]:
    refs = training_refs_clear_of(scene.training_refs(chip_size, config.stride), test_area)
    sampler = PixelSampler(len(refs), seed=config.training.seed)
    rng = np.random.default_rng(config.training.seed)
    per_chip = max(TARGET_SAMPLE // max(len(refs), 1), 1)
    kept, targets, images, sample = [], [], budget.new_list(), []
    for number, ref in enumerate(refs):
        raw, valid = scene.read_image(ref)
        values = scene.read_targets(ref, valid)
        values[:, split.roles(ref.window, ref.geotransform) != split_module.TRAIN] = np.nan
        has_value = np.isfinite(values[0])
        share = float(has_value.mean())
        if share > 0 and share >= config.data.min_labelled:
            kept.append(ref)
            targets.append(values)
            sampler.add(raw, valid)
            budget.keep(images, raw, valid)
            pixels = values[:, has_value]
            if pixels.shape[1] > per_chip:
                pixels = pixels[:, np.sort(rng.choice(pixels.shape[1], per_chip, replace=False))]
            sample.append(pixels)
        if progress.is_cancelled():
            raise errors.CancelledError(f"Cutting chips {number + 1}/{len(refs)}: cancelled before training started.")
    if not kept:
        raise InputError(f"No training chip holds at least {config.data.min_labelled:.0%} training pixels with a "
                         "target value; lower data.min_labelled, use smaller chips or give a larger target.")
    return kept, targets, images if budget.fits else None, sampler, np.concatenate(sample, axis=1)


def _target_spec(sample: np.ndarray, names: tuple[str, ...], regression: RegressionConfig) -> TargetSpec:
    """Names, units, range and the training area's mean and standard deviation of each target band."""
    std = np.maximum(sample.std(axis=1), 1e-6)
    limits = tuple(regression.valid_range) if regression.valid_range else None
    return TargetSpec(names, regression.units, limits, tuple(float(v) for v in sample.mean(axis=1)),  # type: ignore[arg-type]
                      tuple(float(v) for v in std))
