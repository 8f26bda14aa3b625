"""seamless:detect, "Detect objects with model"."""
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
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)

from ...core.detection.merger import DetectionSettings
from ...core.engine.grid import OVERLAP_PERCENT_RANGE
from ...core.engine.tta import TTA_MODES
from ...core.errors import InputError
from ..common.base import SeamlessAlgorithm, with_help
from ..common.layer_inputs import is_set, optional_int
from ..common.parameter_checks import RasterFileParameter
from ..common.qgis_compat import NUMBER_DOUBLE, NUMBER_INTEGER, SOURCE_VECTOR_POINT, SOURCE_VECTOR_POLYGON
from ..common.raster_inputs import input_fields, input_parameters, optional_double
from ..common.run_checks import check_run_parameters

if TYPE_CHECKING:
    from ...adapters.detect.job import DetectRequest
    from ...core.model.contract import ModelContract
    from ...core.progress import Progress

HELP = """<p>Finds objects (trees, buildings, vehicles...) in a raster with an object detector in ONNX format, window by
window, and writes one box per object to a GeoPackage, with its class, class name and score.</p>
<p>Detectors trained with this plugin (RetinaNet, <code>python -m training train --architecture retinanet</code>)
carry their contract; YOLOv5 to YOLO11 (with or without built-in NMS, oriented boxes included), torchvision-style
and Deepness detectors run from their own metadata or a CONTRACT sidecar (see docs/detection.md).</p>
<p>Windows overlap by at least the largest object the contract declares, so every object is seen whole in some
window; detections cut by a window edge are dropped where a neighbouring window sees the object whole, and the
rest are merged across windows by class-wise non-maximum suppression (IOU), so an object on a window edge is
reported once. MIN_SCORE and MAX_DETECTIONS (per window) default to the contract's values.</p>
<p>The inputs are those of Classify raster: any raster layer QGIS displays (web maps read at RESOLUTION in
TARGET_CRS), ADDITIONAL_INPUTS, BANDS, EXTENT, a processing MASK (only detections centred inside it are kept) and
the nodata rule. The boxes (turned polygons for oriented detectors) are placed on the ground as the raster is and
styled by class; OUTPUT_CENTROIDS adds one point per box. The log gives the detections per class.</p>"""


