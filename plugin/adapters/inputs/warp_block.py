"""Reprojecting one block of pixels held in memory onto another grid with GDAL's warper.

Layers read through QGIS (web maps in Web Mercator, a WCS in its own CRS) are fetched in their own CRS
and warped here onto the grid the run uses, with GDAL's resampling (bilinear by default) and exact
per-pixel coordinate transformation: QGIS's own raster projector picks nearest pixels through an
approximate transformation, which shifted a web map by up to a pixel against the same image read as a
file.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from osgeo import gdal, gdal_array

from .gdal_grid import RasterGrid, srs_of
from .stacked_source import outline_in

gdal.UseExceptions()

SOURCE_MARGIN = 2  # source pixels around the block's outline, so interpolation has its neighbours


def source_window(target: RasterGrid, source_crs_wkt: str, resolutions: Sequence[float] = (),
                  origin: tuple[float, float] | None = None) -> tuple[RasterGrid, bool] | None:
    """The grid to fetch in ``source_crs_wkt`` for the block ``target``, and whether it must then be warped onto
    ``target`` (False: fetched on ``target`` itself); None when ``target`` cannot be expressed there.

    Tiled layers state the resolutions of their zoom levels (``resolutions``) and the corner their tiles start
    from (``origin``): the block is fetched at the finest zoom no coarser than the target, on that zoom's own
    pixel grid, so the tiles are copied as they are and only GDAL resamples them, once."""
    source, wanted = srs_of(source_crs_wkt), srs_of(target.crs_wkt)
    same = source is None or wanted is None or bool(source.IsSame(wanted))
    if same and not resolutions:
        return target, False
    outline = target.bounds() if same else outline_in(target, source_crs_wkt)
    if outline is None:
        return None
    xmin, ymin, xmax, ymax = outline
    pixel = min((xmax - xmin) / target.width, (ymax - ymin) / target.height)
    if resolutions:
        finer = [r for r in resolutions if r <= pixel * 1.0001]
        pixel = max(finer) if finer else min(resolutions)
    x0, y0 = origin if origin is not None else (xmin, ymax)
    left = x0 + math.floor((xmin - x0) / pixel - SOURCE_MARGIN) * pixel
    right = x0 + math.ceil((xmax - x0) / pixel + SOURCE_MARGIN) * pixel
    top = y0 - math.floor((y0 - ymax) / pixel - SOURCE_MARGIN) * pixel
    bottom = y0 - math.ceil((y0 - ymin) / pixel + SOURCE_MARGIN) * pixel
    grid = RasterGrid(max(1, round((right - left) / pixel)), max(1, round((top - bottom) / pixel)),
                      (left, pixel, 0.0, top, 0.0, -pixel), source_crs_wkt)
    return grid, not (same and grid.same_grid(target))


def warp_block(values: np.ndarray, valid: np.ndarray, source: RasterGrid, target: RasterGrid,
               resampling: str = "bilinear") -> tuple[np.ndarray, np.ndarray]:
    """(bands, h, w) values with their (bands, h, w) validity on ``source`` warped onto ``target``; a target
    pixel is valid where the source pixels it is made of are valid in every band."""
    bands = values.shape[0]
    data_type = gdal_array.NumericTypeCodeToGDALTypeCode(values.dtype)
    memory = gdal.GetDriverByName("MEM")
    src = memory.Create("", source.width, source.height, bands + 1, data_type)
    dst = memory.Create("", target.width, target.height, bands + 1, data_type)
    for dataset, grid in ((src, source), (dst, target)):
        dataset.SetGeoTransform(grid.geotransform)
        dataset.SetProjection(grid.crs_wkt)
    for index in range(bands):
        src.GetRasterBand(index + 1).WriteArray(values[index])
    alpha = src.GetRasterBand(bands + 1)
    alpha.WriteArray(np.where(valid.all(axis=0), 255, 0).astype(values.dtype))
    alpha.SetColorInterpretation(gdal.GCI_AlphaBand)
    dst.GetRasterBand(bands + 1).SetColorInterpretation(gdal.GCI_AlphaBand)
    gdal.Warp(dst, src, options=gdal.WarpOptions(resampleAlg=resampling, srcAlpha=True, dstAlpha=True))
    warped = np.stack([dst.GetRasterBand(i + 1).ReadAsArray() for i in range(bands)])
    inside = dst.GetRasterBand(bands + 1).ReadAsArray() > 0
    src = dst = None
    return warped, np.broadcast_to(inside, warped.shape).copy()
