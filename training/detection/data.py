"""Detection data: the image, its objects, the spatial split, chip placements and validation windows.

- The test area (``test.extent`` or ``test.layer``) goes first: objects centred in it are left out of
  everything, no chip and no validation window reads a pixel of it.
- The split is segmentation's (:mod:`..data.split`): square blocks of the image holding a share of the
  objects (by their centres), a bounding box, a polygon layer, or spatial folds; an object takes the role
  of the pixel under its centre. Selection (the best epoch, the score threshold) uses the validation area.
- Training chips: around each training object (placements drawn at random so the object lies inside, a few
  per object, one used per epoch) and some at random over training ground (``detection.background_chips``).
  Anchors over pixels that are not training ground are ignored by the loss, so the validation area teaches
  nothing.
- Validation windows tile the image, each read with a margin as wide as the largest object, scored on
  detections and objects centred in the window's own tile and on validation ground.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._plugin import contract, errors
from .._plugin import progress as progress_module
from .._plugin import window as window_module
from ..config import DETECTOR_DEFAULTS, TrainConfig
from ..data import split as split_module
from ..data.raster import RasterSource
from ..data.scene_types import ChipRef, ValidationWindow
from ..data.test_area import TestAreaOnly, WithoutTestArea, open_test_area, validation_windows_clear_of
from .labels import ObjectSet, read_objects, with_given_classes

InputError = errors.InputError
Progress = progress_module.Progress
PixelWindow = window_module.PixelWindow
PLACEMENTS = 4  # chip placements drawn per training object (one per epoch, in turn)


@dataclass
class ScoredWindow:
    """A validation (or test) window: what is read, which part is scored, and the roles of its pixels."""

    window: ValidationWindow
    roles: np.ndarray  # (h, w) of the read window: split roles (VALIDATION where scored ground)


@dataclass
class DetectionData:
    """Everything the detection trainer, evaluator and exporter need."""

    image: RasterSource
    objects: ObjectSet  # every object outside the test area
    roles: np.ndarray  # per object: TRAIN, VALIDATION or EXCLUDED
    split: Any  # a Split: roles of the pixels of any window
    split_description: dict[str, Any]
    chips: list[list[PixelWindow]]  # per training chip, its placements
    chip_objects: list[int]  # per training chip, the object it was placed around (-1: background)
    validation: list[ScoredWindow]
    input: contract.InputSpec
    chip_size: int
    max_object_px: int
    resolution_m: float | None
    cache: tuple[np.ndarray, np.ndarray] | None = None  # the whole image (raw, valid) when it fits in memory
    notes: list[str] = field(default_factory=list)

    @property
    def classes(self) -> tuple[contract.ClassInfo, ...]:
        return self.objects.class_table

    def read(self, window: PixelWindow) -> tuple[np.ndarray, np.ndarray]:
        """Raw values (bands, h, w) and validity (h, w) of a window inside the image."""
        if self.cache is not None:
            raw, valid = self.cache
            rows, cols = slice(window.row, window.row_end), slice(window.col, window.col_end)
            return raw[:, rows, cols], valid[rows, cols]
        raw = self.image.read(window)
        return raw, self.image.valid(window, raw)

    def ref(self, window: PixelWindow) -> ChipRef:
        return ChipRef(window, tuple(self.image.grid.window_geotransform(window)))  # type: ignore[arg-type]

    def counts(self, role: int) -> list[int]:
        """Objects per class in ``role``."""
        chosen = self.objects.classes[self.roles == role]
        return [int((chosen == i).sum()) for i in range(len(self.classes))]

    def provenance(self) -> dict[str, Any]:
        names = [c.name for c in self.classes]
        return {"image": self.image.path.rsplit("/", 1)[-1], "split": self.split_description,
                "training_chips": len(self.chips), "validation_windows": len(self.validation),
                "objects": {name: {"value": c.value, "training": t, "validation": v}
                            for name, c, t, v in zip(names, self.classes, self.counts(split_module.TRAIN),
                                                     self.counts(split_module.VALIDATION))},
                "labels_are_points": self.objects.points, "max_object_px": self.max_object_px}


def roles_at(split: Any, ref_of: Any, points: np.ndarray, width: int, height: int, block: int = 512) -> np.ndarray:
    """The split role of the pixel under each point (x, y), computed block by block."""
    roles = np.full(len(points), split_module.EXCLUDED, np.uint8)
    cols, rows = np.floor(points[:, 0]).astype(int), np.floor(points[:, 1]).astype(int)
    for top in range(0, height, block):
        for left in range(0, width, block):
            inside = (cols >= left) & (cols < left + block) & (rows >= top) & (rows < top + block)
            if inside.any():
                window = PixelWindow(left, top, min(block, width - left), min(block, height - top))
                roles[inside] = split.roles(window, ref_of(window).geotransform)[rows[inside] - top,
                                                                                    cols[inside] - left]
    return roles


class _Preparation:
    """The steps of :func:`prepare_detection`, sharing the image and the configuration."""

    def __init__(self, config: TrainConfig, progress: Progress) -> None:
        self.config, self.progress = config, progress
        data = config.data
        self.image = RasterSource(data.image or "", data.bands, data.band_names)
        self.grid = self.image.grid
        self.chip = int(data.chip_size or DETECTOR_DEFAULTS["chip_size"])  # set by the configuration's check
        if self.chip > min(self.grid.width, self.grid.height):
            raise InputError(f"The chip size {self.chip} is larger than the image ({self.grid.width} x "
                             f"{self.grid.height} pixels); choose a chip size (a multiple of 32) of at most "
                             f"{min(self.grid.width, self.grid.height)}.")
        codes = {str(c["name"]): int(c["value"]) for c in data.classes or () if "name" in c and "value" in c}
        self.objects = with_given_classes(read_objects(data.labels or "", data.label_field, self.grid,
                                                       data.label_layer, config.detection.point_size, codes or None),
                                          data.classes)
        self.test_area = open_test_area(config.test, self.grid.crs_wkt)
        self.rng = np.random.default_rng(config.training.seed)

    def ref(self, window: PixelWindow) -> ChipRef:
        return ChipRef(window, tuple(self.grid.window_geotransform(window)))  # type: ignore[arg-type]

    def outside_test_area(self) -> ObjectSet:
        if self.test_area is None:
            return self.objects
        inside = roles_at(TestAreaOnly(self.test_area), self.ref, self.objects.centres, self.grid.width,
                          self.grid.height) == split_module.VALIDATION
        if inside.all():
            raise InputError("Every object lies in the test area: nothing is left to train on. Make the test area "
                             "smaller.")
        if not inside.any():
            raise InputError("The test area holds none of the objects, so it could not be scored; move it (test.extent "
                             "or test.layer, in the image's CRS) over some of the objects or leave it out.")
        return self.objects.select(~inside)

    def make_split(self, objects: ObjectSet) -> Any:
        validation = self.config.validation
        block = validation.block_size or default_block_size(self.grid.width, self.grid.height, self.chip)
        counts: dict[tuple[int, int], int] = {}
        for x, y in objects.centres:
            key = (int(x) // block, int(y) // block)
            counts[key] = counts.get(key, 0) + 1
        chosen: Any
        if validation.layer:
            chosen = split_module.LayerSplit(validation.layer, validation.layer_name, self.grid.crs_wkt)
        elif validation.extent:
            chosen = split_module.ExtentSplit(validation.extent)
        elif validation.folds > 1:
            chosen = split_module.BlockSplit(block, split_module.choose_fold_blocks(
                counts, validation.folds, self.config.training.seed)[validation.fold])
            chosen.description.update({"folds": validation.folds, "fold": validation.fold})
        else:
            chosen = split_module.BlockSplit(block, split_module.choose_validation_blocks(
                counts, validation.fraction, self.config.training.seed))
        if validation.buffer > 0:
            chosen = split_module.BufferedSplit(chosen, validation.buffer)
        return WithoutTestArea(chosen, self.test_area) if self.test_area is not None else chosen

    def clear(self, window: PixelWindow) -> bool:
        return self.test_area is None or not self.test_area.overlaps(self.ref(window))

    def placements(self, box: np.ndarray) -> list[PixelWindow]:
        """Chips of the chip size holding ``box`` (as far as it fits), at random offsets, clear of the test area."""
        found = []
        for _ in range(PLACEMENTS * 3):
            lows = np.floor(box[2:] - self.chip).clip(0)
            highs = np.minimum(np.ceil(box[:2]), [self.grid.width - self.chip, self.grid.height - self.chip])
            col, row = (int(self.rng.integers(int(lo), int(max(lo, hi)) + 1)) for lo, hi in zip(lows, highs))
            window = PixelWindow(min(col, self.grid.width - self.chip), min(row, self.grid.height - self.chip),
                                 self.chip, self.chip)
            if self.clear(window):
                found.append(window)
            if len(found) == PLACEMENTS:
                break
        return found

    def background(self, count: int, split: Any) -> list[list[PixelWindow]]:
        """Chips at random over training ground (their centre pixel), clear of the test area."""
        chips: list[list[PixelWindow]] = []
        for _ in range(count * 10):
            if len(chips) == count:
                break
            col = int(self.rng.integers(0, self.grid.width - self.chip + 1))
            row = int(self.rng.integers(0, self.grid.height - self.chip + 1))
            window = PixelWindow(col, row, self.chip, self.chip)
            centre = split.roles(window, self.ref(window).geotransform)[self.chip // 2, self.chip // 2]
            if centre == split_module.TRAIN and self.clear(window):
                chips.append([window])
        return chips

    def validation_windows(self, split: Any, context: int, role_split: Any = None) -> list[ScoredWindow]:
        """Windows tiling the image, read with ``context`` pixels around, holding ground of the scored role."""
        width, height, size = self.grid.width, self.grid.height, self.chip
        items = []
        for row in range(0, height, size):
            for col in range(0, width, size):
                h, w = min(size, height - row), min(size, width - col)
                top, left = max(row - context, 0), max(col - context, 0)
                read = PixelWindow(left, top, min(col + w + context, width) - left,
                                   min(row + h + context, height) - top)
                items.append(ValidationWindow(self.ref(read), (row - top, row - top + h), (col - left, col - left + w)))
        kept = []
        for item in validation_windows_clear_of(items, self.test_area):
            roles = (role_split or split).roles(item.read.window, item.read.geotransform)
            (r0, r1), (c0, c1) = item.rows, item.cols
            if (roles[r0:r1, c0:c1] == split_module.VALIDATION).any():
                kept.append(ScoredWindow(item, roles))
        return kept


def default_block_size(width: int, height: int, chip: int) -> int:
    """Validation blocks of one to four chips: four when the image holds at least 16 such blocks."""
    side = math.sqrt(width * height / 16)
    return int(min(max(side // chip, 1), 4)) * chip
