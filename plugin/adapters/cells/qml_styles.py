"""The cell rasters' QGIS default styles (``name.qml``) written without QGIS, for the command line: class rasters
paletted (:func:`..outputs.qml_style.paletted_qml`), value rasters a viridis pseudocolour ramp over the values'
range. Polygon grids get no style from the command line (QGIS stores vector styles inside the GeoPackage through
its own API); QGIS styles them in Processing."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ...core.errors import OutputError
from ...core.model.contract import ClassInfo
from ..outputs.qml_style import paletted_qml

RAMP = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")  # as processing/common/cell_styles.py

_PSEUDOCOLOR = """<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.0" styleCategories="AllStyleCategories">
  <pipe>
    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" alphaBand="-1" nodataColor=""
                    classificationMin="{low}" classificationMax="{high}">
      <rastershader>
        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" minimumValue="{low}"
                         maximumValue="{high}">
{items}
        </colorrampshader>
      </rastershader>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" grayscaleMode="0" colorizeOn="0" invertColors="0"/>
    <rasterresampler maxOversampling="2"/>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"""


def pseudocolor_qml(low: float, high: float) -> str:
    """A single-band pseudocolour style from ``low`` to ``high`` (a unit span when they are equal)."""
    if high <= low:
        high = low + 1.0
    steps = [low + (high - low) * i / (len(RAMP) - 1) for i in range(len(RAMP))]
    items = "\n".join(f'          <item alpha="255" value="{v:.9g}" label="{v:.6g}" color="{c}"/>'
                      for v, c in zip(steps, RAMP))
    return _PSEUDOCOLOR.format(low=f"{low:.9g}", high=f"{high:.9g}", items=items)


def _write(raster_path: str, text: str) -> None:
    style = Path(raster_path).with_suffix(".qml")
    try:
        style.write_text(text, encoding="utf-8")
    except OSError as error:
        raise OutputError(f"Could not save the style '{style}': {error.strerror or error}.") from error


class QmlCellStyler:
    """The job's styler without QGIS: raster styles as QML files, polygon grids unstyled."""

    def class_raster(self, path: str, classes: Sequence[ClassInfo]) -> None:
        _write(path, paletted_qml(classes))

    def value_raster(self, path: str, low: float, high: float) -> None:
        _write(path, pseudocolor_qml(low, high))

    def class_polygons(self, path: str, classes: Sequence[ClassInfo], field_name: str) -> None:
        return None

    def value_polygons(self, path: str, field_name: str, low: float, high: float) -> None:
        return None
