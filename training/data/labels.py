"""Labels on the image grid and the table of classes the model learns.

Labels come from a vector layer with a class field or from a label raster, both read through the
plugin's GDAL-only adapter ``gdal_labels`` so that training, chip export and accuracy assessment
agree on class values. Unlabelled pixels (no feature there, or the label raster's unlabelled value)
are never a class: they become :data:`IGNORE_INDEX` and are left out of the loss and the metrics.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence

import numpy as np

from .._plugin import contract, errors, gdal_grid, gdal_labels, raster_classes, window
from ..config import DEFAULT_IGNORE, DataConfig

InputError = errors.InputError
PixelWindow = window.PixelWindow
ClassInfo = contract.ClassInfo
IGNORE_INDEX = -1  # class index of unlabelled pixels in label chips (int16)
_MAX_VALUE = 65535


class LabelReader(Protocol):
    """Raw label values for windows of the image grid."""

    unlabelled: frozenset[int]  # raw values that mean "no label here"
    description: dict[str, Any]  # for the model's provenance
    note: str  # something to tell the user (resampling), or ""

    @property
    def known_classes(self) -> tuple[ClassInfo, ...] | None:
        """Names and colours the source states, if any."""

    def read(self, window: PixelWindow) -> np.ndarray:
        """Label values of ``window`` as an integer array (height, width)."""


class VectorLabelReader:
    """Polygons with a class field, burnt onto the image grid window by window."""

    def __init__(self, path: str, class_field: str, grid: gdal_grid.RasterGrid,
                 layer_name: str | None = None, codes: dict[str, int] | None = None) -> None:
        self._labels = gdal_labels.VectorLabels(path, class_field, grid, layer_name, codes=codes)
        if not self._labels.extent_overlaps_grid():
            raise InputError(f"The labels '{Path(path).name}' do not overlap the image: no labelled feature "
                             "lies inside the raster's extent. Check that both cover the same area (and that "
                             "the layer's CRS is set correctly).")
        label_set = self._labels.labels
        self.unlabelled = frozenset({label_set.ignore_value})
        self.known_classes = label_set.classes
        self.description = {"labels": Path(path).name, "label_field": class_field,
                            "features": self._labels.feature_count}
        self.note = ""

    def read(self, window: PixelWindow) -> np.ndarray:
        return self._labels.read(window)


class RasterLabelReader:
    """A label raster on the image grid (resampled nearest when its grid differs)."""

    def __init__(self, path: str, grid: gdal_grid.RasterGrid, ignore: int | str | None = DEFAULT_IGNORE) -> None:
        dataset = gdal_grid.open_raster(path, "label raster")
        nodata = dataset.GetRasterBand(1).GetNoDataValue()
        stated = raster_classes.read_classes(dataset, 1)
        ignore_value = unlabelled_value(ignore, nodata)
        self._labels = gdal_labels.RasterLabels(path, grid, ignore_value=ignore_value)
        values = {self._labels.ignore_value, self._labels.source_nodata}
        self.unlabelled = frozenset(int(v) for v in values if v is not None)
        self.known_classes = tuple(stated) if stated else None
        self.description = {"label_raster": Path(path).name,
                            "unlabelled_values": sorted(self.unlabelled),
                            "resampled": self._labels.resampled}
        self.note = self._labels.note if self._labels.resampled else ""

    def read(self, window: PixelWindow) -> np.ndarray:
        raw = self._labels.read(window)
        if np.issubdtype(raw.dtype, np.floating):  # NaN is unlabelled; fractions are not class labels at all
            finite = np.isfinite(raw)
            fractional = finite & (np.floor(raw) != raw)
            if fractional.any():
                example = float(raw[fractional][0])
                raise InputError(f"The label raster '{self.description['label_raster']}' holds values that are not "
                                 f"whole numbers (for example {example:g}): class labels are whole numbers (1, 2, "
                                 "3...). "
                                 "Use a classified label raster, not probabilities or a continuous band.")
            raw = np.where(finite, raw, -1).astype(np.int64)
        return raw


def unlabelled_value(setting: int | str | None, nodata: float | None) -> int | None:
    """The label raster value meaning "unlabelled": a number, "none", or "default" (the raster's nodata
    value; without one every value is a class, 0 included, as in accuracy assessment and chip export)."""
    if setting == DEFAULT_IGNORE:
        return int(nodata) if nodata is not None and np.isfinite(nodata) else None
    if setting is None or (isinstance(setting, str) and setting.lower() == "none"):
        return None
    if isinstance(setting, int) and 0 <= setting <= _MAX_VALUE:
        return setting
    raise InputError(f"The unlabelled value {setting!r} is not valid; give a whole number from 0 to 65535, "
                     "'none' (every value is a class) or 'default' (the raster's nodata value).")


def open_label_reader(data: DataConfig, grid: gdal_grid.RasterGrid) -> LabelReader:
    """The label reader the configuration asks for."""
    if data.labels:
        codes = {str(item["name"]): int(item["value"]) for item in data.classes or ()
                 if "name" in item and "value" in item}
        return VectorLabelReader(data.labels, data.label_field or "", grid, data.label_layer, codes or None)
    return RasterLabelReader(data.label_raster or "", grid, data.ignore_value)


@dataclass(frozen=True)
class ClassTable:
    """The classes the network predicts, in channel order, and raw value -> channel lookup."""

    classes: tuple[ClassInfo, ...]

    @property
    def values(self) -> np.ndarray:
        return np.array([c.value for c in self.classes], np.int64)

    @property
    def names(self) -> dict[int, str]:
        return {c.value: c.name for c in self.classes}

    def lookup(self) -> np.ndarray:
        """Array mapping every raw value 0..65535 to its channel, or IGNORE_INDEX."""
        table = np.full(_MAX_VALUE + 1, IGNORE_INDEX, np.int16)
        table[self.values] = np.arange(len(self.classes), dtype=np.int16)
        return table

    def to_index(self, raw: np.ndarray, unlabelled: Iterable[int] = ()) -> np.ndarray:
        """Channel index per pixel (int16); unlabelled and unknown values become IGNORE_INDEX."""
        values = raw.astype(np.int64, copy=False)
        inside = (values >= 0) & (values <= _MAX_VALUE)
        index = self.lookup()[np.where(inside, values, 0)]
        index[~inside] = IGNORE_INDEX
        for value in unlabelled:
            index[values == value] = IGNORE_INDEX
        return index


def class_table(counts: Mapping[int, int], known: Sequence[ClassInfo] | None,
                overrides: Sequence[Mapping[str, Any]] | None) -> ClassTable:
    """Classes for the values found in the labels: names and colours from ``overrides``, then the source."""
    named = {c.value: c for c in known or ()}
    for index, item in enumerate(overrides or ()):
        if "value" not in item:
            raise InputError(f"data.classes[{index}] has no 'value'; give value, name and color for each class.")
        value = int(item["value"])
        base = named.get(value)
        color = str(item.get("color") or (base.color if base else contract.default_color(index)))
        named[value] = ClassInfo(value, str(item.get("name") or (base.name if base else f"class {value}")),
                                 color.lower())
    present = sorted(v for v, n in counts.items() if n > 0)
    classes = []
    for position, value in enumerate(present):
        info = named.get(value) or ClassInfo(value, f"class {value}", contract.default_color(position))
        classes.append(info)
    return ClassTable(tuple(classes))


def count_values(raw: np.ndarray, unlabelled: Iterable[int], valid: np.ndarray | None = None) -> dict[int, int]:
    """Pixels per labelled raw value in one window."""
    keep = (raw >= 0) & (raw <= _MAX_VALUE)
    if valid is not None:
        keep &= valid
    for value in unlabelled:
        keep &= raw != value
    values, counts = np.unique(raw[keep], return_counts=True)
    return {int(v): int(n) for v, n in zip(values, counts)}
