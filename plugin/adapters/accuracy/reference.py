"""Reference data for accuracy assessment, brought onto the classified raster's grid (GDAL/OGR only).

Three kinds, each a *sampler* that adds one block of the classified raster to the confusion counts:

- a label raster: read directly when it shares the classified grid, otherwise warped onto it with
  nearest neighbour (:class:`.gdal_labels.RasterLabels`); pixels equal to its nodata value, to
  ``REFERENCE_NODATA`` or beyond its extent are not labelled;
- polygons: burnt onto the grid block by block (a pixel belongs to the polygon its centre falls in);
- points: every point (every part of a multipoint) is one sample: the classified pixel under it.

Class field values that are text are matched to the classification's class names
(:func:`~plugin.core.class_mapping.match_names`), so codes line up. Codes (a label raster, a numeric field) are
compared by value, and the notes say so, unless the user names the reference's codes (``REFERENCE_CLASSES``):
then each code is matched by its name to the classification's code of that name, and codes not named are
left out as unlabelled (counted and reported).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

import numpy as np
from osgeo import gdal, ogr

from ...core.accuracy.class_mapping import CodeMap, class_values, code_map, match_names, name_key
from ...core.accuracy.metrics import ConfusionAccumulator
from ...core.areas.window import PixelWindow
from ...core.errors import InputError
from ...core.model.contract import ClassInfo, default_color
from ..inputs.area_of_interest import blocks_key
from ..inputs.gdal_grid import RasterGrid, open_raster, srs_of, transform_to
from ..inputs.gdal_labels import LabelSet, RasterLabels, VectorLabels, ignore_value_for, labels_from_field
from ..inputs.gdal_vectors import opened_layer
from ..outputs.raster_classes import read_classes

POINT_TYPES = (ogr.wkbPoint, ogr.wkbMultiPoint)


@dataclass(frozen=True)
class ReferenceSpec:
    """Where the reference comes from: a label raster, or a vector layer with its class field."""

    raster: str | None = None
    vector: str | None = None
    layer_name: str | None = None
    field: str | None = None
    nodata: int | None = None  # a raster value, or a numeric field value, meaning "not labelled"
    classes: dict[int, str] | None = None  # REFERENCE_CLASSES: the names of the reference's codes


def reference_choice_problem(has_raster: bool, has_layer: bool, has_field: bool) -> str | None:
    """What is wrong with the choice of reference (a raster, or a layer with its class field), or None."""
    if not has_raster and not has_layer:
        return "Give a reference: REFERENCE (a label raster) or REFERENCE_LAYER with REFERENCE_FIELD."
    if has_raster and has_layer:
        return "Give one reference, REFERENCE (a raster) or REFERENCE_LAYER (a layer), not both."
    if has_layer and not has_field:
        return "REFERENCE_FIELD is missing: choose the field of REFERENCE_LAYER that holds each feature's class."
    if has_field and not has_layer:
        return "REFERENCE_FIELD is given without REFERENCE_LAYER; it names a field of that layer."
    return None


@dataclass
class PixelSampler:
    """Compares reference labels read block by block on the classified grid, pixel by pixel."""

    read: Callable[[PixelWindow], np.ndarray]
    unlabelled: frozenset[int]
    names: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=lambda: {"reference_on_classification_nodata": 0,
                                                              "unlabelled_reference": 0})
    recode: CodeMap | None = None  # REFERENCE_CLASSES: codes matched by name
    matching: str = "value"
    sample_unit = "pixel"

    def add(self, window: PixelWindow, classes: np.ndarray, valid: np.ndarray, inside: np.ndarray,
            counts: ConfusionAccumulator) -> None:
        """Count the pixels of ``window`` in the area where both the classification and the reference have data."""
        raw = self.read(window)
        labelled = inside & ~np.isin(raw, list(self.unlabelled)) if self.unlabelled else inside.copy()
        if raw.dtype.kind == "f":
            labelled &= ~np.isnan(raw)
        reference = class_values(raw, labelled, "reference")
        if self.recode is not None:
            reference, named = self.recode.apply(reference, labelled)
            self.excluded["reference_code_not_named"] = (self.excluded.get("reference_code_not_named", 0)
                                                         + int(np.count_nonzero(labelled & valid & ~named)))
            labelled &= named
        counts.update(reference, classes, valid & labelled)
        self.excluded["reference_on_classification_nodata"] += int(np.count_nonzero(labelled & ~valid))
        self.excluded["unlabelled_reference"] += int(np.count_nonzero(inside & valid & ~labelled))


class PointSampler:
    """Point samples: their pixel positions on the grid and reference values, grouped by block."""

    sample_unit = "point"

    def __init__(self, cols: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
        self.cols, self.rows, self.values = cols, rows, values
        self.names: dict[int, str] = {}
        self.notes: list[str] = []
        self.matching = "value"
        self.excluded: dict[str, int] = {"outside_raster": 0, "outside_area": 0, "on_classification_nodata": 0}
        self._groups: dict[int, np.ndarray] = {}
        self._layout: tuple[PixelWindow, int] | None = None

    def group_by_tile(self, area: PixelWindow, size: int) -> None:
        """Index the points by the tile of ``area.tiles(size)`` they fall in; the rest are outside the area."""
        keys = blocks_key(area, size, self.cols, self.rows)
        inside = keys >= 0
        self.excluded["outside_area"] += int(np.count_nonzero(~inside))
        order = np.nonzero(inside)[0][np.argsort(keys[inside], kind="stable")]
        found, starts = np.unique(keys[order], return_index=True)
        self._groups = dict(zip(found.tolist(), np.split(order, starts[1:])))
        self._layout = (area, size)

    def add(self, window: PixelWindow, classes: np.ndarray, valid: np.ndarray, inside: np.ndarray,
            counts: ConfusionAccumulator) -> None:
        """Count the points of ``window`` (one of the grouped blocks) that lie in the area on valid pixels."""
        if self._layout is None:
            raise RuntimeError("group_by_tile() must be called before add()")
        area, size = self._layout
        key = int(blocks_key(area, size, np.array([window.col]), np.array([window.row]))[0])
        chosen = self._groups.get(key)
        if chosen is None:
            return
        rows, cols = self.rows[chosen] - window.row, self.cols[chosen] - window.col
        in_area, has_data = inside[rows, cols], valid[rows, cols]
        keep = in_area & has_data
        counts.update(self.values[chosen][keep], classes[rows, cols][keep])
        self.excluded["outside_area"] += int(np.count_nonzero(~in_area))
        self.excluded["on_classification_nodata"] += int(np.count_nonzero(in_area & ~has_data))


Sampler = Union[PixelSampler, PointSampler]


def open_reference(spec: ReferenceSpec, grid: RasterGrid, class_names: dict[int, str]) -> Sampler:
    """The sampler for ``spec`` on ``grid``; ``class_names`` are the classification's (value -> name)."""
    if spec.raster:
        raster_sampler = _raster_sampler(spec, grid)
        if spec.classes:
            recode, names, notes = _named_codes(spec.classes, class_names)
            raster_sampler.recode, raster_sampler.matching = recode, "name"
            raster_sampler.names = names
            raster_sampler.notes.extend(notes)
        else:
            raster_sampler.notes.extend(legend_differences(raster_sampler.names, class_names))
            raster_sampler.notes.extend(by_value_note(raster_sampler.names, class_names, "reference raster"))
        return raster_sampler
    if not spec.vector or not spec.field:
        raise InputError("Give a reference: REFERENCE (a label raster) or REFERENCE_LAYER with REFERENCE_FIELD.")
    labels, names, notes, matching = reference_label_set(spec, class_names)
    if _is_point_layer(spec):
        sampler: Sampler = _point_sampler(spec, grid, labels)
    else:
        vector = VectorLabels(spec.vector, spec.field, grid, spec.layer_name, labels)
        if not vector.extent_overlaps_grid():
            raise InputError(f"The reference layer '{spec.vector}' does not overlap the classified raster (or has "
                             f"no feature with a value in '{spec.field}'); check that both cover the same area.")
        sampler = PixelSampler(vector.read, frozenset({labels.ignore_value}))
    sampler.names.update(names)
    sampler.notes.extend(notes)
    sampler.matching = matching
    return sampler


