"""How a raster is placed on the ground, carried over to the outputs exactly as it was.

A raster is georeferenced by a geotransform (north-up or rotated), by ground control points (GCPs,
no geotransform), or not at all. Outputs keep the input's kind: the same geotransform shifted to the
processed window, the same GCPs shifted likewise, or none. What cannot be done without a geotransform
(an EXTENT in map units, resampling to the model's ground resolution) is refused with the fix.
"""
from __future__ import annotations

from dataclasses import dataclass

from osgeo import gdal

from ...core.areas.window import PixelWindow
from ...core.errors import InputError


@dataclass(frozen=True)
class Georeferencing:
    """A raster's georeferencing: geotransform (None without one), CRS, and GCPs with their CRS."""

    geotransform: tuple[float, ...] | None
    crs_wkt: str
    gcps: tuple[gdal.GCP, ...] = ()
    gcp_crs_wkt: str = ""

    @classmethod
    def of(cls, dataset: gdal.Dataset) -> "Georeferencing":
        transform = dataset.GetGeoTransform(can_return_null=True)
        return cls(tuple(transform) if transform else None, dataset.GetProjection() or "",
                   tuple(dataset.GetGCPs() or ()), dataset.GetGCPProjection() or "")

    @property
    def rotated(self) -> bool:
        return self.geotransform is not None and (self.geotransform[2] != 0 or self.geotransform[4] != 0)

    @property
    def kind(self) -> str:
        if self.geotransform is not None:
            return "rotated geotransform" if self.rotated else "geotransform"
        return "ground control points" if self.gcps else "none"

    def require_geotransform(self, purpose: str, path: str) -> None:
        """Refuse ``purpose`` (a sentence part) for a raster that has no geotransform."""
        if self.geotransform is None:
            held = "is georeferenced by ground control points only" if self.gcps else "has no georeferencing"
            raise InputError(f"The raster '{path}' {held}, so {purpose} is not possible. Warp it onto a map grid "
                             "first (Raster > Projections > Warp), or leave the option that needs it empty.")

    def apply(self, dataset: gdal.Dataset, window: PixelWindow) -> None:
        """Give ``dataset`` (the output for ``window`` of the input) the input's GCPs, shifted to the window.
        (A geotransform and CRS are set when the output is created on the window's grid.)"""
        if self.geotransform is None and self.gcps:
            dataset.SetGCPs([gdal.GCP(g.GCPX, g.GCPY, g.GCPZ, g.GCPPixel - window.col, g.GCPLine - window.row,
                                      g.Info, g.Id) for g in self.gcps], self.gcp_crs_wkt)

    def pixel_area(self) -> float | None:
        """Area of one pixel in squared map units, None without a geotransform."""
        if self.geotransform is None:
            return None
        _, dx, rx, _, ry, dy = self.geotransform
        return abs(dx * dy - rx * ry)

