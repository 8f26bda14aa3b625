"""From a configuration to training chips and validation windows, with classes, split and statistics.

Three passes over the labels, each reading windows (never the whole raster at once):

1. blocks: which label values occur and how many labelled pixels each block holds (for the split);
2. tiling: non-overlapping windows give the distinct training and validation pixels per class and
   the validation windows (those holding validation pixels);
3. chips: training chips every ``stride`` pixels, their labels restricted to the training area.

Image pixels that are nodata are unlabelled too, so the loss and the metrics never see them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._plugin import contract, errors
from .._plugin import progress as progress_module
from ..config import TrainConfig
from . import split as split_module
from .census import LabelCensus, scan_labels
from .labels import IGNORE_INDEX, ClassTable, class_table
from .scene_types import ChipRef, Scene, ValidationWindow
from .sources import open_scene
from .stats import PixelSampler, input_spec
from .test_area import (
    TestArea,
    TestAreaOnly,
    WithoutTestArea,
    open_test_area,
    training_refs_clear_of,
    validation_windows_clear_of,
)

InputError = errors.InputError
Progress = progress_module.Progress


@dataclass
class ChipSet:
    """Training chips: where they are, their label indices, and their raw pixels when cached."""

    refs: list[ChipRef]
    labels: list[np.ndarray]
    images: list[tuple[np.ndarray, np.ndarray]] | None = None


@dataclass
class ValidationSet:
    """Validation windows and their label indices (IGNORE_INDEX outside the scored validation pixels)."""

    windows: list[ValidationWindow]
    labels: list[np.ndarray]
    images: list[tuple[np.ndarray, np.ndarray]] | None = None
    units: list[int] = field(default_factory=list)  # per window: its spatial unit (block) for the bootstrap


@dataclass
class PreparedData:
    """Everything the trainer and the exporter need to know about the data."""

    scene: Scene
    classes: ClassTable
    input: contract.InputSpec
    train: ChipSet
    validation: ValidationSet
    train_counts: np.ndarray
    validation_counts: np.ndarray
    split: dict[str, Any]
    pixel_sample: np.ndarray
    chip_size: int
    notes: list[str] = field(default_factory=list)

    def provenance(self) -> dict[str, Any]:
        """Training data for the model's provenance: files, split, class pixel counts."""
        names = self.classes.names
        return {
            **self.scene.description,
            "split": self.split,
            "training_chips": len(self.train.refs),
            "validation_windows": len(self.validation.windows),
            "class_pixels": {
                names[v]: {"value": int(v), "training": int(t), "validation": int(n)}
                for v, t, n in zip(self.classes.values, self.train_counts, self.validation_counts)},
        }


def prepare_data(config: TrainConfig, progress: Progress, census: LabelCensus | None = None) -> PreparedData:
    """Open the scene, split it, find the classes, cut chips and compute normalisation statistics.

    ``config`` should have its data-derived settings filled in (plan.resolve, which also gives the label
    census to reuse); when it has not, they are chosen here.
    """
    if config.data.chip_size is None or config.data.indices is None:
        from ..plan import resolve

        resolved = resolve(config, progress)
        config, census = resolved.config, resolved.census
    scene = open_scene(config.data)
    for note in scene.notes:
        progress.warning(note)
    chip_size = getattr(scene, "chip_size", None) or int(config.data.chip_size or 0)
    scene.check_chip_size(chip_size)
    block_size = config.validation.block_size or default_block_size(scene, chip_size)
    test_area = open_test_area(config.test, scene.crs_wkt)
    census = _census_for(census, scene, block_size, progress, test_area)
    classes = class_table(census.totals, scene.known_classes, config.data.classes)
    split = _make_split(config, scene, census, block_size, test_area)
    progress.info(f"Classes: {', '.join(f'{c.value} {c.name}' for c in classes.classes)}; split: {split.description}.")
    budget = _MemoryBudget(config.data.cache_mb)
    validation, train_counts, validation_counts = _tile(scene, classes, split, config, chip_size, budget, test_area,
                                                        _unit_size(config, block_size))
    _check_classes(classes, train_counts, validation_counts if config.validation.holdout else None, progress,
                   scene.unlabelled)
    train, sampler = _training_chips(scene, classes, split, config, chip_size, progress, budget, test_area)
    if not budget.fits:
        train.images = validation.images = None
    sample = sampler.sample()
    spec = input_spec(sample, scene.bands.names)
    progress.info(f"{len(train.refs)} training chips of {chip_size} px, {len(validation.windows)} validation "
                  f"windows; {int(train_counts.sum())} training and {int(validation_counts.sum())} validation "
                  "labelled pixels.")
    return PreparedData(scene, classes, spec, train, validation, train_counts, validation_counts,
                        split.description, sample, chip_size, list(scene.notes))


