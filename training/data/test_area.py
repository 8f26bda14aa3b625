"""The optional test area: left out of training and validation entirely, scored once at the end.

Model selection (the best epoch, the best trial of a search) must never see the ground a model is
finally judged on. A test area (``test.extent`` or ``test.layer``) is therefore removed before
anything else looks at the labels: its pixels count for no class, no block and no statistic; no
training chip and no validation window reads a single pixel of it (windows whose context would
reach into it are shrunk on that side, windows that would score it are left out). After training,
:func:`prepare_test` tiles the test area alone, and the final weights are scored there once.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._plugin import errors, gdal_grid, gdal_vectors, window
from ..config import TestConfig
from . import split as split_module
from .scene_types import ChipRef, GeoTransform, ValidationWindow

InputError = errors.InputError
PixelWindow = window.PixelWindow


class TestArea:
    """Which pixels of a window lie in the test area (a bounding box or polygons, in the image CRS)."""

    __test__ = False  # not a pytest test class

    def __init__(self, test: TestConfig, crs_wkt: str) -> None:
        self._polygons = None
        if test.layer:
            self._polygons = gdal_vectors.MemoryLayer(test.layer, test.layer_name, crs_wkt)
            if self._polygons.feature_count == 0:
                raise InputError(f"The test layer '{test.layer}' holds no geometry; draw the test area as polygons.")
            self.crs_wkt = crs_wkt
            self.description: dict[str, Any] = {"method": "layer", "layer": str(test.layer).rsplit("/", 1)[-1],
                                                "polygons": int(self._polygons.feature_count)}
        else:
            xmin, ymin, xmax, ymax = (float(v) for v in test.extent or ())
            if not (xmin < xmax and ymin < ymax):
                raise InputError(f"test.extent {list(test.extent or ())} is empty; give [xmin, ymin, xmax, ymax] "
                                 "with xmin < xmax and ymin < ymax (image CRS).")
            self._extent = split_module.ExtentSplit((xmin, ymin, xmax, ymax))
            self.description = {"method": "extent", "extent": [xmin, ymin, xmax, ymax]}

    def mask(self, window: PixelWindow, geotransform: GeoTransform) -> np.ndarray:
        """True where a pixel of ``window`` (geotransform: the window's own) lies in the test area."""
        if self._polygons is not None:
            grid = gdal_grid.RasterGrid(window.width, window.height, geotransform, self.crs_wkt)
            whole = PixelWindow(0, 0, window.width, window.height)
            return self._polygons.burn(grid, whole, burn_value=1).astype(bool)
        return self._extent.roles(window, geotransform) == split_module.VALIDATION

    def overlaps(self, ref: ChipRef) -> bool:
        """Whether the window of ``ref`` reads any pixel of the test area."""
        return bool(self.mask(ref.window, ref.geotransform).any())


def open_test_area(test: TestConfig, crs_wkt: str) -> TestArea | None:
    """The configured test area, or None when there is none."""
    return TestArea(test, crs_wkt) if test.given else None


class WithoutTestArea:
    """A split whose pixels inside the test area are EXCLUDED (neither training nor validation)."""

    def __init__(self, inner: split_module.Split, area: TestArea) -> None:
        self.inner, self.area = inner, area
        self.description = {**inner.description, "test_area_excluded": area.description}

    def roles(self, window: PixelWindow, geotransform: GeoTransform) -> np.ndarray:
        roles = self.inner.roles(window, geotransform).copy()
        roles[self.area.mask(window, geotransform)] = split_module.EXCLUDED
        return roles


class TestAreaOnly:
    """The split used to score the test area: its pixels are scored, every other pixel is EXCLUDED."""

    __test__ = False

    def __init__(self, area: TestArea) -> None:
        self.area = area
        self.description = dict(area.description)

    def roles(self, window: PixelWindow, geotransform: GeoTransform) -> np.ndarray:
        inside = self.area.mask(window, geotransform)
        return np.where(inside, split_module.VALIDATION, split_module.EXCLUDED).astype(np.uint8)


def training_refs_clear_of(refs: Sequence[ChipRef], area: TestArea | None) -> list[ChipRef]:
    """The training chips that read no pixel of the test area."""
    return list(refs) if area is None else [ref for ref in refs if not area.overlaps(ref)]


def validation_windows_clear_of(windows: Sequence[ValidationWindow],
                                area: TestArea | None) -> list[ValidationWindow]:
    """Validation windows that read no pixel of the test area (context shrunk where it would)."""
    if area is None:
        return list(windows)
    kept = []
    for item in windows:
        clear = _clear_of(item, area)
        if clear is not None:
            kept.append(clear)
    return kept


def _clear_of(item: ValidationWindow, area: TestArea) -> ValidationWindow | None:
    read = item.read
    mask = area.mask(read.window, read.geotransform)
    if not mask.any():
        return item
    (r0, r1), (c0, c1) = item.rows, item.cols
    if read.image_path is not None or mask[r0:r1, c0:c1].any():
        return None  # a chip file is read whole; a window that would score test pixels is left out
    top = r0 - _clear_lines(mask[:r0, c0:c1][::-1])
    bottom = r1 + _clear_lines(mask[r1:, c0:c1])
    left = c0 - _clear_lines(mask[top:bottom, :c0][:, ::-1].T)
    right = c1 + _clear_lines(mask[top:bottom, c1:].T)
    window = PixelWindow(read.window.col + left, read.window.row + top, right - left, bottom - top)
    x0, dx, rx, y0, ry, dy = read.geotransform
    transform = (x0 + left * dx + top * rx, dx, rx, y0 + left * ry + top * dy, ry, dy)
    return ValidationWindow(ChipRef(window, transform), (r0 - top, r1 - top), (c0 - left, c1 - left))


def _clear_lines(block: np.ndarray) -> int:
    """How many leading rows of ``block`` hold no test pixel."""
    touched = block.any(axis=1)
    return int(np.argmax(touched)) if touched.any() else int(block.shape[0])
