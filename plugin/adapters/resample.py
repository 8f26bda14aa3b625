"""Running a model at its own ground resolution and writing the result on the raster's grid.

The raster is warped on the fly (a GDAL VRT, nothing is copied) to the model's resolution; the engine
runs on that; its outputs are warped back onto the input's pixel grid: nearest neighbour for classes,
bilinear for probabilities and confidence. GDAL streams both warps block by block.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from osgeo import gdal

from ..core.progress import Progress
from ..core.reading import Area
from .gdal_labels import PixelWindow, RasterGrid
from .raster_area import area_from_extent
from .raster_classes import read_classes, write_classes
from .raster_io import GTIFF_OPTIONS, window_grid

EngineRun = Callable[[gdal.Dataset, Area, dict[str, str]], tuple]


class ResampledRun:
    """Wraps an engine run with a warp to ``resolution`` (raster units per pixel, x and y) and back."""

    def __init__(self, dataset: gdal.Dataset, area: Area, resolution: tuple[float, float],
                 progress: Progress) -> None:
        self._dataset, self._area, self._resolution = dataset, area, resolution
        self._progress = progress
        self._target = window_grid(dataset, PixelWindow(area.col, area.row, area.width, area.height))

    def _model_grid_source(self) -> gdal.Dataset:
        pixel = abs(self._dataset.GetGeoTransform()[1])
        algorithm = "average" if self._resolution[0] > pixel else "bilinear"
        options = gdal.WarpOptions(format="VRT", xRes=self._resolution[0], yRes=self._resolution[1],
                                   resampleAlg=algorithm, multithread=True)
        return gdal.Warp("", self._dataset, options=options)

    def run(self, run_engine: EngineRun, final_paths: dict[str, str]) -> tuple:
        """Run at the model's resolution into a temporary folder, then warp into ``final_paths``."""
        source = self._model_grid_source()
        area = area_from_extent(source, RasterGrid.of(self._dataset).bounds(
            PixelWindow(self._area.col, self._area.row, self._area.width, self._area.height)))
        self._progress.info(f"At the model's resolution the area is {area.width} x {area.height} pixels.")
        with tempfile.TemporaryDirectory(prefix="seamless-") as folder:
            model_paths = {name: str(Path(folder) / f"{name}.tif") for name in final_paths}
            summary, _sink, description = run_engine(source, area, model_paths)
            for name, path in model_paths.items():
                self._warp_back(path, final_paths[name], "near" if name == "classes" else "bilinear")
        return summary, self._count_classes(final_paths["classes"]), description

    def _warp_back(self, source_path: str, final_path: str, algorithm: str) -> None:
        source = gdal.Open(source_path)
        grid = self._target
        xmin, ymin, xmax, ymax = grid.bounds()
        options = gdal.WarpOptions(format="GTiff", outputBounds=(xmin, ymin, xmax, ymax), width=grid.width,
                                   height=grid.height, dstSRS=grid.crs_wkt or None, resampleAlg=algorithm,
                                   creationOptions=GTIFF_OPTIONS, multithread=True)
        warped = gdal.Warp(final_path, source, options=options)
        for index in range(1, source.RasterCount + 1):
            band, original = warped.GetRasterBand(index), source.GetRasterBand(index)
            band.SetDescription(original.GetDescription())
            band.SetNoDataValue(original.GetNoDataValue())
            classes = read_classes(source, index)
            if classes:
                write_classes(warped, index, classes)
        warped.FlushCache()

    @staticmethod
    def _count_classes(path: str) -> dict[int, int]:
        dataset = gdal.Open(path)
        band = dataset.GetRasterBand(1)
        nodata = band.GetNoDataValue()
        counts = np.zeros(65536, np.int64)
        for row in range(0, dataset.RasterYSize, 1024):
            rows = min(1024, dataset.RasterYSize - row)
            counts += np.bincount(band.ReadAsArray(0, row, dataset.RasterXSize, rows).ravel(), minlength=65536)
        return {int(v): int(n) for v, n in enumerate(counts) if n and v != nodata}
