"""``seamless:evaluatedetections`` "Assess detection accuracy": detections against reference objects."""
from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
)

from ...adapters.accuracy.detection_layers import assess_detections
from ...adapters.accuracy.detection_report import write_detection_outputs
from ...adapters.outputs.paths import check_outputs, require_extension
from ..common.base import SeamlessAlgorithm, with_help
from ..common.layer_inputs import field_problem, input_file, is_set, vector_path
from ..common.qgis_compat import NUMBER_DOUBLE, SOURCE_VECTOR_POINT, SOURCE_VECTOR_POLYGON

HELP = """<p>Scores object detections (the boxes layer of Detect objects) against reference objects: a polygon
layer (each feature's bounding box is an object, matched by intersection over union) or a point layer (a
detection finds a point when its centre lies within MAX_DISTANCE of it), with the class of each object in
REFERENCE_FIELD (a class name as the detector names it, or its class value).</p>
<p>Detections are matched best score first, each to the free reference object of its class it overlaps most
(PASCAL VOC / COCO rule): true positives, false positives and false negatives, precision, recall and F1 per class
and over all (counting detections scoring at least MIN_SCORE, at IoU 0.5), average precision per class (all-point
interpolation over every detection), mAP@0.5 and, for boxes, mAP@0.5:0.95. The report has the precision-recall
curve of each class. Reference classes no detection has are scored too (all their objects missed) and named in the
log. See docs/detection.md.</p>"""


