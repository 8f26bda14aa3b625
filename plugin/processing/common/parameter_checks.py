"""Parameter values checked with messages that say what is allowed, for every algorithm.

QGIS's own check answers a number out of range, an unknown option or a missing layer with "Incorrect
parameter value for OVERLAP"; these say the allowed range or options. QGIS's checks still run after
ours, except that a file path given for a layer parameter is not loaded as a QGIS layer to check it:
loading a raster makes QGIS compute statistics and write a ``.aux.xml`` file next to the user's data
(our own reads open it with GDAL, read-only, and write nothing there).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsRasterLayer,
)

from .qgis_compat import NUMBER_INTEGER, PARAMETER_OPTIONAL, SOURCE_RASTER

_LAYER_TYPES = ("raster", "vector", "source", "layer", "multilayer", "mesh", "pointcloud")
_UNBOUNDED = 1e300  # QGIS leaves unset limits at +-DBL_MAX


def _format(number: float) -> str:
    return f"{number:g}"


def number_problem(definition: QgsProcessingParameterNumber, value: Any) -> str | None:
    """A message when ``value`` is not a number of the parameter's type and range."""
    name = definition.name()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"{name} must be a number, got {value!r}."
    integer = definition.dataType() == NUMBER_INTEGER
    if not math.isfinite(number) or (integer and number != int(number)):
        return f"{name} must be a {'whole ' if integer else ''}number, got {value!r}."
    low, high = definition.minimum(), definition.maximum()
    if number < low or number > high:
        if abs(high) >= _UNBOUNDED:
            allowed = f"at least {_format(low)}"
        elif abs(low) >= _UNBOUNDED:
            allowed = f"at most {_format(high)}"
        else:
            allowed = f"from {_format(low)} to {_format(high)}"
        return f"{name} must be {allowed}, got {_format(number)}."
    return None


def enum_problem(definition: QgsProcessingParameterEnum, value: Any) -> str | None:
    """A message when ``value`` is not one of the parameter's options (by name or by index)."""
    options = definition.options()
    values = value if isinstance(value, list) and definition.allowMultiple() else [value]
    for item in values:
        if isinstance(item, str) and item in options:
            continue
        text = str(item).strip()
        if text.isdigit() and int(text) < len(options):
            continue  # an index also names the option
        return f"{definition.name()} '{item}' is not one of its options: {', '.join(options)}."
    return None


def value_problem(definition: QgsProcessingParameterDefinition, value: Any) -> str | None:
    """Our message for a given value that does not fit ``definition``; None when it fits or is not set."""
    if value is None or value == "":
        return None
    if isinstance(definition, QgsProcessingParameterNumber):
        return number_problem(definition, value)
    if isinstance(definition, QgsProcessingParameterEnum):
        return enum_problem(definition, value)
    return None


def is_file_path(value: Any) -> bool:
    """True for a plain path to something that exists on disk (a file, a folder, or a pipe or device that our
    own checks then refuse), not a layer id, a URI or a connection string. Such paths are opened by GDAL
    read-only, never loaded as QGIS layers (which could block for ever on a pipe)."""
    return isinstance(value, str) and "|" not in value and bool(value) and Path(value).exists()


def is_web_map_source(value: Any) -> bool:
    """True for a web map layer source (XYZ tiles, WMS/WMTS) that QGIS's WMS provider opens."""
    if not isinstance(value, str) or "url=" not in value or is_file_path(value):
        return False
    return QgsRasterLayer(value.removeprefix("wms://"), "web map", "wms").isValid()


def qgis_check_problem(definitions: Iterable[QgsProcessingParameterDefinition], parameters: dict[str, Any],
                       context: QgsProcessingContext) -> str | None:
    """QGIS's own acceptability check of every parameter, without loading file paths as layers."""
    for definition in definitions:
        value = parameters.get(definition.name())
        is_layer = definition.type() in _LAYER_TYPES
        check_context = None if is_layer and is_file_path(value) else context
        if definition.checkValueIsAcceptable(value, check_context):
            continue
        optional = definition.flags() & PARAMETER_OPTIONAL
        if (value is None or value == "") and not optional:
            return f"{definition.name()} ({definition.description()}) is required; give a value."
        if is_layer:
            return (f"{definition.name()}: '{value}' cannot be loaded as a layer; give an existing file or a layer "
                    "of the project.")
        return f"{definition.name()}: the value {value!r} is not valid for {definition.description()}."
    return None


class RasterFileParameter(QgsProcessingParameterRasterLayer):
    """A raster layer parameter that accepts a path to an existing file without loading it as a QGIS layer.

    qgis_process checks every parameter before the algorithm sees it, and QGIS's check of a raster path
    loads it as a layer, which computes statistics and writes them to ``name.tif.aux.xml`` beside the
    user's raster. The algorithm opens the file itself with GDAL, read-only, and says clearly when it
    cannot be read; layers of a project are checked by QGIS as before. A web map's source as QGIS writes it
    (``type=xyz&url=...``, WMS parameters) is accepted too: QGIS would try to open it as a file.
    """

    def checkValueIsAcceptable(self, value: Any, context: QgsProcessingContext | None = None) -> bool:  # noqa: N802
        if is_file_path(value) or is_web_map_source(value):
            return True
        return super().checkValueIsAcceptable(value, context)

    def clone(self) -> "RasterFileParameter":
        copy = RasterFileParameter(self.name(), self.description(), self.defaultValue(),
                                   bool(self.flags() & PARAMETER_OPTIONAL))
        copy.setFlags(self.flags())
        copy.setHelp(self.help())
        return copy


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class RasterFilesParameter(QgsProcessingParameterMultipleLayers):
    """A list of raster layers whose file paths are accepted as they are, never loaded as QGIS layers (see
    :class:`RasterFileParameter`); layers of a project and other sources are checked by QGIS as before."""

    def __init__(self, name: str, description: str, optional: bool = True) -> None:
        super().__init__(name, description, SOURCE_RASTER, None, optional)

    def checkValueIsAcceptable(self, value: Any, context: QgsProcessingContext | None = None) -> bool:  # noqa: N802
        others = [v for v in _as_list(value) if not is_file_path(v)]
        if not others:
            return bool(_as_list(value)) or bool(self.flags() & PARAMETER_OPTIONAL)
        return super().checkValueIsAcceptable(others, context)

    def clone(self) -> "RasterFilesParameter":
        copy = RasterFilesParameter(self.name(), self.description(),
                                    bool(self.flags() & PARAMETER_OPTIONAL))
        copy.setFlags(self.flags())
        copy.setHelp(self.help())
        return copy
