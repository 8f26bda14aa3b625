"""The regression side of the classify job: a model of continuous values (outputs of kind ``regression``) runs
through the same inputs, plan, engine and blending as a class model and writes a value raster instead of a
class raster (:mod:`..outputs.value_rasters`).

Here: which options each kind of model accepts (a regression model refuses the class-only outputs and
options, a class model refuses CLIP_TO_RANGE), and the finishing of the value raster: one pass over it that
counts what it holds (:mod:`plugin.core.segmentation.value_statistics`), the values outside the contract's
``valid_range`` (a warning, or clipped with CLIP_TO_RANGE), stores those figures in the raster, then the
cloud-optimised copy with averaged overviews.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from osgeo import gdal

from ...core.errors import InputError
from ...core.model.contract import ModelContract
from ...core.model.contract_regression import is_regression, regression_specs, value_nodata
from ...core.progress import Progress
from ...core.segmentation.value_statistics import BandAccumulator, ValueSummary, sample_step, summary_of
from ..inputs.gdal_grid import RasterGrid
from ..outputs.cog import write_cog
from ..outputs.value_rasters import band_labels, describe_units, read_summary, store_summary
from ..polygons.regions_raster import cancel_point, strips
from .finishing import VectorOptions
from .finishing import _replace as replace_output

gdal.UseExceptions()

VALUE_OVERVIEWS = "AVERAGE"


class KindOptions(Protocol):
    """What the classify request says about the outputs and options that depend on the model's kind."""

    model_path: str
    probabilities_path: str | None
    confidence_path: str | None
    vector_path: str | None
    vector: VectorOptions
    clip_to_range: bool


def check_options_for_kind(request: KindOptions, contract: ModelContract) -> None:
    """Refuse the options the model's kind cannot use, before any output is made."""
    name = Path(request.model_path).name
    if not is_regression(contract):
        if request.clip_to_range:
            raise InputError(f"CLIP_TO_RANGE is for regression models (continuous values with a valid range); "
                             f"'{name}' is a class model. Leave CLIP_TO_RANGE off.")
        return
    options = request.vector
    given = [parameter for parameter, used in (
        ("OUTPUT_PROBABILITIES", bool(request.probabilities_path)),
        ("OUTPUT_CONFIDENCE", bool(request.confidence_path)), ("OUTPUT_VECTOR", bool(request.vector_path)),
        ("MIN_AREA", options.min_area > 0), ("SIEVE", options.sieve), ("SIMPLIFY", options.simplify > 0),
        ("VECTOR_CONFIDENCE", options.confidence)) if used]
    if given:
        raise InputError(f"'{name}' is a regression model: it writes continuous values (a value raster at OUTPUT), "
                         f"not classes, so {', '.join(given)} (for class models only) cannot be made. Leave "
                         f"{'it' if len(given) == 1 else 'them'} out.")
    if request.clip_to_range and not any(spec.valid_range for spec in regression_specs(contract)):
        raise InputError(f"CLIP_TO_RANGE needs the model's valid range, and the contract of '{name}' gives none. "
                         "Add \"valid_range\": [low, high] to its output in a CONTRACT sidecar, or leave CLIP_TO_RANGE "
                         "off.")


def measure_values(path: str, contract: ModelContract, clip: bool, progress: Progress) -> ValueSummary:
    """One pass over the value raster at ``path``: its statistics (stored in it), values outside the valid range
    counted (and clipped in place when ``clip``)."""
    dataset = gdal.Open(path, gdal.GA_Update)
    grid = RasterGrid.of(dataset)
    nodata = value_nodata(contract)
    ranges = [spec.valid_range for spec in regression_specs(contract) for _ in range(spec.bands)]
    step = sample_step(grid.width * grid.height, len(ranges))
    accumulators = [BandAccumulator(label, units, limits, step, clip)
                    for (label, units), limits in zip(band_labels(contract), ranges)]
    for strip in strips(grid):
        cancel_point(progress)
        for index, accumulator in enumerate(accumulators, start=1):
            band = dataset.GetRasterBand(index)
            values = band.ReadAsArray(0, strip.row, strip.width, strip.height)
            clipped = accumulator.add(values, values != nodata)
            if clipped is not None:
                band.WriteArray(clipped, 0, strip.row)
    summary = summary_of(accumulators, nodata, grid.width * grid.height)
    describe_units(dataset, contract)
    store_summary(dataset, summary)
    dataset.FlushCache()
    dataset = None
    return summary


def finish_values(paths: dict[str, str], requested: set[str], contract: ModelContract, work: Path, clip: bool,
                  progress: Progress) -> ValueSummary:
    """Measure (and clip) the value raster, say what the model predicted, then copy it as a cloud-optimised
    GeoTIFF with averaged overviews (the value raster is the engine's ``classes`` output: OUTPUT)."""
    summary = measure_values(paths["classes"], contract, clip, progress)
    report_values(summary, progress)
    progress.info("Writing the value raster as a cloud-optimised GeoTIFF with averaged overviews...")
    for name in sorted(requested):
        cancel_point(progress)
        cog = str(work / f"{name}.cog.tif")
        write_cog(paths[name], cog, VALUE_OVERVIEWS, progress.is_cancelled)
        replace_output(cog, paths[name])
    return summary


def report_values(summary: ValueSummary, progress: Progress) -> None:
    """What the model predicted, band by band; a warning for values outside the valid range."""
    for band in summary.bands:
        progress.info(f"Values: {band.describe()}.")
        if band.outside and band.valid_range is not None:
            low, high = band.valid_range
            share = 100 * band.outside / max(band.count, 1)
            done = ("they were clipped to the range (CLIP_TO_RANGE)" if band.clipped else
                    "they are written as the model gave them; set CLIP_TO_RANGE to clip them to the range")
            progress.warning(f"The model predicted {band.outside} value(s) ({share:.2f} % of {band.name}) outside its "
                             f"valid range {low:g} to {high:g} ({band.below} below, {band.above} above): {done}. "
                             "Many such values suggest the input is not what the model was trained on.")
    valid = max((b.count for b in summary.bands), default=0)
    left_out = summary.pixels - valid
    if left_out > 0 and summary.pixels:
        progress.info(f"{100 * left_out / summary.pixels:.1f} % of the pixels in the processing area ({left_out} px) "
                      "have no valid input (nodata, or outside the MASK): they are written as nodata "
                      f"({summary.nodata:g}).")


def value_summary_of(path: str, contract: ModelContract) -> ValueSummary | None:
    """The statistics a finished value raster carries (None for a class model)."""
    return read_summary(path) if is_regression(contract) else None