def prepare_validation(config: TrainConfig, progress: Progress, classes: ClassTable,
                       all_labels: bool = False) -> PreparedData:
    """Validation windows only, for a model whose classes are known (``all_labels``: every labelled pixel)."""
    census = None
    if config.data.chip_size is None or config.data.indices is None:
        from ..plan import resolve

        resolved = resolve(config, progress)
        config, census = resolved.config, resolved.census
    scene = open_scene(config.data)
    chip_size = getattr(scene, "chip_size", None) or int(config.data.chip_size or 0)
    scene.check_chip_size(chip_size)
    block_size = config.validation.block_size or default_block_size(scene, chip_size)
    test_area = None if all_labels else open_test_area(config.test, scene.crs_wkt)  # as in training
    census = _census_for(None if all_labels else census, scene, block_size, progress, test_area)
    foreign = sorted(set(census.totals) - set(classes.values.tolist()))
    if foreign:
        progress.warning(f"Label values {foreign} are not classes of the model; their pixels are not scored.")
    split = (split_module.EverythingValidation() if all_labels
             else _make_split(config, scene, census, block_size, test_area))
    validation, train_counts, validation_counts = _tile(scene, classes, split, config, chip_size,
                                                        _MemoryBudget(config.data.cache_mb), test_area,
                                                        None if all_labels else _unit_size(config, block_size))
    bands = len(scene.bands.names)
    identity = contract.InputSpec("image", bands, scene.bands.names, (1.0,) * bands, (0.0,) * bands,
                                  (0.0,) * bands, (1.0,) * bands)
    return PreparedData(scene, classes, identity, ChipSet([], []), validation, train_counts, validation_counts,
                        split.description, np.zeros((0, bands)), chip_size, list(scene.notes))


def prepare_test(config: TrainConfig, progress: Progress, classes: ClassTable,
                 spec: contract.InputSpec) -> PreparedData | None:
    """Windows tiling the test area alone (None without one), normalised like the training data ``spec``."""
    scene = open_scene(config.data)
    test_area = open_test_area(config.test, scene.crs_wkt)
    if test_area is None:
        return None
    chip_size = getattr(scene, "chip_size", None) or int(config.data.chip_size or 0)
    try:
        windows, _, test_counts = _tile(scene, classes, TestAreaOnly(test_area), config, chip_size,
                                        _MemoryBudget(0))
    except InputError as error:
        raise InputError("The test area holds no labelled pixel of the model's classes, so it cannot be scored; "
                         "move it (test.extent or test.layer) over labelled pixels or leave it out.") from error
    progress.info(f"Test area: {len(windows.windows)} windows, {int(test_counts.sum())} labelled pixels.")
    return PreparedData(scene, classes, spec, ChipSet([], []), windows, np.zeros_like(test_counts), test_counts,
                        TestAreaOnly(test_area).description, np.zeros((0, spec.bands)), chip_size,
                        list(scene.notes))


