"""The context margin of a model without one in its contract, for a run whose overlap is ``auto``:
read from the cache, or measured once on the raster being classified (and cached), and logged.

Nothing is measured when the run has a single window (no seam to blend). The sample is the block of the
processing area with the most valid pixels among its centre and the centres of its four quarters,
normalised as the model expects, mirrored where it passes the raster's edge. See :mod:`.context_margin`
for the measurement (three model runs) and :mod:`.margin_cache` for where it is kept.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np

from ..areas.window import PixelWindow
from ..model.context_margin import MarginMeasurement, measure_margin, sample_size
from ..model.loading import LoadedModel, ModelShape
from ..model.margin_cache import CacheLookup, MarginCache
from ..model.preprocess import normalise
from ..progress import LoggingProgress, Progress
from .grid import aligned_up
from .plan import DEFAULT_DYNAMIC_WINDOW, RunOptions, footprint_offset, plan_run
from .reading import RasterSource, area_edges, read_padded

MIN_VALID_SHARE = 0.5  # a sample with fewer valid pixels says little about the model


def shape_for_run(model: LoadedModel, source: RasterSource, area: PixelWindow, options: RunOptions,
                  progress: Progress) -> ModelShape:
    """The model's shape, with ``measured_margin`` set when the run needs it (overlap auto and no
    margin in the contract) and it can be had; otherwise as it was."""
    if options.overlap is not None or model.contract.context_margin is not None:
        return model.shape
    if _single_window(model, source, area, options):
        progress.info("The processing area fits in one window: nothing to blend, so the model's context margin is "
                      "not measured.")
        return model.shape
    window = probe_window(model)
    try:
        cache: MarginCache | None = MarginCache(model.runtime.path, contract_key=measurement_key(model))
    except OSError:  # the model file went away after loading: measure, but do not cache
        cache = None
    lookup = cache.lookup(window) if cache is not None else CacheLookup()
    if lookup.found is not None:
        cached = lookup.found
        progress.info(f"Context margin of the model: {cached.margin} px (measured on an earlier run, cached in "
                      f"{cached.path}).")
        return replace(model.shape, measured_margin=cached.margin)
    if lookup.problem is not None and cache is not None:
        progress.info(f"The cached context margin {cache.entry_path(window)} is not used: {lookup.problem}. The "
                      "margin is measured again and the entry replaced.")
    started = time.perf_counter()
    measurement = _measure(model, source, area, window)
    if measurement is None:
        progress.warning("The model's contract gives no context margin and the processing area has too few valid "
                         "pixels to measure it: the overlap is 25 % of the window.")
        return model.shape
    seconds = time.perf_counter() - started
    progress.info(f"Context margin of the model: {measurement.describe()}, measured in {seconds:.1f} s on this "
                  f"raster with {window} px windows{_stored(cache, measurement, seconds, progress)}. Set OVERLAP "
                  "to choose the overlap yourself.")
    return replace(model.shape, measured_margin=measurement.margin)


def measurement_key(model: LoadedModel) -> str:
    """What a measurement depends on besides the model file: the normalisation the model is fed with, how its
    first output is read, and its size multiple (the contract's, which a CONTRACT sidecar may change)."""
    contract = model.contract.to_dict()
    seen = {key: value for key, value in contract["input"].items() if key not in ("name", "band_names")}
    output = contract["outputs"][0]
    channels = output.get("classes") or output.get("band_names") or []  # a regression output: its value bands
    return json.dumps({"input": seen, "output": [output["kind"], output.get("threshold"), len(channels)],
                       "size_multiple": contract["size_multiple"]}, sort_keys=True)


def _single_window(model: LoadedModel, source: RasterSource, area: PixelWindow, options: RunOptions) -> bool:
    """Whether the run has one window whatever the margin: no seam to blend, no margin to measure."""
    plan = plan_run(model.contract, model.shape, area.width, area.height, options, LoggingProgress(),
                    edges=area_edges(source, area))
    return plan.grid.window_count == 1


def probe_window(model: LoadedModel) -> int:
    """The window the margin is measured with: the model's fixed size, or 512 px (rounded to its multiple)."""
    return model.shape.fixed_size or aligned_up(DEFAULT_DYNAMIC_WINDOW, model.contract.size_multiple)


def _stored(cache: MarginCache | None, measurement: MarginMeasurement, seconds: float, progress: Progress) -> str:
    if cache is None:
        return ""
    details = {"seconds": round(seconds, 2),
               "class_disagreement": [round(x, 5) for x in measurement.class_disagreement],
               "probability_change": [round(x, 5) for x in measurement.probability_change]}
    try:
        path = cache.store(measurement.window, measurement.margin, measurement.limited, details)
    except OSError as error:
        progress.info(f"The measured context margin could not be cached in {cache.folder} ({error}); it will be "
                      "measured again next time.")
        return ""
    return f" (cached in {path})"


def _measure(model: LoadedModel, source: RasterSource, area: PixelWindow, window: int) -> MarginMeasurement | None:
    contract = model.contract
    size = sample_size(window, contract.size_multiple)
    sample = best_sample(source, area, size)
    if sample is None:
        return None
    raw, valid = sample
    normalised = normalise(raw, contract.input, valid)
    offset = footprint_offset(window, model.shape)
    return measure_margin(model.runtime.predict, normalised, window, contract.size_multiple, contract.outputs[0],
                          offset)


def best_sample(source: RasterSource, area: PixelWindow, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A ``size`` x ``size`` block (raw values, valid mask) around the area's centre or one of its quarters'
    centres: the first with ``MIN_VALID_SHARE`` valid pixels, else the most valid one; None when none has any."""
    centres = [(area.col + area.width * fx, area.row + area.height * fy)
               for fx, fy in ((0.5, 0.5), (0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75))]
    best, best_share = None, 0.0
    for centre_col, centre_row in centres:
        raw, valid = read_padded(source, int(centre_row) - size // 2, int(centre_col) - size // 2, size, size)
        share = float(valid.mean())
        if share >= MIN_VALID_SHARE:
            return raw, valid
        if share > best_share:
            best, best_share = (raw, valid), share
    return best
