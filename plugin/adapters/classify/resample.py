"""Running a model at its own ground resolution and writing the result on the raster's exact grid.

The raster is warped on the fly (a GDAL VRT, nothing is copied) to the model's resolution; the engine
runs on that; its outputs are then warped back into rasters created on the input's own pixel grid
(the processed window of it, with the input's geotransform, rotated ones included): nearest neighbour
for classes, bilinear for probabilities and confidence. GDAL streams both warps block by block.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from osgeo import gdal

from ...core.areas.window import PixelWindow, pixels_covering
from ...core.errors import InputError
from ...core.progress import Progress
from ..inputs.gdal_grid import RasterGrid
from ..inputs.raster_inputs import InputRaster
from ..outputs.geotiff import GTIFF_OPTIONS
from ..outputs.raster_classes import read_classes, write_classes


class ResampledRun:
    """The model-resolution view of ``area`` of ``raster`` and the way back to the raster's grid."""

    def __init__(self, raster: InputRaster, area: PixelWindow, resolution: tuple[float, float],
                 progress: Progress) -> None:
        self._raster, self._resolution, self._progress = raster, resolution, progress
        grid = raster.grid
        self.target = RasterGrid(area.width, area.height, grid.window_geotransform(area), grid.crs_wkt,
                                 grid.georeferenced)

    def model_view(self) -> tuple[InputRaster, PixelWindow]:
        """The raster warped (virtually) to the model's resolution, north-up, and the area on it."""
        pixel = min(self.target.pixel_size)
        algorithm = "average" if min(self._resolution) > pixel else "bilinear"
        view = self._raster.at_resolution(self._resolution, algorithm)
        # Every model pixel the raster's area touches, so the result covers the whole area once warped back.
        grid = view.grid
        area = pixels_covering(grid.geotransform, grid.width, grid.height, self.target.bounds())
        if area is None:
            raise InputError("The area to classify vanished when warped to the model's resolution; it is smaller "
                             "than one pixel of the model. Choose a larger EXTENT.")
        self._progress.info(f"At the model's resolution the area is {area.width} x {area.height} pixels.")
        return view, area

    def warp_back(self, model_paths: dict[str, str], final_paths: dict[str, str],
                  continuous: bool = False) -> dict[int, int]:
        """Warp each model-resolution output onto the raster's grid; returns the class pixel counts (none for a
        ``continuous`` value raster, which is warped bilinearly with its units and metadata)."""
        for name, path in model_paths.items():
            self._warp_back(path, final_paths[name], "near" if name == "classes" and not continuous else "bilinear")
        return {} if continuous else count_classes(final_paths["classes"])

    def _warp_back(self, source_path: str, final_path: str, algorithm: str) -> None:
        source = gdal.Open(source_path)
        target = _create_like(source, final_path, self.target)
        gdal.Warp(target, source, options=gdal.WarpOptions(resampleAlg=algorithm, multithread=True,
                                                           warpOptions=["INIT_DEST=NO_DATA"]))
        for index in range(1, source.RasterCount + 1):
            classes = read_classes(source, index)
            if classes:
                write_classes(target, index, classes)
            units = source.GetRasterBand(index).GetUnitType()
            if units:
                target.GetRasterBand(index).SetUnitType(units)
        target.FlushCache()
        target = None


def _create_like(source: gdal.Dataset, path: str, grid: RasterGrid) -> gdal.Dataset:
    """An empty GeoTIFF on ``grid`` (its exact geotransform) with ``source``'s bands, nodata and names."""
    first = source.GetRasterBand(1)
    options = list(GTIFF_OPTIONS) + (["PREDICTOR=3"] if first.DataType == gdal.GDT_Float32 else [])
    target = gdal.GetDriverByName("GTiff").Create(path, grid.width, grid.height, source.RasterCount,
                                                  first.DataType, options=options)
    target.SetGeoTransform(grid.geotransform)
    if grid.crs_wkt:
        target.SetProjection(grid.crs_wkt)
    for index in range(1, source.RasterCount + 1):
        band, original = target.GetRasterBand(index), source.GetRasterBand(index)
        band.SetDescription(original.GetDescription())
        band.SetNoDataValue(original.GetNoDataValue())
    return target


def count_classes(path: str) -> dict[int, int]:
    dataset = gdal.Open(path)
    band = dataset.GetRasterBand(1)
    nodata = band.GetNoDataValue()
    counts = np.zeros(65536, np.int64)
    for row in range(0, dataset.RasterYSize, 1024):
        rows = min(1024, dataset.RasterYSize - row)
        counts += np.bincount(band.ReadAsArray(0, row, dataset.RasterXSize, rows).ravel(), minlength=65536)
    return {int(v): int(n) for v, n in enumerate(counts) if n and v != nodata}


def model_paths_in(folder: Path, names: list[str]) -> dict[str, str]:
    """Where the model-resolution outputs go inside the run's work folder."""
    return {name: str(folder / f"{name}.tif") for name in names}
