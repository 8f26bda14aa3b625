"""Tile-classifier data: the cells of the image, their labels, the spatial split, their windows, normalisation.

- Cells tile the image from its top-left corner, ``cells.cell_size`` pixels square; a cell's window is the cell
  plus ``cells.border`` pixels all round, mirrored past the image's edges exactly as the plugin's Classify tiles
  reads it (``numpy.pad`` reflect), so a model sees in training what it sees in use.
- The split is segmentation's (:mod:`..data.split`), never random cells: whole blocks of cells (a multiple of the
  cell size) holding a share of the labelled cells of every class, a bounding box, a polygon layer, or spatial
  folds. A cell is validation when its centre pixel is; a training cell's whole window (border included) must
  be training ground, so no training window reads a validation pixel.
- A test area (``test.extent`` or ``test.layer``) is left out of both: its cells (by their centre) are scored
  once after training, and no training or validation window reads a pixel of it.
- Normalisation: the winsorised mean and standard deviation of the training cells' valid pixels (as for
  segmentation), written into the contract; nodata pixels get the band's mean, as the plugin fills them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._plugin import contract, errors, preprocess
from .._plugin import progress as progress_module
from .._plugin import window as window_module
from ..config import TrainConfig
from ..data import split as split_module
from ..data.raster import RasterSource, resolution_in_metres
from ..data.stats import PixelSampler, input_spec
from ..data.test_area import TestAreaOnly, WithoutTestArea, open_test_area
from .labels import UNLABELLED, CellLabels, read_cell_labels

InputError = errors.InputError
Progress = progress_module.Progress
PixelWindow = window_module.PixelWindow
TRAIN, VALIDATION, TEST = 0, 1, 3  # cell roles; split_module.EXCLUDED (2) for the rest


@dataclass
class CellData:
    """Everything the classifier's trainer, evaluator and exporter need."""

    image: RasterSource
    labels: CellLabels
    roles: np.ndarray  # (rows, cols): TRAIN, VALIDATION, TEST or EXCLUDED
    cell: int
    border: int
    split_description: dict[str, Any]
    input: contract.InputSpec = field(default=None)  # type: ignore[assignment]  # set once the sample is read
    resolution_m: float | None = None
    cache: tuple[np.ndarray, np.ndarray] | None = None  # the whole image (raw, valid) when it fits in memory

    @property
    def window(self) -> int:
        """The model's input: the cell and its border all round."""
        return self.cell + 2 * self.border

    @property
    def classes(self) -> tuple[contract.ClassInfo, ...]:
        return self.labels.classes

    def cells_of(self, role: int) -> np.ndarray:
        """(n, 2) row, column of the labelled cells of ``role``."""
        return np.argwhere((self.roles == role) & (self.labels.index != UNLABELLED))

    def targets(self, cells: np.ndarray) -> np.ndarray:
        return self.labels.index[cells[:, 0], cells[:, 1]]

    def read(self, row: int, col: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw values (bands, W, W) and validity (W, W) of a cell's window, mirrored past the image's edges."""
        grid = self.image.grid
        top, left = row * self.cell - self.border, col * self.cell - self.border
        size = self.window
        r0, c0 = max(top, 0), max(left, 0)
        r1, c1 = min(top + size, grid.height), min(left + size, grid.width)
        if self.cache is not None:
            raw, valid = self.cache[0][:, r0:r1, c0:c1], self.cache[1][r0:r1, c0:c1]
        else:
            part = PixelWindow(c0, r0, c1 - c0, r1 - r0)
            raw = self.image.read(part)
            valid = self.image.valid(part, raw)
        pads = ((r0 - top, top + size - r1), (c0 - left, left + size - c1))
        if any(any(p) for p in pads):
            raw = np.pad(raw, ((0, 0), *pads), mode="reflect")
            valid = np.pad(valid, pads, mode="reflect")
        return raw, valid

    def normalised(self, row: int, col: int) -> np.ndarray:
        """A cell's window as the model's input (float32), nodata filled as the plugin fills it."""
        raw, valid = self.read(row, col)
        return preprocess.normalise(raw, self.input, valid)

    def counts(self, role: int) -> list[int]:
        """Labelled cells per class in ``role``."""
        chosen = self.targets(self.cells_of(role))
        return [int((chosen == i).sum()) for i in range(len(self.classes))]

    def provenance(self) -> dict[str, Any]:
        return {"image": self.image.path.rsplit("/", 1)[-1], "split": self.split_description,
                "cell_px": self.cell, "border_px": self.border, "window_px": self.window,
                **self.labels.description,
                "class_cells": {c.name: {"value": c.value, "training": t, "validation": v, "test": s}
                                for c, t, v, s in zip(self.classes, self.counts(TRAIN), self.counts(VALIDATION),
                                                      self.counts(TEST))}}


def prepare_cells(config: TrainConfig, progress: Progress) -> CellData:
    """Read the image and the cells' labels, split them, measure the bands."""
    data = config.data
    image = RasterSource(data.image or "", data.bands, data.band_names)
    grid, cell, border = image.grid, config.cells.cell_size, config.cells.border
    if cell + 2 * border > min(grid.width, grid.height) or min(grid.width, grid.height) < 2 * cell:
        raise InputError(f"Cells of {cell} px with {border} px of border (windows of {cell + 2 * border} px) do not "
                         f"fit the image ({grid.width} x {grid.height} px): it must hold at least two cells across "
                         f"and a whole window. Choose cells.cell_size of at most {min(grid.width, grid.height) // 2} "
                         "px (and a border that keeps the window inside the image).")
    labels = read_cell_labels(config, grid)
    roles, description = _cell_roles(config, image, labels)
    cells = CellData(image, labels, roles, cell, border, description, resolution_m=resolution_in_metres(image.dataset),
                     cache=_whole_image(image, data.cache_mb))
    _check_roles(cells, progress)
    cells.input = _statistics(cells, config.training.seed)
    train, validation, test = (len(cells.cells_of(r)) for r in (TRAIN, VALIDATION, TEST))
    progress.info(f"{int((labels.index >= 0).sum())} labelled cells of {cell} px (windows of {cells.window} px) in "
                  f"{len(cells.classes)} classes: {train} training, {validation} validation"
                  + (f", {test} test" if test else "") + f"; {', '.join(c.name for c in cells.classes)}.")
    return cells


def _cell_roles(config: TrainConfig, image: RasterSource, labels: CellLabels) -> tuple[np.ndarray, dict[str, Any]]:
    """Each cell's role: a cell's centre gives validation and test; training needs its whole window clear."""
    grid, cell, border = image.grid, config.cells.cell_size, config.cells.border
    test_area = open_test_area(config.test, grid.crs_wkt)
    split = _split(config, labels, cell, grid.crs_wkt)
    if test_area is not None:
        split = WithoutTestArea(split, test_area)
    rows, cols = labels.index.shape
    roles = np.full((rows, cols), split_module.EXCLUDED, np.uint8)
    whole = PixelWindow(0, 0, grid.width, grid.height)
    transform = grid.window_geotransform(whole)
    pixels = split.roles(whole, transform)
    tested = (TestAreaOnly(test_area).roles(whole, transform) == split_module.VALIDATION
              if test_area is not None else np.zeros_like(pixels, bool))
    half = cell // 2
    for row in range(rows):
        for col in range(cols):
            top, left = row * cell, col * cell
            centre = pixels[top + half, left + half]
            read = (slice(max(top - border, 0), top + cell + border),
                    slice(max(left - border, 0), left + cell + border))
            if tested[top + half, left + half]:
                roles[row, col] = TEST
            elif centre == split_module.VALIDATION and not tested[read].any():
                roles[row, col] = VALIDATION
            elif (pixels[read] == split_module.TRAIN).all():
                roles[row, col] = TRAIN
    description = dict(split.description)
    if test_area is not None and not (roles == TEST).any():
        raise InputError("The test area holds the centre of no whole cell, so it cannot be scored; move it "
                         "(test.extent or test.layer, in the image's CRS) over some labelled cells or leave it out.")
    return roles, description


def _split(config: TrainConfig, labels: CellLabels, cell: int, crs_wkt: str) -> Any:
    """Segmentation's split, its blocks whole numbers of cells and chosen by the labelled cells they hold."""
    validation = config.validation
    if not validation.holdout:
        return split_module.NoValidation()
    rows, cols = labels.index.shape
    per_block = validation.block_size and max(validation.block_size // cell, 1) or default_block_cells(rows, cols)
    counts: dict[tuple[int, int], dict[int, int]] = {}
    for row, col in np.argwhere(labels.index != UNLABELLED):
        block = counts.setdefault((int(col) // per_block, int(row) // per_block), {})
        value = int(labels.index[row, col])
        block[value] = block.get(value, 0) + 1
    chosen: Any
    if validation.layer:
        chosen = split_module.LayerSplit(validation.layer, validation.layer_name, crs_wkt)
    elif validation.extent:
        chosen = split_module.ExtentSplit(validation.extent)
    elif validation.folds > 1:
        totals = {block: sum(c.values()) for block, c in counts.items()}
        chosen = split_module.BlockSplit(per_block * cell, split_module.choose_fold_blocks(
            totals, validation.folds, config.training.seed)[validation.fold])
        chosen.description.update({"folds": validation.folds, "fold": validation.fold})
    else:
        chosen = split_module.BlockSplit(per_block * cell, split_module.choose_validation_blocks(
            counts, validation.fraction, config.training.seed))
    return split_module.BufferedSplit(chosen, validation.buffer) if validation.buffer > 0 else chosen


def default_block_cells(rows: int, cols: int) -> int:
    """Blocks of one to eight cells a side: the image holds about 16 such blocks or more."""
    return int(min(max(math.sqrt(rows * cols / 16), 1), 8))


def _check_roles(cells: CellData, progress: Progress) -> None:
    train, validation = len(cells.cells_of(TRAIN)), len(cells.cells_of(VALIDATION))
    holdout = cells.split_description.get("method") != split_module.NoValidation.description["method"]
    if not train or (holdout and not validation):
        raise InputError(f"The split leaves {train} training and {validation} validation cells; both need some. Give "
                         "validation.fraction, a smaller validation.block_size, or a validation layer or extent "
                         "that holds some of the labelled cells but not all.")
    for info, t, v in zip(cells.classes, cells.counts(TRAIN), cells.counts(VALIDATION)):
        if not t:
            progress.warning(f"Class '{info.name}' has no training cells; the classifier cannot learn it.")
        elif holdout and not v:
            progress.warning(f"Class '{info.name}' has no validation cells; its accuracy is not measured.")


def _whole_image(image: RasterSource, cache_mb: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The whole image in memory when it fits in ``data.cache_mb`` (windows are then cut from it)."""
    grid = image.grid
    whole = PixelWindow(0, 0, grid.width, grid.height)
    itemsize = image.read(PixelWindow(0, 0, 1, 1)).dtype.itemsize
    if itemsize * len(image.bands.numbers) * grid.width * grid.height > cache_mb * 2 ** 20:
        return None
    raw = image.read(whole)
    return raw, image.valid(whole, raw)


def _statistics(cells: CellData, seed: int) -> contract.InputSpec:
    """Normalisation from a sample of the training cells' valid pixels (their own pixels, not the border)."""
    chosen = cells.cells_of(TRAIN)
    sampler = PixelSampler(len(chosen), seed=seed)
    for row, col in chosen:
        raw, valid = cells.read(int(row), int(col))
        inner = slice(cells.border, cells.border + cells.cell)
        sampler.add(raw[:, inner, inner], valid[inner, inner])
    sample = sampler.sample()
    if not len(sample):
        raise InputError("The training cells hold no valid pixel (the image is nodata there); check the image's "
                         "nodata value.")
    return input_spec(sample, cells.image.bands.names)
