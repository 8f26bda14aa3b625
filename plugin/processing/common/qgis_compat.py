"""QGIS and Qt names that differ between QGIS 3.22 (Qt 5) and QGIS 3.36+ / QGIS 4 (Qt 6), in one place.

QGIS moved many enums from their classes into ``Qgis`` (``QgsProcessingParameterNumber.Type`` became
``Qgis.ProcessingNumberParameterType`` in 3.36, for example) and QGIS 4 drops the old names; QGIS 3.22 has
only the old ones. Where no spelling works on both, the new one is taken when it exists and the fully
scoped old one otherwise. Everything else in the plugin uses fully scoped enums directly (a test scans
the sources for unscoped ones and for other Qt 5-only forms).
"""
from __future__ import annotations

from typing import Any

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsProcessing,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterNumber,
    QgsRasterInterface,
    QgsUnitTypes,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QMetaType, QVariant

try:
    from qgis.PyQt.QtGui import QAction  # Qt 6
except ImportError:  # Qt 5 keeps QAction in QtWidgets
    from qgis.PyQt.QtWidgets import QAction  # noqa: F401 - re-exported


def _scoped(new_enum: str, new_member: str, old_owner: type, old_enum: str, old_member: str) -> Any:
    """``Qgis.<new_enum>.<new_member>`` where it exists, else ``<old_owner>.<old_enum>.<old_member>``."""
    enum = getattr(Qgis, new_enum, None)
    if enum is not None and hasattr(enum, new_member):
        return getattr(enum, new_member)
    return getattr(getattr(old_owner, old_enum), old_member)


NUMBER_INTEGER = _scoped("ProcessingNumberParameterType", "Integer", QgsProcessingParameterNumber, "Type", "Integer")
NUMBER_DOUBLE = _scoped("ProcessingNumberParameterType", "Double", QgsProcessingParameterNumber, "Type", "Double")
PARAMETER_ADVANCED = _scoped("ProcessingParameterFlag", "Advanced", QgsProcessingParameterDefinition, "Flag",
                             "FlagAdvanced")
PARAMETER_OPTIONAL = _scoped("ProcessingParameterFlag", "Optional", QgsProcessingParameterDefinition, "Flag",
                             "FlagOptional")
SOURCE_RASTER = _scoped("ProcessingSourceType", "Raster", QgsProcessing, "SourceType", "TypeRaster")
SOURCE_VECTOR = _scoped("ProcessingSourceType", "Vector", QgsProcessing, "SourceType", "TypeVector")
SOURCE_VECTOR_ANY_GEOMETRY = _scoped("ProcessingSourceType", "VectorAnyGeometry", QgsProcessing, "SourceType",
                                     "TypeVectorAnyGeometry")
SOURCE_VECTOR_POINT = _scoped("ProcessingSourceType", "VectorPoint", QgsProcessing, "SourceType", "TypeVectorPoint")
SOURCE_VECTOR_POLYGON = _scoped("ProcessingSourceType", "VectorPolygon", QgsProcessing, "SourceType",
                                "TypeVectorPolygon")
GEOMETRY_POINT = _scoped("GeometryType", "Point", QgsWkbTypes, "GeometryType", "PointGeometry")
WKB_NO_GEOMETRY = _scoped("WkbType", "NoGeometry", QgsWkbTypes, "Type", "NoGeometry")
DISTANCE_METERS = _scoped("DistanceUnit", "Meters", QgsUnitTypes, "DistanceUnit", "DistanceMeters")
WKT_PREFERRED_GDAL = _scoped("CrsWktVariant", "PreferredGdal", QgsCoordinateReferenceSystem, "WktVariant",
                             "WKT_PREFERRED_GDAL")
RASTER_HAS_SIZE = _scoped("RasterInterfaceCapability", "Size", QgsRasterInterface, "Capability", "Size")

# QgsField takes QMetaType.Type from QGIS 3.38 on (QVariant.Type is gone in Qt 6), QVariant.Type before.
if Qgis.versionInt() >= 33800:
    FIELD_TYPES = {"int": QMetaType.Type.LongLong, "str": QMetaType.Type.QString, "float": QMetaType.Type.Double}
else:
    FIELD_TYPES = {"int": QVariant.Type.LongLong, "str": QVariant.Type.String, "float": QVariant.Type.Double}


def qgis_version() -> str:
    """QGIS's version, e.g. ``3.40.6-Bratislava``."""
    return Qgis.version()
