"""Spatial training/validation split: never by random pixels, so neighbours cannot inflate the figures.

Every pixel gets a role: training, validation, or excluded (a buffer between the two). The
validation area is, in order of precedence, a polygon layer, a bounding box in the image CRS, or
whole square blocks of the image grid chosen at random (seeded) until they hold the requested
share of the labelled pixels.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from .._plugin import errors, gdal_grid, gdal_vectors, window

InputError = errors.InputError
PixelWindow = window.PixelWindow
GeoTransform = tuple[float, float, float, float, float, float]

TRAIN, VALIDATION, EXCLUDED = 0, 1, 2


class Split(Protocol):
    """Roles of the pixels of a window: TRAIN, VALIDATION or EXCLUDED (uint8)."""

    description: dict[str, Any]

    def roles(self, window: PixelWindow, geotransform: GeoTransform) -> np.ndarray:
        """``window`` is in the source image's pixel grid; ``geotransform`` is the window's own."""


class BlockSplit:
    """Square blocks of ``block_size`` pixels of the image grid; the chosen blocks are validation."""

    def __init__(self, block_size: int, validation_blocks: set[tuple[int, int]]) -> None:
        self.block_size = block_size
        self.validation_blocks = frozenset(validation_blocks)
        self.description = {"method": "blocks", "block_size": block_size,
                            "validation_blocks": sorted(list(b) for b in self.validation_blocks)}

    def roles(self, window: PixelWindow, geotransform: GeoTransform) -> np.ndarray:
        block_cols = (window.col + np.arange(window.width)) // self.block_size
        block_rows = (window.row + np.arange(window.height)) // self.block_size
        chosen = np.zeros((block_rows.max() + 1, block_cols.max() + 1), bool)
        for col, row in self.validation_blocks:
            if row < chosen.shape[0] and col < chosen.shape[1]:
                chosen[row, col] = True
        return chosen[np.ix_(block_rows, block_cols)].astype(np.uint8) * VALIDATION


class ExtentSplit:
    """Pixels whose centre lies in [xmin, ymin, xmax, ymax] (image CRS) are validation."""

    def __init__(self, extent: Sequence[float]) -> None:
        xmin, ymin, xmax, ymax = (float(v) for v in extent)
        if not (xmin < xmax and ymin < ymax):
            raise InputError(f"validation.extent {list(extent)} is empty; give [xmin, ymin, xmax, ymax] "
                             "with xmin < xmax and ymin < ymax.")
        self.extent = (xmin, ymin, xmax, ymax)
        self.description = {"method": "extent", "extent": list(self.extent)}

    def roles(self, window: PixelWindow, geotransform: GeoTransform) -> np.ndarray:
        x0, dx, rx, y0, ry, dy = geotransform
        cols, rows = np.meshgrid(np.arange(window.width) + 0.5, np.arange(window.height) + 0.5)
        x, y = x0 + cols * dx + rows * rx, y0 + cols * ry + rows * dy
        xmin, ymin, xmax, ymax = self.extent
        inside = (x >= xmin) & (x < xmax) & (y >= ymin) & (y < ymax)
        return inside.astype(np.uint8) * VALIDATION


class LayerSplit:
    """Pixels inside the polygons of a layer are validation (polygons reprojected to the image CRS)."""

    def __init__(self, path: str, layer_name: str | None, crs_wkt: str) -> None:
        self.crs_wkt = crs_wkt
        self._polygons = gdal_vectors.MemoryLayer(path, layer_name, crs_wkt)
        if self._polygons.feature_count == 0:
            raise InputError(f"The validation layer '{path}' holds no geometry; draw the validation area "
                             "as polygons.")
        self.description = {"method": "layer", "layer": str(path).rsplit("/", 1)[-1],
                            "polygons": int(self._polygons.feature_count)}

    def roles(self, window: PixelWindow, geotransform: GeoTransform) -> np.ndarray:
        grid = gdal_grid.RasterGrid(window.width, window.height, geotransform, self.crs_wkt)
        whole = PixelWindow(0, 0, window.width, window.height)
        return self._polygons.burn(grid, whole, burn_value=VALIDATION).astype(np.uint8)


class EverythingValidation:
    """Every pixel is validation: for scoring a finished model on labels it has never seen."""

    description = {"method": "all labelled pixels"}

    def roles(self, window: PixelWindow, geotransform: GeoTransform) -> np.ndarray:
        return np.full((window.height, window.width), VALIDATION, np.uint8)


class NoValidation:
    """No validation area: every pixel (outside a test area) trains (a final fit on all the training ground)."""

    description = {"method": "none: every labelled pixel trains"}

    def roles(self, window: PixelWindow, geotransform: GeoTransform) -> np.ndarray:
        return np.full((window.height, window.width), TRAIN, np.uint8)


class BufferedSplit:
    """Training pixels within ``buffer`` pixels of the validation area become EXCLUDED."""

    def __init__(self, inner: Split, buffer: int) -> None:
        self.inner, self.buffer = inner, buffer
        self.description = {**inner.description, "buffer_px": buffer}

    def roles(self, window: PixelWindow, geotransform: GeoTransform) -> np.ndarray:
        b = self.buffer
        wider = PixelWindow(window.col - b, window.row - b, window.width + 2 * b, window.height + 2 * b)
        x0, dx, rx, y0, ry, dy = geotransform
        wider_transform = (x0 - b * dx - b * rx, dx, rx, y0 - b * ry - b * dy, ry, dy)
        roles = self.inner.roles(wider, wider_transform)
        near = _dilate(roles == VALIDATION, b)
        roles = np.where((roles == TRAIN) & near, EXCLUDED, roles).astype(np.uint8)
        return roles[b:b + window.height, b:b + window.width]


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square (Chebyshev) dilation by ``radius`` pixels, via a summed-area table."""
    if radius <= 0 or not mask.any():
        return mask
    padded = np.pad(mask.astype(np.int32), radius)
    table = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    size = 2 * radius + 1
    height, width = mask.shape
    total = (table[size:size + height, size:size + width] - table[:height, size:size + width]
             - table[size:size + height, :width] + table[:height, :width])
    return total > 0


