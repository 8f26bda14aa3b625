"""Pixels of any raster layer QGIS can display, read through its data provider, for the classify job.

Web maps (XYZ tiles, WMS/WMTS), WCS coverages, PostGIS rasters and QGIS's virtual rasters are read here,
window by window, on a pixel grid the job chooses (``RESOLUTION``, ``TARGET_CRS``, ``EXTENT``) or on the
layer's own grid where it has one. :class:`QgisLayerInput` implements the job's ``InputRaster`` protocol
(:mod:`plugin.adapters.inputs.raster_inputs`), so these layers are stacked, masked and classified like files.

- Colour web maps (ARGB pixels) become four bands, red, green, blue and alpha; alpha 0 (no tile, outside
  the map) is nodata.
- Reads go through a bounded cache of 512 px tiles (:mod:`plugin.core.engine.fetch_cache`), so overlapping
  windows fetch each block once; every fetch checks for cancellation and the log says how the fetching
  goes. A fetch in progress is cancelled with the run.
- Pixels are fetched in the layer's own CRS and, when the grid is in another CRS, warped onto it by GDAL
  (exact coordinates, bilinear): QGIS's raster projector (approximate, nearest) shifted a web map by
  about a pixel against the same image read as a file.
- Each thread that reads gets its own clone of the data provider (providers are not thread-safe).
- Every fetch watches the network's replies (:mod:`.network_replies`): a service that cannot be reached stops
  the run with its URL and the connection error, and a run that got no pixel at all because every request
  failed (HTTP 404 on every tile) is refused with the first failure, instead of writing a nodata-only output.
"""
from __future__ import annotations

import threading
import time
from typing import Sequence, cast

