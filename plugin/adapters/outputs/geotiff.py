"""GDAL writing for the engine, and GDAL's block cache during a run.

Tiled, DEFLATE-compressed GeoTIFFs (BigTIFF when needed), filled block row by block row and flushed so
GDAL's cache never holds more than that. (Reading: :mod:`.raster_inputs`.)
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
from osgeo import gdal

from ...core.model.contract import ClassInfo
from ..inputs.gdal_grid import RasterGrid
from .raster_classes import write_classes

gdal.UseExceptions()

BLOCK = 256
# DEFLATE level 1: 7 times less CPU than the default level for files about 20 % larger, and readable by
# every GeoTIFF reader (unlike ZSTD). No compression threads: the cores belong to the model.
GTIFF_OPTIONS = ["TILED=YES", f"BLOCKXSIZE={BLOCK}", f"BLOCKYSIZE={BLOCK}", "COMPRESS=DEFLATE", "ZLEVEL=1",
                 "BIGTIFF=IF_SAFER"]


RUN_BLOCK_CACHE_BYTES = 64 * 1024 * 1024


@contextmanager
def bounded_block_cache(limit: int = RUN_BLOCK_CACHE_BYTES) -> Iterator[None]:
    """Cap GDAL's block cache while a run streams through a raster, then restore it.

    The cache is global and grows to 5 % of the RAM by default; flushing our own dataset does not empty
    it for VRT sources, so without a cap memory would grow with the raster up to that size. Only ever
    lowered, never raised.
    """
    previous = gdal.GetCacheMax()
    if previous > limit:
        gdal.SetCacheMax(limit)
    try:
        yield
    finally:
        if previous > limit:
            gdal.SetCacheMax(previous)


@dataclass(frozen=True)
class OutputSpecification:
    """One GeoTIFF to create: path, band count, data type, nodata and optional class metadata."""

    path: str
    bands: int
    data_type: int
    nodata: float
    classes: Sequence[Sequence[ClassInfo]] = ()
    band_names: Sequence[str] = ()


def create_geotiff(spec: OutputSpecification, grid: RasterGrid) -> gdal.Dataset:
    """Create an empty tiled GeoTIFF on ``grid`` with nodata, band names and class tables."""
    driver = gdal.GetDriverByName("GTiff")
    options = list(GTIFF_OPTIONS)
    if spec.data_type == gdal.GDT_Float32:
        options.append("PREDICTOR=3")
    dataset = driver.Create(spec.path, grid.width, grid.height, spec.bands, spec.data_type, options=options)
    if grid.georeferenced:
        dataset.SetGeoTransform(grid.geotransform)
    if grid.crs_wkt:
        dataset.SetProjection(grid.crs_wkt)
    for index in range(1, spec.bands + 1):
        band = dataset.GetRasterBand(index)
        band.SetNoDataValue(spec.nodata)
        if index <= len(spec.band_names):
            band.SetDescription(spec.band_names[index - 1])
    for index, classes in enumerate(spec.classes, start=1):
        write_classes(dataset, index, classes)
    return dataset


class BlockRowWriter:
    """Collects rows of one panel until a whole row of GeoTIFF blocks is complete, then writes it."""

    def __init__(self, dataset: gdal.Dataset, dtype: type) -> None:
        self._dataset, self._dtype = dataset, dtype
        self._pending: list[tuple[int, int, np.ndarray]] = []

    def add(self, row: int, col: int, values: np.ndarray) -> None:
        if self._pending and (col != self._pending[0][1] or row < self._pending[-1][0]):
            self.flush()
        self._pending.append((row, col, values))
        last_row = row + values.shape[1]
        if last_row % BLOCK == 0 or last_row == self._dataset.RasterYSize:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        row, col = self._pending[0][0], self._pending[0][1]
        block: np.ndarray = np.concatenate([v for _, _, v in self._pending], axis=1).astype(self._dtype, copy=False)
        self._pending.clear()
        self._dataset.WriteArray(block, xoff=col, yoff=row)
        self._dataset.FlushCache()
