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
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
from osgeo import gdal, ogr, osr

from ..core.contract import ClassInfo, default_color
from ..core.errors import InputError

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

CLASS_VALUE_FIELD = "_class_value"


@dataclass(frozen=True)
class PixelWindow:
    """A rectangle of pixels: column and row offsets, width and height."""

    col: int
    row: int
    width: int
    height: int


@dataclass(frozen=True)
class RasterGrid:
    """A raster's pixel grid: size, geotransform and CRS (WKT, may be empty)."""

    width: int
    height: int
    geotransform: tuple[float, float, float, float, float, float]
    crs_wkt: str = ""

    @classmethod
    def of(cls, dataset: gdal.Dataset) -> "RasterGrid":
        return cls(dataset.RasterXSize, dataset.RasterYSize, tuple(dataset.GetGeoTransform()),
                   dataset.GetProjection() or "")

    @property
    def pixel_size(self) -> tuple[float, float]:
        return abs(self.geotransform[1]), abs(self.geotransform[5])

    def bounds(self, window: PixelWindow | None = None) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the whole grid or of a window (north-up grids)."""
        window = window or PixelWindow(0, 0, self.width, self.height)
        x0, dx, _, y0, _, dy = self.geotransform
        xs = (x0 + window.col * dx, x0 + (window.col + window.width) * dx)
        ys = (y0 + window.row * dy, y0 + (window.row + window.height) * dy)
        return min(xs), min(ys), max(xs), max(ys)

    def window_geotransform(self, window: PixelWindow) -> tuple[float, ...]:
        x0, dx, rx, y0, ry, dy = self.geotransform
        return (x0 + window.col * dx + window.row * rx, dx, rx, y0 + window.col * ry + window.row * dy, ry, dy)

    def same_grid(self, other: "RasterGrid", tolerance: float = 1e-6) -> bool:
        """True when both grids have the same size, pixel positions and CRS."""
        if (self.width, self.height) != (other.width, other.height):
            return False
        scale = max(self.pixel_size)
        if any(abs(a - b) > tolerance * max(scale, 1.0) for a, b in zip(self.geotransform, other.geotransform)):
            return False
        return same_crs(self.crs_wkt, other.crs_wkt)


def same_crs(a: str, b: str) -> bool:
    """True when two WKT strings name the same CRS (or both are empty)."""
    if not a or not b:
        return not a and not b
    first, second = osr.SpatialReference(), osr.SpatialReference()
    first.ImportFromWkt(a)
    second.ImportFromWkt(b)
    return bool(first.IsSame(second))


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


def _open_layer(source: ogr.DataSource, path: str, layer_name: str | None) -> ogr.Layer:
    layer = source.GetLayerByName(layer_name) if layer_name else source.GetLayer(0)
    if layer is None:
        names = [source.GetLayer(i).GetName() for i in range(source.GetLayerCount())]
        raise InputError(f"The vector file '{path}' has no layer '{layer_name}'; its layers are {names}.")
    return layer


def open_vector(path: str) -> ogr.DataSource:
    """Open a vector file for reading, or say why it cannot be read."""
    try:
        source = ogr.Open(str(path), 0)
    except RuntimeError as error:
        source = None
        reason = str(error)
    else:
        reason = "not a vector format GDAL reads"
    if source is None:
        raise InputError(f"Cannot open the vector labels '{path}': {reason}.")
    return source


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
        classes = tuple(sorted((ClassInfo(value_of[name], name, default_color(i))
                                for i, name in enumerate(ordered_text)), key=lambda c: c.value))
    return LabelSet(classes, value_of, ignore_value_for([c.value for c in classes]))


def srs_of(wkt: str) -> osr.SpatialReference | None:
    """An osr CRS in x/y (easting/northing, longitude/latitude) axis order, or None for no CRS."""
    if not wkt:
        return None
    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def transform_to(source: osr.SpatialReference | None, target_wkt: str) -> osr.CoordinateTransformation | None:
    """Coordinate transformation into ``target_wkt``, or None when none is needed or possible."""
    target = srs_of(target_wkt)
    if source is None or target is None or source.IsSame(target):
        return None
    source = source.Clone()
    source.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return osr.CoordinateTransformation(source, target)


@contextmanager
def opened_layer(path: str, layer_name: str | None = None) -> Iterator[ogr.Layer]:
    """A layer of a vector file, released before its data source (GDAL's bindings crash otherwise)."""
    source = open_vector(path)
    layer = None
    try:
        layer = _open_layer(source, path, layer_name)
        yield layer
    finally:
        layer = None
        source = None


class MemoryLayer:
    """The features of a vector layer copied into memory, reprojected to a raster's CRS.

    With ``value_of`` each kept feature gets an integer field (features it maps to None are left out).
    :meth:`burn` rasterises onto a window of a raster grid, reading only features that touch it.
    """

    def __init__(self, path: str, layer_name: str | None, crs_wkt: str,
                 value_of: Callable[[ogr.Feature], int | None] | None = None) -> None:
        self._source = ogr.GetDriverByName("Memory").CreateDataSource("copy")
        self.layer = self._source.CreateLayer("copy", srs_of(crs_wkt), ogr.wkbUnknown)
        if value_of is not None:
            self.layer.CreateField(ogr.FieldDefn(CLASS_VALUE_FIELD, ogr.OFTInteger))
        with opened_layer(path, layer_name) as layer:
            transform = transform_to(layer.GetSpatialRef(), crs_wkt)
            for feature in layer:
                self._copy(feature, transform, value_of)
        self.feature_count = self.layer.GetFeatureCount()

    def _copy(self, feature: ogr.Feature, transform, value_of) -> None:
        geometry = feature.GetGeometryRef()
        value = value_of(feature) if value_of is not None else None
        if geometry is None or geometry.IsEmpty() or (value_of is not None and value is None):
            return
        geometry = geometry.Clone()
        if transform is not None:
            geometry.Transform(transform)
        copy = ogr.Feature(self.layer.GetLayerDefn())
        copy.SetGeometry(geometry)
        if value is not None:
            copy.SetField(CLASS_VALUE_FIELD, value)
        self.layer.CreateFeature(copy)

    def extent(self) -> tuple[float, float, float, float] | None:
        """(xmin, ymin, xmax, ymax) of the copied features, None when there are none."""
        if self.feature_count == 0:
            return None
        xmin, xmax, ymin, ymax = self.layer.GetExtent()
        return xmin, ymin, xmax, ymax

    def burn(self, grid: RasterGrid, window: PixelWindow, data_type: int = gdal.GDT_Byte, fill: int = 0,
             burn_value: int | None = None) -> np.ndarray:
        """Rasterise onto ``window`` of ``grid``: the integer field, or ``burn_value`` where features are."""
        target = gdal.GetDriverByName("MEM").Create("", window.width, window.height, 1, data_type)
        target.SetGeoTransform(grid.window_geotransform(window))
        if grid.crs_wkt:
            target.SetProjection(grid.crs_wkt)
        band = target.GetRasterBand(1)
        band.Fill(fill)
        xmin, ymin, xmax, ymax = grid.bounds(window)
        self.layer.SetSpatialFilterRect(xmin, ymin, xmax, ymax)
        try:
            options = {"burn_values": [burn_value]} if burn_value is not None else {
                "options": [f"ATTRIBUTE={CLASS_VALUE_FIELD}"]}
            gdal.RasterizeLayer(target, [1], self.layer, **options)
        finally:
            self.layer.SetSpatialFilter(None)
        return band.ReadAsArray()

    def close(self) -> None:
        """Release the layer, then its data source."""
        self.layer = None
        self._source = None

    def __del__(self) -> None:
        self.close()


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
        try:
            self._source = gdal.Open(str(path))
        except RuntimeError as error:
            raise InputError(f"Cannot open the label raster '{path}': {error}.") from error
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
