"""INPUT and ADDITIONAL_INPUTS as one raster: bands appended in order, every raster read on INPUT's grid.

Multi-date models (two Sentinel-2 dates, a pre/post pair) and bands kept in separate files read a
*stack*: the bands of INPUT, then those of each additional raster, numbered one after another (``BANDS``
numbers the concatenation). An additional raster on another grid (pixel size, origin or CRS) is
resampled on the fly onto INPUT's grid (a GDAL warped VRT), which the log says: averaged where its pixels
are much smaller than INPUT's (more than 1.5 of them across one of INPUT's), interpolated (bilinear)
otherwise. The two pixel sizes are compared in one unit, whatever the CRSs: the footprint of the additional
raster's pixels, carried into INPUT's CRS where the rasters overlap (:func:`footprint_in`). Where it has no
pixels, its bands are missing (the nodata rule decides what that means). Rasters that do not overlap INPUT
are refused before anything is read.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from osgeo import osr

from ...core.engine.nodata import NodataDecider
from ...core.errors import InputError
from ...core.progress import Progress
from .gdal_grid import RasterGrid, srs_of, transform_to
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
    footprint = footprint_in(raster.grid, target)
    resampling = resampling_for(footprint, target)
    if progress is not None:
        progress.info(f"ADDITIONAL_INPUTS '{raster.name}' is on another grid than INPUT (pixel size "
                      f"{_size(raster.grid.pixel_size)} against {_size(target.pixel_size)}"
                      f"{_crs_note(raster.grid, target, footprint)}): it is resampled on the fly ({resampling}) onto "
                      "INPUT's grid.")
    return raster.on_grid(target, resampling)


FINER = 1.5  # an additional raster with this many pixels or more across one of INPUT's is averaged
FOOTPRINT_PIXELS = 16  # pixels along each edge of the patch whose footprint is carried into INPUT's CRS


def resampling_for(footprint: tuple[float, float] | None, target: RasterGrid) -> str:
    """``average`` when pixels of ``footprint`` (INPUT's CRS units) are much smaller than INPUT's, else
    ``bilinear`` (also when the footprint cannot be measured)."""
    finer = footprint is not None and FINER * max(footprint) < min(target.pixel_size)
    return "average" if finer else "bilinear"


def footprint_in(grid: RasterGrid, target: RasterGrid) -> tuple[float, float] | None:
    """The size of one of ``grid``'s pixels along its rows and its columns, in ``target``'s CRS units, measured
    where the two overlap (the centre of ``target``, if ``grid``'s CRS has coordinates there; else ``grid``'s
    centre): a patch of ``FOOTPRINT_PIXELS`` pixels each way carried into ``target``'s CRS, its edges divided
    by the pixel count. None when the patch cannot be carried."""
    x0, dx, rx, y0, ry, dy = grid.geotransform
    forward = transform_to(srs_of(grid.crs_wkt), target.crs_wkt)
    backward = transform_to(srs_of(target.crs_wkt), grid.crs_wkt)
    xmin, ymin, xmax, ymax = target.bounds()
    start = _carried(backward, ((xmin + xmax) / 2, (ymin + ymax) / 2))
    if start is None:
        start = (x0 + dx * grid.width / 2 + rx * grid.height / 2, y0 + ry * grid.width / 2 + dy * grid.height / 2)
    n = FOOTPRINT_PIXELS
    origin = _carried(forward, start)
    along_row = _carried(forward, (start[0] + n * dx, start[1] + n * ry))
    along_column = _carried(forward, (start[0] + n * rx, start[1] + n * dy))
    if origin is None or along_row is None or along_column is None:
        return None
    return (float(np.hypot(along_row[0] - origin[0], along_row[1] - origin[1])) / n,
            float(np.hypot(along_column[0] - origin[0], along_column[1] - origin[1])) / n)


def _carried(transform: osr.CoordinateTransformation | None, point: tuple[float, float]) -> tuple[float, float] | None:
    """``point`` carried by ``transform`` (as it is without one); None where the CRS has no coordinates."""
    if transform is None:
        return point
    try:
        x, y, *_ = transform.TransformPoint(*point)
    except RuntimeError:
        return None
    return (x, y) if np.isfinite(x) and np.isfinite(y) else None


def same_units(first: RasterGrid, second: RasterGrid) -> bool:
    a, b = srs_of(first.crs_wkt), srs_of(second.crs_wkt)
    return a is not None and b is not None and bool(a.IsSame(b))


def _size(size: tuple[float, float]) -> str:
    return f"{size[0]:.6g} x {size[1]:.6g}"


def _crs_note(grid: RasterGrid, target: RasterGrid, footprint: tuple[float, float] | None) -> str:
    if same_units(grid, target):
        return ""
    if footprint is None:
        return ", another CRS"
    return f", another CRS: {_size(footprint)} in INPUT's CRS units"


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