def default_block_size(scene: Scene, chip_size: int) -> int:
    """Validation blocks of one to four chips: four when the scene holds at least 16 such blocks."""
    width, height = scene.extent_pixels
    side = math.sqrt(width * height / 16)
    return int(min(max(side // chip_size, 1), 4)) * chip_size


def _unit_size(config: TrainConfig, block_size: int) -> int | None:
    """Validation blocks are the bootstrap's units; a layer's or an extent's windows are their own units."""
    return None if (config.validation.layer or config.validation.extent) else block_size


def _census_for(census: LabelCensus | None, scene: Scene, block_size: int, progress: Progress,
                test_area: TestArea | None) -> LabelCensus:
    """The census given when its cells tile the blocks, else a new one with cells of the block size."""
    if census is not None and block_size % census.cell == 0:
        return census
    return scan_labels(scene, block_size, progress, test_area)


def _make_split(config: TrainConfig, scene: Scene, census: LabelCensus, block_size: int,
                test_area: TestArea | None = None) -> split_module.Split:
    validation = config.validation
    chosen: split_module.Split
    if not validation.holdout:
        chosen = split_module.NoValidation()
    elif validation.layer:
        chosen = split_module.LayerSplit(validation.layer, validation.layer_name, scene.crs_wkt)
    elif validation.extent:
        chosen = split_module.ExtentSplit(validation.extent)
    elif validation.folds > 1:
        totals = {block: sum(counts.values()) for block, counts in census.blocks(block_size).items()}
        folds = split_module.choose_fold_blocks(totals, validation.folds, config.training.seed)
        chosen = split_module.BlockSplit(block_size, folds[validation.fold])
        chosen.description.update({"folds": validation.folds, "fold": validation.fold})
    else:
        blocks_chosen = split_module.choose_validation_blocks(census.blocks(block_size), validation.fraction,
                                                              config.training.seed)
        chosen = split_module.BlockSplit(block_size, blocks_chosen)
    if validation.buffer > 0:
        chosen = split_module.BufferedSplit(chosen, validation.buffer)
    return WithoutTestArea(chosen, test_area) if test_area is not None else chosen


def _labels_for(scene: Scene, classes: ClassTable, split: split_module.Split, ref: ChipRef,
                role: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(label indices restricted to ``role``, raw image, validity) for one window."""
    raw, valid = scene.read_image(ref)
    index = classes.to_index(scene.read_labels(ref), scene.unlabelled)
    roles = split.roles(ref.window, ref.geotransform)
    index[(roles != role) | ~valid] = IGNORE_INDEX
    return index, raw, valid


def _tile(scene: Scene, classes: ClassTable, split: split_module.Split, config: TrainConfig, chip_size: int,
          budget: _MemoryBudget, test_area: TestArea | None = None,
          unit_size: int | None = None) -> tuple[ValidationSet, np.ndarray, np.ndarray]:
    """Validation windows (none reading the test area) and distinct labelled pixels per class in both areas."""
    window = config.validation.window or chip_size
    context = config.validation.context if config.validation.context is not None else chip_size // 4
    train_counts = np.zeros(len(classes.classes), np.int64)
    val_counts = np.zeros(len(classes.classes), np.int64)
    kept, labels, images = [], [], budget.new_list()
    labelled_with_data = 0
    for item in validation_windows_clear_of(scene.validation_windows(window, context), test_area):
        raw, valid = scene.read_image(item.read)
        index = classes.to_index(scene.read_labels(item.read), scene.unlabelled)
        index[~valid] = IGNORE_INDEX
        labelled_with_data += int(np.count_nonzero(index >= 0))
        scored = np.zeros(index.shape, bool)
        scored[item.rows[0]:item.rows[1], item.cols[0]:item.cols[1]] = True
        roles = split.roles(item.read.window, item.read.geotransform)
        train_counts += _class_counts(index, scored & (roles == split_module.TRAIN), len(classes.classes))
        in_validation = scored & (roles == split_module.VALIDATION)
        val_counts += _class_counts(index, in_validation, len(classes.classes))
        if (index[in_validation] >= 0).any():
            kept.append(item)
            labels.append(np.where(in_validation, index, IGNORE_INDEX).astype(np.int16))
            budget.keep(images, raw, valid)
    if not labelled_with_data:
        raise InputError("The image is nodata wherever the labels are (nodata values, NaN, alpha or mask), so there "
                         "is nothing to learn from. Check the image's nodata value and that image and labels cover "
                         "the same area.")
    if not kept and config.validation.holdout:
        raise InputError("The validation area holds no labelled pixel, so no honest accuracy can be measured; "
                         "move the validation area (layer or extent) over labelled pixels, or use blocks.")
    units = _units(kept, unit_size)
    return ValidationSet(kept, labels, images if budget.fits else None, units), train_counts, val_counts


def _units(windows: list[ValidationWindow], unit_size: int | None) -> list[int]:
    """Each window's unit for the bootstrap: the block holding its scored centre, or the window itself."""
    if not unit_size:
        return list(range(len(windows)))
    ids: dict[tuple[int, int], int] = {}
    result = []
    for item in windows:
        row = item.read.window.row + (item.rows[0] + item.rows[1]) // 2
        col = item.read.window.col + (item.cols[0] + item.cols[1]) // 2
        result.append(ids.setdefault((row // unit_size, col // unit_size), len(ids)))
    return result


def _class_counts(index: np.ndarray, where: np.ndarray, classes: int) -> np.ndarray:
    chosen = index[where]
    return np.bincount(chosen[chosen >= 0], minlength=classes)[:classes]


def _check_classes(classes: ClassTable, train: np.ndarray, validation: np.ndarray | None, progress: Progress,
                   unlabelled: frozenset[int] = frozenset()) -> None:
    learnt = [c.name for c, n in zip(classes.classes, train) if n > 0]
    if len(learnt) < 2:
        ignored = ", ".join(str(v) for v in sorted(unlabelled)) or "none"
        raise InputError(f"The training area holds labelled pixels of {len(learnt)} class(es) "
                         f"({', '.join(learnt) or 'none'}); a segmentation model needs at least two. Label "
                         "more classes (background included) or move the validation area. Label values taken as "
                         f"unlabelled: {ignored}; if a value there is a class (or a class value means 'no label'), "
                         "set UNLABELLED_VALUE (command line: --ignore-value).")
    for info, n_train, n_val in zip(classes.classes, train, validation if validation is not None else train):
        if n_train == 0:
            progress.warning(f"Class {info.value} '{info.name}' has no training pixels; the model cannot learn it.")
        elif n_val == 0:
            progress.warning(f"Class {info.value} '{info.name}' has no validation pixels; its accuracy is not "
                             "measured.")


def _training_chips(scene: Scene, classes: ClassTable, split: split_module.Split, config: TrainConfig,
                    chip_size: int, progress: Progress, budget: _MemoryBudget,
                    test_area: TestArea | None = None) -> tuple[ChipSet, PixelSampler]:
    refs = training_refs_clear_of(scene.training_refs(chip_size, config.stride), test_area)
    sampler = PixelSampler(len(refs), seed=config.training.seed)
    kept, labels, images = [], [], budget.new_list()
    for number, ref in enumerate(refs):
        index, raw, valid = _labels_for(scene, classes, split, ref, split_module.TRAIN)
        labelled = float((index >= 0).mean())
        if labelled > 0 and labelled >= config.data.min_labelled:
            kept.append(ref)
            labels.append(index.astype(np.int16))
            sampler.add(raw, valid)
            budget.keep(images, raw, valid)
        _cancel_point(progress, f"Cutting chips {number + 1}/{len(refs)}")
    if not kept:
        raise InputError(f"No training chip holds at least {config.data.min_labelled:.0%} labelled training "
                         "pixels; lower data.min_labelled, use smaller chips or label more of the image.")
    return ChipSet(kept, labels, images if budget.fits else None), sampler


class _MemoryBudget:
    """Raw chips kept in memory while they fit in the budget; past it, none are kept (they are re-read)."""

    def __init__(self, limit_mb: int) -> None:
        self.left = limit_mb * 2 ** 20
        self.lists: list[list[tuple[np.ndarray, np.ndarray]]] = []

    def new_list(self) -> list[tuple[np.ndarray, np.ndarray]]:
        self.lists.append([])
        return self.lists[-1]

    def keep(self, into: list[tuple[np.ndarray, np.ndarray]], raw: np.ndarray, valid: np.ndarray) -> None:
        if self.left < 0:
            return
        self.left -= raw.nbytes + valid.nbytes
        if self.left < 0:
            for kept in self.lists:
                kept.clear()
        else:
            into.append((raw, valid))

    @property
    def fits(self) -> bool:
        return self.left >= 0


def _cancel_point(progress: Progress, message: str) -> None:
    if progress.is_cancelled():
        raise errors.CancelledError(f"{message}: cancelled before training started.")
