"""Detections scored against a reference layer (GDAL/OGR only): the layers read into map coordinates, the
reference's classes matched to the detections', the figures of :mod:`plugin.core.detection.assessment`.

- the detections: a polygon layer as ``seamless:detect`` writes it (fields ``class_value``, ``class_name``,
  ``score``; ``angle_deg`` for oriented boxes, whose polygons are then read as turned rectangles, else each
  polygon's bounding box);
- the reference: polygons (each feature's bounding box, in the detections' CRS: matched by IoU) or points
  (matched when a detection's centre lies within MAX_DISTANCE map units), with a class field. Text values
  are matched to the detections' class names (case and spacing ignored), numbers to their class values.
  Reference classes no detection has are scored too (every object of theirs is a miss) and named in a note;
  features without a class or a geometry are left out and counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from osgeo import ogr

from ...core.accuracy.class_mapping import name_key
from ...core.detection.assessment import Reference, score_detections
from ...core.detection.boxes import corners_to_oriented
from ...core.detection.detections import Detections
from ...core.detection.metrics import DetectionScores
from ...core.errors import InputError
from ..inputs.gdal_grid import transform_to
from ..inputs.gdal_vectors import opened_layer

DETECTION_FIELDS = ("class_value", "class_name", "score")


@dataclass
class DetectionClasses:
    """The classes being scored, by index: their values and names (the detections' first, sorted by value)."""

    values: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def index_of_value(self, value: int, name: str | None = None) -> int:
        """The index of class ``value`` (added with ``name`` when new)."""
        if value not in self.values:
            self.values.append(value)
            self.names.append(name or str(value))
        return self.values.index(value)

    def index_of_name(self, name: str) -> int | None:
        keys = [name_key(n) for n in self.names]
        return keys.index(name_key(name)) if name_key(name) in keys else None


@dataclass
class DetectionAssessment:
    """The figures, the classes they are by, what was read and what was left out."""

    scores: DetectionScores
    classes: DetectionClasses
    detections: int
    references: int
    sources: dict[str, Any]
    notes: list[str]

    def to_dict(self, curves: bool = True) -> dict[str, Any]:
        names = dict(enumerate(self.classes.names))
        data = self.scores.to_dict(names, curves)
        for entry in data["classes"]:
            entry["value"] = self.classes.values[entry["index"]]
        return {"sources": self.sources, "detections": self.detections, "references": self.references, **data,
                "notes": self.notes}


def _field_names(layer: ogr.Layer) -> list[str]:
    definition = layer.GetLayerDefn()
    return [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]


def read_detections(path: str, layer_name: str | None = None) -> tuple[Detections, DetectionClasses, str]:
    """The detections of a layer ``seamless:detect`` wrote, their classes and their CRS (WKT, may be empty)."""
    with opened_layer(path, layer_name) as layer:
        missing = [name for name in DETECTION_FIELDS if name not in _field_names(layer)]
        if missing:
            raise InputError(f"INPUT '{path}' is not a layer of detections: it has no field {', '.join(missing)}. "
                             "Give the boxes layer (OUTPUT) that Detect objects (seamless:detect) wrote.")
        if ogr.GT_Flatten(layer.GetGeomType()) not in (ogr.wkbPolygon, ogr.wkbMultiPolygon, ogr.wkbUnknown):
            raise InputError(f"INPUT '{path}' holds {ogr.GeometryTypeToName(layer.GetGeomType()).lower()}s, not "
                             "boxes: give the polygon layer of Detect objects (OUTPUT), not its centres.")
        oriented = "angle_deg" in _field_names(layer)
        srs = layer.GetSpatialRef()
        crs = srs.ExportToWkt() if srs is not None else ""
        rows = [row for row in (_detection(feature, oriented) for feature in layer) if row is not None]
    classes = DetectionClasses()
    for value, name in sorted({(row[0], row[1]) for row in rows}):
        if value not in classes.values:
            classes.index_of_value(value, name)
    indices = np.array([classes.values.index(row[0]) for row in rows], np.int64)
    scores = np.array([row[2] for row in rows], np.float64)
    if oriented:
        corners = np.array([row[3] for row in rows], np.float64).reshape(-1, 4, 2)
        size, angles = corners_to_oriented(corners)
        found = Detections.from_rotated(np.column_stack([size, angles]), scores, indices)
    else:
        found = Detections(np.array([row[3] for row in rows], np.float64).reshape(-1, 4), scores, indices)
    return found, classes, crs


def _detection(feature: ogr.Feature, oriented: bool) -> tuple[int, str, float, list] | None:
    geometry = feature.GetGeometryRef()
    if geometry is None or geometry.IsEmpty() or feature.GetField("class_value") is None:
        return None
    value, name = int(feature.GetField("class_value")), str(feature.GetField("class_name") or "")
    score = float(feature.GetField("score") or 0.0)
    if oriented:
        ring = geometry.GetGeometryRef(0) if geometry.GetGeometryCount() else None
        if ring is not None and ring.GetGeometryType() != ogr.wkbLinearRing:
            ring = ring.GetGeometryRef(0)
        if ring is not None and ring.GetPointCount() >= 4:
            return value, name, score, [ring.GetPoint_2D(i) for i in range(4)]
    xmin, xmax, ymin, ymax = geometry.GetEnvelope()
    if oriented:  # not a ring of four corners: its bounding box, unturned
        return value, name, score, [(xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax)]
    return value, name, score, [xmin, ymin, xmax, ymax]


@dataclass
class _ReferenceRows:
    coordinates: list[list[float]] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=lambda: {"no class": 0, "no geometry": 0})
    added: dict[int, int] = field(default_factory=dict)  # class index -> objects, for classes no detection has


