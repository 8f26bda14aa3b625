"""What ``seamless:train`` does differently when ARCHITECTURE is a detector (``retinanet``): the checks of its
parameters and the ``detection`` section of the training configuration.

A detector learns from a vector layer of objects (polygons or boxes, each taken as its bounding box, or points
given a size in pixels) with an optional class field; it takes the image's own bands only. The training side
(``training/detection``) checks the configuration again; the checks here name the algorithm's parameters.
"""
from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingAlgorithm, QgsProcessingContext, QgsWkbTypes

from ...core.model.training_choices import DETECTION_ARCHITECTURES
from ..common.layer_inputs import is_set
from ..common.qgis_compat import GEOMETRY_POINT

LABELS, LABEL_RASTER, ADDITIONAL_INPUTS = "LABELS", "LABEL_RASTER", "ADDITIONAL_INPUTS"
POINT_SIZE, ARCHITECTURE = "POINT_SIZE", "ARCHITECTURE"


def is_detector(architecture: str) -> bool:
    """True for the architectures that train an object detector rather than a segmentation model."""
    return architecture in DETECTION_ARCHITECTURES


def detector_problem(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any],
                     context: QgsProcessingContext) -> str | None:
    """What a detector cannot train from in these parameters (None when they suit it)."""
    architecture = algorithm.parameterAsEnumString(parameters, ARCHITECTURE, context)
    if is_set(parameters, LABEL_RASTER):
        return (f"A {architecture} detector learns from objects, and a label raster (LABEL_RASTER) holds none: "
                "give a vector layer of the objects (LABELS: polygons, boxes or points, with an optional class "
                "field) instead, or choose a segmentation architecture.")
    if not is_set(parameters, LABELS):
        return (f"No labels given: a {architecture} detector needs a vector layer of the objects (LABELS: "
                "polygons, boxes or points) and, optionally, their class field (LABEL_FIELD).")
    if _additional_given(parameters):
        return (f"ADDITIONAL_INPUTS are for segmentation models; a {architecture} detector takes the input "
                "raster's own bands. Leave ADDITIONAL_INPUTS empty (stack the bands into one raster first if the "
                "detector needs them).")
    source = algorithm.parameterAsSource(parameters, LABELS, context)
    if source is None:
        return f"LABELS: the layer '{parameters.get(LABELS)}' cannot be loaded."
    points = QgsWkbTypes.geometryType(source.wkbType()) == GEOMETRY_POINT
    if points and not is_set(parameters, POINT_SIZE):
        return ("The label layer holds points: give the size of the objects in pixels (POINT_SIZE, e.g. 20) so "
                "that each point becomes a box of that side around it.")
    return None


def _additional_given(parameters: dict[str, Any]) -> bool:
    value = parameters.get(ADDITIONAL_INPUTS)
    return bool(value) if isinstance(value, (list, tuple)) else is_set(parameters, ADDITIONAL_INPUTS)


def detection_settings(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any],
                       context: QgsProcessingContext) -> dict[str, Any]:
    """The configuration's ``detection`` section: the point size when given (other settings keep the training
    side's defaults, see docs/detection.md)."""
    if not is_set(parameters, POINT_SIZE):
        return {}
    return {"point_size": algorithm.parameterAsDouble(parameters, POINT_SIZE, context)}
