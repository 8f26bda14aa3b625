"""Labels onto an image grid, with GDAL/OGR only (no QGIS): shared by training, chip export and
accuracy assessment.

- Vector labels: a class field (numbers or text) is turned into class values; polygons (or points)
  are burnt onto the image grid window by window, reprojected when the CRS differs. Pixels no
  feature covers are unlabelled.
- Label rasters: read directly when they share the image grid, otherwise warped onto it with
  nearest-neighbour resampling (a warning says so).

Unlabelled pixels get :attr:`LabelSet.ignore_value`: 255, or 65535 when a class value needs 255.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from osgeo import gdal, ogr

from ...core.areas.window import PixelWindow
from ...core.errors import InputError
from ...core.model.contract import ClassInfo, default_color, default_colors
from .gdal_grid import RasterGrid, open_raster
from .gdal_vectors import MemoryLayer, opened_layer

gdal.UseExceptions()
ogr.UseExceptions()


@dataclass(frozen=True)
class LabelSet:
    """The classes found in labels, how source values map to class values, and the ignore value."""

    classes: tuple[ClassInfo, ...]
    value_of: dict[Any, int] = field(default_factory=dict)
    ignore_value: int = 255

    @property
    def dtype(self) -> type:
        return np.uint8 if self.ignore_value <= 255 else np.uint16


def ignore_value_for(values: list[int]) -> int:
    return 255 if all(v < 255 for v in values) else 65535


def labels_from_field(path: str, class_field: str, layer_name: str | None = None,
                      codes: dict[str, int] | None = None) -> LabelSet:
    """Classes from the distinct values of ``class_field``.

    Whole numbers are kept as class values (names are the numbers); text values become class names
    with the codes given in ``codes`` (name -> value), or, without ``codes``, are sorted and numbered
    from 1. Features with an empty field are skipped.
    """
    with opened_layer(path, layer_name) as layer:
        definition = layer.GetLayerDefn()
        index = definition.GetFieldIndex(class_field)
        if index < 0:
            fields = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
            raise InputError(f"The label layer has no field '{class_field}'; its fields are {fields}. "
                             "Choose the field that holds the class of each feature.")
        field_type = definition.GetFieldDefn(index).GetType()
        values = {feature.GetField(index) for feature in layer if feature.IsFieldSetAndNotNull(index)}
    if not values:
        raise InputError(f"The field '{class_field}' is empty in every feature; nothing can be learnt or assessed.")
    numeric = field_type in (ogr.OFTInteger, ogr.OFTInteger64, ogr.OFTReal)
    if numeric and all(float(v).is_integer() and 0 <= v <= 65534 for v in values):
        ordered = sorted(int(v) for v in values)
        classes = tuple(ClassInfo(v, str(v), default_color(i)) for i, v in enumerate(ordered))
        value_of = {v: int(v) for v in values}
    elif numeric:
        raise InputError(f"The field '{class_field}' holds numbers that are not whole numbers from 0 to 65534 "
                         f"(for example {sorted(values)[:5]}); use a field of class codes or class names.")
    else:
        ordered_text = sorted(str(v) for v in values)
        if codes:
            missing = [name for name in ordered_text if name not in codes]
            if missing:
                raise InputError(f"The class field '{class_field}' holds {missing}, which have no code; give "
                                 "every class name its value (or give no codes and they are numbered from 1).")
            value_of = {name: int(codes[name]) for name in ordered_text}
        else:
            value_of = {name: i + 1 for i, name in enumerate(ordered_text)}
        by_value = sorted(ordered_text, key=lambda name: value_of[name])
        classes = tuple(ClassInfo(value_of[name], name, color)
                        for name, color in zip(by_value, default_colors(by_value)))
    return LabelSet(classes, value_of, ignore_value_for([c.value for c in classes]))


class VectorLabels:
    """Vector labels copied once into memory, in the image's CRS, with an integer class field."""

    def __init__(self, path: str, class_field: str, grid: RasterGrid, layer_name: str | None = None,
                 labels: LabelSet | None = None, codes: dict[str, int] | None = None) -> None:
        self.labels = labels or labels_from_field(path, class_field, layer_name, codes)
        self.grid = grid
        with opened_layer(path, layer_name) as layer:
            index = layer.GetLayerDefn().GetFieldIndex(class_field)
        self._copy = MemoryLayer(path, layer_name, grid.crs_wkt, lambda feature: self._value(feature, index))
        self.feature_count = self._copy.feature_count

    def _value(self, feature: ogr.Feature, index: int) -> int | None:
        if not feature.IsFieldSetAndNotNull(index):
            return None
        key = feature.GetField(index)
        key = int(key) if isinstance(key, float) and key.is_integer() else key
        return self.labels.value_of.get(str(key) if isinstance(key, str) else key)

    def extent_overlaps_grid(self) -> bool:
        """True when the labels' extent touches the image."""
        extent = self._copy.extent()
        if extent is None:
            return False
        xmin, ymin, xmax, ymax = extent
        gx0, gy0, gx1, gy1 = self.grid.bounds()
        return xmin < gx1 and xmax > gx0 and ymin < gy1 and ymax > gy0

    def read(self, window: PixelWindow) -> np.ndarray:
        """Class values burnt onto ``window`` of the grid; unlabelled pixels hold the ignore value."""
        dtype = gdal.GDT_Byte if self.labels.dtype == np.uint8 else gdal.GDT_UInt16
        return self._copy.burn(self.grid, window, dtype, fill=self.labels.ignore_value)