class DetectAlgorithm(SeamlessAlgorithm):
    """Parameters in, DetectRequest out, the job does the work."""

    NAME = "detect"
    DISPLAY_NAME = "Detect objects with model"
    HELP = HELP

    INPUT, MODEL, CONTRACT, BANDS, EXTENT = "INPUT", "MODEL", "CONTRACT", "BANDS", "EXTENT"
    WINDOW_SIZE, OVERLAP, TTA, BATCH_SIZE, DEVICE = "WINDOW_SIZE", "OVERLAP", "TTA", "BATCH_SIZE", "DEVICE"
    MIN_SCORE, IOU, MAX_DETECTIONS = "MIN_SCORE", "IOU", "MAX_DETECTIONS"
    OUTPUT, OUTPUT_CENTROIDS = "OUTPUT", "OUTPUT_CENTROIDS"

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API name
        for parameter, help_text, advanced in self._inputs() + self._settings() + self._outputs():
            self.addParameter(with_help(parameter, help_text, advanced))
        self.addOutput(QgsProcessingOutputNumber("DETECTIONS", "Objects detected"))
        self.addOutput(QgsProcessingOutputString("CLASS_COUNTS", "Objects detected per class (JSON)"))
        self.addOutput(QgsProcessingOutputString("PROVIDER", "Execution provider that ran the model"))
        self.addOutput(QgsProcessingOutputNumber("SECONDS", "Time taken (s)"))

    def _inputs(self) -> list[tuple[Any, str, bool]]:
        return [
            (RasterFileParameter(self.INPUT, "Input raster"),
             "The raster to search: any raster layer QGIS displays (files, web maps such as XYZ tiles and WMS, WCS, "
             "database rasters), any band count and data type.", False),
            (QgsProcessingParameterFile(self.MODEL, "Detector (.onnx)", extension="onnx"),
             "An ONNX object detector: RetinaNet exported by this plugin's training, YOLOv5/v8/v11 (also with "
             "built-in NMS or oriented boxes), torchvision-style or Deepness detectors.", False),
            (QgsProcessingParameterFile(self.CONTRACT, "Model contract (sidecar JSON)", extension="json",
                                        optional=True),
             "Optional JSON with the contract's fields (task detection, output layout, classes, max_object_size_px); "
             "fields given here override the model's own metadata (see docs/detection.md).", True),
            (QgsProcessingParameterString(self.BANDS, "Bands, in the model's input order (e.g. 3,2,1)",
                                          optional=True),
             "1-based raster band numbers fed to the detector, in its input order. Empty: bands 1..N when the raster "
             "has exactly the detector's band count (an alpha band is left out).", False),
            (QgsProcessingParameterExtent(self.EXTENT, "Processing extent", optional=True),
             "Only search this part of the raster (default: the whole layer); only detections centred inside it "
             "are kept, their boxes clipped to it.", False),
            *input_parameters("Only detections centred on pixels inside these polygons (any CRS) are kept; windows "
                              "entirely outside are never read or run, so the time follows the masked area. Works "
                              "with EXTENT."),
        ]

    def _settings(self) -> list[tuple[Any, str, bool]]:
        tta = QgsProcessingParameterEnum(self.TTA, "Test-time augmentation", list(TTA_MODES), defaultValue="none")
        tta.setUsesStaticStrings(True)
        integer, double = NUMBER_INTEGER, NUMBER_DOUBLE
        return [
            (QgsProcessingParameterNumber(self.MIN_SCORE, "Minimum score (not set = the model's)", double,
                                          optional=True, minValue=0.0, maxValue=1.0),
             "Detections scoring less are dropped. Not set: the contract's score_threshold (the threshold of the "
             "best validation F1 for detectors trained here; 0.25 otherwise).", False),
            (QgsProcessingParameterNumber(self.IOU, "IoU threshold of non-maximum suppression (not set = the "
                                          "model's)", double, optional=True, minValue=0.01, maxValue=1.0),
             "Two boxes of one class overlapping by more than this intersection over union are one object: the "
             "better one is kept, within a window and across windows. Not set: the contract's (0.5).", False),
            (QgsProcessingParameterNumber(self.MAX_DETECTIONS, "Maximum detections per window (not set = the "
                                          "model's)", integer, optional=True, minValue=1),
             "At most this many detections per window, the best-scoring. Not set: the contract's (300).", True),
            (QgsProcessingParameterNumber(self.WINDOW_SIZE, "Window size (pixels, 0 = from the model)", integer,
                                          defaultValue=0, minValue=0),
             "Side of the square windows. 0: the model's fixed size, else its tile size (640 when it has none).",
             True),
            (QgsProcessingParameterNumber(self.OVERLAP, "Overlap (% of the window; not set = from the largest "
                                          "object)", double, optional=True, minValue=OVERLAP_PERCENT_RANGE[0],
                                          maxValue=OVERLAP_PERCENT_RANGE[1]),
             "How much neighbouring windows overlap. Not set (the default): the largest object the contract "
             "declares (max_object_size_px) plus 5 px, so every object is seen whole in some window; less warns "
             "that objects on window edges may be reported in parts.", True),
            (tta, "none; flips: 4 mirrored versions per window; d4: all 8 rotations and mirrors. Each box is scored "
             "by the variants' votes (4 or 8 times slower).", True),
            (QgsProcessingParameterNumber(self.BATCH_SIZE, "Batch size (windows per model run, 0 = by device)",
                                          integer, defaultValue=0, minValue=0),
             "Windows sent to the model at once. 0: 1 on the CPU, 4 on a GPU.", True),
            (QgsProcessingParameterString(self.DEVICE, "Device", defaultValue="auto"),
             "auto (best available), cpu, cuda, cuda:N, tensorrt, directml, coreml, rocm, openvino, or an "
             "onnxruntime provider name. A named device that is not available stops the run with a message.", True),
        ]

    def _outputs(self) -> list[tuple[Any, str, bool]]:
        return [
            (QgsProcessingParameterVectorDestination(self.OUTPUT, "Detections", SOURCE_VECTOR_POLYGON),
             "GeoPackage of one polygon per detected object (its box; turned for oriented detectors) with fields "
             "class_value, class_name, score, window_row, window_col (the window that reported it) and, for "
             "oriented boxes, angle_deg. Styled by class. A layer name (file.gpkg|layername=trees) names the "
             "layer; an existing GeoPackage holding other layers is refused.", False),
            (QgsProcessingParameterVectorDestination(self.OUTPUT_CENTROIDS, "Detection centres", SOURCE_VECTOR_POINT,
                                                     optional=True, createByDefault=False),
             "Optional GeoPackage of one point per detected object (its box's centre), with the same fields.",
             False),
        ]

    def parameter_problem(self, parameters: dict, context: QgsProcessingContext) -> str | None:
        from ...core.progress import LoggingProgress

        request = self._request(parameters, context, LoggingProgress(), None)
        request.check_paths()
        check_run_parameters(request)
        given = {"min_score": request.min_score, "iou_threshold": request.iou, "max_detections": request.max_detections}
        DetectionSettings(**{k: v for k, v in given.items() if v is not None}).validate()  # type: ignore[arg-type]
        return None

    def process(self, parameters: dict, context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...adapters.detect.job import detect_objects
        from ...adapters.detect.report import report_detection
        from ..common.feedback import FeedbackProgress
        from ..common.styling import write_detection_style

        progress = FeedbackProgress(feedback)
        request = self._request(parameters, context, progress, feedback)
        result = detect_objects(request, progress, style_writer=write_detection_style)
        report_detection(result, progress)
        destinations = {key: self.parameterAsOutputLayer(parameters, key, context) or None
                        for key in (self.OUTPUT, self.OUTPUT_CENTROIDS)}
        for key, label in ((self.OUTPUT, "Detections"), (self.OUTPUT_CENTROIDS, "Detection centres")):
            self._style_loaded_layer(context, destinations[key], f"{label} ({result.contract.name})"
                                     if result.contract.name else label, result.contract,
                                     key == self.OUTPUT_CENTROIDS)
        return {self.OUTPUT: destinations[self.OUTPUT], self.OUTPUT_CENTROIDS: destinations[self.OUTPUT_CENTROIDS],
                "DETECTIONS": result.summary.detections, "CLASS_COUNTS": json.dumps(result.class_counts()),
                "PROVIDER": result.provider, "SECONDS": round(result.seconds, 3)}

    def _request(self, parameters: dict, context: QgsProcessingContext, progress: "Progress",
                 feedback: QgsProcessingFeedback | None) -> "DetectRequest":
        from ...adapters.detect.job import DetectRequest
        from ...adapters.inputs.raster_area import parse_bands

        if not parameters.get(self.INPUT):
            raise InputError("INPUT is missing: choose a raster layer or file.")
        outputs = {key: self.parameterAsOutputLayer(parameters, key, context) or None
                   for key in (self.OUTPUT, self.OUTPUT_CENTROIDS)}
        return DetectRequest(
            model_path=self.parameterAsFile(parameters, self.MODEL, context),
            output_path=outputs[self.OUTPUT] or "",
            centroids_path=outputs[self.OUTPUT_CENTROIDS] if is_set(parameters, self.OUTPUT_CENTROIDS) else None,
            contract_path=self.parameterAsFile(parameters, self.CONTRACT, context) or None,
            bands=parse_bands(self.parameterAsString(parameters, self.BANDS, context)),
            device=self.parameterAsString(parameters, self.DEVICE, context) or "auto",
            window_size=self.parameterAsInt(parameters, self.WINDOW_SIZE, context),
            overlap=optional_double(self, parameters, self.OVERLAP, context),
            tta=self.parameterAsEnumString(parameters, self.TTA, context) or "none",
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
            min_score=optional_double(self, parameters, self.MIN_SCORE, context),
            iou=optional_double(self, parameters, self.IOU, context),
            max_detections=optional_int(self, parameters, self.MAX_DETECTIONS, context),
            **input_fields(self, parameters, context, progress, feedback))

    @staticmethod
    def _style_loaded_layer(context: QgsProcessingContext, destination: str | None, name: str,
                            contract: "ModelContract", points: bool) -> None:
        """Name and style a layer the context loads when the run ends (Processing's loader skips the style the
        GeoPackage holds)."""
        from ..common.styling import DetectionStyle

        if destination and context.willLoadLayerOnCompletion(destination):
            details = context.layerToLoadOnCompletionDetails(destination)
            details.name = name
            details.setPostProcessor(DetectionStyle(contract.all_classes, points))
