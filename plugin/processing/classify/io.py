"""The outputs of seamless:classify beyond the class, probability and confidence rasters: the class polygons
(OUTPUT_VECTOR, MIN_AREA, SIMPLIFY, SIEVE, VECTOR_CONFIDENCE), their parameters, and the request fields they and the
shared inputs (:mod:`..common.raster_inputs`: web maps, ADDITIONAL_INPUTS, MASK, nodata) give.
"""
from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorDestination,
)

from ...adapters.classify.finishing import VectorOptions
from ...core.progress import Progress
from ..common.layer_inputs import is_set
from ..common.qgis_compat import NUMBER_DOUBLE, SOURCE_VECTOR_POLYGON
from ..common.raster_inputs import input_fields, input_parameters

__all__ = ["OUTPUT_VECTOR", "input_parameters", "io_fields", "output_parameters"]

OUTPUT_VECTOR, MIN_AREA, SIMPLIFY, SIEVE, VECTOR_CONFIDENCE = (
    "OUTPUT_VECTOR", "MIN_AREA", "SIMPLIFY", "SIEVE", "VECTOR_CONFIDENCE")


def output_parameters() -> list[tuple[Any, str, bool]]:
    """(parameter, help, advanced) for the polygon output, in dialog order after the rasters."""
    double = NUMBER_DOUBLE
    return [
        (QgsProcessingParameterVectorDestination(OUTPUT_VECTOR, "Class polygons", SOURCE_VECTOR_POLYGON,
                                                 optional=True, createByDefault=False),
         "Optional GeoPackage: one polygon per connected region of one class, with fields class_value, "
         "class_name, area_m2 (planar square metres in a projected CRS, on the ellipsoid for geographic CRSs) "
         "and, with VECTOR_CONFIDENCE, mean_confidence. Styled with the model's class colours. A layer name "
         "(file.gpkg|layername=classes) writes that layer; other layers of an existing GeoPackage are kept.", False),
        (QgsProcessingParameterNumber(MIN_AREA, "Minimum region area (m²)", double, defaultValue=0.0, minValue=0.0),
         "Regions smaller than this are merged into their largest neighbouring region (removed where they "
         "have none) in the polygons, and in the class raster too when SIEVE is on. Measured as area_m2 measures "
         "it (a 10 m pixel is 100 m²): a region of exactly MIN_AREA is kept. 0: keep every region.",
         False),
        (QgsProcessingParameterBoolean(SIEVE, "Apply the minimum area to the class raster too", defaultValue=False),
         "Also merge regions smaller than MIN_AREA in the class raster, so raster and polygons agree.", False),
        (QgsProcessingParameterNumber(SIMPLIFY, "Simplify polygons (tolerance in map units)", double,
                                      defaultValue=0.0, minValue=0.0),
         "Douglas-Peucker tolerance for the polygon outlines; shared boundaries are simplified alike, so "
         "neighbouring polygons keep meeting without gaps or overlaps. 0: exact pixel outlines.", True),
        (QgsProcessingParameterBoolean(VECTOR_CONFIDENCE, "Add the mean confidence to each polygon",
                                       defaultValue=False),
         "A mean_confidence field: the average highest class probability over the region's pixels.", True),
    ]


def io_fields(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], context: QgsProcessingContext,
              progress: Progress, feedback: QgsProcessingFeedback | None, input_name: str = "INPUT",
              extent_name: str = "EXTENT") -> dict[str, Any]:
    """The ClassifyRequest fields these parameters (and INPUT, EXTENT) give."""
    vector = algorithm.parameterAsOutputLayer(parameters, OUTPUT_VECTOR, context) if is_set(
        parameters, OUTPUT_VECTOR) else None
    return {
        **input_fields(algorithm, parameters, context, progress, feedback, input_name, extent_name),
        "vector_path": str(vector) if vector else None,  # a file, or a file and its layer (the job reads both)
        "vector": VectorOptions(algorithm.parameterAsDouble(parameters, MIN_AREA, context),
                                algorithm.parameterAsDouble(parameters, SIMPLIFY, context),
                                algorithm.parameterAsBool(parameters, SIEVE, context),
                                algorithm.parameterAsBool(parameters, VECTOR_CONFIDENCE, context)),
    }
