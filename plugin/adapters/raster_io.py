"""GDAL windowed reading and writing for the engine.

Reading: the chosen bands of a raster, with a validity mask from GDAL's mask bands (nodata values,
alpha bands and per-dataset masks). Writing: tiled, DEFLATE-compressed GeoTIFFs (BigTIFF when
needed), filled block row by block row and flushed so GDAL's cache never holds more than that.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
from osgeo import gdal

from ..core.contract import ClassInfo
from ..core.errors import InputError
from ..core.window import PixelWindow
from .gdal_grid import RasterGrid
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


class GdalRasterSource:
    """Implements the engine's RasterSource over some bands of a GDAL dataset.

    Pixels GDAL's masks mark invalid are nodata; so are NaN and infinite values of float rasters, which
    would otherwise spread through a whole window's predictions. The first such pixel is remembered so
    the job can say once, after the run, that there were some.
    """

    def __init__(self, dataset: gdal.Dataset, bands: Sequence[int], name: str = "") -> None:
        self._dataset = dataset
        self.name = name or dataset.GetDescription()
        self.bands = list(bands)
        self.width, self.height = dataset.RasterXSize, dataset.RasterYSize
        self._masks = []
        for index in self.bands:
            band = dataset.GetRasterBand(index)
            if not band.GetMaskFlags() & gdal.GMF_ALL_VALID:
                self._masks.append(band.GetMaskBand())
        self._per_dataset = bool(self._masks) and all(
            dataset.GetRasterBand(i).GetMaskFlags() & gdal.GMF_PER_DATASET for i in self.bands)
        self._float = any(gdal.GetDataTypeName(dataset.GetRasterBand(i).DataType).startswith(("Float", "CFloat"))
                          for i in self.bands)
        self.first_non_finite: tuple[int, int] | None = None  # (col, row) of the first NaN/infinite pixel

    def read(self, col: int, row: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        try:
            raw = self._dataset.ReadAsArray(col, row, width, height, band_list=self.bands)
            valid = np.ones((height, width), bool)
            for mask in self._masks[:1] if self._per_dataset else self._masks:
                valid &= mask.ReadAsArray(col, row, width, height) > 0
        except RuntimeError as error:
            raise InputError(f"Cannot read the pixels of '{self.name}' at column {col}, row {row} ({width} x "
                             f"{height}): {str(error).strip()}. The file may be truncated or damaged, or a file it "
                             "refers to (for a VRT) may be missing.") from error
        if raw.ndim == 2:
            raw = raw[None]
        if self._float:
            self._mask_non_finite(raw, valid, col, row)
        # Reading is sequential: drop the cached blocks so memory does not grow with the raster.
        self._dataset.FlushCache()
        return raw, valid

    def _mask_non_finite(self, raw: np.ndarray, valid: np.ndarray, col: int, row: int) -> None:
        finite = np.isfinite(raw).all(axis=0)
        if finite.all():
            return
        if self.first_non_finite is None:
            rows, cols = np.nonzero(~finite)
            self.first_non_finite = (col + int(cols[0]), row + int(rows[0]))
        valid &= finite


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


def window_grid(dataset: gdal.Dataset, window: PixelWindow) -> RasterGrid:
    """The grid of a window of ``dataset``: same pixels and CRS, shifted origin."""
    full = RasterGrid.of(dataset)
    return RasterGrid(window.width, window.height, full.window_geotransform(window), full.crs_wkt,
                      full.georeferenced)

