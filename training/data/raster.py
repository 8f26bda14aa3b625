"""The image raster, read in windows with GDAL: bands, nodata, names, ground resolution."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from osgeo import gdal

from .._plugin import errors, gdal_grid, nodata, progress, raster_area, raster_inputs, stacked_source, window

gdal.UseExceptions()
InputError = errors.InputError
PixelWindow = window.PixelWindow
RasterGrid = gdal_grid.RasterGrid



@dataclass(frozen=True)
class BandInfo:
    """What training needs to know about the bands it reads."""

    numbers: tuple[int, ...]  # 1-based band numbers in the raster
    names: tuple[str, ...]
    nodata: tuple[float | None, ...]
    data_type: str
    alpha: int | None = None  # 1-based number of an alpha band used as validity mask


def band_info(dataset: gdal.Dataset, bands: Sequence[int] | None = None,
              names: Sequence[str] | None = None) -> BandInfo:
    """The bands to train on: ``bands`` (1-based), or every band but an alpha band."""
    count = dataset.RasterCount
    interpretations = [dataset.GetRasterBand(i).GetColorInterpretation() for i in range(1, count + 1)]
    alpha = next((i + 1 for i, ci in enumerate(interpretations) if ci == gdal.GCI_AlphaBand), None)
    numbers = tuple(bands) if bands else tuple(i for i in range(1, count + 1) if i != alpha)
    bad = [b for b in numbers if not 1 <= b <= count]
    if bad or not numbers:
        raise InputError(f"The image has {count} band(s); band number(s) {bad or numbers} do not exist. "
                         f"Choose bands from 1 to {count}.")
    if names is not None and len(names) != len(numbers):
        raise InputError(f"{len(names)} band names are given for {len(numbers)} bands; give one name per band.")
    described = [dataset.GetRasterBand(b).GetDescription().strip() for b in numbers]
    chosen = tuple(names) if names else tuple(d or f"band {b}" for d, b in zip(described, numbers))
    nodata = []
    for number in numbers:
        value = dataset.GetRasterBand(number).GetNoDataValue()
        nodata.append(None if value is None else float(value))
    data_type = gdal.GetDataTypeName(dataset.GetRasterBand(numbers[0]).DataType)
    return BandInfo(numbers, chosen, tuple(nodata), data_type, alpha if alpha not in numbers else None)


def resolution_in_metres(dataset: gdal.Dataset) -> float | None:
    """Ground size of a pixel in metres (mean of x and y), measured as Classify raster measures it; None
    without a CRS. The contract's resolution_m must agree with the classify algorithm's measurement, or it
    would resample rasters that need none."""
    measured = raster_area.ground_resolution(dataset)
    return None if measured is None else float(sum(measured.metres) / 2)


def grid_resolution_in_metres(grid: RasterGrid) -> float | None:
    """The same for a grid without a dataset (chips folders): measured on a one-pixel stand-in."""
    stand_in = gdal.GetDriverByName("MEM").Create("", 1, 1, 1, gdal.GDT_Byte)
    stand_in.SetGeoTransform(grid.geotransform)
    if grid.crs_wkt:
        stand_in.SetProjection(grid.crs_wkt)
    return resolution_in_metres(stand_in)


def stacked_band_info(stack: stacked_source.RasterStack, bands: Sequence[int] | None = None,
                      names: Sequence[str] | None = None) -> BandInfo:
    """:func:`band_info` over the image's bands followed by the additional images' (numbered one after another,
    as Classify raster's BANDS numbers INPUT and ADDITIONAL_INPUTS); alpha bands are left out by default."""
    infos = stack.bands
    numbers = tuple(bands) if bands else tuple(i for i, info in enumerate(infos, start=1) if not info.alpha)
    bad = [b for b in numbers if not 1 <= b <= len(infos)]
    if bad or not numbers:
        raise InputError(f"The image and additional images have {len(infos)} band(s); band number(s) "
                         f"{bad or numbers} do not exist. Choose bands from 1 to {len(infos)}.")
    if names is not None and len(names) != len(numbers):
        raise InputError(f"{len(names)} band names are given for {len(numbers)} bands; give one name per band.")
    chosen = tuple(names) if names else tuple(infos[b - 1].description or f"band {b}" for b in numbers)
    return BandInfo(numbers, chosen, (None,) * len(numbers), infos[numbers[0] - 1].data_type)


class RasterSource:
    """Windows of chosen bands of one raster (or of a stack: the raster, then ``additional`` rasters read on
    its grid); the GDAL datasets are reopened after pickling (workers)."""

    def __init__(self, path: str | Path, bands: Sequence[int] | None = None,
                 names: Sequence[str] | None = None, additional: Sequence[str] = ()) -> None:
        self.path = str(path)
        self.additional = [str(p) for p in additional]
        dataset = gdal_grid.open_raster(self.path, "image raster")
        self.grid = RasterGrid.of(dataset)
        self._dataset: gdal.Dataset | None = dataset
        self._owner = os.getpid()
        self._stack_source: Any = None
        self._last_valid: tuple[PixelWindow, np.ndarray] | None = None
        self.bands = stacked_band_info(self._stack(), bands, names) if self.additional else band_info(
            dataset, bands, names)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_dataset"] = state["_stack_source"] = state["_last_valid"] = None
        return state

    def _stack(self) -> stacked_source.RasterStack:
        primary = raster_inputs.GdalInput(self.dataset, self.path)
        others = [raster_inputs.GdalInput(gdal_grid.open_raster(p, "additional image"), p) for p in self.additional]
        return stacked_source.RasterStack(primary, others, progress.LoggingProgress())

    def _read_stack(self, window: PixelWindow) -> np.ndarray:
        """Raw values of the stacked bands; a pixel is valid where every band is (and finite)."""
        if self._stack_source is None or self._owner != os.getpid():
            decider = nodata.NodataDecider(nodata.NodataPolicy("any"), np.zeros(len(self.bands.numbers)))
            self._stack_source = self._stack().source(self.bands.numbers, decider)
        raw, valid = self._stack_source.read(window.col, window.row, window.width, window.height)
        self._last_valid = (window, valid)
        return raw

    @property
    def dataset(self) -> gdal.Dataset:
        """The open dataset; reopened in a new process (DataLoader workers), as GDAL handles do not fork well."""
        if self._dataset is None or self._owner != os.getpid():
            self._dataset, self._owner = gdal_grid.open_raster(self.path, "image raster"), os.getpid()
        return self._dataset

    def read(self, window: PixelWindow) -> np.ndarray:
        """Raw values of the bands in ``window``: (bands, height, width) in the raster's data type."""
        if self.additional:
            return self._read_stack(window)
        try:
            data = self.dataset.ReadAsArray(window.col, window.row, window.width, window.height,
                                            band_list=list(self.bands.numbers))
        except RuntimeError as error:
            raise InputError(f"Cannot read the pixels of '{self.path}' at column {window.col}, row {window.row}: "
                             f"{str(error).strip()}. The file may be truncated or damaged.") from error
        return data.reshape(len(self.bands.numbers), window.height, window.width)

    def valid(self, window: PixelWindow, data: np.ndarray) -> np.ndarray:
        """True where every band holds data (not nodata, not NaN, alpha not zero)."""
        if self.additional:
            if self._last_valid is None or self._last_valid[0] != window:
                self._read_stack(window)
            return self._last_valid[1]  # type: ignore[index]
        return valid_mask(data, self.bands.nodata, self._alpha(window))

    def _alpha(self, window: PixelWindow) -> np.ndarray | None:
        if self.bands.alpha is None:
            return None
        band = self.dataset.GetRasterBand(self.bands.alpha)
        return band.ReadAsArray(window.col, window.row, window.width, window.height)


def valid_mask(data: np.ndarray, nodata: Sequence[float | None], alpha: np.ndarray | None = None) -> np.ndarray:
    """Pixels where no band is nodata or NaN and the alpha band (if any) is not zero."""
    valid = np.ones(data.shape[1:], bool)
    for band, value in zip(data, nodata):
        if value is not None and not math.isnan(value):
            valid &= band != value
        if np.issubdtype(band.dtype, np.floating):
            valid &= np.isfinite(band)
    if alpha is not None:
        valid &= alpha != 0
    return valid
