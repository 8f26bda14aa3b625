"""A chips folder written by ``seamless:exportchips``: images/, labels/, classes.json and index.csv.

Each chip keeps its position in the source image grid (``col_off``, ``row_off``), so the spatial
split works on the source grid exactly as for a raster. Chips may overlap (stride < chip size):
validation then scores a non-overlapping subset of the validation chips, so no pixel counts twice.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from .._plugin import contract, errors, gdal_grid, window
from ..config import DataConfig
from .raster import band_info, grid_resolution_in_metres, valid_mask
from .scene_types import ChipRef, ValidationWindow

InputError = errors.InputError
PixelWindow = window.PixelWindow
_REQUIRED_COLUMNS = ("chip_id", "image", "label", "col_off", "row_off", "width", "height")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"Cannot read '{path}': {error}. A chips folder needs the classes.json written "
                         "by 'Export training chips'.") from error
    if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
        raise InputError(f"'{path}' has no 'classes' list; it is not a chips folder's classes.json.")
    return data


def _read_index(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise InputError(f"Cannot read the chip index '{path}': {error.strerror or error}.") from error
    missing = [c for c in _REQUIRED_COLUMNS if rows and c not in rows[0]]
    if not rows or missing:
        raise InputError(f"The chip index '{path}' is empty or lacks the column(s) {missing}.")
    return rows


class ChipsFolderScene:
    """Chips listed in ``index.csv`` with class metadata from ``classes.json``."""

    def __init__(self, data: DataConfig) -> None:
        self.folder = Path(data.chips or "")
        meta = _read_json(self.folder / "classes.json")
        rows = _read_index(self.folder / "index.csv")
        self.unlabelled = frozenset({int(meta.get("ignore_value", 255))})
        self.known_classes = tuple(contract.ClassInfo(int(c["value"]), str(c.get("name") or c["value"]),
                                                      str(c.get("color") or contract.default_color(i)))
                                   for i, c in enumerate(meta["classes"]))
        self.chip_size = int(meta.get("chip_size") or rows[0]["width"])
        self.refs = [self._ref(row) for row in rows]
        first = gdal_grid.open_raster(self.refs[0].image_path or "", "chip image")
        names = data.band_names or meta.get("band_names") or None
        if names and data.bands and not data.band_names:
            names = [names[b - 1] for b in data.bands]
        self.bands = band_info(first, data.bands, names)
        self.crs_wkt = str(meta.get("crs") or first.GetProjection() or "")
        grid = gdal_grid.RasterGrid(1, 1, self.refs[0].geotransform, self.crs_wkt)  # a pixel of the first chip
        self.resolution_m = grid_resolution_in_metres(grid)
        source = meta.get("source") or {}
        self.description = {"chips_folder": self.folder.name, "chips": len(self.refs),
                            "image": Path(str(source.get("image", ""))).name,
                            "labels": Path(str(source.get("labels", ""))).name}
        self.notes: list[str] = []
        if data.chip_size != self.chip_size:
            self.notes.append(f"The chips folder holds {self.chip_size}-pixel chips; data.chip_size "
                              f"{data.chip_size} is not used.")

    @property
    def extent_pixels(self) -> tuple[int, int]:
        cols = [r.window.col for r in self.refs] + [r.window.col + r.window.width for r in self.refs]
        rows = [r.window.row for r in self.refs] + [r.window.row + r.window.height for r in self.refs]
        return max(cols) - min(cols), max(rows) - min(rows)

    def _ref(self, row: dict[str, str]) -> ChipRef:
        image, label = self.folder / row["image"], self.folder / row["label"]
        window = PixelWindow(int(row["col_off"]), int(row["row_off"]), int(row["width"]), int(row["height"]))
        if all(row.get(key) for key in ("xmin", "ymin", "xmax", "ymax")):
            xmin, ymin, xmax, ymax = (float(row[key]) for key in ("xmin", "ymin", "xmax", "ymax"))
            transform = (xmin, (xmax - xmin) / window.width, 0.0, ymax, 0.0, -(ymax - ymin) / window.height)
        else:
            dataset = gdal_grid.open_raster(image, "chip image")
            transform = tuple(dataset.GetGeoTransform())
        return ChipRef(window, transform, str(image), str(label))

    def check_chip_size(self, chip_size: int) -> None:
        """The chips are cut already: their own size is used."""

    def training_refs(self, chip_size: int, stride: int) -> list[ChipRef]:
        return list(self.refs)

    def validation_windows(self, window: int, context: int) -> list[ValidationWindow]:
        size = max(max(r.window.width, r.window.height) for r in self.refs)
        taken: dict[tuple[int, int], list[PixelWindow]] = {}
        chosen: list[ChipRef] = []
        for ref in sorted(self.refs, key=lambda r: (r.window.row, r.window.col)):
            cell = (ref.window.col // size, ref.window.row // size)
            near = [w for dc in (-1, 0, 1) for dr in (-1, 0, 1) for w in taken.get((cell[0] + dc, cell[1] + dr), [])]
            if not any(_overlap(ref.window, other) for other in near):
                taken.setdefault(cell, []).append(ref.window)
                chosen.append(ref)
        return [ValidationWindow(r, (0, r.window.height), (0, r.window.width)) for r in chosen]

    def scan_refs(self, block_size: int) -> list[ChipRef]:
        return list(self.refs)

    def read_image(self, ref: ChipRef) -> tuple[np.ndarray, np.ndarray]:
        dataset = gdal_grid.open_raster(ref.image_path or "", "chip image")
        data = dataset.ReadAsArray(band_list=list(self.bands.numbers))
        data = data.reshape(len(self.bands.numbers), dataset.RasterYSize, dataset.RasterXSize)
        alpha = None
        if self.bands.alpha is not None:
            band = dataset.GetRasterBand(self.bands.alpha)
            alpha = band.ReadAsArray()
        return data, valid_mask(data, self.bands.nodata, alpha)

    def read_labels(self, ref: ChipRef) -> np.ndarray:
        dataset = gdal_grid.open_raster(ref.label_path or "", "chip labels")
        band = dataset.GetRasterBand(1)
        return band.ReadAsArray()


def _overlap(a: PixelWindow, b: PixelWindow) -> bool:
    return a.col < b.col + b.width and b.col < a.col + a.width and a.row < b.row + b.height and b.row < a.row + a.height
