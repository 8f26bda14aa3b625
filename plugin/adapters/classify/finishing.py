"""Finishing a classify run's outputs: MIN_AREA on the class raster (SIEVE), the class polygons
(OUTPUT_VECTOR), pixels outside the MASK after resampling, and cloud-optimised copies of every raster.

The engine's GeoTIFFs sit at the outputs' temporary names; what is finished here replaces them there
(intermediate files in the run's work folder), so the atomic commit still moves complete outputs only.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from osgeo import gdal

from ...core.areas.window import PixelWindow
from ...core.errors import InputError
from ...core.model.contract import ModelContract
from ...core.progress import Progress
from ..inputs.area_of_interest import AreaOfInterest
from ..inputs.gdal_grid import RasterGrid
from ..outputs.cog import overview_resampling, write_cog
from ..polygons.polygonize import write_polygons
from ..polygons.regions_raster import cancel_point, sieve_classes, strips
from .resample import count_classes

gdal.UseExceptions()


@dataclass(frozen=True)
class VectorOptions:
    """MIN_AREA (m²), SIMPLIFY (map units), SIEVE (MIN_AREA on the class raster too), mean confidence field."""

    min_area: float = 0.0
    simplify: float = 0.0
    sieve: bool = False
    confidence: bool = False

    def __post_init__(self) -> None:
        for name, value in (("MIN_AREA", self.min_area), ("SIMPLIFY", self.simplify)):
            if not math.isfinite(value) or value < 0:
                raise InputError(f"{name} must be a number of at least 0, got {value}.")


def finish_outputs(paths: dict[str, str], requested: set[str], vector_path: str | None, options: VectorOptions,
                   grid: RasterGrid, contract: ModelContract, work: Path, progress: Progress,
                   vector_layer: str | None = None) -> dict[int, int] | None:
    """Sieve, polygonise (into ``vector_layer`` of ``vector_path``: a new GeoPackage, or a copy of one holding
    other layers) and copy to COG; returns the class pixel counts when sieving changed them."""
    counts, sources = None, dict(paths)
    if options.sieve and not options.min_area:
        progress.warning("SIEVE is on but MIN_AREA is 0: the class raster is written as it is. Set MIN_AREA to the "
                         "smallest region, in square metres, to keep.")
    polygon_source = paths["classes"]
    if options.min_area > 0 and (vector_path or options.sieve):
        sieved = str(work / "sieved.tif")
        progress.info("MIN_AREA: finding the connected regions of the class raster...")
        sieve_classes(paths["classes"], sieved, options.min_area, grid, work, progress)
        polygon_source = sieved
        if options.sieve:
            sources["classes"], counts = sieved, count_classes(sieved)
    if vector_path:
        layer_name = vector_layer or Path(vector_path).stem.split(".partial-")[0].lstrip(".") or "classes"
        progress.info("OUTPUT_VECTOR: polygonising the class raster...")
        count = write_polygons(polygon_source, vector_path, layer_name, contract, grid, options.simplify,
                               paths.get("confidence") if options.confidence else None, work, progress)
        progress.info(f"OUTPUT_VECTOR: {count} polygon(s), one per connected region of one class"
                      f"{' (MIN_AREA applied)' if polygon_source != paths['classes'] else ''}.")
    progress.info("Writing the rasters as cloud-optimised GeoTIFFs with overviews...")
    for name in sorted(requested):
        cancel_point(progress)
        cog = str(work / f"{name}.cog.tif")
        write_cog(sources[name], cog, overview_resampling(name), progress.is_cancelled)
        _replace(cog, paths[name])
    return counts


def _replace(new: str, target: str) -> None:
    """Move ``new`` (and its GDAL sidecar) over ``target`` (and its sidecar)."""
    os.replace(new, target)
    sidecar, old_sidecar = Path(new + ".aux.xml"), Path(target + ".aux.xml")
    if sidecar.exists():
        os.replace(sidecar, old_sidecar)
    elif old_sidecar.exists():
        old_sidecar.unlink()


def blank_outside(paths: dict[str, str], mask: AreaOfInterest, area: PixelWindow) -> None:
    """Set every output pixel outside the mask polygons to nodata (outputs on ``area`` of the mask's grid)."""
    for path in paths.values():
        dataset = gdal.Open(path, gdal.GA_Update)
        grid = RasterGrid.of(dataset)
        for strip in strips(grid):
            outside = ~mask.read(PixelWindow(area.col, area.row + strip.row, strip.width, strip.height))
            if not outside.any():
                continue
            for index in range(1, dataset.RasterCount + 1):
                band = dataset.GetRasterBand(index)
                values = band.ReadAsArray(0, strip.row, strip.width, strip.height)
                values[outside] = band.GetNoDataValue()
                band.WriteArray(values, 0, strip.row)
        dataset.FlushCache()
        dataset = None
