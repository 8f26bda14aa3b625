"""INPUT and ADDITIONAL_INPUTS as one raster: bands appended in order, every raster read on INPUT's grid.

Multi-date models (two Sentinel-2 dates, a pre/post pair) and bands kept in separate files read a
*stack*: the bands of INPUT, then those of each additional raster, numbered one after another (``BANDS``
numbers the concatenation). An additional raster on another grid (pixel size, origin or CRS) is
resampled on the fly onto INPUT's grid (a GDAL warped VRT, bilinear), which the log says; where it has
no pixels, its bands are missing (the nodata rule decides what that means). Rasters that do not overlap
INPUT are refused before anything is read.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from osgeo import osr

from ...core.engine.nodata import NodataDecider
from ...core.errors import InputError
from ...core.progress import Progress
from .gdal_grid import RasterGrid, srs_of
from .raster_inputs import BandInfo, BandReader, InputRaster

EDGE_POINTS = 21  # points per edge when a raster's outline is carried into another CRS


class RasterStack:
    """INPUT (``primary``) followed by ``additional`` rasters, all seen on the primary's grid."""

    def __init__(self, primary: InputRaster, additional: Sequence[InputRaster], progress: Progress,
                 announce: bool = True) -> None:
        self.primary = primary
        self._originals = list(additional)
        self.members: list[InputRaster] = [primary]
        for raster in self._originals:
            self.members.append(_on_grid_of(primary, raster, progress if announce else None))

    @property
    def bands(self) -> list[BandInfo]:
        """Every band of every member, in stack order."""
        return [band for member in self.members for band in member.bands]

    def on_view(self, view: InputRaster, progress: Progress) -> "RasterStack":
        """The same stack with ``view`` (the primary on another grid) as its primary; the additional rasters
        are resampled from their originals onto the view's grid (never twice)."""
        return RasterStack(view, self._originals, progress, announce=False)

    def locate(self, band: int) -> tuple[int, int]:
        """(member index, 1-based band in that member) of 1-based stack band ``band``."""
        for index, member in enumerate(self.members):
            if band <= len(member.bands):
                return index, band
            band -= len(member.bands)
        raise InputError(f"BANDS names band {band}, beyond the {len(self.bands)} bands of the inputs.")

    def source(self, bands: Sequence[int], decider: NodataDecider) -> "StackedSource":
        """The engine's RasterSource over the stack bands ``bands`` (1-based, in the model's order): one reader
        per member that gives a band, and where each model band comes from."""
        located = [self.locate(b) for b in bands]
        readers: list[BandReader] = []
        reader_of: dict[int, tuple[int, list[int]]] = {}
        for index, member in enumerate(self.members):
            wanted = list(dict.fromkeys(local for m, local in located if m == index))
            if wanted:
                reader_of[index] = (len(readers), wanted)
                readers.append(member.reader(wanted))
        positions = [(reader_of[m][0], reader_of[m][1].index(local)) for m, local in located]
        return StackedSource(readers, positions, decider)


