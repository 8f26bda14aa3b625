"""The "Classify raster" job on the GDAL side: open, plan, run the engine, write, commit.

Outputs are written under temporary names and renamed only when everything succeeded, so a failed
or cancelled run leaves nothing behind and never touches the input.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
from osgeo import gdal

from ..core import engine
from ..core.blocks import ClippedSink
from ..core.contract import ModelContract
from ..core.errors import InputError
from ..core.margin_probe import shape_for_run
from ..core.model import LoadedModel, load_model
from ..core.outputs import PROBABILITY_NODATA, FinishedRows, class_dtype_and_nodata
from ..core.plan import RunOptions, RunPlan, plan_run
from ..core.progress import Progress
from ..core.window import PixelWindow
from .atomic import AtomicOutputs
from .gdal_grid import RasterGrid, open_raster
from .georeferencing import Georeferencing
from .output_paths import RASTER_EXTENSIONS, check_outputs, require_extension
from .process_memory import PeriodicRelease, available_memory, map_large_blocks
from .raster_area import area_from_extent, needs_resampling, resolve_bands
from .raster_io import (
    BlockRowWriter,
    GdalRasterSource,
    OutputSpecification,
    bounded_block_cache,
    create_geotiff,
    window_grid,
)
from .resample import ResampledRun, model_paths_in

StyleWriter = Callable[[str, ModelContract], object]


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
    threads: int = 0  # onnxruntime's intra-op threads; 0: the CPU count (several workers on one machine share it)

    def __post_init__(self) -> None:
        # The run options are the one switch for what is written; here they follow the outputs asked for.
        self.options = replace(self.options, probabilities=bool(self.probabilities_path),
                               confidence=bool(self.confidence_path))

    def output_paths(self) -> dict[str, str]:
        """The outputs asked for, by the engine's names (classes, probabilities, confidence)."""
        paths = {"classes": self.output_path, "probabilities": self.probabilities_path,
                 "confidence": self.confidence_path}
        return {name: path for name, path in paths.items() if path}

    def check_paths(self) -> None:
        """Refuse, before anything is read or written, outputs that name inputs or are not GeoTIFF names."""
        outputs = {OUTPUT_PARAMETERS[name]: path for name, path in self.output_paths().items()}
        for parameter, path in outputs.items():
            require_extension(parameter, path, RASTER_EXTENSIONS, "a class, probability or confidence raster")
        check_outputs(outputs, {"INPUT": self.input_path, "MODEL": self.model_path, "CONTRACT": self.contract_path},
                      rasters=tuple(outputs))


OUTPUT_PARAMETERS = {"classes": "OUTPUT", "probabilities": "OUTPUT_PROBABILITIES", "confidence": "OUTPUT_CONFIDENCE"}


@dataclass
class ClassifyResult:
    """What the run produced, for the algorithm's outputs and the log."""

    provider: str
    summary: engine.RunSummary
    class_pixel_counts: dict[int, int]
    contract: ModelContract
    seconds: float
    grid: RasterGrid  # the output's pixel grid (for class areas)


class GeoTiffSink:
    """The engine's ResultSink: class values, probabilities and confidence into their GeoTIFFs."""

    def __init__(self, datasets: dict[str, gdal.Dataset], class_dtype: type, class_nodata: int) -> None:
        self._writers = {name: BlockRowWriter(ds, class_dtype if name == "classes" else np.float32)
                         for name, ds in datasets.items()}
        self.datasets = datasets
        self._nodata = class_nodata
        self.counts = np.zeros(256 if class_dtype == np.uint8 else 65536, np.int64)
        self._release = PeriodicRelease()  # keeps the process's memory flat over long runs

    def write(self, rows: FinishedRows) -> None:
        self._writers["classes"].add(rows.row, rows.col, rows.classes)
        self.counts += np.bincount(rows.classes[0].ravel(), minlength=len(self.counts))
        self._release.count(rows.pixels)
        for name, values in (("probabilities", rows.probabilities), ("confidence", rows.confidence)):
            if values is not None:
                self._writers[name].add(rows.row, rows.col, values)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.flush()
        for name in list(self.datasets):
            self.datasets[name].FlushCache()
            self.datasets[name] = None

    def class_counts(self) -> dict[int, int]:
        return {int(v): int(n) for v, n in enumerate(self.counts) if n and v != self._nodata}


