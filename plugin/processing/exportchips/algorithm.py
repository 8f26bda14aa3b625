"""``seamless:exportchips`` "Export training chips": image chips, label masks, classes.json and an index."""
from __future__ import annotations

from typing import Any

from osgeo import gdal
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
)

from ...adapters.chips.export import ChipOptions, check_format, export_chips
from ...adapters.chips.labels import LabelSpec
from ...adapters.outputs.paths import check_outputs
from ...core.errors import SeamlessError
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
from ..common.qgis_compat import NUMBER_DOUBLE, NUMBER_INTEGER, SOURCE_VECTOR_POLYGON

FORMATS = {"GeoTIFF": "GTiff", "PNG": "PNG"}  # FORMAT value (a static string) -> GDAL driver
MIN_CHIP_SIZE = 16

HELP = """<p>Cuts a raster and its labels into square chips for training a segmentation model, here or elsewhere.</p>
<p>Labels are polygons with a class field (numbers are kept as class values; text is numbered from 1 in
alphabetical order and the text becomes the class name) or a label raster (another grid is resampled with
nearest neighbour). Pixels without a label, where the image is nodata, or outside EXTENT / MASK get the
ignore value (255, or 65535 when a class value is 255 or more), written in classes.json.</p>
<p>The output folder holds images/, labels/, classes.json, index.csv and index.gpkg (chip footprints). It must be
new or empty; the export is written to a temporary folder beside it and renamed only when complete, so a failed
or cancelled run leaves nothing. See docs/accuracy.md for the folder format.</p>"""


def _static_enum(parameter: QgsProcessingParameterEnum) -> QgsProcessingParameterEnum:
    """Values are the option names ("PNG"), which read better in scripts and models than indices."""
    parameter.setUsesStaticStrings(True)
    return parameter


