"""The class of each cell of the grid, from polygons, points or a label raster on the image grid.

- Polygons (or a label raster): the class covering most of the cell's pixels, if labelled pixels cover at least
  ``cells.min_cover`` of it (ties go to the lower class value); polygons are burnt through the plugin's
  GDAL-only label adapter, as segmentation training burns them.
- Points: the class most of the points inside the cell have (ties: the lower value); a cell without a point is
  unlabelled.

Cells tile the image from its top-left corner; only whole cells inside the image are labelled (the plugin's
grid starts at the processing area's corner too).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from osgeo import ogr

from .._plugin import contract, errors, gdal_grid, gdal_labels, gdal_vectors, window
from ..config import TrainConfig
from ..data.labels import class_table, open_label_reader

InputError = errors.InputError
PixelWindow = window.PixelWindow
UNLABELLED = -1  # class index of a cell without a label
_POINTS = (ogr.wkbPoint, ogr.wkbMultiPoint)
_ROWS_AT_ONCE = 64  # rows of cells burnt per read, so a large image is never held as one label array


@dataclass(frozen=True)
class CellLabels:
    """The class index of every cell (rows, cols; :data:`UNLABELLED` where none), the classes, where they came
    from."""

    index: np.ndarray
    classes: tuple[contract.ClassInfo, ...]
    description: dict[str, Any]

    @property
    def names(self) -> dict[int, str]:
        return {c.value: c.name for c in self.classes}


def _is_point_layer(path: str, layer_name: str | None) -> bool:
    with gdal_vectors.opened_layer(path, layer_name) as layer:
        declared = ogr.GT_Flatten(layer.GetGeomType())
        if declared in _POINTS:
            return True
        if declared != ogr.wkbUnknown:
            return False
        for feature in layer:
            geometry = feature.GetGeometryRef()
            if geometry is not None:
                return ogr.GT_Flatten(geometry.GetGeometryType()) in _POINTS
    return False


def read_cell_labels(config: TrainConfig, grid: gdal_grid.RasterGrid) -> CellLabels:
    """The label of every whole cell of the image (see the module's description)."""
    data, cell = config.data, config.cells.cell_size
    rows, cols = grid.height // cell, grid.width // cell
    if data.labels and _is_point_layer(data.labels, data.label_layer):
        values, classes, description = _point_values(config, grid, rows, cols)
    else:
        values, classes, description = _area_values(config, grid, rows, cols)
    present = {int(v): int((values == v).sum()) for v in np.unique(values[values >= 0])}
    if not present:
        raise InputError(f"No cell of {cell} px is labelled: the labels cover none of them (polygons must cover at "
                         f"least cells.min_cover = {config.cells.min_cover} of a cell). Check that labels and image "
                         "cover the same ground, or use smaller cells or a lower cells.min_cover.")
    table = class_table(present, classes, data.classes)
    lookup = {c.value: i for i, c in enumerate(table.classes)}
    index = np.full(values.shape, UNLABELLED, np.int64)
    for value, position in lookup.items():
        index[values == value] = position
    return CellLabels(index, table.classes, {**description, "cell_labels": int((index >= 0).sum())})


def _area_values(config: TrainConfig, grid: gdal_grid.RasterGrid, rows: int,
                 cols: int) -> tuple[np.ndarray, Any, dict[str, Any]]:
    """The majority class value per cell (-1: under ``min_cover`` labelled), burnt rows of cells at a time."""
    cell, cover = config.cells.cell_size, config.cells.min_cover
    reader = open_label_reader(config.data, grid)
    values = np.full((rows, cols), -1, np.int64)
    for first in range(0, rows, _ROWS_AT_ONCE):
        count = min(_ROWS_AT_ONCE, rows - first)
        raw = reader.read(PixelWindow(0, first * cell, cols * cell, count * cell)).astype(np.int64)
        labelled = (raw >= 0) & ~np.isin(raw, list(reader.unlabelled))
        blocks = raw.reshape(count, cell, cols, cell).transpose(0, 2, 1, 3).reshape(count, cols, cell * cell)
        known = labelled.reshape(count, cell, cols, cell).transpose(0, 2, 1, 3).reshape(count, cols, cell * cell)
        values[first:first + count] = _majority(blocks, known, cover)
    description = {**reader.description, "cell_label": f"the class covering most of the cell (at least "
                                                        f"{cover:.0%} of it labelled)"}
    return values, reader.known_classes, description


def _majority(blocks: np.ndarray, known: np.ndarray, cover: float) -> np.ndarray:
    """Per cell (last axis: its pixels), the most frequent labelled value (ties: the lowest), -1 below ``cover``."""
    result = np.full(blocks.shape[:2], -1, np.int64)
    best = np.zeros(blocks.shape[:2], np.int64)
    for value in np.unique(blocks[known]):
        counts = ((blocks == value) & known).sum(axis=2)
        better = counts > best  # values ascend, so a tie keeps the lower value
        result[better], best[better] = int(value), counts[better]
    result[known.sum(axis=2) < cover * blocks.shape[2]] = -1
    return result


def _point_values(config: TrainConfig, grid: gdal_grid.RasterGrid, rows: int,
                  cols: int) -> tuple[np.ndarray, Any, dict[str, Any]]:
    """The class most points in each cell have (-1: no point)."""
    data, cell = config.data, config.cells.cell_size
    path = data.labels or ""
    codes = {str(c["name"]): int(c["value"]) for c in data.classes or () if "name" in c and "value" in c}
    label_set = gdal_labels.labels_from_field(path, data.label_field or "", data.label_layer, codes or None)
    with gdal_vectors.opened_layer(path, data.label_layer) as layer:
        field = layer.GetLayerDefn().GetFieldIndex(data.label_field)

    def value_of(feature: ogr.Feature) -> int | None:
        if not feature.IsFieldSetAndNotNull(field):
            return None
        key = feature.GetField(field)
        key = int(key) if isinstance(key, float) and key.is_integer() else key
        return label_set.value_of.get(str(key) if isinstance(key, str) else key)

    x0, dx, rx, y0, ry, dy = grid.geotransform
    if rx or ry:
        raise InputError("The image's geotransform is rotated; point labels need a north-up image. Warp it first "
                         "(gdalwarp).")
    copy = gdal_vectors.MemoryLayer(path, data.label_layer, grid.crs_wkt, value_of)
    hits: list[tuple[int, int, int]] = []
    try:
        for feature in copy.layer:
            geometry = feature.GetGeometryRef()
            value = int(feature.GetField(gdal_vectors.CLASS_VALUE_FIELD))
            for part in range(max(geometry.GetGeometryCount(), 1)):
                point = geometry.GetGeometryRef(part) if geometry.GetGeometryCount() else geometry
                row, col = int((point.GetY() - y0) // dy) // cell, int((point.GetX() - x0) // dx) // cell
                if 0 <= row < rows and 0 <= col < cols:
                    hits.append((row, col, value))
    finally:
        copy.close()
    values = np.full((rows, cols), -1, np.int64)
    if hits:
        found = np.array(hits, np.int64)
        classes = np.unique(found[:, 2])
        counts = np.zeros((rows, cols, len(classes)), np.int64)
        np.add.at(counts, (found[:, 0], found[:, 1], np.searchsorted(classes, found[:, 2])), 1)
        has = counts.sum(axis=2) > 0
        values[has] = classes[counts.argmax(axis=2)[has]]  # argmax: the first (lowest value) of a tie
    description = {"labels": Path(path).name, "label_field": data.label_field, "points": len(hits),
                   "cell_label": "the class most of the cell's points have"}
    return values, label_set.classes, description
