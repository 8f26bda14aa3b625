"""Where chips come from: windows of one image raster with its labels (chips folders: chips_folder.py;
the interface both offer: scene_types.py; choosing one: :func:`open_scene` in sources.py).

A scene hands out references to windows (:class:`ChipRef`) and reads raw image values and raw
label values for them. The rest of the pipeline (split, class table, statistics, datasets) only
sees this small interface, so a raster with labels and a folder of exported chips train alike.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._plugin import errors, window
from ..config import DataConfig
from .labels import LabelReader, open_label_reader
from .raster import RasterSource, resolution_in_metres
from .scene_types import ChipRef, ValidationWindow

InputError = errors.InputError
PixelWindow = window.PixelWindow
GeoTransform = tuple[float, float, float, float, float, float]


class RasterScene:
    """An image raster with vector labels or a label raster on (or warped onto) its grid."""

    def __init__(self, data: DataConfig) -> None:
        self.image = RasterSource(data.image or "", data.bands, data.band_names, data.additional_images)
        self.grid = self.image.grid
        self.bands = self.image.bands
        self.crs_wkt = self.grid.crs_wkt
        self.resolution_m = resolution_in_metres(self.image.dataset)
        self.labels: LabelReader = open_label_reader(data, self.grid)
        self.unlabelled = self.labels.unlabelled
        self.known_classes = self.labels.known_classes
        self.description = {"image": Path(self.image.path).name, **self.labels.description}
        if data.additional_images:
            self.description["additional_images"] = [Path(p).name for p in data.additional_images]
        self.notes = [self.labels.note] if self.labels.note else []

    def __getstate__(self) -> dict[str, Any]:
        """Labels are read while the data is prepared only; DataLoader workers need the image alone."""
        state = dict(self.__dict__)
        state["labels"] = None
        return state

    @property
    def extent_pixels(self) -> tuple[int, int]:
        return self.grid.width, self.grid.height

    def _ref(self, window: PixelWindow) -> ChipRef:
        return ChipRef(window, tuple(self.grid.window_geotransform(window)))  # type: ignore[arg-type]

    def check_chip_size(self, chip_size: int) -> None:
        """Refuse chips larger than the image, before anything else is scanned."""
        if chip_size > min(self.grid.width, self.grid.height):
            raise InputError(f"The chip size {chip_size} is larger than the image ({self.grid.width} x "
                             f"{self.grid.height} pixels); choose a chip size of at most "
                             f"{min(self.grid.width, self.grid.height)}.")

    def training_refs(self, chip_size: int, stride: int) -> list[ChipRef]:
        self.check_chip_size(chip_size)
        rows = window.axis_starts(0, self.grid.height, chip_size, stride, self.grid.height)
        cols = window.axis_starts(0, self.grid.width, chip_size, stride, self.grid.width)
        return [self._ref(PixelWindow(c, r, chip_size, chip_size)) for r in rows for c in cols]

    def validation_windows(self, window: int, context: int) -> list[ValidationWindow]:
        result = []
        for row in range(0, self.grid.height, window):
            for col in range(0, self.grid.width, window):
                height, width = min(window, self.grid.height - row), min(window, self.grid.width - col)
                top, left = max(row - context, 0), max(col - context, 0)
                bottom = min(row + height + context, self.grid.height)
                right = min(col + width + context, self.grid.width)
                read = self._ref(PixelWindow(left, top, right - left, bottom - top))
                result.append(ValidationWindow(read, (row - top, row - top + height),
                                               (col - left, col - left + width)))
        return result

    def scan_refs(self, block_size: int) -> list[ChipRef]:
        return [self._ref(PixelWindow(col, row, min(block_size, self.grid.width - col),
                                      min(block_size, self.grid.height - row)))
                for row in range(0, self.grid.height, block_size)
                for col in range(0, self.grid.width, block_size)]

    def read_image(self, ref: ChipRef) -> tuple[np.ndarray, np.ndarray]:
        data = self.image.read(ref.window)
        return data, self.image.valid(ref.window, data)

    def read_labels(self, ref: ChipRef) -> np.ndarray:
        return self.labels.read(ref.window)


