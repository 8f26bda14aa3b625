"""QGIS styling of class rasters: a paletted renderer with the model's class names and colours.

Saved as the raster's default style (``name.qml`` next to ``name.tif``), which QGIS applies whenever
the layer is loaded: from Processing, the Browser or a project.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsPalettedRasterRenderer,
    QgsRasterLayer,
    QgsRendererCategory,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor

from ...core.errors import OutputError
from ...core.model.contract import ClassInfo, ModelContract


def class_renderer(layer: QgsRasterLayer, classes: Sequence[ClassInfo], band: int = 1) -> QgsPalettedRasterRenderer:
    """A paletted renderer listing ``classes`` with their names and colours."""
    entries = [QgsPalettedRasterRenderer.Class(c.value, QColor(c.color), c.name) for c in classes]
    return QgsPalettedRasterRenderer(layer.dataProvider(), band, entries)


def apply_class_style(layer: QgsRasterLayer, classes: Sequence[ClassInfo]) -> None:
    """Style a loaded class layer in place."""
    layer.setRenderer(class_renderer(layer, classes))
    layer.triggerRepaint()


def write_default_style(raster_path: str, contract: ModelContract) -> str:
    """Write ``name.qml`` next to ``raster_path`` (the first output's classes); returns its path."""
    layer = QgsRasterLayer(raster_path, "classes", "gdal")
    if not layer.isValid():
        raise OutputError(f"The class raster '{raster_path}' could not be opened to style it.")
    apply_class_style(layer, contract.outputs[0].classes)
    style_path = str(Path(raster_path).with_suffix(".qml"))
    message, saved = layer.saveNamedStyle(style_path)
    if not saved:
        raise OutputError(f"Could not save the style '{style_path}': {message}")
    return style_path


def write_vector_style(gpkg_path: str, contract: ModelContract) -> None:
    """Store a categorised style (the model's class colours and names, on ``class_value``) inside the
    GeoPackage as its layer's default style, which QGIS applies whenever the layer is loaded."""
    layer = QgsVectorLayer(gpkg_path, "classes", "ogr")
    if not layer.isValid():
        raise OutputError(f"The class polygons '{gpkg_path}' could not be opened to style them.")
    categories = []
    for info in contract.outputs[0].classes:
        symbol = QgsFillSymbol.createSimple({"color": info.color, "outline_color": "#404040",
                                             "outline_width": "0.1"})
        categories.append(QgsRendererCategory(info.value, symbol, info.name))
    layer.setRenderer(QgsCategorizedSymbolRenderer("class_value", categories))
    message = layer.saveStyleToDatabase("classes", "Classes of the model, with its colours", True, "")
    if message:
        raise OutputError(f"Could not store the style in '{gpkg_path}': {message}")
    layer = None
