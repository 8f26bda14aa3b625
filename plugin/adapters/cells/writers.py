"""Cell rows into files: rasters of one pixel per cell, and a GeoPackage of one square polygon per cell.

A job describes its results as named columns (:class:`Column`: one value per cell of a row, from a
:class:`~plugin.core.cells.merger.FinishedCells` part); a raster takes some columns as its bands, the polygon layer
takes them all as fields. Rows come in order within each column panel; rasters are filled block row by block row
(:class:`~..outputs.geotiff.BlockRowWriter`), features are written in transactions. Cells without a result are
nodata in rasters and have no feature.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from osgeo import gdal, ogr

from ...core.cells.merger import FinishedCells
from ...core.errors import OutputError
from ...core.model.contract import ClassInfo
from ..inputs.gdal_grid import RasterGrid, srs_of
from ..outputs.geotiff import BlockRowWriter, OutputSpecification, create_geotiff

gdal.UseExceptions()
ogr.UseExceptions()

Columns = dict[str, np.ndarray]
Table = Callable[[FinishedCells], Columns]
OGR_TYPES = {"integer": ogr.OFTInteger, "real": ogr.OFTReal, "text": ogr.OFTString, "binary": ogr.OFTBinary}
COMMIT_EVERY = 20_000


@dataclass(frozen=True)
class Column:
    """One value per cell: its field name and OGR kind (integer, real, text, binary)."""

    name: str
    kind: str = "real"


def field_names(labels: Sequence[str], prefix: str) -> list[str]:
    """Field names for ``labels`` (class names, value names): ``prefix`` + the label in lower case, letters, digits
    and underscores only, made unique."""
    names: list[str] = []
    for label in labels:
        base = prefix + (re.sub(r"[^0-9a-z]+", "_", label.lower()).strip("_") or "unnamed")
        name, number = base, 2
        while name in names:
            name, number = f"{base}_{number}", number + 1
        names.append(name)
    return names


class CellRaster:
    """A raster of one pixel per cell, some columns as its bands."""

    def __init__(self, path: str, grid: RasterGrid, columns: Sequence[str], data_type: int, nodata: float,
                 band_names: Sequence[str] = (), classes: Sequence[ClassInfo] = ()) -> None:
        spec = OutputSpecification(path, len(columns), data_type, nodata, [classes] if classes else (), band_names)
        self.path, self.columns, self.nodata = path, list(columns), nodata
        self.dataset = create_geotiff(spec, grid)
        from osgeo import gdal_array

        self.dtype = np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(data_type))
        self._writer = BlockRowWriter(self.dataset, self.dtype.type)

    def write(self, part: FinishedCells, values: Columns) -> None:
        block = np.full((len(self.columns), 1, part.width), self.nodata, self.dtype)
        for band, name in enumerate(self.columns):
            block[band, 0, part.present] = values[name][part.present]
        self._writer.add(part.row, part.col, block)

    def close(self) -> None:
        self._writer.flush()
        self.dataset.FlushCache()
        self.dataset = None


class CellPolygons:
    """A GeoPackage layer of one square polygon per cell with a result, every column a field."""

    def __init__(self, path: str, grid: RasterGrid, columns: Sequence[Column], layer_name: str = "cells",
                 add_to_existing: bool = False) -> None:
        """``add_to_existing``: add the layer to the GeoPackage at ``path`` (a copy keeping other layers) instead
        of creating the file."""
        self.grid, self.columns = grid, list(columns)
        try:
            self._source = (ogr.Open(path, 1) if add_to_existing
                            else ogr.GetDriverByName("GPKG").CreateDataSource(path))
        except RuntimeError as error:
            raise OutputError(f"Cannot create the GeoPackage '{path}': {error}.") from error
        self.layer = self._source.CreateLayer(layer_name, srs_of(grid.crs_wkt), ogr.wkbPolygon)
        for column in self.columns:
            self.layer.CreateField(ogr.FieldDefn(column.name, OGR_TYPES[column.kind]))
        self._definition = self.layer.GetLayerDefn()
        self._pending = 0
        self.count = 0
        self.layer.StartTransaction()

    def _square(self, row: int, col: int) -> ogr.Geometry:
        x0, dx, rx, y0, ry, dy = self.grid.geotransform
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for c, r in ((col, row), (col + 1, row), (col + 1, row + 1), (col, row + 1), (col, row)):
            ring.AddPoint_2D(x0 + c * dx + r * rx, y0 + c * ry + r * dy)
        polygon = ogr.Geometry(ogr.wkbPolygon)
        polygon.AddGeometry(ring)
        return polygon

    def write(self, part: FinishedCells, values: Columns) -> None:
        for index in np.flatnonzero(part.present):
            feature = ogr.Feature(self._definition)
            for column in self.columns:
                value = values[column.name][index]
                if column.kind == "binary":
                    feature.SetFieldBinaryFromHexString(column.name, bytes(value).hex())
                else:
                    feature.SetField(column.name, value.item() if hasattr(value, "item") else value)
            feature.SetGeometry(self._square(part.row, part.col + int(index)))
            self.layer.CreateFeature(feature)
            self._pending += 1
        self.count += int(part.present.sum())
        if self._pending >= COMMIT_EVERY:
            self.layer.CommitTransaction()
            self.layer.StartTransaction()
            self._pending = 0

    def close(self) -> None:
        if self.layer is not None:
            self.layer.CommitTransaction()
        self.layer = None
        self._source = None


class CellSinkFan:
    """The engine's sink: each finished row's columns (from ``table``) to every writer; cell positions shifted by
    ``offset`` (rows, columns) for a block of a larger grid."""

    def __init__(self, table: Table, writers: Sequence[CellRaster | CellPolygons],
                 offset: tuple[int, int] = (0, 0)) -> None:
        self.table, self.writers, self.offset = table, list(writers), offset

    def write(self, part: FinishedCells) -> None:
        if self.offset != (0, 0):
            part = FinishedCells(part.row + self.offset[0], part.col + self.offset[1], part.present, part.coverage,
                                 part.area_pixels, part.classes, part.scores, part.probabilities, part.values,
                                 part.embeddings)
        values = self.table(part)
        for writer in self.writers:
            writer.write(part, values)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()