class RasterLabels:
    """A label raster read on the image grid: directly, or warped (nearest) when the grids differ."""

    def __init__(self, path: str, grid: RasterGrid, band: int = 1, ignore_value: int | None = None) -> None:
        self._source = open_raster(path, "label raster")
        if band < 1 or band > self._source.RasterCount:
            raise InputError(f"The label raster '{path}' has {self._source.RasterCount} band(s); band {band} "
                             "does not exist.")
        source_grid = RasterGrid.of(self._source)
        nodata = self._source.GetRasterBand(band).GetNoDataValue()
        self.source_nodata = None if nodata is None or math.isnan(nodata) else int(nodata)
        self.ignore_value = ignore_value if ignore_value is not None else self.source_nodata
        self.resampled = False
        self.note = ""
        if source_grid.same_grid(grid) or (not source_grid.crs_wkt and (source_grid.width, source_grid.height)
                                           == (grid.width, grid.height)):
            self._dataset = self._source
            if not source_grid.crs_wkt and grid.crs_wkt:
                self.note = (f"The label raster '{path}' has no CRS; it has the image's size, so it is taken "
                             "to share the image's grid.")
        else:
            if self.ignore_value is None:  # pixels beyond the label raster need a value meaning "unlabelled"
                byte = self._source.GetRasterBand(band).DataType == gdal.GDT_Byte
                self.ignore_value = 255 if byte else 65535
            self._dataset = _warp_onto(self._source, grid, path, self.ignore_value)
            self.resampled = True
            self.note = (f"The label raster '{path}' is on another grid; it is resampled onto the image grid "
                         "with nearest neighbour.")
        self._band_index = band
        self.grid = grid

    def read(self, window: PixelWindow) -> np.ndarray:
        """Label values of ``window``; pixels outside the label raster hold the ignore value (if any)."""
        band = self._dataset.GetRasterBand(self._band_index)
        return band.ReadAsArray(window.col, window.row, window.width, window.height)


def _warp_onto(source: gdal.Dataset, grid: RasterGrid, path: str, fill: int) -> gdal.Dataset:
    if not source.GetProjection() and grid.crs_wkt:
        raise InputError(f"The label raster '{path}' has no CRS and a different size from the image "
                         f"({source.RasterXSize}x{source.RasterYSize} vs {grid.width}x{grid.height}); "
                         "assign its CRS in QGIS (Layer Properties > Source) and try again.")
    xmin, ymin, xmax, ymax = grid.bounds()
    # The fill means "unlabelled" in the source too. Saying so matters: newer GDAL versions change valid source
    # pixels that equal the destination nodata (to fill + 1; seen with 3.13, not 3.10), turning unlabelled pixels
    # into a class.
    options = gdal.WarpOptions(format="VRT", outputBounds=(xmin, ymin, xmax, ymax), width=grid.width,
                               height=grid.height, dstSRS=grid.crs_wkt or None, resampleAlg="near",
                               srcNodata=fill, dstNodata=fill)
    return gdal.Warp("", source, options=options)
