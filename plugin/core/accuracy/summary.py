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

from .assignment import Relabelling, best_relabelling
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
    matching: str = "value"  # how reference classes met the classification's: by code "value", or by "name"

    @cached_property
    def scores(self) -> Scores:
        return self.matrix.scores()

    @cached_property
    def relabelling(self) -> Relabelling:
        """The best one-to-one matching of reference to classified classes, and what it would score."""
        return best_relabelling(self.matrix)

    def permutation_warning(self) -> str | None:
        """A warning when matching the classes differently would score far higher than the codes as compared."""
        best = self.relabelling
        if not best.looks_permuted:
            return None
        def reference(value: int) -> str:  # compared by value, a reference code may mean another class
            return f"reference code {value}" if self.matching == "value" else f"reference '{self.name_of(value)}'"

        shown = "; ".join(f"{reference(r)} with classification {c} '{self.name_of(c)}'" for r, c in best.pairs[:8])
        more = f" (and {len(best.pairs) - 8} more)" if len(best.pairs) > 8 else ""
        how = ("Codes were compared by value: the two may number their classes differently; check both legends "
               "and name the reference's codes with REFERENCE_CLASSES (value=name, or a CSV file)"
               if self.matching == "value" else "Check that the class names of both mean the same classes")
        return (f"The confusion matrix looks permuted: the overall accuracy is {best.diagonal_accuracy:.3f}, but "
                f"matching {shown}{more} would give {best.overall_accuracy:.3f}. {how}.")

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
            "class_matching": self.matching,
            "best_matching": self.relabelling.to_dict() if self.matrix.total else None,
            "notes": list(self.notes),
        }
