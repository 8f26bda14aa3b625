"""A bounded cache in front of a slow reader (web tiles, a database), so overlapping windows fetch once.

The engine reads strips of windows that overlap their neighbours; a local file serves that from GDAL's
block cache, but a tile service or database would be asked for the same pixels again. :class:`CachedReader`
reads the source in aligned tiles, keeps the most recently used ones up to a memory limit, and answers
every request from them. It also reports each fetch (for progress) and checks for cancellation before
each one, so a slow service can be stopped between two requests.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Protocol

import numpy as np

from ..errors import CancelledError

DEFAULT_TILE = 512
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024


class TileSource(Protocol):
    """Anything that reads a rectangle as a tuple of arrays whose last two axes are (height, width)."""

    width: int
    height: int

    def read(self, col: int, row: int, width: int, height: int) -> tuple[np.ndarray, ...]:
        ...


class CachedReader:
    """Reads ``source`` in ``tile`` x ``tile`` pieces, keeping at most ``max_bytes`` of them (least
    recently used go first); ``cancelled`` is asked before every fetch, ``on_fetch`` told after it."""

    def __init__(self, source: TileSource, tile: int = DEFAULT_TILE, max_bytes: int = DEFAULT_CACHE_BYTES,
                 cancelled: Callable[[], bool] | None = None, on_fetch: Callable[[int], None] | None = None) -> None:
        self.source, self.tile, self.max_bytes = source, tile, max_bytes
        self.width, self.height = source.width, source.height
        self._cancelled, self._on_fetch = cancelled, on_fetch
        self._tiles: OrderedDict[tuple[int, int], tuple[np.ndarray, ...]] = OrderedDict()
        self._bytes = 0
        self.fetches = 0
        self.hits = 0

    def read(self, col: int, row: int, width: int, height: int) -> tuple[np.ndarray, ...]:
        size = self.tile
        result: list[np.ndarray] | None = None
        for tile_row in range(row // size, (row + height - 1) // size + 1):
            for tile_col in range(col // size, (col + width - 1) // size + 1):
                arrays = self._get(tile_col, tile_row)
                if result is None:
                    result = [np.empty(a.shape[:-2] + (height, width), a.dtype) for a in arrays]
                top, left = tile_row * size, tile_col * size
                r0, r1 = max(row, top), min(row + height, top + arrays[0].shape[-2])
                c0, c1 = max(col, left), min(col + width, left + arrays[0].shape[-1])
                for target, array in zip(result, arrays):
                    piece = array[..., r0 - top:r1 - top, c0 - left:c1 - left]
                    target[..., r0 - row:r1 - row, c0 - col:c1 - col] = piece
        if result is None:
            raise ValueError(f"empty read {width} x {height}")
        return tuple(result)

    def _get(self, tile_col: int, tile_row: int) -> tuple[np.ndarray, ...]:
        key = (tile_col, tile_row)
        cached = self._tiles.get(key)
        if cached is not None:
            self._tiles.move_to_end(key)
            self.hits += 1
            return cached
        if self._cancelled is not None and self._cancelled():
            raise CancelledError("the run was cancelled while fetching pixels; no output was written.")
        left, top = tile_col * self.tile, tile_row * self.tile
        arrays = tuple(self.source.read(left, top, min(self.tile, self.width - left),
                                        min(self.tile, self.height - top)))
        self.fetches += 1
        self._tiles[key] = arrays
        self._bytes += sum(a.nbytes for a in arrays)
        while self._bytes > self.max_bytes and len(self._tiles) > 1:
            _, dropped = self._tiles.popitem(last=False)
            self._bytes -= sum(a.nbytes for a in dropped)
        if self._on_fetch is not None:
            self._on_fetch(self.fetches)
        return arrays
