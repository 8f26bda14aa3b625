"""QGIS styling of class rasters and polygons (the model's class names and colours) and of detections
(categorised by class).

Saved as the raster's default style (``name.qml`` next to ``name.tif``) and in the GeoPackage of the polygons and
detections, which QGIS applies when the Browser or a project loads them. Processing's own loader at the end of a run
skips default styles, so the class layers it loads are styled by :class:`ClassStyle`, a layer post-processor.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsMapLayer,
    QgsMarkerSymbol,
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsRendererCategory,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor

from ...adapters.outputs.value_style import write_value_style
from ...core.errors import OutputError
from ...core.model.contract import ClassInfo, ModelContract
from ...core.model.contract_regression import is_regression


def class_renderer(layer: QgsRasterLayer, classes: Sequence[ClassInfo], band: int = 1) -> QgsPalettedRasterRenderer:
    """A paletted renderer listing ``classes`` with their names and colours."""
    entries = [QgsPalettedRasterRenderer.Class(c.value, QColor(c.color), c.name) for c in classes]
    return QgsPalettedRasterRenderer(layer.dataProvider(), band, entries)


def apply_class_style(layer: QgsRasterLayer, classes: Sequence[ClassInfo]) -> None:
    """Style a loaded class layer in place."""
    layer.setRenderer(class_renderer(layer, classes))
    layer.triggerRepaint()


def write_default_style(raster_path: str, contract: ModelContract) -> str:
    """Write ``name.qml`` next to ``raster_path`` (the first output's classes); returns its path. A regression
    model's value raster gets a continuous colour ramp with its units (written as QGIS reads it, a test checks)."""
    if is_regression(contract):
        return write_value_style(raster_path, contract)
    layer = QgsRasterLayer(raster_path, "classes", "gdal")
    if not layer.isValid():
        raise OutputError(f"The class raster '{raster_path}' could not be opened to style it.")
    apply_class_style(layer, contract.outputs[0].classes)
    style_path = str(Path(raster_path).with_suffix(".qml"))
    message, saved = layer.saveNamedStyle(style_path)
    if not saved:
        raise OutputError(f"Could not save the style '{style_path}': {message}")
    return style_path


def polygon_renderer(classes: Sequence[ClassInfo]) -> QgsCategorizedSymbolRenderer:
    """A categorised renderer on ``class_value`` listing ``classes`` with their names and colours."""
    categories = []
    for info in classes:
        symbol = QgsFillSymbol.createSimple({"color": info.color, "outline_color": "#404040",
                                             "outline_width": "0.1"})
        categories.append(QgsRendererCategory(info.value, symbol, info.name))
    return QgsCategorizedSymbolRenderer("class_value", categories)


def write_vector_style(gpkg_path: str, contract: ModelContract) -> None:
    """Store a categorised style (the model's class colours and names, on ``class_value``) inside the
    GeoPackage as its layer's default style, which QGIS applies whenever the layer is loaded. ``gpkg_path``
    names the layer (``file.gpkg|layername=name``) when the file holds several."""
    layer = QgsVectorLayer(gpkg_path, "classes", "ogr")
    if not layer.isValid():
        raise OutputError(f"The class polygons '{gpkg_path}' could not be opened to style them.")
    layer.setRenderer(polygon_renderer(contract.outputs[0].classes))
    message = layer.saveStyleToDatabase("classes", "Classes of the model, with its colours", True, "")
    if message:
        raise OutputError(f"Could not store the style in '{gpkg_path}': {message}")
    layer = None


class ClassStyle(QgsProcessingLayerPostProcessorInterface):
    """Styles a layer Processing loads when the run finishes with the model's classes: a paletted renderer of
    exactly those classes for the class raster (not the 256 entries of its embedded colour table), the
    categorised renderer for the polygons."""

    _pending: set["ClassStyle"] = set()  # QGIS keeps only a pointer: each instance lives until it has run

    def __init__(self, classes: Sequence[ClassInfo]) -> None:
        super().__init__()
        self.classes = tuple(classes)
        ClassStyle._pending.add(self)

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext,  # noqa: N802 - QGIS API
                         feedback: QgsProcessingFeedback) -> None:
        if isinstance(layer, QgsRasterLayer):
            apply_class_style(layer, self.classes)
        elif isinstance(layer, QgsVectorLayer):
            layer.setRenderer(polygon_renderer(self.classes))
            layer.triggerRepaint()
        ClassStyle._pending.discard(self)


