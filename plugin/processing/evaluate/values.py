"""The continuous side of ``seamless:evaluate``: a value raster (a regression model's output) against a reference
raster of values: MAE, RMSE, R², bias, a density scatter plot in the report, JSON and a one-row table. The
parameters are the algorithm's; only those that make sense for values are accepted."""
from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingFeedback,
)

from ...adapters.accuracy.value_report import VALUE_TABLE_COLUMNS, summary_line, write_value_outputs
from ...adapters.accuracy.values import assess_values, is_value_raster
from ...core.errors import InputError
from ..common.feedback import FeedbackProgress
from ..common.layer_inputs import area_spec, is_set, optional_int, raster_path
from ..common.qgis_compat import WKB_NO_GEOMETRY
from ..common.tables import table_fields, write_rows

KINDS = ("auto", "classes", "values")
SCORES = {"MAE": "mae", "RMSE": "rmse", "R2": "r2", "BIAS": "bias"}
CLASS_ONLY = ("REFERENCE_LAYER", "REFERENCE_FIELD", "CLASS_NAMES", "REFERENCE_CLASSES")


def assesses_values(kind: str, classified: str | None) -> bool:
    """Whether INPUT is assessed as continuous values: KIND says so, or (auto) the raster is a value raster."""
    if kind == "values":
        return True
    return kind == "auto" and bool(classified) and is_value_raster(str(classified))


def values_problem(parameters: dict[str, Any]) -> str | None:
    """What is wrong with the parameters for a value assessment, or None."""
    given = [name for name in CLASS_ONLY if is_set(parameters, name)]
    if given:
        return (f"INPUT holds continuous values (a regression model's value raster), assessed against a reference "
                f"raster of the same quantity (REFERENCE); {', '.join(given)} belong to class rasters. Leave "
                f"{'it' if len(given) == 1 else 'them'} out, or set KIND=classes if INPUT holds classes.")
    if not is_set(parameters, "REFERENCE"):
        return "REFERENCE is missing: give the raster of reference values to compare the predicted values with."
    return None


def assess_value_raster(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], context: QgsProcessingContext,
                        feedback: QgsProcessingFeedback, outputs: dict[str, str | None], classified: str) -> dict:
    """Run the value assessment and write its outputs; the algorithm's results."""
    problem = values_problem(parameters)
    if problem:
        raise InputError(problem)
    reference = raster_path(algorithm, parameters, "REFERENCE", context) or ""
    assessment = assess_values(classified, reference, area_spec(algorithm, parameters, context, feedback),
                               optional_int(algorithm, parameters, "REFERENCE_NODATA", context),
                               FeedbackProgress(feedback, 0, 90))
    report, json_path = outputs["OUTPUT_REPORT"], outputs["OUTPUT_JSON"]
    write_value_outputs(assessment, report, json_path)
    fields = table_fields(VALUE_TABLE_COLUMNS)
    sink, table_id = algorithm.parameterAsSink(parameters, "OUTPUT_TABLE", context, fields, WKB_NO_GEOMETRY,
                                               QgsCoordinateReferenceSystem())
    if sink is not None:
        write_rows(sink, fields, [assessment.table_row()])
    feedback.pushInfo(f"{assessment.band_name}: {summary_line(assessment)}.")
    scores = assessment.scores.to_dict()
    return {"OUTPUT_REPORT": report, "OUTPUT_JSON": json_path, "OUTPUT_TABLE": table_id,
            **{output: scores[key] for output, key in SCORES.items()}}
