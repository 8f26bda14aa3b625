"""A raster's pixel grid and CRS, and opening rasters, with GDAL/OSR only (no QGIS).

The one place that opens a raster for reading (:func:`open_raster`): a clear error for a missing,
unreadable or band-less file, and a pipe or device is never opened (reading one could block for ever).
Shared by the classify job, accuracy assessment, chip export and training.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from osgeo import gdal, osr

from ...core.areas.window import PixelWindow
from ...core.errors import InputError

gdal.UseExceptions()
osr.UseExceptions()


def open_raster(path: str | Path, what: str = "raster") -> gdal.Dataset:
    """Open ``path`` read-only, or raise an InputError saying why it cannot be read (``what`` names it)."""
    local = Path(path)
    if local.exists() and not (local.is_file() or local.is_dir()):
        raise InputError(f"'{path}' is not a regular file (a device, pipe or socket); choose a raster file.")
    try:
        dataset = gdal.Open(str(path), gdal.GA_ReadOnly)
    except RuntimeError as error:
        raise InputError(f"Cannot open the {what} '{path}': {str(error).strip()}. Give a raster file GDAL can "
                         "read.") from error
    if dataset is None or dataset.RasterCount == 0:
        raise InputError(f"The {what} '{path}' is not a raster with bands that GDAL can read.")
    return dataset


@dataclass(frozen=True)
class RasterGrid:
    """A raster's pixel grid: size, geotransform and CRS (WKT, may be empty)."""

    width: int
    height: int
    geotransform: tuple[float, float, float, float, float, float]
    crs_wkt: str = ""
    georeferenced: bool = True  # False: the raster has no geotransform (none at all, or only GCPs)

    @classmethod
    def of(cls, dataset: gdal.Dataset) -> "RasterGrid":
        transform = dataset.GetGeoTransform(can_return_null=True)
        return cls(dataset.RasterXSize, dataset.RasterYSize, tuple(transform or (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)),
                   dataset.GetProjection() or "", transform is not None)

    @property
    def pixel_size(self) -> tuple[float, float]:
        return abs(self.geotransform[1]), abs(self.geotransform[5])

    def bounds(self, window: PixelWindow | None = None) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the whole grid or of a window: the box around its four corners
        (exact for north-up grids, the enclosing box for rotated ones)."""
        window = window or PixelWindow(0, 0, self.width, self.height)
        x0, dx, rx, y0, ry, dy = self.geotransform
        cols, rows = (window.col, window.col + window.width), (window.row, window.row + window.height)
        xs = [x0 + c * dx + r * rx for c in cols for r in rows]
        ys = [y0 + c * ry + r * dy for c in cols for r in rows]
        return min(xs), min(ys), max(xs), max(ys)

    def window_geotransform(self, window: PixelWindow) -> tuple[float, float, float, float, float, float]:
        x0, dx, rx, y0, ry, dy = self.geotransform
        return (x0 + window.col * dx + window.row * rx, dx, rx, y0 + window.col * ry + window.row * dy, ry, dy)

    def sub_grid(self, window: PixelWindow) -> "RasterGrid":
        """The grid of ``window``'s pixels (same CRS, the window's origin)."""
        return RasterGrid(window.width, window.height, self.window_geotransform(window), self.crs_wkt,
                          self.georeferenced)

    def same_grid(self, other: "RasterGrid", tolerance: float = 1e-6) -> bool:
        """True when both grids have the same size, pixel positions and CRS."""
        if (self.width, self.height) != (other.width, other.height):
            return False
        scale = max(self.pixel_size)
        if any(abs(a - b) > tolerance * max(scale, 1.0) for a, b in zip(self.geotransform, other.geotransform)):
            return False
        return same_crs(self.crs_wkt, other.crs_wkt)


def same_crs(a: str, b: str) -> bool:
    """True when two WKT strings name the same CRS (or both are empty)."""
    if not a or not b:
        return not a and not b
    first, second = osr.SpatialReference(), osr.SpatialReference()
    first.ImportFromWkt(a)
    second.ImportFromWkt(b)
    return bool(first.IsSame(second))


def srs_of(wkt: str) -> osr.SpatialReference | None:
    """An osr CRS in x/y (easting/northing, longitude/latitude) axis order, or None for no CRS."""
    if not wkt:
        return None
    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def transform_to(source: osr.SpatialReference | None, target_wkt: str) -> osr.CoordinateTransformation | None:
    """Coordinate transformation into ``target_wkt``, or None when none is needed or possible."""
    target = srs_of(target_wkt)
    if source is None or target is None or source.IsSame(target):
        return None
    source = source.Clone()
    source.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return osr.CoordinateTransformation(source, target)


SQUARE_UNITS = {"metre": "m²", "meter": "m²", "metres": "m²", "foot": "ft²", "us survey foot": "US survey ft²",
                "foot_us": "US survey ft²", "kilometre": "km²"}


def area_unit(grid: RasterGrid) -> tuple[float, str, str]:
    """Pixel area, the name of its unit and a note when areas need care (no CRS, geographic CRS)."""
    _, dx, rx, _, ry, dy = grid.geotransform
    pixel_area = abs(dx * dy - rx * ry)
    srs = srs_of(grid.crs_wkt)
    if srs is None:
        return pixel_area, "map unit²", "The classified raster has no CRS: areas are in squared map units."
    if srs.IsGeographic():
        return pixel_area, "degree²", ("The classified raster is in a geographic CRS: areas are in square degrees, "
                                       "which vary with latitude; reproject to an equal-area CRS for real areas.")
    unit = (srs.GetLinearUnitsName() or "map unit").strip()
    return pixel_area, SQUARE_UNITS.get(unit.lower(), f"{unit}²"), ""
