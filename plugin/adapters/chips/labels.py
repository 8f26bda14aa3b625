"""Label masks for training chips, on the image grid, with one documented ignore value (GDAL/OGR only).

- Vector labels: the class field's values become class values (:func:`.gdal_labels.labels_from_field`:
  whole numbers are kept, text is numbered from 1 in alphabetical order and the text is the name).
- A label raster: its values are the class values; its nodata value and ``LABEL_NODATA`` mean "not
  labelled". Its classes are the names embedded in it (:func:`.raster_classes.read_classes`) or the
  values it holds, counted in one block-by-block pass before any chip is cut.

Unlabelled pixels get the ignore value: 255, or 65535 (and UInt16 masks) when a class value is 255
or more.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal

from ...core.accuracy.class_mapping import class_values
from ...core.accuracy.metrics import ValueCounter
from ...core.areas.window import PixelWindow
from ...core.errors import InputError
from ...core.model.contract import ClassInfo, default_color
from ..inputs.gdal_grid import RasterGrid
from ..inputs.gdal_labels import RasterLabels, VectorLabels, ignore_value_for
from ..outputs.raster_classes import read_classes

gdal.UseExceptions()

@dataclass(frozen=True)
class LabelSpec:
    """Where the labels come from: a vector layer with its class field, or a label raster."""

    vector: str | None = None
    layer_name: str | None = None
    field: str | None = None
    raster: str | None = None
    nodata: int | None = None  # a label raster value meaning "not labelled"

    def describe(self) -> str:
        if self.raster:
            return self.raster
        return f"{self.vector}|layername={self.layer_name}" if self.layer_name else str(self.vector)


@dataclass
class ChipLabels:
    """Reads label masks (``dtype``, unlabelled = ``ignore_value``) for windows of the image grid."""

    spec: LabelSpec
    grid: RasterGrid
    classes: tuple[ClassInfo, ...] = ()
    ignore_value: int = 255
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.spec.raster:
            self._open_raster()
        elif self.spec.vector and self.spec.field:
            vector = VectorLabels(self.spec.vector, self.spec.field, self.grid, self.spec.layer_name)
            if not vector.extent_overlaps_grid():
                raise InputError(f"The labels '{self.spec.describe()}' do not overlap the input raster (or no feature "
                                 f"has a value in '{self.spec.field}'); check that both cover the same area.")
            self.classes, self.ignore_value = vector.labels.classes, vector.labels.ignore_value
            self._vector = vector
        else:
            raise InputError("Give labels: LABELS with LABEL_FIELD, or LABEL_RASTER.")

    @property
    def dtype(self) -> type:
        return np.uint8 if self.ignore_value == 255 else np.uint16

    def read(self, window: PixelWindow) -> np.ndarray:
        """The label mask of ``window``: class values, and the ignore value where nothing is labelled."""
        if not self.spec.raster:
            return self._vector.read(window).astype(self.dtype)
        raw = self._raster.read(window)
        unlabelled = np.isin(raw, list(self._unlabelled))
        if raw.dtype.kind == "f":
            unlabelled |= np.isnan(raw)
        values = class_values(raw, ~unlabelled, "label raster")
        return np.where(unlabelled, self.ignore_value, values).astype(self.dtype)

    def _open_raster(self) -> None:
        path = self.spec.raster or ""
        self._raster = RasterLabels(path, self.grid, ignore_value=self.spec.nodata)
        self._unlabelled = {v for v in (self._raster.ignore_value, self._raster.source_nodata, self.spec.nodata)
                            if v is not None}
        if self._raster.note:
            self.notes.append(self._raster.note)
        values = raster_class_values(path, self._unlabelled)
        if not values:
            raise InputError(f"The label raster '{path}' holds no labelled pixel (all nodata or LABEL_NODATA).")
        if values[0] < 0 or values[-1] > 65534:
            raise InputError(f"The label raster '{path}' holds values from {values[0]} to {values[-1]}; class values "
                             "must be whole numbers from 0 to 65534.")
        self.ignore_value = ignore_value_for(values)
        source = gdal.Open(str(path))
        embedded = {c.value: c for c in read_classes(source, 1) or []}
        self.classes = tuple(embedded.get(v, ClassInfo(v, str(v), default_color(i))) for i, v in enumerate(values))


def raster_class_values(path: str, unlabelled: set[int], tile_size: int = 1024) -> list[int]:
    """Every value band 1 of ``path`` holds (nodata and NaN left out), minus ``unlabelled``.

    Counted with numpy block by block rather than with GDAL's histogram, which would store itself in
    an ``.aux.xml`` sidecar next to the user's file: inputs are never modified.
    """
    source = gdal.Open(str(path))
    band = source.GetRasterBand(1)
    mask = None if band.GetMaskFlags() == gdal.GMF_ALL_VALID else band.GetMaskBand()
    counter = ValueCounter()
    grid = RasterGrid.of(source)
    for window in PixelWindow(0, 0, grid.width, grid.height).tiles(tile_size):
        args = (window.col, window.row, window.width, window.height)
        values = band.ReadAsArray(*args)
        valid = np.ones(values.shape, bool) if mask is None else mask.ReadAsArray(*args) > 0
        if values.dtype.kind == "f":
            valid &= np.isfinite(values)
            values = np.where(valid, np.round(values), 0)
        counter.update(values, valid)
    return [value for value in counter.counts if value not in unlabelled]
