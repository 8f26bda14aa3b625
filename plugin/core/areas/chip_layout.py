"""Where training chips are cut: integer pixel maths only.

Chips are never padded, so every chip lies wholly inside the raster. Along each axis chips start at
the area's first pixel and step by the stride; when the last step does not end at the area's edge,
one more chip is placed so that it ends exactly there (it overlaps its neighbour). An area narrower
than a chip gets one chip, moved back inside the raster where needed.
"""
from __future__ import annotations

from typing import Iterator

from ..errors import InputError
from .window import axis_starts


def chip_id(col_off: int, row_off: int) -> str:
    """The chip identifier of the chips folder format, from its offsets in the source raster."""
    return f"r{row_off:06d}_c{col_off:06d}"


def axis_offsets(start: int, length: int, size: int, stride: int, limit: int) -> list[int]:
    """Chip offsets along one axis covering ``[start, start + length)`` inside ``[0, limit)``."""
    if size > limit:
        raise InputError(f"CHIP_SIZE {size} is larger than the raster ({limit} pixels along one axis); "
                         "choose a smaller chip size.")
    if stride < 1:
        raise InputError(f"STRIDE must be at least 1 pixel, not {stride}.")
    return axis_starts(start, length, size, stride, limit)


def chip_offsets(col: int, row: int, width: int, height: int, size: int, stride: int,
                 raster_width: int, raster_height: int) -> Iterator[tuple[int, int]]:
    """(col_off, row_off) of every chip over a pixel window, row by row."""
    columns = axis_offsets(col, width, size, stride, raster_width)
    for row_off in axis_offsets(row, height, size, stride, raster_height):
        for col_off in columns:
            yield col_off, row_off