class EvaluateDetectionsAlgorithm(SeamlessAlgorithm):
    """Accuracy of detections; the work is in adapters.accuracy.detection_layers and core.detection.assessment."""

    NAME = "evaluatedetections"
    DISPLAY_NAME = "Assess detection accuracy"
    HELP = HELP
    REQUIRES = ()

    INPUT, REFERENCE_LAYER, REFERENCE_FIELD = "INPUT", "REFERENCE_LAYER", "REFERENCE_FIELD"
    MIN_SCORE, MAX_DISTANCE = "MIN_SCORE", "MAX_DISTANCE"
    OUTPUT_REPORT, OUTPUT_JSON, OUTPUT_TABLE = "OUTPUT_REPORT", "OUTPUT_JSON", "OUTPUT_TABLE"
    PRECISION, RECALL, F1, MAP50, MAP50_95 = "PRECISION", "RECALL", "F1", "MAP50", "MAP50_95"

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802 - QGIS API name
        parameters = [
            (QgsProcessingParameterFeatureSource(self.INPUT, "Detections (boxes of Detect objects)",
                                                 [SOURCE_VECTOR_POLYGON]),
             "The boxes layer Detect objects (seamless:detect) wrote: polygons with class_value, class_name and "
             "score (and angle_deg for oriented boxes)."),
            (QgsProcessingParameterFeatureSource(self.REFERENCE_LAYER, "Reference objects (polygons or points)",
                                                 [SOURCE_VECTOR_POLYGON, SOURCE_VECTOR_POINT]),
             "The objects that should be found: polygons (their bounding boxes are compared with the detections' "
             "boxes) or points (one per object). Any CRS: reprojected to the detections' CRS."),
            (QgsProcessingParameterField(self.REFERENCE_FIELD, "Reference class field",
                                         parentLayerParameterName=self.REFERENCE_LAYER),
             "Field holding each reference object's class: a class name (matched to the detector's class names, "
             "ignoring case) or a class value."),
            (QgsProcessingParameterNumber(self.MIN_SCORE, "Score threshold for precision, recall and F1",
                                          NUMBER_DOUBLE, defaultValue=0.0, minValue=0.0, maxValue=1.0),
             "Precision, recall and F1 count the detections scoring at least this; AP and mAP use them all. 0: "
             "every detection in the layer (which Detect objects already cut at its MIN_SCORE)."),
            (QgsProcessingParameterNumber(self.MAX_DISTANCE, "Matching distance for points (map units)",
                                          NUMBER_DOUBLE, optional=True, minValue=0.0),
             "With a point reference: a detection finds a point when its box centre lies within this distance, "
             "in the detections' map units (e.g. 2 for 2 m). Required for points, unused for polygons."),
            (QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, "Accuracy report", "HTML files (*.html)",
                                                   optional=True, createByDefault=True),
             "One self-contained HTML page: the figures, the per-class table and precision-recall curves."),
            (QgsProcessingParameterFileDestination(self.OUTPUT_JSON, "Accuracy JSON", "JSON files (*.json)",
                                                   optional=True, createByDefault=True),
             "Everything in the report as JSON (curves included), for scripts."),
            (QgsProcessingParameterFileDestination(self.OUTPUT_TABLE, "Per-class table (CSV)", "CSV files (*.csv)",
                                                   optional=True, createByDefault=False),
             "One row per class: references, detections, TP, FP, FN, precision, recall, F1, AP@0.5, AP@0.5:0.95."),
        ]
        for parameter, help_text in parameters:
            self.addParameter(with_help(parameter, help_text))
        for name, title in ((self.PRECISION, "Precision"), (self.RECALL, "Recall"), (self.F1, "F1"),
                            (self.MAP50, "mAP@0.5"), (self.MAP50_95, "mAP@0.5:0.95 (boxes)")):
            self.addOutput(QgsProcessingOutputNumber(name, title))

    def parameter_problem(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str | None:
        problem = field_problem(self, parameters, self.REFERENCE_LAYER, self.REFERENCE_FIELD, context)
        if problem:
            return problem
        self._outputs(parameters, context)
        return None

    def _outputs(self, parameters: dict[str, Any], context: QgsProcessingContext) -> dict[str, str | None]:
        """The file outputs, checked against the inputs before anything is read or written."""
        outputs = {name: self.parameterAsFileOutput(parameters, name, context) or None
                   for name in (self.OUTPUT_REPORT, self.OUTPUT_JSON, self.OUTPUT_TABLE)}
        for name, extensions, what in ((self.OUTPUT_REPORT, (".html", ".htm"), "the report"),
                                       (self.OUTPUT_JSON, (".json",), "the accuracy JSON"),
                                       (self.OUTPUT_TABLE, (".csv",), "the per-class table")):
            path = outputs[name]
            if path:
                require_extension(name, path, extensions, what)
        check_outputs(outputs, {name: input_file(self, parameters, name, context)
                                for name in (self.INPUT, self.REFERENCE_LAYER)})
        return outputs

    def process(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        outputs = self._outputs(parameters, context)
        detections, detections_layer = vector_path(self, parameters, self.INPUT, context, feedback)
        reference, reference_layer = vector_path(self, parameters, self.REFERENCE_LAYER, context, feedback)
        assert detections is not None and reference is not None  # required parameters
        distance = self.parameterAsDouble(parameters, self.MAX_DISTANCE, context) \
            if is_set(parameters, self.MAX_DISTANCE) else None
        assessment = assess_detections(detections, detections_layer, reference, reference_layer,
                                       self.parameterAsString(parameters, self.REFERENCE_FIELD, context),
                                       self.parameterAsDouble(parameters, self.MIN_SCORE, context), distance)
        write_detection_outputs(assessment, outputs[self.OUTPUT_REPORT], outputs[self.OUTPUT_JSON],
                                outputs[self.OUTPUT_TABLE])
        for note in assessment.notes:
            feedback.pushWarning(note)
        scores = assessment.scores
        feedback.pushInfo(f"{assessment.detections} detections against {assessment.references} reference objects: "
                          f"TP {scores.tp}, FP {scores.fp}, FN {scores.fn}; precision {scores.precision:.4f}, "
                          f"recall {scores.recall:.4f}, F1 {scores.f1:.4f}, mAP@0.5 {scores.map50:.4f}.")
        for index, entry in sorted(scores.classes.items()):
            feedback.pushInfo(f"  {assessment.classes.names[index]}: AP@0.5 {entry.ap50:.4f}, F1 {entry.f1:.4f} "
                              f"({entry.references} reference, {entry.detections} detected)")
        return {**outputs, self.PRECISION: scores.precision, self.RECALL: scores.recall, self.F1: scores.f1,
                self.MAP50: scores.map50, self.MAP50_95: scores.map50_95}
