"""seamless:similarity, "Similarity search with an embedding model"."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)

from ...core.cells.neighbours import DISTANCES
from ...core.errors import InputError
from ..common.base import SeamlessAlgorithm, with_help
from ..common.cell_parameters import DEVICE, cell_choice, cell_parameters
from ..common.layer_inputs import field_problem, is_set, vector_path
from ..common.parameter_checks import RasterFileParameter
from ..common.qgis_compat import NUMBER_INTEGER, SOURCE_VECTOR_POINT, SOURCE_VECTOR_POLYGON
from ..common.raster_inputs import input_fields, input_parameters
from ..common.run_checks import check_run_parameters

if TYPE_CHECKING:
    from ...adapters.cells.similarity import SimilarityRequest
    from ...core.progress import Progress

HELP = """<p>Finds the places that look like examples: an embedding model (an encoder, a siamese network trained
by this plugin's training package, or any ONNX model giving one vector per window; contract task "embedding")
gives a vector per cell, and each cell is compared with the cells under example points or polygons.</p>
<p>OUTPUT_SIMILARITY holds, per class of examples (one class without EXAMPLES_FIELD), the cosine similarity of
each cell's vector to the class's prototype (the mean direction of its examples' vectors): 1 is the same, 0
unrelated. With labelled examples (EXAMPLES_FIELD), OUTPUT_KNN gives each cell the class most of its K nearest
example cells have (cosine or euclidean DISTANCE), and OUTPUT_KNN_SCORE the share of the K votes that class got.
OUTPUT_VECTOR is a polygon grid with every result; OUTPUT_EMBEDDINGS a GeoPackage of the cells and their vectors
(one field per dimension, e_000, e_001, ...), for use elsewhere.</p>
<p>Cells are sized and read as in Classify tiles (CELL_SIZE, BORDER), with the same inputs, areas, devices and
refusals as Classify raster. Examples may lie outside the processing area, but over the raster.</p>"""


class SimilarityAlgorithm(SeamlessAlgorithm):
    """Parameters in, SimilarityRequest out, the job does the work."""

    NAME = "similarity"
    DISPLAY_NAME = "Similarity search with an embedding model"
    HELP = HELP

    INPUT, MODEL, CONTRACT, BANDS, EXTENT = "INPUT", "MODEL", "CONTRACT", "BANDS", "EXTENT"
    EXAMPLES, EXAMPLES_FIELD, K, DISTANCE = "EXAMPLES", "EXAMPLES_FIELD", "K", "DISTANCE"
    OUTPUTS = {"similarity_path": "OUTPUT_SIMILARITY", "knn_path": "OUTPUT_KNN", "knn_score_path": "OUTPUT_KNN_SCORE",
               "vector_path": "OUTPUT_VECTOR", "embeddings_path": "OUTPUT_EMBEDDINGS"}

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API name
        for parameter, help_text, advanced in self._parameters():
            self.addParameter(with_help(parameter, help_text, advanced))
        self.addOutput(QgsProcessingOutputString("PROVIDER", "Execution provider that ran the model"))
        self.addOutput(QgsProcessingOutputNumber("CELLS", "Cells with a result"))
        self.addOutput(QgsProcessingOutputNumber("EXAMPLE_CELLS", "Example cells compared with"))
        self.addOutput(QgsProcessingOutputString("KNN_COUNTS", "Cells per k-NN class (JSON)"))
        self.addOutput(QgsProcessingOutputNumber("SECONDS", "Time taken (s)"))

    def _parameters(self) -> list[tuple[Any, str, bool]]:
        distance = QgsProcessingParameterEnum(self.DISTANCE, "Distance for k-NN", list(DISTANCES),
                                              defaultValue=DISTANCES[0])
        distance.setUsesStaticStrings(True)
        return [
            (RasterFileParameter(self.INPUT, "Input raster"),
             "The raster to search: any raster layer QGIS displays, any band count and data type.", False),
            (QgsProcessingParameterFile(self.MODEL, "Embedding model (.onnx)", extension="onnx"),
             "An ONNX model giving one vector per window: (batch, bands, height, width) in, (batch, dimensions) out; "
             "contract task \"embedding\" (a CONTRACT sidecar can say so for encoders made elsewhere).", False),
            (QgsProcessingParameterFile(self.CONTRACT, "Model contract (sidecar JSON)", extension="json",
                                        optional=True),
             "Optional JSON with the model contract's fields, overriding the model's own metadata (see "
             "docs/cells.md).", True),
            (QgsProcessingParameterString(self.BANDS, "Bands, in the model's input order (e.g. 3,2,1)",
                                          optional=True),
             "1-based raster band numbers fed to the model, in its input order. Empty: bands 1..N when the raster "
             "has exactly the model's band count.", False),
            (QgsProcessingParameterExtent(self.EXTENT, "Processing extent", optional=True),
             "Only compare cells of this part of the raster (default: the whole layer); cells start at its top-left "
             "corner.", False),
            (QgsProcessingParameterFeatureSource(self.EXAMPLES, "Examples (points or polygons)",
                                                 [SOURCE_VECTOR_POINT, SOURCE_VECTOR_POLYGON], optional=True),
             "What to look for: points (the cell each falls in) or polygons (every cell whose centre they hold), in "
             "any CRS, over the raster (outside the processing area too). Needed for everything but "
             "OUTPUT_EMBEDDINGS.", False),
            (QgsProcessingParameterField(self.EXAMPLES_FIELD, "Class field of the examples",
                                         parentLayerParameterName=self.EXAMPLES, optional=True),
             "A field holding each example's class (class codes, or names numbered from 1 alphabetically): a "
             "similarity band per class, and k-NN classes. Empty: all examples are one class.", False),
            (QgsProcessingParameterNumber(self.K, "K (neighbours that vote)", NUMBER_INTEGER, defaultValue=5,
                                          minValue=1),
             "How many of the nearest example cells vote for a cell's k-NN class; at most the number of labelled "
             "example cells.", False),
            (distance, "cosine: 1 - the cosine of the angle between vectors (their lengths do not count); "
             "euclidean: the straight-line distance between the vectors.", False),
            *input_parameters(),
            *cell_parameters(),
            (QgsProcessingParameterRasterDestination("OUTPUT_SIMILARITY", "Similarity", optional=True),
             "Float32 GeoTIFF of one pixel per cell, one band per class of examples: the cosine similarity to the "
             "class's prototype, from -1 to 1 (nodata -2). Styled with a colour ramp.", False),
            (QgsProcessingParameterRasterDestination("OUTPUT_KNN", "k-NN classes", optional=True,
                                                     createByDefault=False),
             "GeoTIFF of one pixel per cell: the k-NN class (needs EXAMPLES_FIELD), with the examples' class names.",
             False),
            (QgsProcessingParameterRasterDestination("OUTPUT_KNN_SCORE", "k-NN score", optional=True,
                                                     createByDefault=False),
             "Float32 GeoTIFF of one pixel per cell: the share of the K votes the k-NN class got (nodata -1).", False),
            (QgsProcessingParameterVectorDestination("OUTPUT_VECTOR", "Cell polygons", SOURCE_VECTOR_POLYGON,
                                                     optional=True, createByDefault=False),
             "GeoPackage of one polygon per cell with cell_row, cell_col, coverage, knn_value, knn_name, knn_score "
             "(labelled examples) and sim_<class> per class.", False),
            (QgsProcessingParameterVectorDestination("OUTPUT_EMBEDDINGS", "Cell vectors", SOURCE_VECTOR_POLYGON,
                                                     optional=True, createByDefault=False),
             "GeoPackage of one polygon per cell with its vector: fields e_000, e_001, ... (vectors of more than 1024 "
             "dimensions: one binary field 'embedding' of little-endian float32). Parquet is not offered: it needs "
             "pyarrow.", False),
        ]

    def parameter_problem(self, parameters: dict, context: QgsProcessingContext) -> str | None:
        from ...core.cells.loading import require_task
        from ...core.progress import LoggingProgress

        problem = field_problem(self, parameters, self.EXAMPLES, self.EXAMPLES_FIELD, context)
        if problem:
            return problem
        request = self._request(parameters, context, LoggingProgress(), None)
        request.check()
        check_run_parameters(request)
        require_task(request.model_path, request.contract_path, "embedding")
        return None

    def process(self, parameters: dict, context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...adapters.cells.similarity import similarity
        from ..common.cell_styles import QgisCellStyler
        from ..common.feedback import FeedbackProgress

        progress = FeedbackProgress(feedback)
        request = self._request(parameters, context, progress, feedback)
        result = similarity(request, progress, QgisCellStyler())
        names = {c.value: c.name for c in result.classes}
        counts = {names.get(v, str(v)): n for v, n in result.knn_counts.items()}
        return {**{name: getattr(request, key) for key, name in self.OUTPUTS.items()}, "PROVIDER": result.provider,
                "CELLS": result.summary.cells, "EXAMPLE_CELLS": result.examples,
                "KNN_COUNTS": json.dumps(counts) if counts else "", "SECONDS": round(result.seconds, 3)}

    def _output(self, parameters: dict, name: str, context: QgsProcessingContext) -> str | None:
        if not is_set(parameters, name):
            return None
        return str(self.parameterAsOutputLayer(parameters, name, context)).split("|")[0] or None

    def _request(self, parameters: dict, context: QgsProcessingContext, progress: "Progress",
                 feedback: QgsProcessingFeedback | None) -> "SimilarityRequest":
        from ...adapters.cells.similarity import SimilarityRequest
        from ...adapters.inputs.raster_area import parse_bands

        if not parameters.get(self.INPUT):
            raise InputError("INPUT is missing: choose a raster layer or file.")
        outputs: dict[str, Any] = {key: self._output(parameters, name, context) for key, name in self.OUTPUTS.items()}
        examples, layer = vector_path(self, parameters, self.EXAMPLES, context, feedback)
        return SimilarityRequest(
            model_path=self.parameterAsFile(parameters, self.MODEL, context),
            contract_path=self.parameterAsFile(parameters, self.CONTRACT, context) or None,
            bands=parse_bands(self.parameterAsString(parameters, self.BANDS, context)),
            device=self.parameterAsString(parameters, DEVICE, context) or "auto",
            cells=cell_choice(self, parameters, context), examples_path=examples, examples_layer=layer,
            examples_field=self.parameterAsString(parameters, self.EXAMPLES_FIELD, context) or None,
            k=self.parameterAsInt(parameters, self.K, context),
            distance=self.parameterAsEnumString(parameters, self.DISTANCE, context) or DISTANCES[0],
            **outputs, **input_fields(self, parameters, context, progress, feedback))
