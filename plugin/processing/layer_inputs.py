"""Turns Processing layer parameters into what the GDAL/OGR adapters open: file paths and layer names."""
from __future__ import annotations

from typing import Any

from qgis.core import (QgsCoordinateReferenceSystem, QgsProcessingAlgorithm, QgsProcessingContext,
                       QgsProcessingFeedback)

from ..core.errors import InputError

# Vector formats OGR opens in place; layers in other providers (memory, databases), filtered or with
# "selected features only" are exported by QGIS to a temporary GeoPackage first.
OGR_FILE_FORMATS = ["gpkg", "shp", "geojson", "json", "fgb", "sqlite", "gml", "kml", "tab", "mif"]


def is_set(parameters: dict[str, Any], name: str) -> bool:
    """True when the user gave a value for an optional parameter."""
    value = parameters.get(name)
    return value is not None and value != ""


def raster_path(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
                context: QgsProcessingContext) -> str | None:
    """The file GDAL opens for a raster layer parameter, or None when it is not set."""
    if not is_set(parameters, name):
        return None
    layer = algorithm.parameterAsRasterLayer(parameters, name, context)
    if layer is None:
        raise InputError(f"{name}: the raster '{parameters.get(name)}' cannot be loaded.")
    if layer.providerType() != "gdal":
        raise InputError(f"{name}: the layer '{layer.name()}' comes from the '{layer.providerType()}' provider; "
                         "save it as a GeoTIFF first (Export > Save As...).")
    return layer.source()


def raster_crs(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
               context: QgsProcessingContext) -> QgsCoordinateReferenceSystem:
    layer = algorithm.parameterAsRasterLayer(parameters, name, context)
    return layer.crs() if layer is not None else QgsCoordinateReferenceSystem()


def vector_path(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
                context: QgsProcessingContext,
                feedback: QgsProcessingFeedback | None) -> tuple[str | None, str | None]:
    """(file, layer name) OGR opens for a feature source parameter, or (None, None) when not set."""
    if not is_set(parameters, name):
        return None, None
    path, layer_name = algorithm.parameterAsCompatibleSourceLayerPathAndLayerName(
        parameters, name, context, OGR_FILE_FORMATS, "gpkg", feedback)
    if not path:
        raise InputError(f"{name}: the layer '{parameters.get(name)}' cannot be loaded.")
    return path, layer_name or None


def extent_in(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
              context: QgsProcessingContext,
              crs: QgsCoordinateReferenceSystem) -> tuple[float, float, float, float] | None:
    """An extent parameter as (xmin, ymin, xmax, ymax) in ``crs``, or None when it is not set."""
    if not is_set(parameters, name):
        return None
    rectangle = algorithm.parameterAsExtent(parameters, name, context, crs)
    if rectangle.isNull() or rectangle.isEmpty():
        return None
    return rectangle.xMinimum(), rectangle.yMinimum(), rectangle.xMaximum(), rectangle.yMaximum()


def field_problem(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], layer_name: str,
                  field_name: str, context: QgsProcessingContext) -> str | None:
    """A message when the field parameter names a field the layer does not have."""
    source = algorithm.parameterAsSource(parameters, layer_name, context)
    field = algorithm.parameterAsString(parameters, field_name, context)
    if source is None or not field:
        return None
    names = source.fields().names()
    if field not in names:
        return (f"{layer_name} has no field '{field}'; its fields are {', '.join(names)}. Choose the field that "
                "holds each feature's class.")
    return None
