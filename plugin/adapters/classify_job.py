"""The "Classify raster" job on the GDAL side: open, plan, run the engine, write, commit.

Outputs are written under temporary names and renamed only when everything succeeded, so a failed
or cancelled run leaves nothing behind and never touches the input.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from osgeo import gdal

from ..core import engine
from ..core.contract import ModelContract
from ..core.model import LoadedModel, load_model
from ..core.plan import RunOptions, plan_run
from ..core.progress import Progress
from ..core.reading import Area
from ..core.results import PROBABILITY_NODATA, class_dtype_and_nodata
from .atomic import AtomicOutputs
from .gdal_labels import PixelWindow
from .process_memory import PeriodicRelease, map_large_blocks
from .raster_area import area_from_extent, needs_resampling, resolve_bands
from .raster_io import (BlockRowWriter, GdalRasterSource, OutputSpecification, bounded_block_cache, create_geotiff,
                        open_raster, window_grid)
from .resample import ResampledRun

LOG = logging.getLogger("seamless_segmentation")
StyleWriter = Callable[[str, ModelContract], None]


@dataclass
class ClassifyRequest:
    """Everything the Classify raster algorithm passes on, already parsed."""

    input_path: str
    model_path: str
    output_path: str
    contract_path: str | None = None
    bands: Sequence[int] | None = None
    extent: tuple[float, float, float, float] | None = None
    device: str = "auto"
    options: RunOptions = field(default_factory=RunOptions)
    probabilities_path: str | None = None
    confidence_path: str | None = None


@dataclass
class ClassifyResult:
    """What the run produced, for the algorithm's outputs and the log."""

    provider: str
    summary: engine.RunSummary
    class_pixel_counts: dict[int, int]
    contract: ModelContract
    plan_description: str
    seconds: float


class GeoTiffSink:
    """The engine's ResultSink: class values, probabilities and confidence into their GeoTIFFs."""

    def __init__(self, datasets: dict[str, gdal.Dataset], class_dtype: type, class_nodata: int) -> None:
        self._writers = {name: BlockRowWriter(ds, class_dtype if name == "classes" else np.float32)
                         for name, ds in datasets.items()}
        self.datasets = datasets
        self._nodata = class_nodata
        self.counts = np.zeros(256 if class_dtype == np.uint8 else 65536, np.int64)
        self._release = PeriodicRelease()  # keeps the process's memory flat over long runs

    def write(self, row: int, col: int, classes: np.ndarray, probabilities: np.ndarray | None,
              confidence: np.ndarray | None) -> None:
        self._writers["classes"].add(row, col, classes)
        self.counts += np.bincount(classes[0].ravel(), minlength=len(self.counts))
        self._release.count(classes.shape[1] * classes.shape[2])
        if probabilities is not None and "probabilities" in self._writers:
            self._writers["probabilities"].add(row, col, probabilities)
        if confidence is not None and "confidence" in self._writers:
            self._writers["confidence"].add(row, col, confidence)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.flush()
        for name in list(self.datasets):
            self.datasets[name].FlushCache()
            self.datasets[name] = None

    def class_counts(self) -> dict[int, int]:
        return {int(v): int(n) for v, n in enumerate(self.counts) if n and v != self._nodata}


def _output_specs(request: ClassifyRequest, contract: ModelContract, paths: dict[str, str]) -> dict[str, OutputSpecification]:
    dtype, nodata = class_dtype_and_nodata(contract)
    gdal_type = gdal.GDT_Byte if dtype == np.uint8 else gdal.GDT_UInt16
    heads = [o.name or f"output {i + 1}" for i, o in enumerate(contract.outputs)]
    specs = {"classes": OutputSpecification(paths["classes"], len(contract.outputs), gdal_type, nodata,
                                            [o.classes for o in contract.outputs], [f"classes ({h})" for h in heads])}
    if "probabilities" in paths:
        names = [f"probability of {c.name}" for c in contract.all_classes]
        specs["probabilities"] = OutputSpecification(paths["probabilities"], contract.class_count,
                                                     gdal.GDT_Float32, PROBABILITY_NODATA, (), names)
    if "confidence" in paths:
        specs["confidence"] = OutputSpecification(paths["confidence"], len(contract.outputs), gdal.GDT_Float32,
                                                  PROBABILITY_NODATA, (), [f"confidence ({h})" for h in heads])
    return specs


def _run_engine(dataset: gdal.Dataset, area: Area, model: LoadedModel, bands: list[int], request: ClassifyRequest,
                paths: dict[str, str], progress: Progress) -> tuple[engine.RunSummary, GeoTiffSink, str]:
    """Run the engine over ``area`` of ``dataset`` into new GeoTIFFs at ``paths`` (same pixel grid)."""
    plan = plan_run(model.contract, model.shape, area.width, area.height, request.options, progress)
    progress.info(f"Plan: {plan.describe()}.")
    grid = window_grid(dataset, PixelWindow(area.col, area.row, area.width, area.height))
    specs = _output_specs(request, model.contract, paths)
    datasets = {name: create_geotiff(spec, grid) for name, spec in specs.items()}
    dtype, nodata = class_dtype_and_nodata(model.contract)
    sink = GeoTiffSink(datasets, dtype, nodata)
    try:
        summary = engine.run(GdalRasterSource(dataset, bands), model.runtime, sink, model.contract, area, plan,
                             "probabilities" in paths, "confidence" in paths, progress)
    finally:
        sink.close()
    return summary, sink, plan.describe()


def classify(request: ClassifyRequest, progress: Progress,
             style_writer: StyleWriter | None = None) -> ClassifyResult:
    """Run the whole job; on any error or cancellation the outputs are removed."""
    started = time.perf_counter()
    dataset = open_raster(request.input_path)
    model = load_model(request.model_path, request.device, request.contract_path)
    progress.info(f"Model '{model.contract.name or request.model_path}': contract from {model.origin.describe()}; "
                  f"running on {model.runtime.provider}.")
    for warning in model.runtime.warnings:  # e.g. DEVICE=auto could not start a GPU provider, and why
        progress.warning(warning)
    if not dataset.GetProjection():
        progress.warning("The raster has no CRS: it is classified as it is, and the output has no CRS either.")
    bands = resolve_bands(dataset, request.bands, model.contract, progress)
    area = area_from_extent(dataset, request.extent)
    map_large_blocks()  # memory flat however long the run (see process_memory)
    with AtomicOutputs() as outputs, bounded_block_cache():
        paths = {"classes": outputs.temporary_for(request.output_path)}
        if request.probabilities_path:
            paths["probabilities"] = outputs.temporary_for(request.probabilities_path)
        if request.confidence_path:
            paths["confidence"] = outputs.temporary_for(request.confidence_path)
        model_resolution = needs_resampling(dataset, model.contract, progress)
        if model_resolution is None:
            summary, sink, description = _run_engine(dataset, area, model, bands, request, paths, progress)
            counts = sink.class_counts()
        else:
            resampled = ResampledRun(dataset, area, model_resolution, progress)
            summary, counts, description = resampled.run(
                lambda d, a, p: _run_engine(d, a, model, bands, request, p, progress), paths)
        if summary.windows_run == 0:
            progress.warning("Every pixel in the processing area is nodata: the output holds nodata only.")
        if style_writer is not None:
            style_writer(paths["classes"], model.contract)
        outputs.commit()
    return ClassifyResult(model.runtime.provider, summary, counts, model.contract, description,
                          time.perf_counter() - started)
