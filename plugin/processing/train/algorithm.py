"""``seamless:train`` "Train segmentation model": a network from a raster and labels, exported to ONNX (a
segmentation model, or with ARCHITECTURE ``retinanet`` an object detector, see :mod:`.detector`).

The algorithm reads its parameters into a training configuration and calls the training package,
which is imported only when the algorithm runs (it needs torch; the plugin loads without it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ...adapters.inputs.gdal_grid import open_raster
from ...adapters.outputs.paths import check_outputs, require_extension
from ...core.model.training_choices import ARCHITECTURES, DETECTION_ARCHITECTURES, DEVICES, size_multiple
from ..common.base import SeamlessAlgorithm, with_help
from ..common.feedback import FeedbackProgress
from ..common.layer_inputs import input_file, is_set, raster_path, vector_path
from ..common.parameter_checks import RasterFileParameter, RasterFilesParameter
from ..common.qgis_compat import (
    NUMBER_DOUBLE,
    NUMBER_INTEGER,
    SOURCE_VECTOR_ANY_GEOMETRY,
    SOURCE_VECTOR_POLYGON,
)
from .class_table import ClassTextError, parse_class_table
from .detector import POINT_SIZE, detection_settings, detector_problem, is_detector
from .training_package import training_module

HELP = """<p>Trains a segmentation network on a raster and labels, and writes it as an ONNX model that
<b>Classify raster</b> runs at once: classes (names, colours and the label values), bands, normalisation,
tile size and the accuracy measured on a held-out area travel inside the model. With the architecture
<code>retinanet</code> it trains an object detector for <b>Detect objects with model</b> instead (see Object
detector below).</p>
<p><b>Labels</b>: either a vector layer with a class field (text or numbers; text classes are numbered from 1
in alphabetical order) or a label raster (resampled with nearest neighbour when its grid differs from the
image's). Pixels without a label (no polygon there, or the label raster's unlabelled value) are ignored by
the training and by the accuracy figures.</p>
<p><b>Validation</b>: square blocks of the image (one to four chips wide) holding the given share of the labelled
pixels are held out and never trained on, so the accuracy is not inflated by neighbouring pixels. A
validation polygon layer, when given, replaces the blocks: pixels inside its polygons are the validation
area.</p>
<p><b>Test area</b> (optional polygons): left out of training and validation entirely (no chip or validation
window reads it) and scored once at the end; its figures appear in the report next to the validation
figures. The model is always chosen on the validation area, never on the test area.</p>
<p><b>Search</b>: with <b>Tuning trials</b> above 0, a hyperparameter search (Optuna: TPE sampler, trials
pruned on their validation mean IoU per epoch) tries that many settings (architecture among the three
families, depth, width, learning rate, weight decay, dropout, class weights, region loss and augmentation
strength, at the chip size given here; for a detector: backbone, learning rate, weight decay, feature pyramid
width and augmentation, scored by validation mAP@0.5; the first trial uses the settings given here), each for the
given epochs and scored on the validation area only; the best settings are then trained again and exported.
Progress is shown per trial; Cancel during the search stops it and writes nothing. Needs the Python
package optuna.</p>
<p><b>Classes</b>: names and colours, one class per line or separated by ";" as VALUE NAME #RRGGBB
(<code>1 farm #e6c364; 2 meadow</code>), or JSON as in a configuration file's <code>data.classes</code>.</p>
<p><b>Object detector</b> (Architecture <code>retinanet</code>): trains a RetinaNet that <b>Detect objects with
model</b> runs, from a label layer of objects: polygons or boxes (each feature's bounding box is one object) or
points (each a square of <b>Object size for point labels</b> pixels around it), with an optional class field (without
one every object is one class, named after the layer). Chips of the chip size (a multiple of 32) are placed around
the objects and at random on background; validation blocks, validation layer and test area work as above, the model
is chosen by validation mAP@0.5 and its score threshold is the one of the best validation F1. A label raster and
additional rasters are refused (a detector takes the input raster's own bands). The report gives precision, recall,
F1 and AP per class with precision-recall curves.</p>
<p>Progress is shown per batch with the estimated time left; <b>Cancel</b> stops after the current batch and still
writes the best model so far (with a warning). The report (HTML, with a JSON copy next to it) holds learning
curves, the confusion matrix, per-class precision, recall, F1 and IoU, overall accuracy and kappa on the
validation area, and the time per epoch.</p>
<p>Needs the Python packages torch, onnx and onnxruntime. No pretrained weights are downloaded. For more
control (configuration files, other network sizes, several GPUs) use the command line:
<code>python -m training train --config CONFIG</code>.</p>"""


class TrainAlgorithm(SeamlessAlgorithm):
    """Parameters in, training configuration out; the training package does the work."""

    NAME = "train"
    DISPLAY_NAME = "Train segmentation model"
    HELP = HELP
    REQUIRES = ("torch", "onnx", "onnxruntime")

    INPUT, LABELS, LABEL_FIELD, LABEL_RASTER = "INPUT", "LABELS", "LABEL_FIELD", "LABEL_RASTER"
    POINT_SIZE = POINT_SIZE
    ADDITIONAL_INPUTS = "ADDITIONAL_INPUTS"
    UNLABELLED_VALUE, ARCHITECTURE, EPOCHS, CHIP_SIZE = "UNLABELLED_VALUE", "ARCHITECTURE", "EPOCHS", "CHIP_SIZE"
    BATCH_SIZE, LEARNING_RATE, VALIDATION = "BATCH_SIZE", "LEARNING_RATE", "VALIDATION"
    VALIDATION_LAYER, DEVICE = "VALIDATION_LAYER", "DEVICE"
    TEST_LAYER, CLASSES, TUNE_TRIALS, TUNE_TIMEOUT = "TEST_LAYER", "CLASSES", "TUNE_TRIALS", "TUNE_TIMEOUT"
    OUTPUT_MODEL, OUTPUT_REPORT = "OUTPUT_MODEL", "OUTPUT_REPORT"

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802 - QGIS API name
        for parameter, help_text, advanced in self._parameters():
            self.addParameter(with_help(parameter, help_text, advanced))

    def _parameters(self) -> tuple[tuple[Any, str, bool], ...]:
        """(parameter, help text, advanced) for every parameter, in dialog order."""
        number, integer = NUMBER_DOUBLE, NUMBER_INTEGER
        return (
            (RasterFileParameter(self.INPUT, "Input raster"),
             "The image to learn from: any band count and data type, read with GDAL.", False),
            (RasterFilesParameter(self.ADDITIONAL_INPUTS, "Additional rasters (bands appended after the input's)"),
             "Rasters whose bands follow the input's (another date, bands in separate files), read on its grid, "
             "as in Classify raster: give the model the same rasters there.", True),
            (QgsProcessingParameterFeatureSource(self.LABELS, "Label layer (vector)",
                                                 [SOURCE_VECTOR_ANY_GEOMETRY], optional=True),
             "Polygons (or points, lines) with a class field. Give this or a label raster, not both. A detector "
             "(retinanet) learns from this layer only: polygons or boxes (each feature's bounding box is an "
             "object) or points (with POINT_SIZE).", False),
            (QgsProcessingParameterField(self.LABEL_FIELD, "Class field", parentLayerParameterName=self.LABELS,
                                         optional=True),
             "The field of the label layer holding each feature's class: whole numbers (kept as class values) "
             "or text (class names, numbered from 1 alphabetically). Optional for a detector: without it every "
             "object is one class, named after the layer.", False),
            (QgsProcessingParameterNumber(self.POINT_SIZE, "Object size for point labels (pixels, detector)",
                                          number, optional=True, minValue=1, maxValue=4096),
             "Detector only, needed when the label layer holds points: each point becomes a square box of this "
             "side (in pixels of the input raster) around it.", False),
            (RasterFileParameter(self.LABEL_RASTER, "Label raster", optional=True),
             "A raster of class values (first band); resampled with nearest neighbour when its grid differs "
             "from the input's. Give this or a label layer, not both.", False),
            (QgsProcessingParameterNumber(self.UNLABELLED_VALUE, "Unlabelled value of the label raster", integer,
                                          optional=True, minValue=0, maxValue=65535),
             "Label raster value that means 'no label' (ignored in training and accuracy). Default: the "
             "raster's nodata value only; 0 is a class unless given here (as in Assess accuracy and Export "
             "training chips).", True),
            (self._enum(self.ARCHITECTURE, "Architecture", ARCHITECTURES + DETECTION_ARCHITECTURES),
             "unet: U-Net (depth 4, 32 channels); resnet18/34/50_fcn: FCN-8s-style fusion over a ResNet; "
             "mobilenetv2_unet: light and fast; retinanet: an object detector (boxes with a class and a score, "
             "for Detect objects with model; ResNet-18 backbone, feature pyramid, anchors fitted to the "
             "training objects). All start from random weights.", False),
            (QgsProcessingParameterNumber(self.EPOCHS, "Epochs", integer, 30, minValue=1, maxValue=10000),
             "Passes over the training chips. The weights with the best validation mean IoU (a detector: mAP@0.5) "
             "are kept.", False),
            (QgsProcessingParameterNumber(self.CHIP_SIZE, "Chip size (pixels)", integer, 256, minValue=32,
                                          maxValue=2048),
             "Side of the square training chips (a multiple of 32; 16 for U-Net). Chips overlap by half (a "
             "detector's chips are placed around the objects and at random on background).", False),
            (QgsProcessingParameterNumber(self.BATCH_SIZE, "Batch size", integer, 8, minValue=1, maxValue=1024),
             "Chips per training step; lower it if memory runs out.", False),
            (QgsProcessingParameterNumber(self.LEARNING_RATE, "Learning rate", number, 0.001, minValue=1e-6,
                                          maxValue=1.0),
             "Peak learning rate of AdamW with a one-cycle schedule.", True),
            (QgsProcessingParameterNumber(self.VALIDATION, "Validation share", number, 0.2, minValue=0.05,
                                          maxValue=0.9),
             "Share of the labelled pixels held out for validation, in whole square blocks (one to four chips "
             "wide). "
             "Not used when a validation layer is given.", False),
            (QgsProcessingParameterFeatureSource(self.VALIDATION_LAYER, "Validation area (polygons)",
                                                 [SOURCE_VECTOR_POLYGON], optional=True),
             "Polygons of the area to validate on; overrides the validation share. Labels inside are never "
             "trained on.", False),
            (QgsProcessingParameterFeatureSource(self.TEST_LAYER, "Test area (polygons)",
                                                 [SOURCE_VECTOR_POLYGON], optional=True),
             "Polygons of a test area: never trained on, never used to choose the epoch or the settings, scored "
             "once at the end (in the report next to the validation figures).", False),
            (QgsProcessingParameterString(self.CLASSES, "Class names and colours", multiLine=True, optional=True),
             "One class per line or separated by ';' as VALUE NAME #RRGGBB (e.g. '1 farm #e6c364; 2 meadow'), or "
             "JSON like data.classes. With a text class field, a NAME given here takes that VALUE as its code.",
             False),
            (QgsProcessingParameterNumber(self.TUNE_TRIALS, "Tuning trials (0: no search)", integer, 0, minValue=0,
                                          maxValue=10000),
             "Settings to try in a hyperparameter search before the final training (each trial trains for the "
             "given epochs and is scored on the validation area; poor trials are stopped early).", False),
            (QgsProcessingParameterNumber(self.TUNE_TIMEOUT, "Tuning time limit (minutes, 0: none)", number, 0,
                                          minValue=0, maxValue=100000),
             "The search stops starting new trials after this many minutes.", True),
            (self._enum(self.DEVICE, "Device", DEVICES),
             "auto: a CUDA GPU when torch sees one, else the CPU.", True),
            (QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, "Trained model", "ONNX models (*.onnx)"),
             "The ONNX model with its contract embedded, ready for Classify raster.", False),
            (QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, "Training report", "HTML files (*.html)"),
             "Learning curves, confusion matrix and per-class scores on the validation area; a .json with "
             "the same figures is written next to it.", False),
        )

    def _additional(self, parameters: dict[str, Any], context: QgsProcessingContext) -> list[str]:
        """The files of ADDITIONAL_INPUTS (layers of the project by their source)."""
        value = parameters.get(self.ADDITIONAL_INPUTS)
        values = [] if value in (None, "") else value if isinstance(value, (list, tuple)) else [value]
        paths = []
        for item in values:
            path = raster_path(self, {self.ADDITIONAL_INPUTS: item}, self.ADDITIONAL_INPUTS, context)
            if path:
                paths.append(path)
        return paths

    @staticmethod
    def _enum(name: str, label: str, options: tuple[str, ...]) -> QgsProcessingParameterEnum:
        parameter = QgsProcessingParameterEnum(name, label, list(options), defaultValue=options[0])
        parameter.setUsesStaticStrings(True)
        return parameter

    def parameter_problem(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str | None:
        if is_detector(self.parameterAsEnumString(parameters, self.ARCHITECTURE, context)):
            return detector_problem(self, parameters, context) or self._common_problem(parameters, context)
        vector, raster = is_set(parameters, self.LABELS), is_set(parameters, self.LABEL_RASTER)
        if not vector and not raster:
            return ("No labels given: choose a label layer with its class field (LABELS and LABEL_FIELD) "
                    "or a label raster (LABEL_RASTER).")
        if vector and raster:
            return "Both a label layer and a label raster are given; choose one of them."
        if vector and not self.parameterAsString(parameters, self.LABEL_FIELD, context):
            return "The label layer needs its class field: choose LABEL_FIELD."
        return self._common_problem(parameters, context)

    def _common_problem(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str | None:
        """The checks segmentation models and detectors share: classes, outputs, chip size."""
        try:
            parse_class_table(self.parameterAsString(parameters, self.CLASSES, context))
        except ClassTextError as error:
            return f"CLASSES: {error}"
        self._check_outputs(parameters, context)
        return self._chip_problem(parameters, context)

    def _check_outputs(self, parameters: dict[str, Any], context: QgsProcessingContext) -> None:
        model = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        report = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context)
        require_extension(self.OUTPUT_MODEL, model, (".onnx",), "the trained model")
        require_extension(self.OUTPUT_REPORT, report, (".html", ".htm"), "the training report")
        check_outputs({self.OUTPUT_MODEL: model, self.OUTPUT_REPORT: report,
                       f"{self.OUTPUT_REPORT} (its JSON copy)": str(Path(report).with_suffix(".json"))},
                      {**{name: input_file(self, parameters, name, context)
                          for name in (self.INPUT, self.LABELS, self.LABEL_RASTER, self.VALIDATION_LAYER,
                                       self.TEST_LAYER)},
                       **{f"{self.ADDITIONAL_INPUTS} ({i})": path
                          for i, path in enumerate(self._additional(parameters, context), 1)}})

    def _chip_problem(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str | None:
        chip = self.parameterAsInt(parameters, self.CHIP_SIZE, context)
        architecture = self.parameterAsEnumString(parameters, self.ARCHITECTURE, context)
        multiple = size_multiple(architecture)
        if chip % multiple:
            return (f"CHIP_SIZE {chip} is not a multiple of {multiple}, the total stride of {architecture}; "
                    f"use {chip // multiple * multiple or multiple} or {(chip // multiple + 1) * multiple}.")
        path = raster_path(self, parameters, self.INPUT, context)
        if path:
            image = open_raster(path)
            width, height = image.RasterXSize, image.RasterYSize
            if chip > min(width, height):
                return (f"CHIP_SIZE {chip} is larger than the input raster ({width} x {height} pixels); choose a "
                        f"chip size of at most {min(width, height) // multiple * multiple} pixels.")
        return None

    def process(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        self._check_outputs(parameters, context)
        api = training_module("api")
        config_module = training_module("config")
        settings = self._settings(parameters, context, feedback)
        config = config_module.from_mapping(settings, "algorithm parameters")
        if self.parameterAsInt(parameters, self.TUNE_TRIALS, context) > 0:
            outcome = training_module("tune").tune(config, FeedbackProgress(feedback)).training
        else:
            outcome = api.train(config, FeedbackProgress(feedback))
        return {self.OUTPUT_MODEL: str(outcome.model_path), self.OUTPUT_REPORT: str(outcome.report_path)}

    def _settings(self, parameters: dict[str, Any], context: QgsProcessingContext,
                  feedback: QgsProcessingFeedback) -> dict[str, Any]:
        """The training configuration (see training/config.py) these parameters describe."""
        chip = self.parameterAsInt(parameters, self.CHIP_SIZE, context)
        data: dict[str, Any] = {"image": raster_path(self, parameters, self.INPUT, context), "chip_size": chip,
                                "additional_images": self._additional(parameters, context)}
        if is_set(parameters, self.LABELS):
            data["labels"], data["label_layer"] = vector_path(self, parameters, self.LABELS, context, feedback)
            data["label_field"] = self.parameterAsString(parameters, self.LABEL_FIELD, context) or None
        else:
            data["label_raster"] = raster_path(self, parameters, self.LABEL_RASTER, context)
            if parameters.get(self.UNLABELLED_VALUE) not in (None, ""):
                data["ignore_value"] = self.parameterAsInt(parameters, self.UNLABELLED_VALUE, context)
        validation: dict[str, Any] = {"fraction": self.parameterAsDouble(parameters, self.VALIDATION, context)}
        if is_set(parameters, self.VALIDATION_LAYER):
            validation["layer"], validation["layer_name"] = vector_path(self, parameters, self.VALIDATION_LAYER,
                                                                        context, feedback)
        classes = parse_class_table(self.parameterAsString(parameters, self.CLASSES, context))
        if classes:
            data["classes"] = classes
        model_path = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        architecture = self.parameterAsEnumString(parameters, self.ARCHITECTURE, context)
        return {
            "data": data, "validation": validation, "test": self._test_settings(parameters, context, feedback),
            "model": {"architecture": architecture},
            **({"detection": detection_settings(self, parameters, context)} if is_detector(architecture) else {}),
            "training": {"epochs": self.parameterAsInt(parameters, self.EPOCHS, context),
                         "batch_size": self.parameterAsInt(parameters, self.BATCH_SIZE, context),
                         "learning_rate": self.parameterAsDouble(parameters, self.LEARNING_RATE, context),
                         "device": self.parameterAsEnumString(parameters, self.DEVICE, context)},
            "output": {"folder": str(Path(model_path).parent), "checkpoints": False, "model": model_path,
                       "report": self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context)},
            "tune": self._tune_settings(parameters, context),
        }

    def _test_settings(self, parameters: dict[str, Any], context: QgsProcessingContext,
                       feedback: QgsProcessingFeedback) -> dict[str, Any]:
        if not is_set(parameters, self.TEST_LAYER):
            return {}
        layer, name = vector_path(self, parameters, self.TEST_LAYER, context, feedback)
        return {"layer": layer, "layer_name": name}

    def _tune_settings(self, parameters: dict[str, Any], context: QgsProcessingContext) -> dict[str, Any]:
        """A search kept in memory (nothing is left next to the model), reports written beside the model."""
        trials = self.parameterAsInt(parameters, self.TUNE_TRIALS, context)
        minutes = self.parameterAsDouble(parameters, self.TUNE_TIMEOUT, context)
        chip = self.parameterAsInt(parameters, self.CHIP_SIZE, context)  # the chip size the raster was checked for
        return {"trials": max(trials, 1), "storage": "memory", "timeout": minutes * 60 if minutes > 0 else None,
                "space": {"chip_size": chip}}