def choose_validation_blocks(blocks: Mapping[tuple[int, int], Mapping[int, int] | int], fraction: float,
                             seed: int) -> set[tuple[int, int]]:
    """Blocks (col, row) holding about ``fraction`` of the labelled pixels, every class among them where the
    labels allow.

    ``blocks`` gives the labelled pixels per class value of each block. Drawing blocks at random can miss
    a rare class altogether (its accuracy is then never measured), so classes come first, rarest first:
    a class not yet in the validation area gets the block whose pixels of it are closest to ``fraction``
    of that class, among the blocks that leave every class some training pixels. Then blocks are drawn
    at random (seeded) until the validation area holds ``fraction`` of the labelled pixels. A class found
    in one block only stays in training (it cannot be in both). Blocks given as plain pixel counts (no
    classes) are drawn at random only.
    """
    per_class: dict[tuple[int, int], Mapping[int, int]] = {
        block: ({0: counts} if isinstance(counts, int) else counts) for block, counts in blocks.items()}
    return _stratified_blocks(per_class, fraction, seed)


def _stratified_blocks(blocks: Mapping[tuple[int, int], Mapping[int, int]], fraction: float,
                       seed: int) -> set[tuple[int, int]]:
    candidates = sorted(block for block, counts in blocks.items() if sum(counts.values()) > 0)
    if len(candidates) < 2:
        raise InputError("The labels fall into fewer than two validation blocks, so no spatial validation "
                         "area can be held out; set validation.block_size smaller (in the algorithm: a "
                         "smaller chip size) or give a validation polygon layer.")
    totals: dict[int, int] = {}
    for block in candidates:
        for value, count in blocks[block].items():
            totals[value] = totals.get(value, 0) + count
    order = {block: rank for rank, block in
             enumerate(candidates[i] for i in np.random.default_rng(seed).permutation(len(candidates)))}
    chosen: set[tuple[int, int]] = set()
    held: dict[int, int] = {}

    def allowed(block: tuple[int, int]) -> bool:  # every class keeps training pixels outside the chosen blocks
        return len(chosen) < len(candidates) - 1 and all(
            held.get(v, 0) + n < totals[v] for v, n in blocks[block].items() if n > 0)

    def take(block: tuple[int, int]) -> None:
        chosen.add(block)
        for value, count in blocks[block].items():
            held[value] = held.get(value, 0) + count

    holders = {v: [b for b in candidates if blocks[b].get(v, 0) > 0] for v in totals}
    for value in sorted(totals, key=lambda v: (len(holders[v]), totals[v], v)):
        if held.get(value, 0) > 0:
            continue
        options = [b for b in holders[value] if b not in chosen and allowed(b)]
        if options:
            target = fraction * totals[value]
            take(min(options, key=lambda b: (abs(blocks[b][value] - target), order[b])))
    total = sum(totals.values())
    for block in sorted(candidates, key=order.__getitem__):
        if sum(held.values()) >= fraction * total:
            break
        if block not in chosen and allowed(block):
            take(block)
    return chosen


def choose_fold_blocks(labelled: Mapping[tuple[int, int], int], folds: int,
                       seed: int) -> list[set[tuple[int, int]]]:
    """Blocks (col, row) dealt into ``folds`` spatial folds holding similar numbers of labelled pixels.

    Blocks go, largest first (ties in a seeded random order), each to the fold holding the fewest
    labelled pixels so far.
    """
    candidates = sorted(block for block, count in labelled.items() if count > 0)
    if len(candidates) < folds:
        raise InputError(f"The labels fall into {len(candidates)} block(s), too few for {folds} spatial folds; "
                         "use fewer folds or a smaller validation.block_size.")
    order = np.random.default_rng(seed).permutation(len(candidates))
    ranked = sorted((candidates[i] for i in order), key=lambda b: -labelled[b])
    chosen: list[set[tuple[int, int]]] = [set() for _ in range(folds)]
    held = [0] * folds
    for block in ranked:
        emptiest = min(range(folds), key=lambda f: (held[f], f))
        chosen[emptiest].add(block)
        held[emptiest] += labelled[block]
    return chosen