class ValueStyle(QgsProcessingLayerPostProcessorInterface):
    """Styles a value raster Processing loads when the run finishes with the continuous style written beside it
    (``name.qml``: Processing's loader skips default styles)."""

    _pending: set["ValueStyle"] = set()  # QGIS keeps only a pointer: each instance lives until it has run

    def __init__(self, style_path: str) -> None:
        super().__init__()
        self.style_path = style_path
        ValueStyle._pending.add(self)

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext,  # noqa: N802 - QGIS API
                         feedback: QgsProcessingFeedback) -> None:
        if isinstance(layer, QgsRasterLayer) and Path(self.style_path).exists():
            layer.loadNamedStyle(self.style_path)
            layer.triggerRepaint()
        ValueStyle._pending.discard(self)


def values_on_loading(context: QgsProcessingContext, path: str, name: str) -> None:
    """When the run's context loads the value raster ``path`` on completion: name it and give it its style."""
    if context.willLoadLayerOnCompletion(path):
        details = context.layerToLoadOnCompletionDetails(path)
        details.name = name
        details.setPostProcessor(ValueStyle(str(Path(path).with_suffix(".qml"))))


def style_on_loading(context: QgsProcessingContext, path: str, name: str, classes: Sequence[ClassInfo],
                     loaded_as: str | None = None) -> None:
    """When the run's context loads the output written to the file ``path`` on completion (registered as that
    path, ``path|layername=...`` or ``ogr:dbname='path'...``): name the layer, style it with ``classes`` and load
    it as ``loaded_as`` (the layer actually written, e.g. ``file.gpkg|layername=x``) when that differs."""
    from ...adapters.polygons.geopackage_target import parse_destination

    layers = context.layersToLoadOnCompletion()
    keys = [key for key in layers if key == path or parse_destination(key)[0] == path]
    if not keys:
        return
    details = layers.pop(keys[0])
    details.name = name
    details.setPostProcessor(ClassStyle(classes))
    layers[loaded_as or keys[0]] = details
    context.setLayersToLoadOnCompletion(layers)
def detection_renderer(classes: Sequence[ClassInfo], points: bool = False) -> QgsCategorizedSymbolRenderer:
    """A categorised renderer on ``class_value``: box outlines in the class colours over the imagery (or round
    markers for the centres), named by class."""
    categories = []
    for info in classes:
        if points:
            symbol = QgsMarkerSymbol.createSimple({"name": "circle", "color": info.color, "size": "2",
                                                   "outline_color": "#ffffff", "outline_width": "0.2"})
        else:
            symbol = QgsFillSymbol.createSimple({"style": "no", "outline_color": info.color, "outline_width": "0.5"})
        categories.append(QgsRendererCategory(info.value, symbol, info.name))
    return QgsCategorizedSymbolRenderer("class_value", categories)


def write_detection_style(uri: str, contract: ModelContract, points: bool = False) -> None:
    """Store :func:`detection_renderer` as the default style of the detections' layer ``uri``
    (``file.gpkg|layername=...``)."""
    layer = QgsVectorLayer(uri, "detections", "ogr")
    if not layer.isValid():
        raise OutputError(f"The detections '{uri}' could not be opened to style them.")
    layer.setRenderer(detection_renderer(contract.all_classes, points))
    message = layer.saveStyleToDatabase(layer.name(), "Detections by class, in the model's colours", True, "")
    if message:
        raise OutputError(f"Could not store the style in '{uri}': {message}")
    layer = None


class DetectionStyle(QgsProcessingLayerPostProcessorInterface):
    """Styles the detections' layer Processing loads when the run finishes (its loader skips the default style
    stored in the GeoPackage) with :func:`detection_renderer`."""

    _pending: set["DetectionStyle"] = set()  # QGIS keeps only a pointer: each instance lives until it has run

    def __init__(self, classes: Sequence[ClassInfo], points: bool) -> None:
        super().__init__()
        self.classes, self.points = tuple(classes), points
        DetectionStyle._pending.add(self)

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext,  # noqa: N802 - QGIS API
                         feedback: QgsProcessingFeedback) -> None:
        if isinstance(layer, QgsVectorLayer):
            layer.setRenderer(detection_renderer(self.classes, self.points))
            layer.triggerRepaint()
        DetectionStyle._pending.discard(self)