def _output_specs(contract: ModelContract, plan: RunPlan, paths: dict[str, str]) -> dict[str, OutputSpecification]:
    """The GeoTIFFs the plan asks for (classes always, probabilities and confidence when wanted)."""
    dtype, nodata = class_dtype_and_nodata(contract)
    gdal_type = gdal.GDT_Byte if dtype == np.uint8 else gdal.GDT_UInt16
    heads = [o.name or f"output {i + 1}" for i, o in enumerate(contract.outputs)]
    specs = {"classes": OutputSpecification(paths["classes"], len(contract.outputs), gdal_type, nodata,
                                            [o.classes for o in contract.outputs], [f"classes ({h})" for h in heads])}
    if plan.want_probabilities:
        names = [f"probability of {c.name}" for c in contract.all_classes]
        specs["probabilities"] = OutputSpecification(paths["probabilities"], contract.class_count,
                                                     gdal.GDT_Float32, PROBABILITY_NODATA, (), names)
    if plan.want_confidence:
        specs["confidence"] = OutputSpecification(paths["confidence"], len(contract.outputs), gdal.GDT_Float32,
                                                  PROBABILITY_NODATA, (), [f"confidence ({h})" for h in heads])
    return specs


def create_outputs(dataset: gdal.Dataset, window: PixelWindow, contract: ModelContract, plan: RunPlan,
                   paths: dict[str, str]) -> dict[str, gdal.Dataset]:
    """The empty output GeoTIFFs the plan asks for, on ``window``'s part of the input's grid."""
    grid = window_grid(dataset, window)
    georeferencing = Georeferencing.of(dataset)
    datasets = {}
    for name, spec in _output_specs(contract, plan, paths).items():
        datasets[name] = create_geotiff(spec, grid)
        georeferencing.apply(datasets[name], window)
    return datasets


@dataclass
class EngineRun:
    summary: engine.RunSummary
    class_counts: dict[int, int]
    first_non_finite: tuple[int, int] | None


def run_engine(dataset: gdal.Dataset, area: PixelWindow, model: LoadedModel, bands: list[int],
               request: ClassifyRequest, paths: dict[str, str], progress: Progress, plan: RunPlan | None = None,
               written: PixelWindow | None = None) -> EngineRun:
    """Run the engine over ``area`` of ``dataset`` into new GeoTIFFs at ``paths`` (same pixel grid).

    A block of a larger run (:mod:`plugin.core.blocks`) gives that run's ``plan`` for its area and writes only
    ``written`` (the block, raster coordinates) of it."""
    source = GdalRasterSource(dataset, bands, request.input_path)
    if plan is None:
        shape = shape_for_run(model, source, area, request.options, progress)  # the context margin, if needed
        plan = plan_run(model.contract, shape, area.width, area.height, request.options, progress,
                        model.runtime.provider)
        progress.info(f"Plan: {plan.describe()}.")
        require_memory(plan.array_bytes(len(bands), model.contract.class_count), plan, request.options)
    window = written or PixelWindow(area.col, area.row, area.width, area.height)
    dtype, nodata = class_dtype_and_nodata(model.contract)
    sink = GeoTiffSink(create_outputs(dataset, window, model.contract, plan, paths), dtype, nodata)
    target: engine.ResultSink = sink
    if written is not None:
        target = ClippedSink(sink, PixelWindow(written.col - area.col, written.row - area.row, written.width,
                                               written.height))
    try:
        summary = engine.run(source, model.runtime, target, model.contract, area, plan, progress)
    finally:
        sink.close()
    return EngineRun(summary, sink.class_counts(), source.first_non_finite)


