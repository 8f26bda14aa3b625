"""seamless:classify, "Classify raster with model"."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
)

from ...adapters.classify.report import class_areas, report_run
from ...core.engine.blending import BLENDINGS
from ...core.engine.grid import OVERLAP_PERCENT_RANGE
from ...core.engine.plan import RunOptions
from ...core.engine.tta import TTA_MODES
from ...core.errors import InputError
from ...core.model.contract_regression import is_regression
from ..common.base import SeamlessAlgorithm, with_help
from ..common.layer_inputs import is_set
from ..common.parameter_checks import RasterFileParameter
from ..common.qgis_compat import NUMBER_DOUBLE, NUMBER_INTEGER
from .checks import check_classify_parameters
from .io import OUTPUT_VECTOR, input_parameters, io_fields, output_parameters

if TYPE_CHECKING:
    from ...adapters.classify.job import ClassifyRequest
    from ...core.model.contract import ModelContract
    from ...core.progress import Progress

HELP = """<p>Classifies a raster with a semantic segmentation model in ONNX format (U-Net, FCN, or any
fully convolutional network), window by window, and blends overlapping windows smoothly so no seam shows
at window edges.</p>
<p>The model's contract (embedded metadata, a CONTRACT sidecar JSON, or Deepness plugin metadata) says
which bands it takes, how to normalise them, its classes and colours, its window size and ground
resolution. Rasters of any size, band count and data type are read in streaming fashion: memory does
not grow with the raster. Nodata and masked pixels are left out and written as nodata (255).</p>
<p>INPUT can be any raster layer QGIS displays: files (read directly by GDAL), and web maps (XYZ tiles,
WMS/WMTS), WCS coverages or database rasters, read through QGIS window by window; layers without a pixel
grid of their own are read at RESOLUTION in TARGET_CRS. ADDITIONAL_INPUTS append the bands of further
rasters (another date, bands in separate files); MASK restricts the run to polygons.</p>
<p>The class raster has the input's CRS and pixel grid (or the EXTENT's part of it), embedded class
names and colours, and is styled as a paletted layer when loaded. Rasters are written as cloud-optimised
GeoTIFFs with overviews. OUTPUT_VECTOR adds one polygon per connected region of one class (MIN_AREA merges
smaller regions into their neighbours, SIMPLIFY smooths outlines without gaps).</p>
<p>A regression model (continuous values, outputs of kind "regression" in its contract) runs the same way and
writes a float32 value raster at OUTPUT instead: the windows' values blended, nodata -9999, averaged overviews,
units in the band names and a continuous colour ramp with the units in its legend. Values outside the model's
valid range are counted and warned about (CLIP_TO_RANGE clips them). The class-only outputs (probabilities,
confidence, polygons and their options) are refused for such a model.</p>"""

DEFAULTS = RunOptions()  # the defaults of seamless:classify, from the one place they are set (as the CLI)


class ClassifyAlgorithm(SeamlessAlgorithm):
    """Parameters in, ClassifyRequest out, the job does the work."""

    NAME = "classify"
    DISPLAY_NAME = "Classify raster with model"
    HELP = HELP

    INPUT, MODEL, CONTRACT, BANDS, EXTENT = "INPUT", "MODEL", "CONTRACT", "BANDS", "EXTENT"
    WINDOW_SIZE, OVERLAP, BLENDING, TTA = "WINDOW_SIZE", "OVERLAP", "BLENDING", "TTA"
    BATCH_SIZE, DEVICE = "BATCH_SIZE", "DEVICE"
    OUTPUT, OUTPUT_PROBABILITIES, OUTPUT_CONFIDENCE = "OUTPUT", "OUTPUT_PROBABILITIES", "OUTPUT_CONFIDENCE"
    CLIP_TO_RANGE, VALUE_STATISTICS = "CLIP_TO_RANGE", "VALUE_STATISTICS"

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API name
        for parameter, help_text, advanced in self._parameters():
            self.addParameter(with_help(parameter, help_text, advanced))
        self.addOutput(QgsProcessingOutputString("PROVIDER", "Execution provider that ran the model"))
        self.addOutput(QgsProcessingOutputString("CLASS_AREAS", "Class areas in map units (JSON)"))
        self.addOutput(QgsProcessingOutputString(self.VALUE_STATISTICS, "Regression models: the values per band "
                                                 "(JSON)"))
        self.addOutput(QgsProcessingOutputNumber("SECONDS", "Time taken (s)"))

    def _parameters(self) -> list[tuple[Any, str, bool]]:
        blending = QgsProcessingParameterEnum(self.BLENDING, "Blending of overlapping windows", list(BLENDINGS),
                                              defaultValue=DEFAULTS.blending)
        tta = QgsProcessingParameterEnum(self.TTA, "Test-time augmentation", list(TTA_MODES),
                                         defaultValue=DEFAULTS.tta)
        for enum in (blending, tta):
            enum.setUsesStaticStrings(True)
        integer, double = NUMBER_INTEGER, NUMBER_DOUBLE
        return [
            (RasterFileParameter(self.INPUT, "Input raster"),
             "The raster to classify: any raster layer QGIS displays (files, web maps such as XYZ tiles and WMS, "
             "WCS, database rasters), any band count and data type.", False),
            (QgsProcessingParameterFile(self.MODEL, "Model (.onnx)", extension="onnx"),
             "An ONNX segmentation model: (batch, bands, height, width) in, class scores out.", False),
            (QgsProcessingParameterFile(self.CONTRACT, "Model contract (sidecar JSON)", extension="json",
                                        optional=True),
             "Optional JSON with the model contract's fields; fields given here override the model's own "
             "metadata (see docs/model_contract.md).", True),
            (QgsProcessingParameterString(self.BANDS, "Bands, in the model's input order (e.g. 3,2,1)",
                                          optional=True),
             "1-based raster band numbers fed to the model, in the model's input order. Empty: bands 1..N "
             "when the raster has exactly the model's band count (an alpha band is left out).", False),
            (QgsProcessingParameterExtent(self.EXTENT, "Processing extent", optional=True),
             "Only classify this part of the raster (default: the whole layer). Pixels around it are still "
             "read as context.", False),
            *input_parameters(),
            (QgsProcessingParameterNumber(self.WINDOW_SIZE, "Window size (pixels, 0 = from the model)", integer,
                                          defaultValue=DEFAULTS.window_size, minValue=0),
             "Side of the square windows. 0: the model's size; for models with dynamic spatial axes the size "
             "from 512 to 1024 that predicts the fewest pixels over the area (larger windows recompute less "
             "overlap). Must be a multiple of the model's size_multiple; fixed-size models accept only their "
             "size.", True),
            (QgsProcessingParameterNumber(self.OVERLAP, "Overlap (% of the window; not set = from the model's "
                                          "context margin)", double, optional=True,
                                          minValue=OVERLAP_PERCENT_RANGE[0], maxValue=OVERLAP_PERCENT_RANGE[1]),
             f"How much neighbouring windows overlap, {OVERLAP_PERCENT_RANGE[0]:g} to {OVERLAP_PERCENT_RANGE[1]:g} "
             "percent, rounded to the model's size multiple. Not "
             "set (the default; on the command line leave OVERLAP out): just enough for the model's context "
             "margin, from its contract or measured once on this raster and cached (twice the margin plus a "
             "16 px ramp for smooth blending, twice the margin for crop); 25 % when no margin can be had.", False),
            (blending, "smooth: weights zero in a context margin at window edges rising smoothly inside "
             "(default, seam-free); average: flat weights; crop: keep each window's centre (as the Deepness "
             "plugin does).", False),
            (tta, "none; flips: 4 mirrored versions per window; d4: all 8 rotations and mirrors. Predictions "
             "are averaged in probability space (4 or 8 times slower).", False),
            (QgsProcessingParameterNumber(self.BATCH_SIZE, "Batch size (windows per model run, 0 = by device)",
                                          integer, defaultValue=DEFAULTS.batch_size, minValue=0),
             "Windows sent to the model at once. 0: 1 on the CPU (more brings no speed there and multiplies the "
             "model's memory), 4 on a GPU. Memory grows with it.", True),
            (QgsProcessingParameterString(self.DEVICE, "Device", defaultValue="auto"),
             "auto (best available: TensorRT, CUDA, DirectML, CoreML, then CPU), cpu, cuda, cuda:N, tensorrt, "
             "directml, coreml, rocm, openvino, or an onnxruntime provider name. A named device that is not "
             "available stops the run with a message instead of falling back to the CPU.", True),
            (QgsProcessingParameterRasterDestination(self.OUTPUT, "Classes (values, for a regression model)"),
             "The class raster (GeoTIFF): one band per model output, class values from the contract, nodata "
             "255 (65535 for class values above 254), class names and colours embedded. For a regression model: "
             "the value raster, float32, one band per predicted quantity, nodata -9999.", False),
            (QgsProcessingParameterRasterDestination(self.OUTPUT_PROBABILITIES, "Class probabilities",
                                                     optional=True, createByDefault=False),
             "Optional float32 GeoTIFF with one band per class (blended probabilities), nodata -1.", False),
            (QgsProcessingParameterRasterDestination(self.OUTPUT_CONFIDENCE, "Confidence", optional=True,
                                                     createByDefault=False),
             "Optional float32 GeoTIFF: the highest class probability of each pixel, nodata -1.", False),
            *output_parameters(),
            (QgsProcessingParameterBoolean(self.CLIP_TO_RANGE, "Clip values to the model's valid range",
                                           defaultValue=False),
             "Regression models only: values the model predicts outside the valid range its contract states "
             "(valid_range) are set to the nearest bound. Off: they are written as predicted, counted and warned "
             "about.", True),
        ]

    def parameter_problem(self, parameters: dict, context: QgsProcessingContext) -> str | None:
        from ...core.progress import LoggingProgress

        request = self._request(parameters, context, LoggingProgress(), None)
        request.check_paths()
        check_classify_parameters(request)
        return None

    def process(self, parameters: dict, context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...adapters.classify.job import classify
        from ..common.feedback import FeedbackProgress
        from ..common.styling import write_default_style, write_vector_style

        progress = FeedbackProgress(feedback)
        request = self._request(parameters, context, progress, feedback)
        result = classify(request, progress, style_writer=write_default_style, vector_style_writer=write_vector_style)
        report_run(result, progress)
        polygons = self._style_loaded_layers(context, request, result.contract)
        return {self.OUTPUT: request.output_path, self.OUTPUT_PROBABILITIES: request.probabilities_path,
                self.OUTPUT_CONFIDENCE: request.confidence_path, OUTPUT_VECTOR: polygons,
                "PROVIDER": result.provider, "CLASS_AREAS": json.dumps(class_areas(result)),
                self.VALUE_STATISTICS: json.dumps(result.values.to_dict()) if result.values is not None else "",
                "SECONDS": round(result.seconds, 3)}

    def _request(self, parameters: dict, context: QgsProcessingContext, progress: "Progress",
                 feedback: QgsProcessingFeedback | None) -> "ClassifyRequest":
        from ...adapters.classify.job import ClassifyRequest
        from ...adapters.inputs.raster_area import parse_bands

        if not parameters.get(self.INPUT):
            raise InputError("INPUT is missing: choose a raster layer or file.")
        outputs = {key: self.parameterAsOutputLayer(parameters, key, context) or None
                   for key in (self.OUTPUT, self.OUTPUT_PROBABILITIES, self.OUTPUT_CONFIDENCE)}
        return ClassifyRequest(
            model_path=self.parameterAsFile(parameters, self.MODEL, context),
            output_path=outputs[self.OUTPUT] or "",
            contract_path=self.parameterAsFile(parameters, self.CONTRACT, context) or None,
            bands=parse_bands(self.parameterAsString(parameters, self.BANDS, context)),
            device=self.parameterAsString(parameters, self.DEVICE, context) or "auto",
            options=self._options(parameters, context),
            probabilities_path=outputs[self.OUTPUT_PROBABILITIES], confidence_path=outputs[self.OUTPUT_CONFIDENCE],
            clip_to_range=self.parameterAsBool(parameters, self.CLIP_TO_RANGE, context),
            **io_fields(self, parameters, context, progress, feedback))

    def _options(self, parameters: dict, context: QgsProcessingContext) -> RunOptions:
        """The run options the user set (what is written follows the outputs: ClassifyRequest decides it)."""
        return RunOptions(
            window_size=self.parameterAsInt(parameters, self.WINDOW_SIZE, context),
            overlap=self.parameterAsDouble(parameters, self.OVERLAP, context) if is_set(parameters, self.OVERLAP)
            else None,
            blending=self.parameterAsEnumString(parameters, self.BLENDING, context) or DEFAULTS.blending,
            tta=self.parameterAsEnumString(parameters, self.TTA, context) or DEFAULTS.tta,
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context))

    @staticmethod
    def _style_loaded_layers(context: QgsProcessingContext, request: "ClassifyRequest",
                             contract: "ModelContract") -> str | None:
        """Name and style the class raster and the polygons the context loads when the run ends; the polygons'
        layer as OUTPUT_VECTOR's result (``file.gpkg|layername=name``). A regression model's value raster is named
        "Values" and gets its continuous style."""
        from ..common.styling import style_on_loading, values_on_loading

        suffix = f" ({contract.name})" if contract.name else ""
        if is_regression(contract):  # a value raster, styled by the colour ramp written beside it
            values_on_loading(context, request.output_path, f"Values{suffix}")
            return None
        classes = contract.outputs[0].classes
        style_on_loading(context, request.output_path, f"Classes{suffix}", classes)
        target = request.vector_destination
        if target is None:
            return None
        style_on_loading(context, target.path, f"Class polygons{suffix}", classes, target.uri)
        return target.uri