class ExportChipsAlgorithm(SeamlessAlgorithm):
    """Training chip export; all raster work is in adapters.chips."""

    NAME = "exportchips"
    DISPLAY_NAME = "Export training chips"
    HELP = HELP
    REQUIRES = ()

    INPUT, LABELS, LABEL_FIELD, LABEL_RASTER = "INPUT", "LABELS", "LABEL_FIELD", "LABEL_RASTER"
    LABEL_NODATA, CHIP_SIZE, STRIDE, EXTENT, MASK = "LABEL_NODATA", "CHIP_SIZE", "STRIDE", "EXTENT", "MASK"
    MIN_LABELLED, FORMAT, OUTPUT_FOLDER, CHIP_COUNT = "MIN_LABELLED", "FORMAT", "OUTPUT_FOLDER", "CHIP_COUNT"

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802 - QGIS API name
        integer, double = NUMBER_INTEGER, NUMBER_DOUBLE
        parameters = [
            (RasterFileParameter(self.INPUT, "Input raster"),
             "The image to cut into chips; every band is kept in GeoTIFF chips."),
            (QgsProcessingParameterFeatureSource(self.LABELS, "Label polygons", [SOURCE_VECTOR_POLYGON],
                                                 optional=True),
             "Polygons with a class field; a pixel gets the class of the polygon holding its centre."),
            (QgsProcessingParameterField(self.LABEL_FIELD, "Class field", parentLayerParameterName=self.LABELS,
                                         optional=True),
             "The field of LABELS with each polygon's class: a whole number (kept) or a name (numbered from 1)."),
            (RasterFileParameter(self.LABEL_RASTER, "Label raster", optional=True),
             "Class values as a raster (band 1), instead of label polygons."),
            (QgsProcessingParameterNumber(self.LABEL_NODATA, "Label raster value meaning 'not labelled'", integer,
                                          optional=True),
             "A value of LABEL_RASTER meaning 'no label', for example 0; its nodata value always means that."),
            (QgsProcessingParameterNumber(self.CHIP_SIZE, "Chip size (pixels)", integer, 256, minValue=MIN_CHIP_SIZE),
             "Width and height of every chip in pixels (at least 16); chips are never padded."),
            (QgsProcessingParameterNumber(self.STRIDE, "Stride (pixels)", integer, 256, minValue=1),
             "Step between chips in pixels; less than the chip size makes chips overlap."),
            (QgsProcessingParameterExtent(self.EXTENT, "Extent", optional=True),
             "Cut chips only over this extent (chips start at its first pixel)."),
            (QgsProcessingParameterFeatureSource(self.MASK, "Mask polygons", [SOURCE_VECTOR_POLYGON],
                                                 optional=True),
             "Only pixels inside these polygons are labelled; chips with no labelled pixel are skipped."),
            (QgsProcessingParameterNumber(self.MIN_LABELLED, "Least labelled fraction of a chip", double, 0.0,
                                          minValue=0.0, maxValue=1.0),
             "Chips whose fraction of labelled pixels is below this (0 to 1) are skipped. Chips without any "
             "labelled pixel are always skipped."),
            (_static_enum(QgsProcessingParameterEnum(self.FORMAT, "Format", list(FORMATS), defaultValue="GeoTIFF")),
             "GeoTIFF keeps every band and the data type; PNG writes 8-bit RGB (first 3 bands, Byte rasters only) "
             "with world files."),
            (QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, "Output folder"),
             "A new or empty folder for images/, labels/, classes.json, index.csv and index.gpkg."),
        ]
        for parameter, help_text in parameters:
            self.addParameter(with_help(parameter, help_text, advanced=parameter.name() == self.LABEL_NODATA))
        self.addOutput(QgsProcessingOutputNumber(self.CHIP_COUNT, "Number of chips written"))

    def parameter_problem(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str | None:
        has_vector, has_raster = is_set(parameters, self.LABELS), is_set(parameters, self.LABEL_RASTER)
        if not has_vector and not has_raster:
            return "Give labels: LABELS (polygons) with LABEL_FIELD, or LABEL_RASTER."
        if has_vector and has_raster:
            return "Give one kind of labels, LABELS (polygons) or LABEL_RASTER, not both."
        if has_vector and not is_set(parameters, self.LABEL_FIELD):
            return "LABEL_FIELD is missing: choose the field of LABELS that holds each polygon's class."
        size = self.parameterAsInt(parameters, self.CHIP_SIZE, context)
        if size < MIN_CHIP_SIZE:
            return f"CHIP_SIZE must be at least {MIN_CHIP_SIZE} pixels, not {size}."
        if self.parameterAsInt(parameters, self.STRIDE, context) < 1:
            return "STRIDE must be at least 1 pixel."
        if has_vector:
            problem = field_problem(self, parameters, self.LABELS, self.LABEL_FIELD, context)
            if problem:
                return problem
        try:
            path = raster_path(self, parameters, self.INPUT, context)
            raster_path(self, parameters, self.LABEL_RASTER, context)
            if path:
                image = gdal.Open(path)
                check_format(image, self._format(parameters, context), path)
                if size > min(image.RasterXSize, image.RasterYSize):
                    return (f"CHIP_SIZE {size} is larger than the raster ({image.RasterXSize} x "
                            f"{image.RasterYSize} pixels); choose a smaller chip size.")
        except (SeamlessError, RuntimeError) as error:
            return str(error)
        self._check_folder(parameters, context)
        return None

    def _format(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        return FORMATS[self.parameterAsEnumString(parameters, self.FORMAT, context) or "GeoTIFF"]

    def _check_folder(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        folder = self.parameterAsFileOutput(parameters, self.OUTPUT_FOLDER, context)
        check_outputs({self.OUTPUT_FOLDER: folder}, {name: input_file(self, parameters, name, context)
                                                    for name in (self.INPUT, self.LABELS, self.LABEL_RASTER,
                                                                 self.MASK)})
        return folder

    def process(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        folder = self._check_folder(parameters, context)
        image = required_raster_path(self, parameters, self.INPUT, context)
        vector, layer_name = vector_path(self, parameters, self.LABELS, context, feedback)
        labels = LabelSpec(vector, layer_name, self.parameterAsString(parameters, self.LABEL_FIELD, context) or None,
                           raster_path(self, parameters, self.LABEL_RASTER, context),
                           optional_int(self, parameters, self.LABEL_NODATA, context))
        options = ChipOptions(self.parameterAsInt(parameters, self.CHIP_SIZE, context),
                              self.parameterAsInt(parameters, self.STRIDE, context),
                              self.parameterAsDouble(parameters, self.MIN_LABELLED, context),
                              self._format(parameters, context))
        result = export_chips(image, labels, folder, options, area_spec(self, parameters, context, feedback),
                              FeedbackProgress(feedback))
        feedback.pushInfo(f"{result.chip_count} chips written to {result.folder} ({result.skipped} skipped as too "
                          f"little labelled); unlabelled pixels hold {result.ignore_value}.")
        return {self.OUTPUT_FOLDER: result.folder, self.CHIP_COUNT: result.chip_count}