def _named_codes(reference_names: dict[int, str], class_names: dict[int, str]) -> tuple[CodeMap, dict[int, str],
                                                                                        list[str]]:
    """REFERENCE_CLASSES: the reference's codes matched by name to the classification's; names of new classes;
    notes saying how each code was matched."""
    if not class_names:
        raise InputError("REFERENCE_CLASSES names the reference's codes, but the classified raster carries no class "
                         "names to match them to. Name its classes with CLASS_NAMES (for example '1=farm;2=forest').")
    recode, match = code_map(reference_names, class_names, reserved=(255,))
    pairs = ", ".join(f"{code} '{name}' -> {recode.codes[code]}" for code, name in sorted(reference_names.items()))
    notes = [f"Reference codes matched to the classification by name (REFERENCE_CLASSES): {pairs}. Reference codes "
             "not listed there are left out as unlabelled."]
    if match.unmatched:
        notes.append(f"Reference classes that match no class of the classification (new codes, every sample an "
                     f"omission error): {', '.join(f'{n}={v}' for v, n in match.new_values.items())}.")
    return recode, match.new_values, notes


def by_value_note(reference_names: dict[int, str], class_names: dict[int, str], what: str) -> list[str]:
    """The note that codes are compared by value only, when either side has no names to check them by."""
    if reference_names and class_names:
        return []
    missing = (f"the {what} carries no class names" if not reference_names else
               "the classified raster carries no class names")
    example = next(iter(sorted(class_names.items())), None)
    meaning = (f" (its code {example[0]} counts as the classification's {example[0]} '{example[1]}')"
               if example and not reference_names else "")
    return [f"Class codes are matched by value only: {missing}{meaning}. If the two number their classes "
            "differently, give REFERENCE_CLASSES (the name of each reference code, as value=name or a CSV file) to "
            "match them by name."]


