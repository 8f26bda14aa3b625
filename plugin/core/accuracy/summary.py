"""The result of an accuracy assessment: confusion matrix, scores, class names and class areas.

Pure (numpy only): the GDAL side counts pixels or points into a :class:`~.metrics.ConfusionMatrix`,
this module turns it into the rows of the per-class table and the JSON document the report is
drawn from. Rows are the reference, columns the classification (see :mod:`.metrics`).

Areas are in the square of the classified raster's map unit:

- ``reference_area``  reference pixels of the class among the assessed pixels x pixel area
- ``classified_area`` classified pixels of the class among the assessed pixels x pixel area
- ``mapped_area``     classified pixels of the class in the whole assessed area (extent, mask), also
                      where the reference has no label: the map's own area of the class

With point references the counts are numbers of points; reference and classified areas are then
not defined (None) and only the mapped area is given.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .metrics import ConfusionMatrix, Scores

PIXEL_SAMPLES = "pixel"
POINT_SAMPLES = "point"

# (column, type) of the per-class table, in order; types are "int", "str" or "float".
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("value", "int"), ("name", "str"), ("reference_count", "int"), ("classified_count", "int"),
    ("correct", "int"), ("reference_area", "float"), ("classified_area", "float"), ("mapped_area", "float"),
    ("producers_accuracy", "float"), ("users_accuracy", "float"), ("f1", "float"), ("iou", "float"),
)


def _clean(value: float | None) -> float | None:
    """JSON-ready float: NaN becomes None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


@dataclass(frozen=True)
class AccuracySummary:
    """Everything the report, the table and the JSON show, computed once from the counts."""

    matrix: ConfusionMatrix
    names: dict[int, str]
    classification_values: tuple[int, ...]
    mapped_counts: dict[int, int]
    pixel_area: float
    area_unit: str
    sample_unit: str = PIXEL_SAMPLES
    notes: tuple[str, ...] = ()
    excluded: dict[str, int] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def scores(self) -> Scores:
        return self.matrix.scores()

    def name_of(self, value: int) -> str:
        return self.names.get(value, f"class {value}")

    @property
    def reference_only_values(self) -> tuple[int, ...]:
        """Reference classes with samples that the classification does not have."""
        counts = self.scores.reference_count
        known = set(self.classification_values)
        return tuple(v for i, v in enumerate(self.matrix.values) if counts[i] > 0 and v not in known)

    @property
    def unreferenced_values(self) -> tuple[int, ...]:
        """Classes of the classification without any reference sample."""
        counts = self.scores.reference_count
        return tuple(v for i, v in enumerate(self.matrix.values)
                     if counts[i] == 0 and v in set(self.classification_values))

    def _area(self, count: int) -> float | None:
        return count * self.pixel_area if self.sample_unit == PIXEL_SAMPLES else None

    def class_rows(self) -> list[dict[str, Any]]:
        """One row per class, with the keys of :data:`TABLE_COLUMNS` (NaN scores become None)."""
        s = self.scores
        diagonal = np.diag(self.matrix.matrix)
        rows = []
        for i, value in enumerate(self.matrix.values):
            reference, classified = int(s.reference_count[i]), int(s.predicted_count[i])
            rows.append({
                "value": value, "name": self.name_of(value), "reference_count": reference,
                "classified_count": classified, "correct": int(diagonal[i]),
                "reference_area": self._area(reference), "classified_area": self._area(classified),
                "mapped_area": self.mapped_counts.get(value, 0) * self.pixel_area,
                "producers_accuracy": _clean(s.producers_accuracy[i]), "users_accuracy": _clean(s.users_accuracy[i]),
                "f1": _clean(s.f1[i]), "iou": _clean(s.iou[i]),
            })
        return rows

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: inputs, sample counts, overall scores, matrix, classes, notes."""
        s = self.scores
        return {
            "schema_version": 1,
            "convention": "rows = reference, columns = classification",
            "sources": self.sources,
            "sample_unit": self.sample_unit,
            "samples": self.matrix.total,
            "excluded": self.excluded,
            "pixel_area": self.pixel_area,
            "area_unit": self.area_unit,
            "overall_accuracy": _clean(s.overall_accuracy),
            "kappa": _clean(s.kappa),
            "mean_iou": _clean(s.mean_iou),
            "confusion_matrix": {"values": list(self.matrix.values),
                                 "names": [self.name_of(v) for v in self.matrix.values],
                                 "rows": self.matrix.matrix.tolist()},
            "classes": self.class_rows(),
            "reference_only_classes": [{"value": v, "name": self.name_of(v)} for v in self.reference_only_values],
            "classes_without_reference": [{"value": v, "name": self.name_of(v)} for v in self.unreferenced_values],
            "notes": list(self.notes),
        }
