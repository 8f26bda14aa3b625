"""The rasters a run reads, whatever they come from, seen the same way by the classify job.

An :class:`InputRaster` is a raster on a pixel grid: its bands' descriptions, a reader of raw values and
per-band validity, and views of the same raster on other grids (another raster's grid, for stacked
inputs; the model's resolution). :class:`GdalInput` is a GDAL dataset (files, VRTs, GDAL's own web
drivers); views on other grids are GDAL warped VRTs, computed block by block as they are read. Layers
QGIS reads through its data providers (web maps, databases) implement the same protocol on the QGIS side.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
from osgeo import gdal

from ...core.errors import InputError
from .gdal_grid import RasterGrid
from .georeferencing import Georeferencing

gdal.UseExceptions()


@dataclass(frozen=True)
class BandInfo:
    """What the job needs to know of one band."""

    description: str = ""
    alpha: bool = False  # an alpha band: a validity mask, not data for the model
    data_type: str = "Float32"  # GDAL's name of the band's data type


class BandReader(Protocol):
    """Raw values of some bands and, per band, whether each value is valid."""

    width: int
    height: int

    def read(self, col: int, row: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """(bands, height, width) raw values and (bands, height, width) bool validity; the rectangle
        lies inside the raster."""
        ...


class InputRaster(Protocol):
    """A raster on a pixel grid, and the same raster seen on other grids."""

    name: str
    grid: RasterGrid
    bands: list[BandInfo]
    georeferencing: Georeferencing
    native_grid: bool  # False: a map drawn at any scale (web maps); it is read on a grid chosen for it

    def reader(self, bands: Sequence[int]) -> BandReader:
        """A reader of the 1-based ``bands`` on this grid."""
        ...

    def on_grid(self, grid: RasterGrid, resampling: str) -> "InputRaster":
        """The same raster resampled (``resampling``: GDAL's name) onto a north-up ``grid``."""
        ...

    def at_resolution(self, resolution: tuple[float, float], resampling: str) -> "InputRaster":
        """The whole raster on a north-up grid of ``resolution`` (x, y) in its CRS's units."""
        ...

    def fetch_failure(self) -> str | None:
        """After a run: why not a single pixel could be had from the raster (a service that failed every
        request), or None. A run that got none because of it must fail, not write nodata."""
        ...


class GdalBandReader:
    """Some bands of a GDAL dataset with GDAL's validity (nodata values, alpha bands, mask files)."""

    def __init__(self, dataset: gdal.Dataset, bands: Sequence[int], name: str, flush: bool = True) -> None:
        self._dataset, self.bands, self.name = dataset, list(bands), name
        self.width, self.height = dataset.RasterXSize, dataset.RasterYSize
        self._flush = flush
        flags = [dataset.GetRasterBand(i).GetMaskFlags() for i in self.bands]
        self._masks = [None if f & gdal.GMF_ALL_VALID else dataset.GetRasterBand(i).GetMaskBand()
                       for i, f in zip(self.bands, flags)]
        present = [m for m in self._masks if m is not None]
        # One mask for every band (alpha band, per-dataset mask): read once.
        self._shared = present[0] if present and all(f & gdal.GMF_PER_DATASET for f in flags) else None
        if not present:  # GDAL takes an alpha band as the mask only for 2 or 4 bands; a warped view may have more
            alpha = _alpha_band(dataset)
            self._shared = dataset.GetRasterBand(alpha) if alpha and alpha not in self.bands else None

    def read(self, col: int, row: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        try:
            raw = self._dataset.ReadAsArray(col, row, width, height, band_list=self.bands)
            raw = raw.reshape(len(self.bands), height, width)
            valid = np.ones(raw.shape, bool)
            if self._shared is not None:
                valid[:] = self._shared.ReadAsArray(col, row, width, height) > 0
            else:
                for index, mask in enumerate(self._masks):
                    if mask is not None:
                        valid[index] = mask.ReadAsArray(col, row, width, height) > 0
        except RuntimeError as error:
            raise InputError(f"Cannot read the pixels of '{self.name}' at column {col}, row {row} ({width} x "
                             f"{height}): {str(error).strip()}. The file may be truncated or damaged, or a file it "
                             "refers to (for a VRT) may be missing.") from error
        if self._flush:  # reading is sequential: drop the cached blocks so memory does not grow with the raster
            self._dataset.FlushCache()
        return raw, valid


class GdalInput:
    """A GDAL dataset as an :class:`InputRaster`."""

    def __init__(self, dataset: gdal.Dataset, name: str, flush: bool = True,
                 bands: list[BandInfo] | None = None) -> None:
        self.dataset, self.name = dataset, name
        self.grid = RasterGrid.of(dataset)
        self.georeferencing = Georeferencing.of(dataset)
        # A warped view keeps the original's bands (an alpha band it adds to mark "no pixels here" is no band
        # of the raster: band numbers stay those of the original).
        self.bands = bands or [_band_info(dataset.GetRasterBand(i)) for i in range(1, dataset.RasterCount + 1)]
        driver = dataset.GetDriver().ShortName
        self.native_grid = has_native_grid(dataset)
        # Web drivers fetch over the network: keep their blocks in GDAL's (bounded) cache between reads.
        self._flush = flush and driver not in WEB_DRIVERS

    def reader(self, bands: Sequence[int]) -> GdalBandReader:
        return GdalBandReader(self.dataset, bands, self.name, self._flush)

    def on_grid(self, grid: RasterGrid, resampling: str) -> "GdalInput":
        if grid.same_grid(self.grid):
            return self
        options = gdal.WarpOptions(format="VRT", outputBounds=grid.bounds(), width=grid.width, height=grid.height,
                                   dstSRS=grid.crs_wkt or None, resampleAlg=resampling, multithread=True,
                                   dstAlpha=self._needs_alpha())
        return GdalInput(gdal.Warp("", self.dataset, options=options), self.name, self._flush, self.bands)

    def at_resolution(self, resolution: tuple[float, float], resampling: str) -> "GdalInput":
        options = gdal.WarpOptions(format="VRT", xRes=resolution[0], yRes=resolution[1], resampleAlg=resampling,
                                   multithread=True)
        return GdalInput(gdal.Warp("", self.dataset, options=options), self.name, self._flush, self.bands)

    def fetch_failure(self) -> str | None:
        """GDAL reports what it cannot read as errors while reading (:class:`GdalBandReader`): nothing more."""
        return None

    def _needs_alpha(self) -> bool:
        """Whether a warped view needs an alpha band to mark where this raster has no pixels (beyond its
        edges): only when its bands have neither a nodata value nor a mask of their own."""
        first = self.dataset.GetRasterBand(1)
        return first.GetNoDataValue() is None and bool(first.GetMaskFlags() & gdal.GMF_ALL_VALID)


WEB_DRIVERS = ("WMS", "WMTS", "WCS", "PostGISRaster")


def has_native_grid(dataset: gdal.Dataset) -> bool:
    """False for GDAL's WMS driver (WMS, TMS, XYZ tiles): a map drawn at any scale, read on a chosen grid."""
    return dataset.GetDriver().ShortName != "WMS"


def _alpha_band(dataset: gdal.Dataset) -> int | None:
    """The 1-based number of the dataset's alpha band (the last one so marked), None without one."""
    numbers = [i for i in range(1, dataset.RasterCount + 1)
               if dataset.GetRasterBand(i).GetColorInterpretation() == gdal.GCI_AlphaBand]
    return numbers[-1] if numbers else None


def _band_info(band: gdal.Band) -> BandInfo:
    return BandInfo(band.GetDescription().strip(), band.GetColorInterpretation() == gdal.GCI_AlphaBand,
                    gdal.GetDataTypeName(band.DataType))