def read_reference(path: str, layer_name: str | None, class_field: str, crs_wkt: str,
                   classes: DetectionClasses) -> tuple[Reference, _ReferenceRows]:
    """The reference objects in the detections' CRS, their classes as indices of ``classes`` (extended with the
    reference's classes no detection has)."""
    rows = _ReferenceRows()
    with opened_layer(path, layer_name) as layer:
        if class_field not in _field_names(layer):
            raise InputError(f"REFERENCE_FIELD '{class_field}' is not a field of '{path}'; its fields are "
                             f"{_field_names(layer)}.")
        kind = ogr.GT_Flatten(layer.GetGeomType())
        points = kind in (ogr.wkbPoint, ogr.wkbMultiPoint)
        if not points and kind not in (ogr.wkbPolygon, ogr.wkbMultiPolygon):
            raise InputError(f"REFERENCE_LAYER '{path}' holds {ogr.GeometryTypeToName(kind).lower()}s: give "
                             "polygons (scored by the IoU of their bounding boxes) or points (by distance).")
        transform = transform_to(layer.GetSpatialRef(), crs_wkt)
        total = 0
        for feature in layer:
            total += 1
            _add_reference(feature, class_field, points, transform, classes, rows)
    if not total:
        raise InputError(f"REFERENCE_LAYER '{path}' has no features: there is nothing to score the detections "
                         "against. Give the layer of the objects that should be found.")
    if not rows.classes:
        raise InputError(f"None of the {total} features of REFERENCE_LAYER '{path}' has both a geometry and a class "
                         f"in '{class_field}'.")
    shape = (-1, 2) if points else (-1, 4)
    return Reference(np.array(rows.coordinates, np.float64).reshape(shape), np.array(rows.classes)), rows


def _add_reference(feature: ogr.Feature, class_field: str, points: bool, transform: Any,
                   classes: DetectionClasses, rows: _ReferenceRows) -> None:
    geometry = feature.GetGeometryRef()
    if geometry is None or geometry.IsEmpty():
        rows.left_out["no geometry"] += 1
        return
    index = _class_index(feature.GetField(class_field), classes, rows)
    if index is None:
        rows.left_out["no class"] += 1
        return
    geometry = geometry.Clone()
    if transform is not None:
        geometry.Transform(transform)
    if points:
        parts = [geometry.GetGeometryRef(i) for i in range(geometry.GetGeometryCount())] or [geometry]
        for part in parts:
            rows.coordinates.append([part.GetX(), part.GetY()])
            rows.classes.append(index)
        return
    xmin, xmax, ymin, ymax = geometry.GetEnvelope()
    rows.coordinates.append([xmin, ymin, xmax, ymax])
    rows.classes.append(index)


def _class_index(value: object, classes: DetectionClasses, rows: _ReferenceRows) -> int | None:
    """The class index of a reference field value: a name matched to a class name, a number to a class value;
    a class no detection has is added."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        index = classes.index_of_name(value)
        if index is None:
            text = value.strip()
            if text.lstrip("-").isdigit() and int(text) in classes.values:
                return classes.values.index(int(text))
            index = classes.index_of_value(max(classes.values, default=0) + 1, value.strip())
            rows.added[index] = rows.added.get(index, 0) + 1
        return index
    number = int(value) if isinstance(value, (int, float)) else None
    if number is None:
        return None
    known = number in classes.values
    index = classes.index_of_value(number)
    if not known:
        rows.added[index] = rows.added.get(index, 0) + 1
    return index


def assess_detections(detections_path: str, detections_layer: str | None, reference_path: str,
                      reference_layer: str | None, class_field: str, score_threshold: float = 0.0,
                      max_distance: float | None = None) -> DetectionAssessment:
    """Every figure of a detection layer against a reference layer (see the module's description)."""
    found, classes, crs = read_detections(detections_path, detections_layer)
    reference, rows = read_reference(reference_path, reference_layer, class_field, crs, classes)
    if reference.points and not max_distance:
        raise InputError("The reference is a point layer: give MAX_DISTANCE, how far (in the detections' map units) "
                         "a detection's centre may lie from a point to find it.")
    scores = score_detections(found, reference, len(classes.values), score_threshold, max_distance or 0.0)
    notes = [f"{count} reference object(s) of class '{classes.names[index]}', which no detection has: all are "
             "counted as missed (filter the reference layer if the detector has no such class)."
             for index, count in sorted(rows.added.items())]
    notes += [f"{count} reference feature(s) with {why} left out." for why, count in rows.left_out.items() if count]
    matched = (f"a detection's centre within {max_distance:g} map units of a point" if reference.points else
               "IoU of the boxes (precision, recall, F1 at 0.5)")
    sources = {"detections": detections_path, "detections_layer": detections_layer, "reference": reference_path,
               "reference_layer": reference_layer, "reference_field": class_field, "matched_by": matched,
               "score_threshold": score_threshold}
    return DetectionAssessment(scores, classes, len(found), len(reference), sources, notes)