def require_memory(needed: int, plan: RunPlan, options: RunOptions) -> None:
    """Refuse, before allocating anything, a plan whose arrays alone would not fit in the memory available."""
    available = available_memory()
    if available is None or needed <= available:
        return
    raise InputError(f"A {plan.window} px window with BATCH_SIZE {plan.batch_size}"
                     f"{' and test-time augmentation' if len(plan.transforms) > 1 else ''} needs at least "
                     f"{needed / 2**30:.1f} GiB of memory for its arrays alone, and {available / 2**30:.1f} GiB are "
                     "available. Lower WINDOW_SIZE (0 takes the model's own size) or BATCH_SIZE"
                     f"{', or use TTA=none' if len(plan.transforms) > 1 else ''}.")


@dataclass
class OpenedJob:
    """The input opened, the model loaded and the area and bands decided: what every run of a request needs."""

    dataset: gdal.Dataset
    model: LoadedModel
    bands: list[int]
    area: PixelWindow


def open_job(request: ClassifyRequest, progress: Progress, model: LoadedModel | None = None) -> OpenedJob:
    """Open the input, load the model (unless given, loaded from the request's), decide the bands and the area,
    with the job's warnings and errors."""
    dataset = open_raster(request.input_path, "input raster")
    model = model or load_model(request.model_path, request.device, request.contract_path, request.threads)
    progress.info(f"Model '{model.contract.name or request.model_path}': contract from {model.origin.describe()}; "
                  f"running on {model.runtime.provider}.")
    for warning in model.runtime.warnings:  # e.g. DEVICE=auto could not start a GPU provider, and why
        progress.warning(warning)
    georeferencing = Georeferencing.of(dataset)
    if not dataset.GetProjection() and not georeferencing.gcps:
        progress.warning("The raster has no CRS: it is classified as it is, and the output has no CRS either.")
    bands = resolve_bands(dataset, request.bands, model.contract, progress)
    if request.extent is not None:
        georeferencing.require_geotransform("classifying only an EXTENT", request.input_path)
    return OpenedJob(dataset, model, bands, area_from_extent(dataset, request.extent))


def classify(request: ClassifyRequest, progress: Progress,
             style_writer: StyleWriter | None = None) -> ClassifyResult:
    """Run the whole job; on any error or cancellation the outputs are removed, old ones kept."""
    started = time.perf_counter()
    request.check_paths()
    job = open_job(request, progress)
    dataset, model, area = job.dataset, job.model, job.area
    map_large_blocks()  # memory flat however long the run (see process_memory)
    with AtomicOutputs() as outputs, bounded_block_cache():
        paths = {name: outputs.temporary_for(final) for name, final in request.output_paths().items()}
        run = _run_at_model_resolution(dataset, area, model, job.bands, request, paths, outputs, progress)
        report_input_problems(run, progress)
        if style_writer is not None:
            style_writer(paths["classes"], model.contract)
        outputs.commit()
    grid = window_grid(dataset, PixelWindow(area.col, area.row, area.width, area.height))
    return ClassifyResult(model.runtime.provider, run.summary, run.class_counts, model.contract,
                          time.perf_counter() - started, grid)


def _run_at_model_resolution(dataset: gdal.Dataset, area: PixelWindow, model: LoadedModel, bands: list[int],
                             request: ClassifyRequest, paths: dict[str, str], outputs: AtomicOutputs,
                             progress: Progress) -> EngineRun:
    """The engine on the raster's own grid, or on a warped view at the model's resolution and back."""
    resolution = needs_resampling(dataset, model.contract, progress)
    if resolution is None:
        return run_engine(dataset, area, model, bands, request, paths, progress)
    resampled = ResampledRun(dataset, area, resolution, progress)
    source, model_area = resampled.model_grid_source()
    model_paths = model_paths_in(outputs.work_folder(), list(paths))
    run = run_engine(source, model_area, model, bands, request, model_paths, progress)
    run.class_counts = resampled.warp_back(model_paths, paths)
    return run


def report_input_problems(run: EngineRun, progress: Progress) -> None:
    if run.first_non_finite is not None:
        col, row = run.first_non_finite
        progress.warning(f"The raster holds NaN or infinite values (the first at column {col}, row {row}); those "
                         "pixels are treated as nodata and written as nodata.")
    if run.summary.windows_run == 0:
        progress.warning("Every pixel in the processing area is nodata: the output holds nodata only.")