class StackedSource:
    """The engine's RasterSource over bands from several readers on one grid, with the nodata rule applied."""

    def __init__(self, readers: Sequence[BandReader], positions: Sequence[tuple[int, int]],
                 decider: NodataDecider) -> None:
        self._readers, self._positions, self.decider = list(readers), list(positions), decider
        self.width, self.height = self._readers[0].width, self._readers[0].height

    def read(self, col: int, row: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        parts = [reader.read(col, row, width, height) for reader in self._readers]
        if len(parts) == 1 and self._positions == [(0, i) for i in range(len(self._positions))]:
            raw, band_valid = parts[0]
        else:
            dtype = np.result_type(*(raw.dtype for raw, _ in parts))
            raw = np.stack([parts[r][0][i].astype(dtype, copy=False) for r, i in self._positions])
            band_valid = np.stack([parts[r][1][i] for r, i in self._positions])
        return self.decider.decide(raw, band_valid, col, row)


def _on_grid_of(primary: InputRaster, raster: InputRaster, progress: Progress | None) -> InputRaster:
    """``raster`` seen on the primary's grid, or a clear refusal when it cannot be placed there."""
    target = primary.grid
    if raster.grid.same_grid(target):
        return raster
    if not target.georeferenced or not raster.grid.georeferenced or bool(target.crs_wkt) != bool(raster.grid.crs_wkt):
        if (raster.grid.width, raster.grid.height) == (target.width, target.height) and not (
                target.georeferenced and raster.grid.georeferenced):
            if progress is not None:
                progress.info(f"ADDITIONAL_INPUTS '{raster.name}' lacks georeferencing (or INPUT does); it has "
                              "INPUT's size and is taken pixel for pixel.")
            return raster
        raise InputError(f"ADDITIONAL_INPUTS '{raster.name}' cannot be placed on INPUT's grid: one of them has no "
                         "CRS or no georeferencing and their sizes differ. Georeference both, or give rasters on "
                         "the same grid.")
    if target.geotransform[2] or target.geotransform[4]:
        raise InputError(f"INPUT '{primary.name}' is rotated and ADDITIONAL_INPUTS '{raster.name}' is on another "
                         "grid; warp INPUT to a north-up grid first (Raster > Projections > Warp), or give "
                         "additional rasters on INPUT's exact grid.")
    if not _overlaps(raster.grid, target):
        raise InputError(f"ADDITIONAL_INPUTS '{raster.name}' does not overlap INPUT '{primary.name}' (its extent, "
                         "carried into INPUT's CRS, shares no area with INPUT's). Give rasters that cover the same "
                         "place as INPUT.")
    # Averaging where the additional raster's pixels are much smaller than INPUT's, interpolation elsewhere.
    finer = 1.5 * max(raster.grid.pixel_size) < min(target.pixel_size) and same_units(raster.grid, target)
    resampling = "average" if finer else "bilinear"
    if progress is not None:
        progress.info(f"ADDITIONAL_INPUTS '{raster.name}' is on another grid than INPUT (pixel size "
                      f"{_size(raster.grid)} against {_size(target)}{_crs_note(raster.grid, target)}): it is "
                      f"resampled on the fly ({resampling}) onto INPUT's grid.")
    return raster.on_grid(target, resampling)


def same_units(first: RasterGrid, second: RasterGrid) -> bool:
    a, b = srs_of(first.crs_wkt), srs_of(second.crs_wkt)
    return a is not None and b is not None and bool(a.IsSame(b))


def _size(grid: RasterGrid) -> str:
    x, y = grid.pixel_size
    return f"{x:.6g} x {y:.6g}"


def _crs_note(grid: RasterGrid, target: RasterGrid) -> str:
    return "" if same_units(grid, target) else ", another CRS"


def outline_in(grid: RasterGrid, crs_wkt: str) -> tuple[float, float, float, float] | None:
    """The bounds of ``grid`` carried into ``crs_wkt`` (densified edges), None when they cannot be."""
    source, target = srs_of(grid.crs_wkt), srs_of(crs_wkt)
    xmin, ymin, xmax, ymax = grid.bounds()
    if source is None or target is None or source.IsSame(target):
        return xmin, ymin, xmax, ymax
    transform = osr.CoordinateTransformation(source, target)
    steps = [i / (EDGE_POINTS - 1) for i in range(EDGE_POINTS)]
    points = ([(xmin + t * (xmax - xmin), y) for t in steps for y in (ymin, ymax)]
              + [(x, ymin + t * (ymax - ymin)) for t in steps for x in (xmin, xmax)])
    xs, ys = [], []
    for x, y in points:
        try:
            tx, ty, *_ = transform.TransformPoint(x, y)
        except RuntimeError:
            continue
        if np.isfinite(tx) and np.isfinite(ty):
            xs.append(tx)
            ys.append(ty)
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None


def _overlaps(grid: RasterGrid, target: RasterGrid) -> bool:
    outline = outline_in(grid, target.crs_wkt)
    if outline is None:
        return False
    xmin, ymin, xmax, ymax = target.bounds()
    return outline[0] < xmax and outline[2] > xmin and outline[1] < ymax and outline[3] > ymin