import numpy as np
from qgis.core import (
    Qgis,
    QgsProcessingFeedback,
    QgsRasterBlockFeedback,
    QgsRasterDataProvider,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import Qt

from ...adapters.inputs.gdal_grid import RasterGrid
from ...adapters.inputs.georeferencing import Georeferencing
from ...adapters.inputs.raster_inputs import BandInfo, BandReader
from ...adapters.inputs.warp_block import source_window, warp_block
from ...core.areas.window import PixelWindow
from ...core.engine.fetch_cache import CachedReader
from ...core.errors import CancelledError, InputError
from ...core.progress import Progress
from .network_replies import ReplyLog
from .qgis_compat import RASTER_HAS_SIZE, WKT_PREFERRED_GDAL

_TYPES = Qgis.DataType
_ARGB = (_TYPES.ARGB32, _TYPES.ARGB32_Premultiplied)
_TYPE_NAMES = {_TYPES.Byte: "Byte", _TYPES.UInt16: "UInt16", _TYPES.Int16: "Int16", _TYPES.UInt32: "UInt32",
               _TYPES.Int32: "Int32", _TYPES.Float32: "Float32", _TYPES.Float64: "Float64"}
_NUMPY = {_TYPES.Byte: np.uint8, _TYPES.UInt16: np.uint16, _TYPES.Int16: np.int16, _TYPES.UInt32: np.uint32,
          _TYPES.Int32: np.int32, _TYPES.Float32: np.float32, _TYPES.Float64: np.float64}
LOG_EVERY_SECONDS = 10.0


def has_native_grid(provider: QgsRasterDataProvider) -> bool:
    """Whether the provider serves a raster of fixed size (WCS, PostGIS, files), not a map drawn at any scale."""
    return bool(provider.capabilities() & RASTER_HAS_SIZE) and provider.xSize() > 0 and provider.ySize() > 0


def _layer_grid(layer: QgsRasterLayer, provider: QgsRasterDataProvider) -> RasterGrid:
    extent = layer.extent()
    width, height = (provider.xSize(), provider.ySize()) if has_native_grid(provider) else (1, 1)
    geotransform = (extent.xMinimum(), extent.width() / width, 0.0, extent.yMaximum(), 0.0, -extent.height() / height)
    return RasterGrid(width, height, geotransform, layer.crs().toWkt(WKT_PREFERRED_GDAL)
                      if layer.crs().isValid() else "", True)


class QgisLayerInput:
    """A raster layer read through its QGIS data provider, on ``grid`` (default: the layer's own)."""

    def __init__(self, layer: QgsRasterLayer, progress: Progress, feedback: QgsProcessingFeedback | None = None,
                 grid: RasterGrid | None = None, replies: ReplyLog | None = None) -> None:
        self.layer, self.name = layer, layer.name() or layer.source()
        self._progress, self._feedback = progress, feedback
        self.replies = replies or ReplyLog()  # one record for the layer and its views on other grids
        provider = layer.dataProvider()
        if provider is None or not layer.isValid():
            raise InputError(f"The layer '{self.name}' cannot be read (its data source is not available).")
        self.native_grid = has_native_grid(provider)
        self.grid = grid or _layer_grid(layer, provider)
        self.georeferencing = Georeferencing(self.grid.geotransform, self.grid.crs_wkt)
        self.argb = provider.dataType(1) in _ARGB
        if self.argb:
            self.bands = [BandInfo(name, name == "alpha", "Byte") for name in ("red", "green", "blue", "alpha")]
        else:
            self.bands = [BandInfo(provider.generateBandName(i), False,
                                   _TYPE_NAMES.get(provider.dataType(i), "Float64"))
                          for i in range(1, provider.bandCount() + 1)]

    def reader(self, bands: Sequence[int]) -> BandReader:
        fetcher = _ProviderReader(self, list(bands))
        return cast(BandReader, CachedReader(fetcher, cancelled=self._cancelled, on_fetch=fetcher.report))

    def on_grid(self, grid: RasterGrid, resampling: str) -> "QgisLayerInput":
        return QgisLayerInput(self.layer, self._progress, self._feedback, grid, self.replies)

    def at_resolution(self, resolution: tuple[float, float], resampling: str) -> "QgisLayerInput":
        xmin, ymin, xmax, ymax = self.grid.bounds()
        width, height = max(1, round((xmax - xmin) / resolution[0])), max(1, round((ymax - ymin) / resolution[1]))
        return self.on_grid(RasterGrid(width, height, (xmin, resolution[0], 0.0, ymax, 0.0, -resolution[1]),
                                       self.grid.crs_wkt, True), resampling)

    def fetch_failure(self) -> str | None:
        """Why the run got no pixel at all from this layer (every request failed), or None."""
        return self.replies.unfetched(self.name)

    def _cancelled(self) -> bool:
        return self._feedback is not None and self._feedback.isCanceled()


class _ProviderReader:
    """Reads blocks of the chosen grid from a provider clone of the calling thread: fetched in the layer's own
    CRS and, when the grid's CRS differs, warped onto it by GDAL (exact coordinates, bilinear)."""

    def __init__(self, source: QgisLayerInput, bands: list[int]) -> None:
        self._source, self._bands = source, bands
        self.width, self.height = source.grid.width, source.grid.height
        self._layer_crs = (source.layer.crs().toWkt(WKT_PREFERRED_GDAL)
                           if source.layer.crs().isValid() else "")
        provider, extent = source.layer.dataProvider(), source.layer.extent()
        # Tiled services (XYZ, WMTS) state their zoom levels' resolutions; their tiles start at the extent's corner.
        self._resolutions = sorted(r for r in provider.nativeResolutions() if r > 0) if not source.native_grid else []
        self._origin = (extent.xMinimum(), extent.yMaximum())
        self._local = threading.local()
        self._started = time.perf_counter()
        self._logged = self._started

    def _provider(self) -> QgsRasterDataProvider:
        """This thread's clone of the layer's data provider."""
        if getattr(self._local, "provider", None) is None:
            self._local.provider = self._source.layer.dataProvider().clone()
        return self._local.provider

    def read(self, col: int, row: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        grid = self._source.grid
        target = RasterGrid(width, height, grid.window_geotransform(PixelWindow(col, row, width, height)),
                            grid.crs_wkt)
        window = source_window(target, self._layer_crs, self._resolutions, self._origin)
        if window is None:  # the block lies where the layer's CRS has no coordinates
            return (np.zeros((len(self._bands), height, width), np.uint8),
                    np.zeros((len(self._bands), height, width), bool))
        source, reproject = window
        raw, valid = self._fetch_on(source)
        if reproject:
            raw, valid = warp_block(raw, valid, source, target)
        return raw, valid

    def _fetch_on(self, grid: RasterGrid) -> tuple[np.ndarray, np.ndarray]:
        xmin, ymin, xmax, ymax = grid.bounds()
        extent, width, height = QgsRectangle(xmin, ymin, xmax, ymax), grid.width, grid.height
        if self._source.argb:
            raw = self._argb(self._fetch(1, extent, width, height), width, height)
            valid = np.broadcast_to(raw[3] > 0, (len(self._bands), height, width)).copy()
            raw = raw[[b - 1 for b in self._bands]]
        else:
            planes = [self._numeric(self._fetch(b, extent, width, height), width, height) for b in self._bands]
            raw, valid = np.stack([p for p, _ in planes]), np.stack([v for _, v in planes])
        if valid.any():
            self._source.replies.saw_pixels()
        return raw, valid

    def _fetch(self, band: int, extent: QgsRectangle, width: int, height: int):
        feedback = QgsRasterBlockFeedback()
        outer = self._source._feedback
        if outer is not None:
            outer.canceled.connect(feedback.cancel, Qt.ConnectionType.DirectConnection)
        try:
            with self._source.replies.watch() as replies:
                block = self._provider().block(band, extent, width, height, feedback)
        finally:
            if outer is not None:
                outer.canceled.disconnect(feedback.cancel)
        if feedback.isCanceled():
            raise CancelledError("the run was cancelled while fetching pixels; no output was written.")
        self._source.replies.require_reachable(replies, self._source.name)
        if block is None or not block.isValid():
            raise InputError(f"The layer '{self._source.name}' returned no pixels for {extent.toString(3)} "
                             f"({width} x {height}); the service or database may be unreachable.")
        return block

    @staticmethod
    def _argb(block, width: int, height: int) -> np.ndarray:
        pixels = np.frombuffer(bytes(block.data()), np.uint32, width * height).reshape(height, width)
        channels = np.stack([(pixels >> shift) & 255 for shift in (16, 8, 0, 24)]).astype(np.uint8)
        if block.dataType() == _TYPES.ARGB32_Premultiplied:
            alpha = np.maximum(channels[3].astype(np.uint16), 1)
            channels[:3] = np.minimum(channels[:3].astype(np.uint16) * 255 // alpha, 255).astype(np.uint8)
        return channels

    @staticmethod
    def _numeric(block, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        dtype = _NUMPY.get(block.dataType(), np.float64)
        values = np.frombuffer(bytes(block.data()), dtype, width * height).reshape(height, width).copy()
        valid = np.ones((height, width), bool)
        if block.hasNoDataValue():
            nodata = block.noDataValue()
            valid &= ~(np.isnan(values) if np.isnan(nodata) else values == np.asarray(nodata).astype(dtype))
        elif block.hasNoData():  # a no-data bitmap and no value (e.g. outside the layer after reprojection)
            for r in range(height):
                for c in range(width):
                    valid[r, c] = not block.isNoData(r, c)
        return values, valid

    def report(self, fetches: int) -> None:
        """A log line at most every few seconds while blocks are fetched."""
        now = time.perf_counter()
        if now - self._logged >= LOG_EVERY_SECONDS:
            self._logged = now
            self._source._progress.info(f"Fetched {fetches} block(s) of pixels from the layer '{self._source.name}' "
                                        f"in {now - self._started:.0f} s.")
