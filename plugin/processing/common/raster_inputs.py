"""The inputs every raster algorithm reads beyond INPUT and EXTENT: web map and other QGIS layers (RESOLUTION,
TARGET_CRS), several rasters (ADDITIONAL_INPUTS), a processing MASK and the input's nodata (INPUT_NODATA,
NODATA_RULE): their parameters, and how their values become a job's request fields. Shared by Classify raster,
Classify tiles, Similarity search and Detect objects.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsProcessingUtils,
    QgsRasterLayer,
)

from ...adapters.classify.inputs import GridChoice
from ...adapters.inputs.gdal_grid import open_raster
from ...adapters.inputs.raster_inputs import InputRaster, has_native_grid
from ...core.engine.nodata import NODATA_RULES, NodataPolicy
from ...core.errors import InputError
from ...core.progress import Progress
from .layer_inputs import extent_in, is_set, vector_path
from .parameter_checks import RasterFilesParameter, is_file_path
from .qgis_compat import NUMBER_DOUBLE, SOURCE_VECTOR_POLYGON, WKT_PREFERRED_GDAL
from .qgis_source import QgisLayerInput
from .qgis_source import has_native_grid as layer_has_native_grid

ADDITIONAL_INPUTS, MASK, RESOLUTION, TARGET_CRS = "ADDITIONAL_INPUTS", "MASK", "RESOLUTION", "TARGET_CRS"
INPUT_NODATA, NODATA_RULE = "INPUT_NODATA", "NODATA_RULE"


CLASSIFY_MASK_HELP = ("Only pixels inside these polygons (any CRS) are classified and written; the rest is nodata and "
                      "windows entirely outside are never read or run, so the time follows the masked area. Works "
                      "with EXTENT.")


def input_parameters(mask_help: str = CLASSIFY_MASK_HELP) -> list[tuple[Any, str, bool]]:
    """(parameter, help, advanced) for the inputs, in dialog order after EXTENT (``mask_help``: what MASK does to
    the algorithm's outputs)."""
    rule = QgsProcessingParameterEnum(NODATA_RULE, "A pixel is nodata when", list(NODATA_RULES), defaultValue="all")
    rule.setUsesStaticStrings(True)
    double = NUMBER_DOUBLE
    return [
        (RasterFilesParameter(ADDITIONAL_INPUTS, "Additional rasters (bands appended after the input's)"),
         "Rasters whose bands follow INPUT's, in this order (another date, bands kept in separate files), each "
         "read on INPUT's grid (resampled on the fly when its grid differs). BANDS numbers the bands of INPUT "
         "then of each additional raster. Rasters that do not overlap INPUT are refused.", False),
        (QgsProcessingParameterFeatureSource(MASK, "Processing mask (polygons)", [SOURCE_VECTOR_POLYGON],
                                             optional=True),
         mask_help, False),
        (QgsProcessingParameterNumber(RESOLUTION, "Resolution for web maps (map units per pixel)", double,
                                      optional=True, minValue=0.0),
         "For layers without a pixel grid of their own (XYZ tiles, WMS): the pixel size to read them at, in "
         "units of TARGET_CRS (or of the layer's CRS). Default: the model's ground resolution in those units; "
         "required when the model states none. Rasters with their own grid ignore it.", False),
        (QgsProcessingParameterCrs(TARGET_CRS, "CRS for web maps", optional=True),
         "For layers without a pixel grid of their own: the CRS of the grid they are read on (and of the "
         "outputs); EXTENT is then taken in this CRS. Default: the layer's CRS.", True),
        (QgsProcessingParameterNumber(INPUT_NODATA, "Input nodata value", double, optional=True),
         "A value that means nodata in every band of the inputs, for rasters that declare none (zero-filled "
         "scene borders, for example). Their own nodata values, masks and alpha bands count too.", True),
        (rule, "all (default): a pixel is nodata only when every band used is; a pixel missing only some "
         "bands is classified with the model's fill value for them (a SWIR band reading 0 over water does not "
         "blank the water). any: a pixel is nodata as soon as one band used is. The log gives the share left "
         "out.", True),
    ]


def optional_double(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
                    context: QgsProcessingContext) -> float | None:
    return algorithm.parameterAsDouble(parameters, name, context) if is_set(parameters, name) else None


def raster_reference(algorithm: QgsProcessingAlgorithm, value: Any, name: str, context: QgsProcessingContext,
                     progress: Progress, feedback: QgsProcessingFeedback | None) -> tuple[str, InputRaster | None]:
    """(name or file path, layer reader or None): files and GDAL layers are read by GDAL, other layers through
    their QGIS data provider."""
    if is_file_path(value):
        return str(value), None
    layer = value if isinstance(value, QgsRasterLayer) else QgsProcessingUtils.mapLayerFromString(
        str(value), context, True, QgsProcessingUtils.LayerHint.Raster)
    if layer is None and "url=" in str(value):  # an XYZ or WMS source as QGIS writes it, without "wms://"
        layer = QgsRasterLayer(str(value), "web map", "wms")
    if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
        raise InputError(f"{name}: the raster '{value}' cannot be loaded; give a raster file or a raster layer QGIS "
                         "can display.")
    if layer.providerType() == "gdal":
        source = layer.source()
        return (Path(source).as_posix() if Path(source).exists() else source), None
    return layer.name() or layer.source(), QgisLayerInput(layer, progress, feedback)


def additional_references(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any],
                          context: QgsProcessingContext, progress: Progress,
                          feedback: QgsProcessingFeedback | None) -> list[str | InputRaster]:
    value = parameters.get(ADDITIONAL_INPUTS)
    values = [] if value is None or value == "" else value if isinstance(value, (list, tuple)) else [value]
    references: list[str | InputRaster] = []
    for item in values:
        path, layer = raster_reference(algorithm, item, ADDITIONAL_INPUTS, context, progress, feedback)
        references.append(layer if layer is not None else path)
    return references


