"""Object labels for detection: a vector layer of polygons or boxes (each feature's bounding box) or of points
(a box of ``detection.point_size`` pixels around each), with a class field, in pixels of the image grid.

The layer is read with OGR through the plugin's GDAL-only adapters (reprojected to the image's CRS, class
values from the field as for segmentation labels: whole numbers kept, text numbered from 1). Without a class
field every feature is one class, named after the layer.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from osgeo import ogr

from .._plugin import contract, errors, gdal_grid, gdal_labels, gdal_vectors

InputError = errors.InputError
ClassInfo = contract.ClassInfo
_POINTS = (ogr.wkbPoint, ogr.wkbMultiPoint)


@dataclass(frozen=True)
class ObjectSet:
    """Boxes x1 y1 x2 y2 in image pixels, their class index (position in ``classes``), and the classes."""

    boxes: np.ndarray
    classes: np.ndarray
    class_table: tuple[contract.ClassInfo, ...]
    points: bool  # the labels were points, given a fixed size

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def centres(self) -> np.ndarray:
        return (self.boxes[:, :2] + self.boxes[:, 2:]) / 2

    def select(self, keep: np.ndarray) -> "ObjectSet":
        return ObjectSet(self.boxes[keep], self.classes[keep], self.class_table, self.points)


def _class_values(path: str, class_field: str | None, layer_name: str | None,
                  codes: dict[str, int] | None) -> tuple[tuple[ClassInfo, ...], object]:
    """The classes and a function from an OGR feature to its class value (None: left out)."""
    if not class_field:
        with gdal_vectors.opened_layer(path, layer_name) as layer:
            name = layer.GetName() or Path(path).stem
        return (ClassInfo(1, name, contract.default_color(0)),), lambda feature: 1
    label_set = gdal_labels.labels_from_field(path, class_field, layer_name, codes)
    with gdal_vectors.opened_layer(path, layer_name) as layer:
        index = layer.GetLayerDefn().GetFieldIndex(class_field)

    def value_of(feature: ogr.Feature) -> int | None:
        if not feature.IsFieldSetAndNotNull(index):
            return None
        key = feature.GetField(index)
        key = int(key) if isinstance(key, float) and key.is_integer() else key
        return label_set.value_of.get(str(key) if isinstance(key, str) else key)

    return label_set.classes, value_of


def read_objects(path: str, class_field: str | None, grid: gdal_grid.RasterGrid, layer_name: str | None = None,
                 point_size: float | None = None, codes: dict[str, int] | None = None) -> ObjectSet:
    """Every labelled feature whose box centre lies in the image, as a box in image pixels."""
    x0, dx, rx, y0, ry, dy = grid.geotransform
    if rx or ry:
        raise InputError("The image's geotransform is rotated; detection labels need a north-up image. Warp it "
                         "first (gdalwarp).")
    classes, value_of = _class_values(path, class_field, layer_name, codes)
    copy = gdal_vectors.MemoryLayer(path, layer_name, grid.crs_wkt, value_of)  # type: ignore[arg-type]
    boxes, values, points = [], [], False
    try:
        for feature in copy.layer:
            geometry = feature.GetGeometryRef()
            xmin, xmax, ymin, ymax = geometry.GetEnvelope()
            cols = sorted(((xmin - x0) / dx, (xmax - x0) / dx))
            rows = sorted(((ymax - y0) / dy, (ymin - y0) / dy))
            if ogr.GT_Flatten(geometry.GetGeometryType()) in _POINTS:
                points = True
                if not point_size:
                    raise InputError(f"The labels '{Path(path).name}' are points; give the size of the objects in "
                                     "pixels (detection.point_size, e.g. 20) so each point becomes a box.")
                centre = ((cols[0] + cols[1]) / 2, (rows[0] + rows[1]) / 2)
                cols = [centre[0] - point_size / 2, centre[0] + point_size / 2]
                rows = [centre[1] - point_size / 2, centre[1] + point_size / 2]
            boxes.append([cols[0], rows[0], cols[1], rows[1]])
            values.append(int(feature.GetField(gdal_vectors.CLASS_VALUE_FIELD)))
    finally:
        copy.close()
    return _inside_image(path, np.array(boxes, np.float64).reshape(-1, 4), np.array(values, np.int64), classes,
                         points, grid)


def _inside_image(path: str, boxes: np.ndarray, values: np.ndarray, classes: tuple[ClassInfo, ...], points: bool,
                  grid: gdal_grid.RasterGrid) -> ObjectSet:
    if not len(boxes):
        raise InputError(f"The labels '{Path(path).name}' hold no feature with a class: there is nothing to learn "
                         "from. Check the layer and the class field.")
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    inside = (centres[:, 0] >= 0) & (centres[:, 0] < grid.width) & (centres[:, 1] >= 0) & (centres[:, 1] < grid.height)
    inside &= (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    if not inside.any():
        raise InputError(f"None of the {len(boxes)} objects of '{Path(path).name}' lies in the image (or they have no "
                         "area). Check that labels and image cover the same ground and that the layer's CRS is set.")
    boxes = boxes[inside].clip([0, 0, 0, 0], [grid.width, grid.height, grid.width, grid.height])
    present = sorted(set(values[inside].tolist()))
    table = tuple(c for c in classes if c.value in present)
    index = {c.value: i for i, c in enumerate(table)}
    return ObjectSet(boxes, np.array([index[v] for v in values[inside]], np.int64), table, points)


def with_given_classes(objects: ObjectSet, given: list[dict[str, Any]] | None) -> ObjectSet:
    """The objects with the names and colours ``data.classes`` gives for their class values (the others keep
    theirs: the field's text, the number, or the layer's name)."""
    entries = {int(entry["value"]): entry for entry in given or () if "value" in entry}
    table = tuple(replace(c, name=str(entries[c.value].get("name") or c.name),
                          color=str(entries[c.value].get("color") or c.color)) if c.value in entries else c
                  for c in objects.class_table)
    return replace(objects, class_table=table)