def legend_differences(reference_names: dict[int, str], class_names: dict[int, str]) -> list[str]:
    """A note when a code has different names in the reference and the classification (different legends)."""
    differ = [f"{value} is '{class_names[value]}' in the classification but '{name}' in the reference"
              for value, name in sorted(reference_names.items())
              if value in class_names and name_key(name) != name_key(class_names[value])]
    if not differ:
        return []
    return [f"The two rasters name some codes differently: {'; '.join(differ)}. Codes are compared as they are; "
            "recode one raster if the legends differ."]


def reference_label_set(spec: ReferenceSpec, class_names: dict[int, str]) -> tuple[LabelSet, dict[int, str],
                                                                                    list[str], str]:
    """How the reference field's values become class values; names of new classes; notes for the log; whether
    classes are matched by "name" or by "value"."""
    found = labels_from_field(spec.vector or "", spec.field or "", spec.layer_name)
    raw = list(found.value_of)
    if all(isinstance(v, str) for v in raw) and all(v.strip().lstrip("-").isdigit() for v in raw):
        value_of = {v: int(v) for v in raw}  # codes stored as text
    elif all(isinstance(v, str) for v in raw):
        if spec.classes:
            raise InputError(f"REFERENCE_CLASSES names codes, but the reference field '{spec.field}' holds class "
                             "names, which are matched to the classification's names already; leave "
                             "REFERENCE_CLASSES empty.")
        if not class_names:
            raise InputError(f"The reference field '{spec.field}' holds class names ({', '.join(sorted(raw)[:6])}) "
                             "but the classified raster carries no class names to match them to. Name its "
                             "classes with CLASS_NAMES (for example '1=farm;2=forest') or use a field of codes.")
        match = match_names(raw, class_names, reserved=(255,))
        value_of = match.value_of
        matched = sorted((v, n) for n, v in value_of.items() if n not in match.unmatched)
        notes = [f"Reference class names matched to the classification: {', '.join(f'{n}={v}' for v, n in matched)}."]
        if match.unmatched:
            notes.append(f"Reference classes that match no class of the classification (new codes, every sample "
                         f"an omission error): {', '.join(f'{n}={v}' for n, v in match.new_values.items())}.")
        return _label_set(value_of), match.new_values, notes, "name"
    else:
        value_of = dict(found.value_of)
    if spec.nodata is not None:
        value_of = {k: v for k, v in value_of.items() if v != spec.nodata}
    if spec.classes:
        recode, names, notes = _named_codes(spec.classes, class_names)
        left_out = sorted({v for v in value_of.values() if v not in recode.codes})
        if left_out:
            notes.append(f"Reference codes not named in REFERENCE_CLASSES, left out: {left_out}.")
        return _label_set({k: recode.codes[v] for k, v in value_of.items() if v in recode.codes}), names, notes, "name"
    return _label_set(value_of), {}, by_value_note({}, class_names, f"reference field '{spec.field}'"), "value"


def _label_set(value_of: dict) -> LabelSet:
    values = sorted(set(value_of.values()))
    if any(v < 0 or v > 65534 for v in values):
        raise InputError("Reference class codes must be whole numbers from 0 to 65534.")
    classes = tuple(ClassInfo(v, str(v), default_color(i)) for i, v in enumerate(values))
    return LabelSet(classes, value_of, ignore_value_for(values))


