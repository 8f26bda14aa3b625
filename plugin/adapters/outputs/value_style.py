"""The value raster's QGIS default style (``name.qml``), written without QGIS: a continuous colour ramp.

QGIS applies ``name.qml`` next to ``name.tif`` whenever it loads the raster. The renderer is QGIS's
single-band pseudocolour on band 1 with an interpolated, colour-blind-safe ramp (viridis, dark to light) from
the band's 2nd to its 98th percentile (read from the statistics the run stored in the raster), so a few extreme
pixels do not wash the map out; the legend is continuous and carries the units as a suffix. A test loads it in
QGIS and checks the renderer, its range and its legend.
"""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from ...core.errors import OutputError
from ...core.model.contract import ModelContract
from .value_rasters import band_labels, read_summary

# Five stops of the viridis colour map (perceptually uniform, readable with colour-vision deficiencies).
RAMP = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")

_TEMPLATE = """<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.0" styleCategories="AllStyleCategories">
  <pipe>
    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" alphaBand="-1" nodataColor=""
                    classificationMin="{low}" classificationMax="{high}">
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Exact</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <rastershader>
        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" labelPrecision="4"
                         minimumValue="{low}" maximumValue="{high}">
          <colorramp type="gradient" name="[source]">
            <prop k="color1" v="{first}"/>
            <prop k="color2" v="{last}"/>
            <prop k="discrete" v="0"/>
            <prop k="rampType" v="gradient"/>
            <prop k="stops" v="{stops}"/>
          </colorramp>
{items}
          <rampLegendSettings orientation="2" direction="0" prefix="" suffix={suffix} minimumLabel=""
                              maximumLabel="" useContinuousLegend="1"/>
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


def _rgba(color: str) -> str:
    return ",".join(str(int(color[i:i + 2], 16)) for i in (1, 3, 5)) + ",255"


def value_style_qml(low: float, high: float, units: str) -> str:
    """The QML of a continuous ramp from ``low`` to ``high`` with ``units`` in the legend."""
    if not high > low:  # a constant raster: a range around its one value, so the ramp is defined
        low, high = low - 0.5, high + 0.5
    stops = ":".join(f"{i / (len(RAMP) - 1):g};{_rgba(c)}" for i, c in enumerate(RAMP[1:-1], start=1))
    suffix = f" {units}" if units else ""
    items = []
    for index, color in enumerate(RAMP):
        value = low + (high - low) * index / (len(RAMP) - 1)
        items.append(f'          <item alpha="255" value="{value!r}" color="{color}" '
                     f"label={quoteattr(f'{value:.4g}{suffix}')}/>")
    return _TEMPLATE.format(low=repr(low), high=repr(high), first=_rgba(RAMP[0]), last=_rgba(RAMP[-1]), stops=stops,
                            items="\n".join(items), suffix=quoteattr(suffix))


def write_value_style(raster_path: str, contract: ModelContract) -> str:
    """Write ``name.qml`` next to a value raster (its first band, from its stored statistics); returns its path."""
    summary = read_summary(raster_path)
    first = summary.bands[0] if summary is not None and summary.bands else None
    units = band_labels(contract)[0][1]
    low = first.low if first is not None and first.low is not None else 0.0
    high = first.high if first is not None and first.high is not None else 1.0
    style_path = Path(raster_path).with_suffix(".qml")
    try:
        style_path.write_text(value_style_qml(low, high, units), encoding="utf-8")
    except OSError as error:
        raise OutputError(f"Could not save the style '{style_path}': {error.strerror or error}.") from error
    return str(style_path)
