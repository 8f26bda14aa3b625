"""Rows of plain values into a QGIS feature sink without geometry (a table layer, CSV, GeoPackage table)."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from qgis.core import QgsFeature, QgsFeatureSink, QgsField, QgsFields

from .qgis_compat import FIELD_TYPES


def table_fields(columns: Sequence[tuple[str, str]]) -> QgsFields:
    """QgsFields for ``(name, type)`` columns; types are "int", "str" or "float"."""
    fields = QgsFields()
    for name, kind in columns:
        fields.append(QgsField(name, FIELD_TYPES[kind]))
    return fields


def write_rows(sink: QgsFeatureSink, fields: QgsFields, rows: Iterable[dict[str, Any]]) -> int:
    """Add one feature per row (None becomes NULL); returns the number of features written."""
    written = 0
    for row in rows:
        feature = QgsFeature(fields)
        feature.setAttributes([row.get(fields.at(i).name()) for i in range(fields.count())])
        sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert)
        written += 1
    return written
