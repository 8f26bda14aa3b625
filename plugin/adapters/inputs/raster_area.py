"""Where and what to read: band mapping, the processing area from an extent, ground resolution.

Everything here works on a raster's :class:`~.gdal_grid.RasterGrid` and its bands' descriptions, so
files, stacks of files and layers read through QGIS are treated alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from osgeo import gdal, osr

from ...core.areas.window import Bounds, PixelWindow, pixels_covering, pixels_in_extent
from ...core.errors import InputError
from ...core.model.contract import ModelContract
from ...core.progress import Progress
from .gdal_grid import RasterGrid
from .raster_inputs import BandInfo

RESOLUTION_TOLERANCE = 0.05  # relative difference below which no resampling happens


def parse_bands(text: str | None) -> list[int] | None:
    """'3,2,1' (or '3 2 1') -> [3, 2, 1]; empty -> None (automatic)."""
    if text is None or not str(text).strip():
        return None
    parts = str(text).replace(";", ",").replace(" ", ",").split(",")
    try:
        return [int(p) for p in parts if p.strip()]
    except ValueError:
        raise InputError(f"BANDS '{text}' must list band numbers separated by commas, such as 3,2,1.") from None


def resolve_bands(bands: Sequence[BandInfo], requested: Sequence[int] | None, contract: ModelContract,
                  progress: Progress) -> list[int]:
    """The raster bands to feed the model, in the model's input order (``bands`` describes every band of
    the raster, or of INPUT and ADDITIONAL_INPUTS one after another)."""
    count, wanted = len(bands), contract.input.bands
    complex_bands = [i for i, band in enumerate(bands, 1) if band.data_type.startswith("C")]
    if complex_bands:
        raise InputError(f"The raster holds complex numbers (band {complex_bands[0]}: "
                         f"{bands[complex_bands[0] - 1].data_type}); models take real values. Convert it first, "
                         "e.g. to amplitude or intensity (Raster > Raster Calculator).")
    if requested:
        missing = [b for b in requested if not 1 <= b <= count]
        if missing:
            raise InputError(f"BANDS names band {missing[0]}, but the raster has {count} band(s) "
                             f"(1 to {count}). Give existing band numbers, in the model's input order.")
        if len(requested) != wanted:
            raise InputError(f"BANDS lists {len(requested)} band(s) but the model takes {wanted} "
                             f"({', '.join(contract.input.band_names)}). List exactly {wanted} band numbers.")
        return list(requested)
    if count == wanted:
        return list(range(1, count + 1))
    colour = [i for i in range(1, count + 1) if not bands[i - 1].alpha]
    if len(colour) == wanted and len(colour) < count:
        progress.info(f"The alpha band is left out: bands {colour} go to the model; the alpha band masks "
                      "transparent pixels.")
        return colour
    names = ", ".join(contract.input.band_names)
    if count < wanted:
        raise InputError(f"The model takes {wanted} band(s) ({names}) but the raster has only {count}: it cannot be "
                         "classified with this model. Use a raster holding the bands the model was trained on.")
    raise InputError(f"The model takes {wanted} band(s) ({names}) but the raster has {count}. Set BANDS to the "
                     f"{wanted} raster band numbers to use, in the model's order (for example "
                     f"{','.join(str(i) for i in range(1, wanted + 1))}).")


def area_from_extent(grid: RasterGrid, extent: Bounds | None) -> PixelWindow:
    """The pixels of the raster whose centres lie in ``extent`` (xmin, ymin, xmax, ymax in the raster's CRS;
    the project's extent rule, see :mod:`plugin.core.areas.window`), or the whole raster without one."""
    width, height = grid.width, grid.height
    if extent is None:
        return PixelWindow(0, 0, width, height)
    xmin, ymin, xmax, ymax = extent
    if not xmax > xmin or not ymax > ymin:
        raise InputError(f"The EXTENT ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) has no area (zero or negative width "
                         "or height); give an extent with xmin < xmax and ymin < ymax, or leave EXTENT empty.")
    geotransform = grid.geotransform
    if geotransform[2] or geotransform[4]:
        raise InputError("The raster's geotransform is rotated; an EXTENT cannot be applied. Warp the raster "
                         "to a north-up grid first (Raster > Projections > Warp).")
    window = pixels_in_extent(geotransform, width, height, extent)
    if window is None:
        if pixels_covering(geotransform, width, height, extent) is None:
            raise InputError(f"The EXTENT ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) does not overlap the raster; "
                             "choose an extent inside the layer (in the layer's CRS) or leave EXTENT empty.")
        raise InputError(f"The EXTENT ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) holds no pixel centre of the raster "
                         "(it is smaller than a pixel); a pixel is classified when its centre lies in the extent. "
                         "Draw a larger extent or leave EXTENT empty.")
    return window


@dataclass(frozen=True)
class GroundResolution:
    """The raster's pixel size in metres, and how many CRS units make one metre along x and y."""

    metres: tuple[float, float]
    units_per_metre: tuple[float, float]


EARTH_RADIUS_M = 6_371_008.8


def _haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def ground_resolution(dataset: gdal.Dataset) -> GroundResolution | None:
    """The pixel's size on the ground at the raster's centre, measured geodesically, so any CRS works
    (geographic degrees, Web Mercator's stretched metres, feet). None without a CRS."""
    return grid_ground_resolution(RasterGrid.of(dataset))


def grid_ground_resolution(grid: RasterGrid) -> GroundResolution | None:
    """:func:`ground_resolution` of a pixel grid (None without a CRS or a geotransform)."""
    if not grid.crs_wkt or not grid.georeferenced:
        return None
    to_lonlat = _to_lonlat(grid.crs_wkt)
    x0, dx, rx, y0, ry, dy = grid.geotransform
    col, row = grid.width / 2, grid.height / 2

    def lonlat(c: float, r: float) -> tuple[float, float]:
        point = to_lonlat.TransformPoint(x0 + c * dx + r * rx, y0 + c * ry + r * dy)
        return point[0], point[1]

    centre = lonlat(col, row)
    metres = (_haversine(*centre, *lonlat(col + 1, row)), _haversine(*centre, *lonlat(col, row + 1)))
    return GroundResolution(metres, (abs(dx) / metres[0], abs(dy) / metres[1]))


def _to_lonlat(crs_wkt: str) -> osr.CoordinateTransformation:
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs_wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    geographic = srs.CloneGeogCS()
    geographic.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return osr.CoordinateTransformation(srs, geographic)


def needs_resampling(grid: RasterGrid, has_gcps: bool, contract: ModelContract,
                     progress: Progress) -> tuple[float, float] | None:
    """The model's pixel size in raster units (x, y) when the raster must be resampled to it, else None."""
    if contract.resolution_m is None:
        return None
    resolution = grid_ground_resolution(grid)
    if resolution is None:
        if has_gcps:
            raise InputError(f"The model expects {contract.resolution_m:g} m per pixel, and the raster is "
                             "georeferenced by ground control points only, so it cannot be resampled to that "
                             "resolution on its own grid. Warp it onto a map grid first (Raster > Projections > "
                             "Warp), or give a CONTRACT sidecar with \"resolution_m\": null to use it as it is.")
        progress.warning(f"The raster has no CRS or no geotransform, so its ground resolution is unknown; the model "
                         f"expects {contract.resolution_m:g} m per pixel and the raster is used as it is.")
        return None
    pixel = sum(resolution.metres) / 2
    if abs(pixel / contract.resolution_m - 1) <= RESOLUTION_TOLERANCE:
        return None
    progress.info(f"The model was trained at {contract.resolution_m:g} m per pixel and the raster has "
                  f"{pixel:.4g} m: it is resampled on the fly to the model's resolution, and the result is "
                  "written back on the raster's own grid.")
    x_units, y_units = resolution.units_per_metre
    return contract.resolution_m * x_units, contract.resolution_m * y_units