def _raster_sampler(spec: ReferenceSpec, grid: RasterGrid) -> PixelSampler:
    path = spec.raster or ""
    _require_overlap(path, grid)
    labels = RasterLabels(path, grid, ignore_value=spec.nodata)
    unlabelled = {v for v in (labels.ignore_value, labels.source_nodata, spec.nodata) if v is not None}
    source = open_raster(path, "reference raster")
    names = {c.value: c.name for c in read_classes(source, 1) or []}
    sampler = PixelSampler(labels.read, frozenset(unlabelled), names)
    if labels.note:
        sampler.notes.append(labels.note)
    if not unlabelled:
        sampler.notes.append(f"The reference raster '{spec.raster}' has no nodata value and no REFERENCE_NODATA was "
                             "given: every reference pixel counts as labelled (also 0).")
    return sampler


def _require_overlap(path: str, grid: RasterGrid) -> None:
    try:
        source = gdal.Open(str(path))
    except RuntimeError as error:
        raise InputError(f"Cannot open the reference raster '{path}': {error}.") from error
    wkt = source.GetProjection()
    source_grid = RasterGrid.of(source)
    if not wkt or not grid.crs_wkt:
        return  # RasterLabels decides (same size without CRS, or a clear error)
    xmin, ymin, xmax, ymax = source_grid.bounds()
    transform = transform_to(srs_of(wkt), grid.crs_wkt)
    if transform is not None:
        xmin, ymin, xmax, ymax = transform.TransformBounds(xmin, ymin, xmax, ymax, 21)
    gx0, gy0, gx1, gy1 = grid.bounds()
    if not (xmin < gx1 and xmax > gx0 and ymin < gy1 and ymax > gy0):
        raise InputError(f"The reference raster '{path}' does not overlap the classified raster (reference "
                         f"{(round(xmin), round(ymin), round(xmax), round(ymax))}, classification "
                         f"{(round(gx0), round(gy0), round(gx1), round(gy1))} in the classification's CRS). "
                         "Check that both cover the same area and that their CRS are set correctly.")


def _is_point_layer(spec: ReferenceSpec) -> bool:
    with opened_layer(spec.vector or "", spec.layer_name) as layer:
        kind = ogr.GT_Flatten(layer.GetGeomType())
        if kind == ogr.wkbUnknown:  # e.g. GeoJSON: look at the first geometry
            first = next((f.GetGeometryRef().Clone() for f in layer if f.GetGeometryRef() is not None), None)
            kind = ogr.GT_Flatten(first.GetGeometryType()) if first is not None else ogr.wkbUnknown
    if kind in (ogr.wkbLineString, ogr.wkbMultiLineString):
        raise InputError(f"The reference layer '{spec.vector}' holds lines; use polygons or points.")
    return kind in POINT_TYPES


def _point_sampler(spec: ReferenceSpec, grid: RasterGrid, labels: LabelSet) -> PointSampler:
    xs: list[float] = []
    ys: list[float] = []
    values: list[int] = []
    with opened_layer(spec.vector or "", spec.layer_name) as layer:
        transform = transform_to(layer.GetSpatialRef(), grid.crs_wkt)
        index = layer.GetLayerDefn().GetFieldIndex(spec.field)
        for feature in layer:
            geometry = feature.GetGeometryRef()
            if geometry is None or not feature.IsFieldSetAndNotNull(index):
                continue
            value = labels.value_of.get(_field_key(feature.GetField(index)))
            if value is None:
                continue
            geometry = geometry.Clone()
            if transform is not None:
                geometry.Transform(transform)
            for part in _points_of(geometry):
                xs.append(part[0])
                ys.append(part[1])
                values.append(value)
    x0, dx, _, y0, _, dy = grid.geotransform
    cols = np.floor((np.asarray(xs, float) - x0) / dx).astype(np.int64)
    rows = np.floor((np.asarray(ys, float) - y0) / dy).astype(np.int64)
    inside = (cols >= 0) & (cols < grid.width) & (rows >= 0) & (rows < grid.height)
    if not inside.any():
        raise InputError(f"No point of the reference layer '{spec.vector}' lies on the classified raster; check "
                         "that both cover the same area and that their CRS are set correctly.")
    sampler = PointSampler(cols[inside], rows[inside], np.asarray(values, np.int64)[inside])
    sampler.excluded["outside_raster"] += int(np.count_nonzero(~inside))
    return sampler


def _field_key(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return str(value) if isinstance(value, str) else value


def _points_of(geometry: ogr.Geometry) -> list[tuple[float, float]]:
    if ogr.GT_Flatten(geometry.GetGeometryType()) == ogr.wkbPoint:
        return [] if geometry.IsEmpty() else [(geometry.GetX(), geometry.GetY())]
    return [point for i in range(geometry.GetGeometryCount()) for point in _points_of(geometry.GetGeometryRef(i))]

