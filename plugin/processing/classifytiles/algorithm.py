"""seamless:classifytiles, "Classify tiles with model"."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)

from ...core.errors import InputError
from ..common.base import SeamlessAlgorithm, with_help
from ..common.cell_parameters import DEVICE, cell_choice, cell_parameters
from ..common.layer_inputs import is_set
from ..common.parameter_checks import RasterFileParameter
from ..common.qgis_compat import SOURCE_VECTOR_POLYGON
from ..common.raster_inputs import input_fields, input_parameters
from ..common.run_checks import check_run_parameters

if TYPE_CHECKING:
    from ...adapters.cells.job import TilesRequest
    from ...core.progress import Progress

HELP = """<p>Runs a model that gives one result per window over a grid of cells: an image classifier (MobileNetV2,
a ResNet, any ONNX classifier: one class per cell, such as land use per 100 m cell or "is there a solar farm
here") or a per-cell regressor (one value per cell, such as the share of a land cover or mean NDVI).</p>
<p>The model's contract (task "classification", embedded, or a CONTRACT sidecar for classifiers made elsewhere)
says its bands, normalisation, classes or regression values (units, valid range) and the context border it was
trained with. A cell is the model's window less that border, or CELL_SIZE map units: the raster is then read at
the resolution that fits a cell and its border into the model's window. Cells start at the processing area's
top-left corner; the last ones may reach past it (their coverage field says how much of them is inside).</p>
<p>The inputs, areas, devices and refusals are those of Classify raster: any raster layer, ADDITIONAL_INPUTS,
EXTENT, a MASK, nodata. Cells outside the MASK or without a valid pixel are left out: nodata in the rasters, no
polygon. OUTPUT is a raster of one pixel per cell: the class (styled with the model's classes) or the values
(a colour ramp). OUTPUT_PROBABILITIES adds each class's probability; OUTPUT_VECTOR is a polygon grid with the
class value, name, score and probabilities (or the values), styled.</p>"""


class ClassifyTilesAlgorithm(SeamlessAlgorithm):
    """Parameters in, TilesRequest out, the job does the work."""

    NAME = "classifytiles"
    DISPLAY_NAME = "Classify tiles with model"
    HELP = HELP

    INPUT, MODEL, CONTRACT, BANDS, EXTENT = "INPUT", "MODEL", "CONTRACT", "BANDS", "EXTENT"
    OUTPUT, OUTPUT_PROBABILITIES, OUTPUT_VECTOR = "OUTPUT", "OUTPUT_PROBABILITIES", "OUTPUT_VECTOR"

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API name
        for parameter, help_text, advanced in self._parameters():
            self.addParameter(with_help(parameter, help_text, advanced))
        self.addOutput(QgsProcessingOutputString("PROVIDER", "Execution provider that ran the model"))
        self.addOutput(QgsProcessingOutputNumber("CELLS", "Cells with a result"))
        self.addOutput(QgsProcessingOutputString("CLASS_COUNTS", "Cells per class (JSON; empty for regressors)"))
        self.addOutput(QgsProcessingOutputNumber("SECONDS", "Time taken (s)"))

    def _parameters(self) -> list[tuple[Any, str, bool]]:
        return [
            (RasterFileParameter(self.INPUT, "Input raster"),
             "The raster to classify cell by cell: any raster layer QGIS displays (files, web maps, WCS, database "
             "rasters), any band count and data type.", False),
            (QgsProcessingParameterFile(self.MODEL, "Model (.onnx)", extension="onnx"),
             "An ONNX model giving one class vector or one or more values per window: (batch, bands, height, width) "
             "in, (batch, classes) or (batch, values) out.", False),
            (QgsProcessingParameterFile(self.CONTRACT, "Model contract (sidecar JSON)", extension="json",
                                        optional=True),
             "Optional JSON with the model contract's fields, overriding the model's own metadata; for classifiers "
             "made elsewhere: {\"task\": \"classification\", \"input\": {...}, \"outputs\": [{\"kind\": \"logits\", "
             "\"classes\": [...]}]} (see docs/cells.md).", True),
            (QgsProcessingParameterString(self.BANDS, "Bands, in the model's input order (e.g. 3,2,1)",
                                          optional=True),
             "1-based raster band numbers fed to the model, in the model's input order. Empty: bands 1..N when the "
             "raster has exactly the model's band count (an alpha band is left out).", False),
            (QgsProcessingParameterExtent(self.EXTENT, "Processing extent", optional=True),
             "Only classify cells of this part of the raster (default: the whole layer); the cells start at its "
             "top-left corner. Pixels around it are still read as context.", False),
            *input_parameters(),
            *cell_parameters(),
            (QgsProcessingParameterRasterDestination(self.OUTPUT, "Cells"),
             "A GeoTIFF of one pixel per cell: class values (nodata 255, or 65535 for class values above 254) with "
             "the model's class names and colours, or float32 regression values (one band per value, nodata "
             "-3.4e38). Cloud-optimised, styled.", False),
            (QgsProcessingParameterRasterDestination(self.OUTPUT_PROBABILITIES, "Class probabilities", optional=True,
                                                     createByDefault=False),
             "Optional float32 GeoTIFF of one pixel per cell and one band per class, nodata -1 (classifiers only).",
             False),
            (QgsProcessingParameterVectorDestination(self.OUTPUT_VECTOR, "Cell polygons", SOURCE_VECTOR_POLYGON,
                                                     optional=True, createByDefault=False),
             "Optional GeoPackage: one square polygon per cell with a result, with cell_row, cell_col, coverage (the "
             "share of the cell's pixels that are valid and inside the area), and class_value, class_name, score "
             "and p_<class> per class, or the values (value, or value_<name>). Styled by class or value.", False),
        ]

    def parameter_problem(self, parameters: dict, context: QgsProcessingContext) -> str | None:
        from ...core.cells.loading import require_task
        from ...core.progress import LoggingProgress

        request = self._request(parameters, context, LoggingProgress(), None)
        request.check_paths()
        check_run_parameters(request)
        require_task(request.model_path, request.contract_path, "classification")
        return None

    def process(self, parameters: dict, context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...adapters.cells.job import classify_tiles
        from ..common.cell_styles import QgisCellStyler
        from ..common.feedback import FeedbackProgress

        progress = FeedbackProgress(feedback)
        request = self._request(parameters, context, progress, feedback)
        result = classify_tiles(request, progress, QgisCellStyler())
        names = {c.value: c.name for c in result.contract.outputs[0].classes}
        counts = {names.get(value, str(value)): count for value, count in sorted(result.class_counts.items())}
        for name, count in counts.items():
            progress.info(f"  {name}: {count} cell(s)")
        if result.value_range is not None:
            progress.info(f"Values from {result.value_range[0]:.6g} to {result.value_range[1]:.6g}.")
        if context.willLoadLayerOnCompletion(request.output_path):
            details = context.layerToLoadOnCompletionDetails(request.output_path)
            details.name = f"Cells ({result.contract.name})" if result.contract.name else "Cells"
        return {self.OUTPUT: request.output_path, self.OUTPUT_PROBABILITIES: request.probabilities_path,
                self.OUTPUT_VECTOR: request.vector_path, "PROVIDER": result.provider, "CELLS": result.summary.cells,
                "CLASS_COUNTS": json.dumps(counts) if counts else "", "SECONDS": round(result.summary.seconds, 3)}

    def _request(self, parameters: dict, context: QgsProcessingContext, progress: "Progress",
                 feedback: QgsProcessingFeedback | None) -> "TilesRequest":
        from ...adapters.cells.job import TilesRequest
        from ...adapters.inputs.raster_area import parse_bands

        if not parameters.get(self.INPUT):
            raise InputError("INPUT is missing: choose a raster layer or file.")
        outputs = {key: self.parameterAsOutputLayer(parameters, key, context) or None
                   for key in (self.OUTPUT, self.OUTPUT_PROBABILITIES)}
        vector = self.parameterAsOutputLayer(parameters, self.OUTPUT_VECTOR, context) if is_set(
            parameters, self.OUTPUT_VECTOR) else None
        return TilesRequest(
            model_path=self.parameterAsFile(parameters, self.MODEL, context),
            output_path=outputs[self.OUTPUT] or "",
            contract_path=self.parameterAsFile(parameters, self.CONTRACT, context) or None,
            bands=parse_bands(self.parameterAsString(parameters, self.BANDS, context)),
            device=self.parameterAsString(parameters, DEVICE, context) or "auto",
            cells=cell_choice(self, parameters, context),
            probabilities_path=outputs[self.OUTPUT_PROBABILITIES],
            vector_path=str(vector).split("|")[0] if vector else None,
            **input_fields(self, parameters, context, progress, feedback))
