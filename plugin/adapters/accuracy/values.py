"""Accuracy of a value raster (a regression model's output, or any continuous raster) against a reference raster
of the same quantity, block by block (GDAL only): MAE, RMSE, R², bias and correlation over every pixel where
both have a value, and a sample of the pairs for the scatter plot.

The reference is read on the assessed raster's grid: directly when the grids are the same, otherwise warped
onto it as the class assessment warps a label raster, but with a method for continuous values: averaging when
the reference's pixels are smaller than the assessed raster's, bilinear otherwise (noted in the log). Nodata
in either raster (nodata values, masks, NaN), ``REFERENCE_NODATA``, pixels beyond the reference and outside the
EXTENT / MASK are left out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from osgeo import gdal

from ...core.accuracy.regression_metrics import RegressionAccumulator, RegressionScores
from ...core.areas.window import PixelWindow
from ...core.errors import CancelledError, InputError
from ...core.progress import LoggingProgress, Progress
from ..inputs.area_of_interest import AreaOfInterest, AreaSpec, require_north_up
from ..inputs.gdal_grid import RasterGrid, open_raster
from ..outputs.raster_classes import CLASSES_METADATA_KEY
from ..outputs.value_rasters import VALUES_METADATA_KEY
from .reference import _require_overlap

gdal.UseExceptions()

TILE_SIZE = 1024
KINDS = ("auto", "classes", "values")


def is_value_raster(path: str) -> bool:
    """Whether ``path`` holds continuous values: a regression run's value raster, or a floating-point band 1
    without class names or a colour table (a class raster has those, or whole-number types)."""
    dataset = open_raster(path, "raster to assess (INPUT)")
    if dataset.GetMetadataItem(VALUES_METADATA_KEY):
        return True
    band = dataset.GetRasterBand(1)
    floating = band.DataType in (gdal.GDT_Float32, gdal.GDT_Float64)
    labelled = bool(band.GetCategoryNames() or band.GetRasterColorTable()
                    or dataset.GetMetadataItem(CLASSES_METADATA_KEY))
    return floating and not labelled


@dataclass
class ValueAssessment:
    """The scores, the sample of pairs for the scatter plot, and where the figures came from."""

    scores: RegressionScores
    predicted_sample: np.ndarray
    reference_sample: np.ndarray
    units: str
    band_name: str
    sources: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        scores = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                  for k, v in self.scores.to_dict().items()}
        return {"kind": "values", "band": self.band_name, "units": self.units, **scores, "samples": self.scores.count,
                "sources": self.sources, "notes": self.notes, "excluded": self.excluded}

    def table_row(self) -> dict[str, Any]:
        """The one row of the scores table."""
        return {"band": self.band_name, "units": self.units, **self.scores.to_dict()}


class ValueRaster:
    """Band ``band`` of a raster of values read on ``grid`` (warped onto it when its own grid differs: averaging
    smaller pixels, bilinear otherwise), with its validity; also the targets of regression training."""

    def __init__(self, path: str, grid: RasterGrid | None, band: int, what: str, nodata: float | None = None) -> None:
        self.dataset = open_raster(path, what)
        if not 1 <= band <= self.dataset.RasterCount:
            raise InputError(f"The {what} '{path}' has {self.dataset.RasterCount} band(s); band {band} does not exist.")
        own = RasterGrid.of(self.dataset)
        self.note = ""
        if grid is not None and not own.same_grid(grid):
            self.dataset, self.note = _warped(self.dataset, own, grid, band, path, nodata)
            band = 1
        self.band = self.dataset.GetRasterBand(band)
        self.nodata = nodata

    def read(self, window: PixelWindow) -> tuple[np.ndarray, np.ndarray]:
        args = (window.col, window.row, window.width, window.height)
        values = self.band.ReadAsArray(*args).astype(np.float64)
        valid = self.band.GetMaskBand().ReadAsArray(*args) > 0 if self.band.GetMaskFlags() != gdal.GMF_ALL_VALID \
            else np.ones(values.shape, bool)
        valid &= np.isfinite(values)
        if self.nodata is not None:
            valid &= values != self.nodata
        return values, valid


def _warped(source: gdal.Dataset, own: RasterGrid, grid: RasterGrid, band: int, path: str,
            nodata: float | None) -> tuple[gdal.Dataset, str]:
    """The reference warped onto ``grid`` (a VRT): averaging its smaller pixels, bilinear for larger ones."""
    if not source.GetProjection() and grid.crs_wkt:
        raise InputError(f"The reference raster '{path}' has no CRS and another grid than the raster to assess; "
                         "assign its CRS in QGIS (Layer Properties > Source) and try again.")
    finer = min(own.pixel_size) < min(grid.pixel_size) * 0.75
    method = "average" if finer else "bilinear"
    source_nodata = source.GetRasterBand(band).GetNoDataValue()
    given = nodata if nodata is not None else source_nodata
    xmin, ymin, xmax, ymax = grid.bounds()
    single = gdal.Translate("", source, format="VRT", bandList=[band])  # GDAL 3.6 warps whole datasets
    options = gdal.WarpOptions(format="VRT", outputBounds=(xmin, ymin, xmax, ymax), width=grid.width,
                               height=grid.height, dstSRS=grid.crs_wkt or None, resampleAlg=method,
                               outputType=gdal.GDT_Float64, srcNodata=given, dstNodata=float("nan"))
    note = (f"The reference raster '{path}' is on another grid; it is resampled onto the assessed raster's grid "
            f"({'averaging its smaller pixels' if finer else 'bilinear'}).")
    return gdal.Warp("", single, options=options), note


def assess_values(path: str, reference: str, area: AreaSpec | None = None, reference_nodata: float | None = None,
                  progress: Progress | None = None, tile_size: int = TILE_SIZE) -> ValueAssessment:
    """Compare band 1 of the value raster ``path`` with the reference raster, pixel by pixel."""
    area, progress = area or AreaSpec(), progress or LoggingProgress()
    predicted = ValueRaster(path, None, 1, "raster to assess (INPUT)")
    grid = RasterGrid.of(predicted.dataset)
    require_north_up(grid, path)
    _require_overlap(reference, grid)
    observed = ValueRaster(reference, grid, 1, "reference raster", reference_nodata)
    region = AreaOfInterest(grid, area.extent, area.mask_path, area.mask_layer)
    notes = [n for n in (observed.note, _band_note(predicted.dataset)) if n]
    for note in notes:
        progress.info(note)
    accumulator = RegressionAccumulator()
    excluded = {"reference_on_nodata": 0, "no_reference": 0}
    tiles = region.window.tiles(tile_size)
    for done, window in enumerate(tiles, start=1):
        if progress.is_cancelled():
            raise CancelledError("the accuracy assessment was cancelled; nothing was written.")
        values, has_value = predicted.read(window)
        truth, has_truth = observed.read(window)
        inside = region.read(window)
        accumulator.update(values, truth, has_value & has_truth & inside)
        excluded["reference_on_nodata"] += int(np.count_nonzero(inside & has_truth & ~has_value))
        excluded["no_reference"] += int(np.count_nonzero(inside & has_value & ~has_truth))
        progress.set_fraction(done / len(tiles))
    scores = accumulator.result()
    if not scores.count:
        raise InputError("No pixel could be assessed: the reference has no value where the assessed raster has one "
                         f"inside the assessed area (reference on nodata: {excluded['reference_on_nodata']}, no "
                         f"reference: {excluded['no_reference']}). Check that the rasters overlap, the reference's "
                         "nodata value (REFERENCE_NODATA) and the EXTENT / MASK.")
    band = predicted.dataset.GetRasterBand(1)
    sources = {"assessed": path, "reference": reference, "reference_nodata": reference_nodata,
               "extent": list(area.extent) if area.extent else None, "mask": area.mask_path}
    sample_p, sample_r = accumulator.sample
    return ValueAssessment(scores, sample_p, sample_r, band.GetUnitType() or "", band.GetDescription() or "band 1",
                           sources, notes, excluded)


def _band_note(dataset: gdal.Dataset) -> str:
    count = dataset.RasterCount
    return f"The assessed raster has {count} bands; band 1 is assessed." if count > 1 else ""
