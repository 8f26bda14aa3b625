"""The class raster's QGIS default style (``name.qml``), written without QGIS.

QGIS applies ``name.qml`` next to ``name.tif`` whenever it loads the raster. Inside QGIS the Processing
algorithm saves the style through QGIS itself (``processing/styling.py``); the command line has no QGIS, so
it writes the same paletted renderer (band 1, one palette entry per class of the first output, with its
value, colour and name) as the XML QGIS reads. A test loads this file in QGIS and compares it with QGIS's own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import quoteattr

from ...core.errors import OutputError
from ...core.model.contract import ClassInfo, ModelContract
from ...core.model.contract_regression import is_regression
from .value_style import write_value_style

_TEMPLATE = """<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.0" styleCategories="AllStyleCategories">
  <pipe>
    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1" nodataColor="">
      <colorPalette>
{entries}
      </colorPalette>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" grayscaleMode="0" colorizeOn="0" invertColors="0"/>
    <rasterresampler maxOversampling="2"/>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"""


def class_style_qml(contract: ModelContract) -> str:
    """The QML text of a paletted style listing the first output's classes."""
    return paletted_qml(contract.outputs[0].classes)


def paletted_qml(classes: Sequence[ClassInfo]) -> str:
    """The QML text of a paletted style (band 1) listing ``classes``."""
    entries = "\n".join(f'        <paletteEntry alpha="255" value="{c.value}" color={quoteattr(c.color)} '
                        f"label={quoteattr(c.name)}/>" for c in classes)
    return _TEMPLATE.format(entries=entries)


def write_qml_style(raster_path: str, contract: ModelContract) -> str:
    """Write ``name.qml`` next to ``raster_path``; returns its path (a StyleWriter of the classify job). A
    regression model's value raster gets a continuous colour ramp instead (:mod:`.value_style`)."""
    if is_regression(contract):
        return write_value_style(raster_path, contract)
    style_path = Path(raster_path).with_suffix(".qml")
    try:
        style_path.write_text(class_style_qml(contract), encoding="utf-8")
    except OSError as error:
        raise OutputError(f"Could not save the style '{style_path}': {error.strerror or error}.") from error
    return str(style_path)
