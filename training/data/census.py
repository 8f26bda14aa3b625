"""Where the labels are: labelled pixels per class in every cell of a square grid over the image.

One pass over the labels (read in large windows, never the whole raster) counts, for each cell of
``cell`` pixels and each label value, the labelled pixels outside the test area. Everything that
depends on where the labels lie is then worked out from these counts without reading them again:
the defaults chosen from the data (how much ground is labelled, how large it is), and the validation
blocks of any size that is a multiple of the cell (which classes each block holds).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._plugin import errors
from .._plugin import progress as progress_module
from .scene_types import Scene
from .test_area import TestArea

InputError = errors.InputError
Block = tuple[int, int]  # (column, row) of a block, in blocks
READ_PIXELS = 512  # side of the windows read while counting (a multiple of the cell)
SMALL_SCENE_PIXELS = 2 ** 24  # up to this many pixels cells of 16 px, beyond them 64 px (bounded memory)


@dataclass(frozen=True)
class LabelCensus:
    """Labelled pixels per (cell, label value), outside the test area; sparse arrays of equal length."""

    cell: int
    rows: np.ndarray  # cell row of each entry
    cols: np.ndarray  # cell column
    values: np.ndarray  # label value
    counts: np.ndarray  # labelled pixels

    @property
    def totals(self) -> dict[int, int]:
        """Labelled pixels per label value."""
        found, inverse = np.unique(self.values, return_inverse=True)
        summed = np.bincount(inverse, weights=self.counts, minlength=len(found))
        return {int(v): int(n) for v, n in zip(found, summed) if n > 0}

    @property
    def labelled(self) -> int:
        return int(self.counts.sum())

    def blocks(self, block_size: int) -> dict[Block, dict[int, int]]:
        """Labelled pixels per label value in each block of ``block_size`` pixels (a multiple of the cell)."""
        if block_size % self.cell:
            raise ValueError(f"block size {block_size} is not a multiple of the census cell {self.cell}")
        factor = block_size // self.cell
        result: dict[Block, dict[int, int]] = {}
        for col, row, value, count in zip(self.cols // factor, self.rows // factor, self.values, self.counts):
            block = result.setdefault((int(col), int(row)), {})
            block[int(value)] = block.get(int(value), 0) + int(count)
        return result

    def ground(self) -> tuple[int, int]:
        """(width, height) in pixels of the cells holding labels (the labelled ground's bounding box)."""
        if not len(self.counts):
            return 0, 0
        width = (int(self.cols.max()) - int(self.cols.min()) + 1) * self.cell
        height = (int(self.rows.max()) - int(self.rows.min()) + 1) * self.cell
        return width, height

    def density(self) -> tuple[np.ndarray, tuple[int, int]]:
        """Labelled pixels per cell as a dense grid over the labelled ground, and its (row, col) origin."""
        if not len(self.counts):
            return np.zeros((0, 0), np.int64), (0, 0)
        row0, col0 = int(self.rows.min()), int(self.cols.min())
        grid = np.zeros((int(self.rows.max()) - row0 + 1, int(self.cols.max()) - col0 + 1), np.int64)
        np.add.at(grid, (self.rows - row0, self.cols - col0), self.counts)
        return grid, (row0, col0)


def census_cell(width: int, height: int, block_size: int | None) -> int:
    """The cell size: a given validation block size itself, else 16 px (64 px on very large images)."""
    if block_size:
        return int(block_size)
    return 16 if width * height <= SMALL_SCENE_PIXELS else 64


def scan_labels(scene: Scene, cell: int, progress: progress_module.Progress,
                test_area: TestArea | None = None) -> LabelCensus:
    """Count the labelled pixels of every cell and label value (outside the test area) in one pass."""
    read = cell * max(1, READ_PIXELS // cell)
    parts: list[tuple[np.ndarray, ...]] = []
    refs = scene.scan_refs(read)
    for number, ref in enumerate(refs):
        labels = scene.read_labels(ref)
        outside = None if test_area is None else ~test_area.mask(ref.window, ref.geotransform)
        keep = _labelled(labels, scene.unlabelled, outside)
        if keep.any():
            rows, cols = np.nonzero(keep)
            keys = np.stack([(ref.window.row + rows) // cell, (ref.window.col + cols) // cell,
                             labels[keep].astype(np.int64)])
            unique, counts = np.unique(keys, axis=1, return_counts=True)
            parts.append((*unique, counts))
        if progress.is_cancelled():
            raise errors.CancelledError(f"Scanning labels {number + 1}/{len(refs)}: cancelled before training "
                                        "started.")
    if not parts:
        raise InputError("The labels cover no pixel of the image: there is nothing to learn from. Check that "
                         "the labels overlap the raster and that the unlabelled value is right.")
    rows, cols, values, counts = (np.concatenate([p[i] for p in parts]) for i in range(4))
    keys, inverse = np.unique(np.stack([rows, cols, values]), axis=1, return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=counts, minlength=keys.shape[1]).astype(np.int64)
    return LabelCensus(cell, keys[0], keys[1], keys[2], summed)


def _labelled(labels: np.ndarray, unlabelled: frozenset[int], outside: np.ndarray | None) -> np.ndarray:
    """Pixels holding a label value (as :func:`count_values` counts them)."""
    raw = labels.astype(np.int64, copy=False)
    keep = (raw >= 0) & (raw <= 65535)
    if outside is not None:
        keep &= outside
    for value in unlabelled:
        keep &= raw != value
    return keep

