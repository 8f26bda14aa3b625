"""Vector files with OGR only (no QGIS): opening a layer safely, and an in-memory copy in a raster's CRS
that is burnt onto the raster's grid window by window (labels, masks, validation areas)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
from osgeo import gdal, ogr

from ...core.areas.window import PixelWindow
from ...core.errors import InputError
from .gdal_grid import RasterGrid, srs_of, transform_to

gdal.UseExceptions()
ogr.UseExceptions()

CLASS_VALUE_FIELD = "_class_value"


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
