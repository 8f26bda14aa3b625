"""QGIS styles of the cell outputs (Classify tiles, Similarity search), saved as their default styles.

Class rasters are paletted with the class names and colours (``name.qml`` beside the GeoTIFF); value rasters
(regression values, similarity) get a single-band pseudocolour ramp over the values' range; polygon grids a
categorised (classes) or graduated (values) style stored inside the GeoPackage, which QGIS applies when the
layer is loaded.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsColorRampShader,
    QgsFillSymbol,
    QgsGradientColorRamp,
    QgsGraduatedSymbolRenderer,
    QgsRasterLayer,
    QgsRasterShader,
    QgsRendererCategory,
    QgsRendererRange,
    QgsSingleBandPseudoColorRenderer,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor

from ...core.errors import OutputError
from ...core.model.contract import ClassInfo
from .styling import apply_class_style

RAMP = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")  # viridis: ordered, colour-blind safe
GRADUATED_CLASSES = 5


def _ramp() -> QgsGradientColorRamp:
    ramp = QgsGradientColorRamp(QColor(RAMP[0]), QColor(RAMP[-1]))
    from qgis.core import QgsGradientStop

    ramp.setStops([QgsGradientStop(i / (len(RAMP) - 1), QColor(c)) for i, c in enumerate(RAMP[1:-1], 1)])
    return ramp


def _save_raster_style(layer: QgsRasterLayer, path: str) -> None:
    style_path = str(Path(path).with_suffix(".qml"))
    message, saved = layer.saveNamedStyle(style_path)
    if not saved:
        raise OutputError(f"Could not save the style '{style_path}': {message}")


def _raster(path: str) -> QgsRasterLayer:
    layer = QgsRasterLayer(path, "cells", "gdal")
    if not layer.isValid():
        raise OutputError(f"The cell raster '{path}' could not be opened to style it.")
    return layer


def _vector(path: str) -> QgsVectorLayer:
    layer = QgsVectorLayer(path, "cells", "ogr")
    if not layer.isValid():
        raise OutputError(f"The polygon grid '{path}' could not be opened to style it.")
    return layer


def _store(layer: QgsVectorLayer, path: str, description: str) -> None:
    message = layer.saveStyleToDatabase("cells", description, True, "")
    if message:
        raise OutputError(f"Could not store the style in '{path}': {message}")


class QgisCellStyler:
    """The job's styler inside QGIS."""

    def class_raster(self, path: str, classes: Sequence[ClassInfo]) -> None:
        layer = _raster(path)
        apply_class_style(layer, classes)
        _save_raster_style(layer, path)

    def value_raster(self, path: str, low: float, high: float) -> None:
        layer = _raster(path)
        if high <= low:
            high = low + 1.0
        shader_function = QgsColorRampShader(low, high, _ramp())
        shader_function.classifyColorRamp(len(RAMP))
        shader = QgsRasterShader()
        shader.setRasterShaderFunction(shader_function)
        renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
        renderer.setClassificationMin(low)
        renderer.setClassificationMax(high)
        layer.setRenderer(renderer)
        _save_raster_style(layer, path)

    def class_polygons(self, path: str, classes: Sequence[ClassInfo], field_name: str) -> None:
        layer = _vector(path)
        categories = []
        for info in classes:
            symbol = QgsFillSymbol.createSimple({"color": info.color, "outline_color": "#404040",
                                                 "outline_width": "0.1"})
            categories.append(QgsRendererCategory(info.value, symbol, info.name))
        layer.setRenderer(QgsCategorizedSymbolRenderer(field_name, categories))
        _store(layer, path, "Cells by class, with the model's colours")

    def value_polygons(self, path: str, field_name: str, low: float, high: float) -> None:
        layer = _vector(path)
        if high <= low:
            high = low + 1.0
        ranges, ramp = [], _ramp()
        step = (high - low) / GRADUATED_CLASSES
        for index in range(GRADUATED_CLASSES):
            start, end = low + index * step, low + (index + 1) * step
            symbol = QgsFillSymbol.createSimple({"color": ramp.color(index / (GRADUATED_CLASSES - 1)).name(),
                                                 "outline_style": "no"})
            ranges.append(QgsRendererRange(start, end if index < GRADUATED_CLASSES - 1 else high + abs(high) * 1e-9
                                           + 1e-12, symbol, f"{start:.4g} - {end:.4g}"))
        layer.setRenderer(QgsGraduatedSymbolRenderer(field_name, ranges))
        _store(layer, path, f"Cells by {field_name}")
