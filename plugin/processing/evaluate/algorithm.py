"""``seamless:evaluate`` "Assess classification accuracy": confusion matrix, kappa, IoU, class areas; for a value
raster (a regression model's output) MAE, RMSE, R² and bias (:mod:`.values`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ...adapters.accuracy.assess import assess
from ...adapters.accuracy.legend_file import reference_classes
from ...adapters.accuracy.reference import ReferenceSpec, reference_choice_problem
from ...adapters.accuracy.report import write_outputs
from ...adapters.outputs.paths import check_outputs, require_extension, sink_file
from ...core.accuracy.class_mapping import parse_class_names
from ...core.accuracy.summary import TABLE_COLUMNS
from ..common.base import SeamlessAlgorithm, with_help
from ..common.feedback import FeedbackProgress
from ..common.layer_inputs import (
    area_spec,
    field_problem,
    input_file,
    is_set,
    optional_int,
    raster_path,
    required_raster_path,
    vector_path,
)
from ..common.parameter_checks import RasterFileParameter
from ..common.qgis_compat import (
    NUMBER_INTEGER,
    SOURCE_VECTOR,
    SOURCE_VECTOR_POINT,
    SOURCE_VECTOR_POLYGON,
    WKB_NO_GEOMETRY,
)
from ..common.tables import table_fields, write_rows
from .values import KINDS, SCORES, assess_value_raster, assesses_values, values_problem

HELP = """<p>Assesses a classified raster against reference data, in the terms of the remote-sensing literature:
a confusion matrix (rows: reference, columns: classification), overall accuracy, Cohen's kappa, per-class
producer's accuracy (recall), user's accuracy (precision), F1 and IoU, and class areas in map units.</p>
<p>The reference is a label raster (REFERENCE) or a polygon or point layer (REFERENCE_LAYER) with a class field
(REFERENCE_FIELD). A label raster on another grid is resampled onto the classified raster's grid (nearest
neighbour, noted in the log); polygons are burnt onto it (a pixel belongs to the polygon holding its centre);
each point is one sample. Nodata in either is left out; pixels are counted exactly, block by block, so rasters
larger than memory work. Class names in the reference field are matched to the classification's class names.</p>
<p>Class codes (a label raster, a numeric field) are compared by value, and the log and the report say so; when
the reference numbers its classes differently, REFERENCE_CLASSES names its codes and they are matched by name.
When swapping classes would score far higher than the codes as compared, a warning says so (the best one-to-one
matching and its overall accuracy).</p>
<p>Reference classes the classification does not have are listed in the log and the report. See docs/accuracy.md.</p>
<p>A raster of continuous values (a regression model's value raster, or KIND=values) is assessed against a
reference raster of the same quantity instead: MAE, RMSE, R², bias and correlation over the pixels where both
have a value, with a density scatter plot in the report. A reference on another grid is resampled onto the
assessed raster's (averaging smaller pixels, bilinear otherwise).</p>"""


def _given_file(text: str | None) -> str | None:
    """The legend file REFERENCE_CLASSES names (an input: no output may replace it), None for typed names."""
    return text.strip() if text and "=" not in text and Path(text.strip()).is_file() else None


class EvaluateAlgorithm(SeamlessAlgorithm):
    """Accuracy assessment of a classified raster; all numeric work is in adapters.accuracy and core.metrics."""

    NAME = "evaluate"
    DISPLAY_NAME = "Assess classification accuracy"
    HELP = HELP
    REQUIRES = ()

    INPUT, REFERENCE, REFERENCE_LAYER, REFERENCE_FIELD = "INPUT", "REFERENCE", "REFERENCE_LAYER", "REFERENCE_FIELD"
    REFERENCE_NODATA, EXTENT, MASK, CLASS_NAMES = "REFERENCE_NODATA", "EXTENT", "MASK", "CLASS_NAMES"
    REFERENCE_CLASSES = "REFERENCE_CLASSES"
    KIND = "KIND"
    OUTPUT_REPORT, OUTPUT_TABLE, OUTPUT_JSON = "OUTPUT_REPORT", "OUTPUT_TABLE", "OUTPUT_JSON"
    OVERALL_ACCURACY, KAPPA, MEAN_IOU = "OVERALL_ACCURACY", "KAPPA", "MEAN_IOU"

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802 - QGIS API name
        vector_types = [SOURCE_VECTOR_POLYGON, SOURCE_VECTOR_POINT]
        parameters = [
            (RasterFileParameter(self.INPUT, "Classified raster"),
             "The class raster to assess (band 1: one class code per pixel). Its nodata pixels are left out; "
             "class names embedded in it (for example by 'Classify raster') name the classes."),
            (RasterFileParameter(self.REFERENCE, "Reference label raster", optional=True),
             "Reference class codes as a raster. Another grid or CRS is resampled onto the classified raster's "
             "grid with nearest neighbour. Give this or a reference layer, not both."),
            (QgsProcessingParameterFeatureSource(self.REFERENCE_LAYER, "Reference layer (polygons or points)",
                                                 vector_types, optional=True),
             "Reference polygons (every pixel whose centre they hold is a sample) or points (every point is one "
             "sample), with their class in REFERENCE_FIELD."),
            (QgsProcessingParameterField(self.REFERENCE_FIELD, "Reference class field",
                                         parentLayerParameterName=self.REFERENCE_LAYER, optional=True),
             "Field of the reference layer holding each feature's class: a class code, or a class name matched "
             "(ignoring case) to the classification's class names."),
            (QgsProcessingParameterNumber(self.REFERENCE_NODATA, "Reference value meaning 'not labelled'",
                                          NUMBER_INTEGER, optional=True),
             "A reference raster value (or numeric field value) meaning 'no label', for example 0. The reference "
             "raster's own nodata value is always left out."),
            (QgsProcessingParameterExtent(self.EXTENT, "Assess only inside this extent", optional=True),
             "Only pixels whose centres lie in this extent are assessed."),
            (QgsProcessingParameterFeatureSource(self.MASK, "Assess only inside these polygons",
                                                 [SOURCE_VECTOR_POLYGON], optional=True),
             "Only pixels whose centres lie inside these polygons are assessed (and counted in mapped areas)."),
            (QgsProcessingParameterString(self.CLASS_NAMES, "Class names", optional=True),
             "Names of the classification's classes as 'value=name' separated by ';', for example "
             "'1=farm;2=forest;8=water'. Override the names embedded in the classified raster."),
            (QgsProcessingParameterString(self.REFERENCE_CLASSES, "Names of the reference's class codes",
                                          optional=True),
             "The reference's legend, for a label raster or a numeric field that numbers its classes differently "
             "from the classification: 'value=name' separated by ';' (e.g. '1=farm;2=meadow;3=forest'), or the "
             "path of a CSV file with a code and a name on each row. Each code is then matched by its name to the "
             "classification's code of that name; codes not listed are left out. Empty: codes are compared by "
             "value."),
            (QgsProcessingParameterEnum(self.KIND, "What INPUT holds", list(KINDS), defaultValue="auto",
                                        usesStaticStrings=True),
             "auto: continuous values when INPUT is a regression model's value raster (or a floating-point raster "
             "without class names or colours), classes otherwise; classes; values."),
            (QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, "Accuracy report", "HTML files (*.html)",
                                                   optional=True, createByDefault=True),
             "One self-contained HTML page: confusion matrix table and heat map, scores, class areas."),
            (QgsProcessingParameterFeatureSink(self.OUTPUT_TABLE, "Per-class accuracy table",
                                               SOURCE_VECTOR, optional=True, createByDefault=True),
             "A table without geometry: one row per class with counts, areas, producer's and user's accuracy, "
             "F1 and IoU."),
            (QgsProcessingParameterFileDestination(self.OUTPUT_JSON, "Accuracy JSON", "JSON files (*.json)",
                                                   optional=True, createByDefault=True),
             "Everything in the report as JSON, for scripts."),
        ]
        for parameter, help_text in parameters:
            self.addParameter(with_help(parameter, help_text))
        self.addOutput(QgsProcessingOutputNumber(self.OVERALL_ACCURACY, "Overall accuracy"))
        self.addOutput(QgsProcessingOutputNumber(self.KAPPA, "Cohen's kappa"))
        self.addOutput(QgsProcessingOutputNumber(self.MEAN_IOU, "Mean IoU"))
        for output, name in zip(SCORES, ("Mean absolute error", "Root mean square error", "R²", "Bias")):
            self.addOutput(QgsProcessingOutputNumber(output, f"{name} (continuous values)"))

    def parameter_problem(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str | None:
        if assesses_values(self._kind(parameters, context), raster_path(self, parameters, self.INPUT, context)):
            problem = values_problem(parameters)
            if problem:
                return problem
            raster_path(self, parameters, self.REFERENCE, context)
            self._outputs(parameters, context)
            return None
        has_raster, has_layer = is_set(parameters, self.REFERENCE), is_set(parameters, self.REFERENCE_LAYER)
        has_field = is_set(parameters, self.REFERENCE_FIELD)
        problem = reference_choice_problem(has_raster, has_layer, has_field)
        if problem:
            return problem
        if has_layer:
            problem = field_problem(self, parameters, self.REFERENCE_LAYER, self.REFERENCE_FIELD, context)
            if problem:
                return problem
        parse_class_names(self.parameterAsString(parameters, self.CLASS_NAMES, context) or "")  # raise if wrong
        reference_classes(self.parameterAsString(parameters, self.REFERENCE_CLASSES, context))
        raster_path(self, parameters, self.INPUT, context)
        raster_path(self, parameters, self.REFERENCE, context)
        self._outputs(parameters, context)
        return None

    def _outputs(self, parameters: dict[str, Any], context: QgsProcessingContext) -> dict[str, str | None]:
        """The file outputs, checked against every input before anything is read or written."""
        outputs = {self.OUTPUT_REPORT: self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context) or None,
                   self.OUTPUT_JSON: self.parameterAsFileOutput(parameters, self.OUTPUT_JSON, context) or None,
                   self.OUTPUT_TABLE: sink_file(self.parameterAsOutputLayer(parameters, self.OUTPUT_TABLE, context))}
        for name, extensions, what in ((self.OUTPUT_REPORT, (".html", ".htm"), "the report"),
                                       (self.OUTPUT_JSON, (".json",), "the accuracy JSON")):
            path = outputs[name]
            if path:
                require_extension(name, path, extensions, what)
        inputs = {name: input_file(self, parameters, name, context)
                  for name in (self.INPUT, self.REFERENCE, self.REFERENCE_LAYER, self.MASK)}
        legend = self.parameterAsString(parameters, self.REFERENCE_CLASSES, context)
        inputs[self.REFERENCE_CLASSES] = _given_file(legend)
        check_outputs(outputs, inputs)
        return outputs

    def process(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        outputs = self._outputs(parameters, context)
        classified = required_raster_path(self, parameters, self.INPUT, context)
        if assesses_values(self._kind(parameters, context), classified):
            return assess_value_raster(self, parameters, context, feedback, outputs, classified)
        vector, layer_name = vector_path(self, parameters, self.REFERENCE_LAYER, context, feedback)
        reference = ReferenceSpec(raster_path(self, parameters, self.REFERENCE, context), vector, layer_name,
                                  self.parameterAsString(parameters, self.REFERENCE_FIELD, context) or None,
                                  optional_int(self, parameters, self.REFERENCE_NODATA, context),
                                  reference_classes(self.parameterAsString(parameters, self.REFERENCE_CLASSES,
                                                                           context)))
        names = parse_class_names(self.parameterAsString(parameters, self.CLASS_NAMES, context) or "")
        summary = assess(classified, reference, area_spec(self, parameters, context, feedback), names,
                         FeedbackProgress(feedback))
        report, json_path = outputs[self.OUTPUT_REPORT], outputs[self.OUTPUT_JSON]
        write_outputs(summary, report, json_path)
        for value in summary.reference_only_values:
            feedback.pushWarning(f"Reference class {value} ({summary.name_of(value)}) is not a class of the "
                                 "classification: all its samples are omission errors.")
        fields = table_fields(TABLE_COLUMNS)
        sink, table_id = self.parameterAsSink(parameters, self.OUTPUT_TABLE, context, fields,
                                              WKB_NO_GEOMETRY, QgsCoordinateReferenceSystem())
        if sink is not None:
            write_rows(sink, fields, summary.class_rows())
        scores = summary.scores
        feedback.pushInfo(f"Overall accuracy {scores.overall_accuracy:.4f}, kappa {scores.kappa:.4f}, "
                          f"mean IoU {scores.mean_iou:.4f} over {summary.matrix.total} {summary.sample_unit}s.")
        return {self.OUTPUT_REPORT: report, self.OUTPUT_JSON: json_path, self.OUTPUT_TABLE: table_id,
                self.OVERALL_ACCURACY: scores.overall_accuracy, self.KAPPA: scores.kappa,
                self.MEAN_IOU: scores.mean_iou}

    def _kind(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        return self.parameterAsEnumString(parameters, self.KIND, context) or "auto"
