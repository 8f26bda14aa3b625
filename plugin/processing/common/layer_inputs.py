"""Turns Processing layer parameters into what the GDAL/OGR adapters open: file paths and layer names.

A parameter given as a plain file path (the usual case in qgis_process, scripts and models) is handed to
GDAL/OGR as it is, opened read-only: it is never loaded as a QGIS layer, because QGIS computes
statistics for a raster layer it loads and writes them to a ``.aux.xml`` file next to the user's file.
A layer of the project (the dialog's layer list) is used through its source.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import QgsCoordinateReferenceSystem, QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingFeedback

from ...adapters.inputs.area_of_interest import AreaSpec
from ...adapters.inputs.gdal_grid import open_raster
from ...adapters.inputs.gdal_vectors import opened_layer
from ...core.errors import InputError
from .feedback import feedback_for
from .parameter_checks import is_file_path

# Vector formats OGR opens in place; layers in other providers (memory, databases), filtered or with
# "selected features only" are exported by QGIS to a temporary GeoPackage first.
OGR_FILE_FORMATS = ["gpkg", "shp", "geojson", "json", "fgb", "sqlite", "gml", "kml", "tab", "mif"]


def is_set(parameters: dict[str, Any], name: str) -> bool:
    """True when the user gave a value for an optional parameter."""
    value = parameters.get(name)
    return value is not None and value != ""


def _given_path(parameters: dict[str, Any], name: str) -> str | None:
    """The parameter's value when it is a plain path on disk (used as it is, never loaded as a layer)."""
    value = parameters.get(name)
    return str(value) if is_file_path(value) else None


def raster_path(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
                context: QgsProcessingContext) -> str | None:
    """The file GDAL opens for a raster layer parameter, or None when it is not set."""
    given = _given_path(parameters, name)
    if given or not is_set(parameters, name):
        return given
    value = parameters.get(name)
    layer = algorithm.parameterAsRasterLayer(parameters, name, context)
    if layer is None:
        raise InputError(f"{name}: the raster '{value}' cannot be loaded; give a raster file or a raster layer of "
                         "the project.")
    if layer.providerType() != "gdal":
        raise InputError(f"{name}: the layer '{layer.name()}' comes from the '{layer.providerType()}' provider; "
                         "save it as a GeoTIFF first (Export > Save As...).")
    source = layer.source()
    return Path(source).as_posix() if Path(source).exists() else source


def required_raster_path(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
                         context: QgsProcessingContext) -> str:
    """The file GDAL opens for a raster parameter that must be given."""
    path = raster_path(algorithm, parameters, name, context)
    if path is None:
        raise InputError(f"{name} is missing: choose a raster layer or file.")
    return path


def input_file(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
               context: QgsProcessingContext) -> str | None:
    """The file behind a layer parameter (for checking that no output replaces it), None when it has none."""
    given = _given_path(parameters, name)
    if given or not is_set(parameters, name):
        return given
    layer = algorithm.parameterAsLayer(parameters, name, context)
    source = layer.source().split("|")[0] if layer is not None else ""
    return source if source and Path(source).exists() else None


def raster_crs(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
               context: QgsProcessingContext) -> QgsCoordinateReferenceSystem:
    """The CRS of a raster parameter (read with GDAL for a file path)."""
    path = raster_path(algorithm, parameters, name, context)
    if path is None:
        return QgsCoordinateReferenceSystem()
    dataset = open_raster(path)
    wkt = dataset.GetProjection() or dataset.GetGCPProjection() or ""
    return QgsCoordinateReferenceSystem.fromWkt(wkt) if wkt else QgsCoordinateReferenceSystem()


def vector_path(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
                context: QgsProcessingContext,
                feedback: QgsProcessingFeedback | None) -> tuple[str | None, str | None]:
    """(file, layer name) OGR opens for a feature source parameter, or (None, None) when not set. A layer OGR
    cannot open as it is (filtered, in memory, selected features only) is exported by QGIS first, which needs a
    feedback object: one is always given (see :func:`.feedback.feedback_for`)."""
    if not is_set(parameters, name):
        return None, None
    value = parameters.get(name)
    if isinstance(value, str) and is_file_path(value) and Path(value).suffix.lower().lstrip(".") in OGR_FILE_FORMATS:
        return str(value), None
    path, layer_name = algorithm.parameterAsCompatibleSourceLayerPathAndLayerName(
        parameters, name, context, OGR_FILE_FORMATS, "gpkg", feedback_for(context, feedback))
    if not path:
        raise InputError(f"{name}: the layer '{value}' cannot be loaded.")
    return path, layer_name or None


def extent_in(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
              context: QgsProcessingContext,
              crs: QgsCoordinateReferenceSystem) -> tuple[float, float, float, float] | None:
    """An extent parameter as (xmin, ymin, xmax, ymax) in ``crs``, or None when it is not set."""
    if not is_set(parameters, name):
        return None
    rectangle = algorithm.parameterAsExtent(parameters, name, context, crs)
    if rectangle.isNull():
        return None
    if rectangle.isEmpty():
        raise InputError(f"{name} ({parameters.get(name)}) has no area (zero width or height); give an extent with "
                         f"xmin < xmax and ymin < ymax, or leave {name} empty.")
    return rectangle.xMinimum(), rectangle.yMinimum(), rectangle.xMaximum(), rectangle.yMaximum()


def optional_int(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
                 context: QgsProcessingContext) -> int | None:
    """An optional integer parameter, None when it is not set."""
    return algorithm.parameterAsInt(parameters, name, context) if is_set(parameters, name) else None


def area_spec(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], context: QgsProcessingContext,
              feedback: QgsProcessingFeedback | None, raster: str = "INPUT", extent: str = "EXTENT",
              mask: str = "MASK") -> AreaSpec:
    """The area a run works on: the EXTENT in the raster's CRS and the MASK polygons (file, layer name)."""
    crs = raster_crs(algorithm, parameters, raster, context)
    mask_path, mask_layer = vector_path(algorithm, parameters, mask, context, feedback)
    return AreaSpec(extent_in(algorithm, parameters, extent, context, crs), mask_path, mask_layer)


def field_problem(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], layer_name: str,
                  field_name: str, context: QgsProcessingContext) -> str | None:
    """A message when the field parameter names a field the layer does not have."""
    field = algorithm.parameterAsString(parameters, field_name, context)
    if not field or not is_set(parameters, layer_name):
        return None
    value = parameters.get(layer_name)
    if is_file_path(value):
        with opened_layer(str(value)) as layer:
            definition = layer.GetLayerDefn()
            names = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
    else:
        source = algorithm.parameterAsSource(parameters, layer_name, context)
        if source is None:
            return None
        names = source.fields().names()
    if field not in names:
        return (f"{layer_name} has no field '{field}'; its fields are {', '.join(names)}. Choose the field that "
                "holds each feature's class.")
    return None
