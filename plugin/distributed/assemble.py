"""Blocks -> the output: the finished parts copied into outputs created exactly as the single-process path
creates them (same format, grid, nodata, band names, class tables), tile row by tile row.

Each chunk written is a whole row of the output's 256 px tiles (at most ``CHUNK_COLUMNS`` wide), filled from
the parts that overlap it, so every tile is compressed and written once and memory does not depend on the
raster's size.
"""
from __future__ import annotations

import numpy as np
from osgeo import gdal

from ..core.areas.window import PixelWindow
from ..core.engine.blocks import Block
from ..core.errors import InputError
from .parts import PartsFolder

gdal.UseExceptions()

CHUNK_COLUMNS = 4096


class _Parts:
    """The part files of one output, opened when first read and closed when no later chunk needs them."""

    def __init__(self, paths: dict[str, str]) -> None:
        self._paths = paths
        self._open: dict[str, gdal.Dataset] = {}

    def read(self, name: str, window: PixelWindow) -> np.ndarray:
        try:
            if name not in self._open:
                self._open[name] = gdal.Open(self._paths[name])
            values = self._open[name].ReadAsArray(window.col, window.row, window.width, window.height)
        except RuntimeError as error:  # damaged after it was checked (a disk or a process writing into it)
            raise InputError(f"The block file '{self._paths[name]}' cannot be read ({error}). Run again with "
                             "--resume: the blocks whose files are damaged are computed again.") from error
        return values[None] if values.ndim == 2 else values

    def close_above(self, row: int, blocks: dict[str, Block]) -> None:
        for name in [n for n in self._open if blocks[n].window.row_end <= row]:
            self._open.pop(name)


def copy_parts(target: gdal.Dataset, output: str, blocks: list[Block], parts: PartsFolder, tile: int = 256) -> None:
    """Fill ``target`` (the whole area) with the ``output`` files (classes, probabilities...) of every block."""
    by_name = {b.name: b for b in blocks}
    files = _Parts({b.name: parts.part_paths(b.name, [output])[output] for b in blocks})
    dtype = _numpy_type(target)
    width, height, bands = target.RasterXSize, target.RasterYSize, target.RasterCount
    for row in range(0, height, tile):
        rows = min(tile, height - row)
        strip = [b for b in blocks if b.window.row < row + rows and b.window.row_end > row]
        for col in range(0, width, CHUNK_COLUMNS):
            chunk = PixelWindow(col, row, min(CHUNK_COLUMNS, width - col), rows)
            values = np.empty((bands, chunk.height, chunk.width), dtype)
            for block in strip:
                inside = chunk.intersect(block.window)
                if inside is None:
                    continue
                at, part = inside.relative_to(chunk), inside.relative_to(block.window)
                values[:, at.row:at.row_end, at.col:at.col_end] = files.read(block.name, part)
            target.WriteArray(values, xoff=col, yoff=row)
        target.FlushCache()
        files.close_above(row + rows, by_name)


def _numpy_type(dataset: gdal.Dataset) -> np.dtype:
    from osgeo import gdal_array

    return np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(dataset.GetRasterBand(1).DataType))