def grid_choice(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any],
                context: QgsProcessingContext) -> tuple[GridChoice, QgsCoordinateReferenceSystem]:
    crs = algorithm.parameterAsCrs(parameters, TARGET_CRS, context) if is_set(parameters, TARGET_CRS) else None
    wkt = crs.toWkt(WKT_PREFERRED_GDAL) if crs is not None and crs.isValid() else ""
    choice = GridChoice(optional_double(algorithm, parameters, RESOLUTION, context), wkt)
    return choice, crs if crs is not None and crs.isValid() else QgsCoordinateReferenceSystem()


def input_crs(path: str, layer: InputRaster | None) -> tuple[QgsCoordinateReferenceSystem, bool]:
    """The CRS of INPUT and whether it has a pixel grid of its own."""
    if isinstance(layer, QgisLayerInput):
        return layer.layer.crs(), layer_has_native_grid(layer.layer.dataProvider())
    dataset = open_raster(path)
    wkt = dataset.GetProjection() or dataset.GetGCPProjection() or ""
    return (QgsCoordinateReferenceSystem.fromWkt(wkt) if wkt else QgsCoordinateReferenceSystem(),
            has_native_grid(dataset))


def input_fields(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], context: QgsProcessingContext,
                 progress: Progress, feedback: QgsProcessingFeedback | None, input_name: str = "INPUT",
                 extent_name: str = "EXTENT") -> dict[str, Any]:
    """The request fields these parameters (and INPUT, EXTENT) give: input_path, input_layer, grid, extent,
    additional_inputs, mask_path, mask_layer, nodata."""
    path, layer = raster_reference(algorithm, parameters.get(input_name), input_name, context, progress, feedback)
    choice, target = grid_choice(algorithm, parameters, context)
    crs, native = input_crs(path, layer)
    mask_path, mask_layer = vector_path(algorithm, parameters, MASK, context, feedback)
    rule = algorithm.parameterAsEnumString(parameters, NODATA_RULE, context) or "all"
    return {
        "input_path": path, "input_layer": layer, "grid": choice,
        "extent": extent_in(algorithm, parameters, extent_name, context, target if target.isValid() and not native
                            else crs),
        "additional_inputs": additional_references(algorithm, parameters, context, progress, feedback),
        "mask_path": mask_path, "mask_layer": mask_layer,
        "nodata": NodataPolicy(rule, optional_double(algorithm, parameters, INPUT_NODATA, context)),
    }
