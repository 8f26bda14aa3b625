"""The "Classify raster" job on the GDAL side: open, plan, run the engine, write, finish, commit.

INPUT (a file, or a layer QGIS reads for us) and ADDITIONAL_INPUTS are stacked on one grid
(:mod:`.inputs`, :mod:`..inputs.stacked_source`); the engine writes tiled GeoTIFFs, which are then finished
(sieved, polygonised, copied as cloud-optimised GeoTIFFs: :mod:`.classify_outputs`). A regression model (outputs of
kind ``regression``) writes a value raster instead, finished by :mod:`.values`. Outputs are written under
temporary names and renamed only when everything succeeded, so a failed or cancelled run leaves nothing
behind and never touches the inputs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from osgeo import gdal

from ...core.areas.window import PixelWindow
from ...core.engine.margin_probe import shape_for_run
from ...core.engine.nodata import NodataPolicy
from ...core.engine.plan import RunOptions, RunPlan, plan_run
from ...core.engine.reading import RasterSource, area_edges
from ...core.engine.run import RunSummary
from ...core.errors import InputError
from ...core.model.contract import ModelContract
from ...core.model.contract_regression import is_regression, value_bands
from ...core.model.loading import LoadedModel, load_model
from ...core.model.preprocess import describe_normalisation
from ...core.progress import Progress
from ...core.segmentation.blended_values import ClippedValueSink
from ...core.segmentation.outputs import ClippedSink, RowSink, class_dtype_and_nodata
from ...core.segmentation.run import segment
from ...core.segmentation.value_statistics import ValueSummary
from ..inputs.area_of_interest import AreaOfInterest
from ..inputs.gdal_grid import RasterGrid
from ..inputs.georeferencing import Georeferencing
from ..inputs.raster_area import needs_resampling
from ..inputs.raster_inputs import InputRaster
from ..inputs.stacked_source import RasterStack
from ..outputs.atomic import AtomicOutputs
from ..outputs.class_rasters import GeoTiffSink, output_specs
from ..outputs.geotiff import bounded_block_cache, create_geotiff
from ..outputs.paths import RASTER_EXTENSIONS, VECTOR_EXTENSIONS, check_outputs, require_extension
from ..outputs.process_memory import available_memory, map_large_allocations
from ..outputs.value_rasters import ValueRasterSink, value_specification
from ..polygons.geopackage_target import (
    VectorDestination,
    check_destination,
    destination,
    parse_destination,
    prepare_copy,
)
from .finishing import VectorOptions, blank_outside, finish_outputs
from .inputs import GridChoice, InputChoice, OpenedInputs, RasterRef, input_files, open_inputs
from .resample import ResampledRun, count_classes, model_paths_in
from .values import check_options_for_kind, finish_values, value_summary_of

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
    additional_inputs: Sequence[RasterRef] = ()  # ADDITIONAL_INPUTS: bands appended after INPUT's
    input_layer: InputRaster | None = None  # INPUT read another way (a QGIS layer); input_path then names it
    grid: GridChoice = field(default_factory=GridChoice)  # RESOLUTION, TARGET_CRS (layers without a grid)
    mask_path: str | None = None  # MASK: a polygon layer (file, layer name)
    mask_layer: str | None = None
    nodata: NodataPolicy = field(default_factory=NodataPolicy)  # NODATA_RULE, INPUT_NODATA
    vector_path: str | None = None  # OUTPUT_VECTOR: a GeoPackage of class regions (or "x.gpkg|layername=y")
    vector_layer: str | None = None  # its layer; default: the name given with the path, else the file's stem
    vector: VectorOptions = field(default_factory=VectorOptions)  # MIN_AREA, SIMPLIFY, SIEVE, confidence
    threads: int = 0  # onnxruntime's intra-op threads; 0: the CPU count (several workers on one machine share it)
    clip_to_range: bool = False  # CLIP_TO_RANGE: a regression model's values clipped to its valid range

    def __post_init__(self) -> None:
        if self.vector_path:  # "x.gpkg|layername=y" and QGIS's "ogr:dbname=..." name a file and its layer
            self.vector_path, given = parse_destination(self.vector_path)
            self.vector_layer = self.vector_layer or given
        # The run options are the one switch for what is written; here they follow the outputs asked for.
        self.options = replace(self.options, probabilities=bool(self.probabilities_path),
                               confidence=bool(self.confidence_path) or self.wants_vector_confidence)

    @property
    def vector_destination(self) -> VectorDestination | None:
        """OUTPUT_VECTOR's file and layer name (None when no polygons are asked for)."""
        return destination(self.vector_path, self.vector_layer) if self.vector_path else None

    @property
    def wants_vector_confidence(self) -> bool:
        return bool(self.vector_path) and self.vector.confidence

    def output_paths(self) -> dict[str, str]:
        """The outputs asked for, by the engine's names (classes, probabilities, confidence)."""
        paths = {"classes": self.output_path, "probabilities": self.probabilities_path,
                 "confidence": self.confidence_path}
        return {name: path for name, path in paths.items() if path}

    def check_paths(self) -> None:
        """Refuse, before anything is read or written, outputs that name inputs or are not GeoTIFF (GeoPackage)
        names."""
        rasters = {OUTPUT_PARAMETERS[name]: path for name, path in self.output_paths().items()}
        for parameter, path in rasters.items():
            require_extension(parameter, path, RASTER_EXTENSIONS, "a class, probability or confidence raster")
        if self.vector_path:
            require_extension("OUTPUT_VECTOR", self.vector_path, VECTOR_EXTENSIONS, "the class polygons layer")
            check_destination(destination(self.vector_path, self.vector_layer), bool(self.vector_layer))
        check_outputs({**rasters, "OUTPUT_VECTOR": self.vector_path},
                      input_files(input_choice(self), self.model_path, self.contract_path), rasters=tuple(rasters))


OUTPUT_PARAMETERS = {"classes": "OUTPUT", "probabilities": "OUTPUT_PROBABILITIES", "confidence": "OUTPUT_CONFIDENCE"}


@dataclass
class ClassifyResult:
    """What the run produced, for the algorithm's outputs and the log."""

    provider: str
    summary: RunSummary
    class_pixel_counts: dict[int, int]
    contract: ModelContract
    seconds: float
    grid: RasterGrid  # the output's pixel grid (for class areas)
    stage_seconds: dict[str, float] = field(default_factory=dict)  # "finish": sieve, polygons, COG copies
    values: ValueSummary | None = None  # a regression model's value raster: what it holds, band by band


@dataclass
class EngineRun:
    """What one run of the engine gave: its figures, the class pixel counts, and where the input first held
    non-finite values or pixels missing in some bands only (raster coordinates)."""

    summary: RunSummary
    class_counts: dict[int, int]
    first_non_finite: tuple[int, int] | None = None
    first_partial: tuple[int, int] | None = None


@dataclass
class OpenedJob(OpenedInputs):
    """The model loaded and the inputs decided (stack, bands, processing area, mask, nodata rule): what every
    run of a request needs, decided before any output is created."""

    model: LoadedModel


def open_job(request: ClassifyRequest, progress: Progress, model: LoadedModel | None = None,
             check_suitability: bool = True) -> OpenedJob:
    """Load the model (unless given) and decide the inputs (:func:`.inputs.open_inputs`): INPUT on its grid, the
    stack, the bands, the area and mask, the nodata rule; with the job's warnings and errors, and
    (``check_suitability``) a look at whether the pixels suit the model."""
    request.nodata.validate()
    model = model or load_model(request.model_path, request.device, request.contract_path, request.threads)
    progress.info(f"Model '{model.contract.name or request.model_path}': contract from {model.origin.describe()}; "
                  f"running on {model.runtime.provider}.")
    thresholds = [f"outputs[{i}] threshold {o.threshold:g}" for i, o in enumerate(model.contract.outputs)
                  if o.threshold is not None]
    progress.info(f"Input normalisation (from the {model.origin.normalisation}): "
                  f"{describe_normalisation(model.contract.input)}"
                  f"{'; ' + ', '.join(thresholds) + ' (below it a pixel gets the first class)' if thresholds else ''}.")
    check_options_for_kind(request, model.contract)
    for warning in model.runtime.warnings:  # e.g. DEVICE=auto could not start a GPU provider, and why
        progress.warning(warning)
    opened = open_inputs(input_choice(request), model.contract, progress, check_suitability)
    return OpenedJob(opened.stack, opened.bands, opened.area, opened.mask, opened.decider, model)


def input_choice(request: ClassifyRequest) -> InputChoice:
    """What the request says about the inputs."""
    return InputChoice(request.input_path, request.input_layer, request.additional_inputs, request.bands,
                       request.extent, request.grid, request.mask_path, request.mask_layer, request.nodata)


def create_outputs(grid: RasterGrid, georeferencing: Georeferencing, window: PixelWindow, contract: ModelContract,
                   plan: RunPlan, paths: dict[str, str]) -> dict[str, gdal.Dataset]:
    """The empty output GeoTIFFs the plan asks for, on ``window``'s part of the input's ``grid`` (georeferenced
    as the input is: geotransform, or ground control points)."""
    datasets = {}
    specs = ({"classes": value_specification(contract, paths["classes"])} if is_regression(contract)
             else output_specs(contract, plan, paths))
    for name, spec in specs.items():
        datasets[name] = create_geotiff(spec, grid.sub_grid(window))
        georeferencing.apply(datasets[name], window)
    return datasets


def plan_job(model: LoadedModel, source: RasterSource, area: PixelWindow, options: RunOptions, progress: Progress,
             provider: str | None) -> RunPlan:
    """The run's plan over ``area`` of ``source`` (windows flush with the raster's edges, reaching into its
    real pixels around the area): with the model's context margin (the contract's, or measured once on
    ``source`` when OVERLAP is not set) and the default batch size of ``provider``. A distributed run's client
    plans with it too, so blocks get exactly the single-process plan."""
    shape = shape_for_run(model, source, area, options, progress)
    return plan_run(model.contract, shape, area.width, area.height, options, progress, provider,
                    area_edges(source, area))


def run_engine(job: OpenedJob, stack: RasterStack, area: PixelWindow, mask: AreaOfInterest | None,
               request: ClassifyRequest, paths: dict[str, str], progress: Progress, plan: RunPlan | None = None,
               written: PixelWindow | None = None) -> EngineRun:
    """Run the engine over ``area`` of ``stack`` into new GeoTIFFs at ``paths`` (the area's pixel grid).

    A block of a larger run (:mod:`plugin.core.engine.blocks`) gives that run's ``plan`` for its area and writes only
    ``written`` (the block, raster coordinates) of it."""
    model = job.model
    source = stack.source(job.bands, job.decider)
    if plan is None:
        plan = plan_job(model, source, area, request.options, progress, model.runtime.provider)
        progress.info(f"Plan: {plan.describe()}.")
        require_memory(plan.array_bytes(len(job.bands), accumulated_channels(model.contract)), plan, request.options)
    primary = stack.primary
    outputs = create_outputs(primary.grid, primary.georeferencing, written or area, model.contract, plan, paths)
    sink: GeoTiffSink | ValueRasterSink
    target: RowSink | ValueRasterSink | ClippedValueSink
    if is_regression(model.contract):
        sink = target = ValueRasterSink(outputs["classes"])
        if written is not None:
            target = ClippedValueSink(sink, written.relative_to(area))
    else:
        sink = target = GeoTiffSink(outputs, *class_dtype_and_nodata(model.contract))
        if written is not None:
            target = ClippedSink(sink, written.relative_to(area))
    try:
        summary = segment(source, model.runtime, target, model.contract, area, plan, progress, mask)
    finally:
        sink.close()
    return EngineRun(summary, sink.class_counts(), job.decider.first_non_finite, job.decider.first_partial)


def accumulated_channels(contract: ModelContract) -> int:
    """Channels the merger accumulates per pixel: the classes, or a regression model's value bands."""
    return value_bands(contract) if is_regression(contract) else contract.class_count


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
class RunFiles:
    """The temporary files a run writes, renamed into place by :meth:`AtomicOutputs.commit`."""

    paths: dict[str, str]  # the rasters by the engine's names (confidence also when only polygons need it)
    vector_path: str | None


def temporary_files(request: ClassifyRequest, outputs: AtomicOutputs) -> RunFiles:
    """Temporary names for the outputs asked for (and a work file for the confidence polygons need)."""
    paths = {name: outputs.temporary_for(final) for name, final in request.output_paths().items()}
    vector_path = outputs.temporary_for(request.vector_path) if request.vector_path else None
    if request.wants_vector_confidence and "confidence" not in paths:
        paths["confidence"] = str(outputs.work_folder() / "confidence_for_polygons.tif")
    return RunFiles(paths, vector_path)


def finish_run(request: ClassifyRequest, files: RunFiles, grid: RasterGrid, contract: ModelContract,
               outputs: AtomicOutputs, progress: Progress, style_writer: StyleWriter | None = None,
               vector_style_writer: StyleWriter | None = None) -> dict[int, int] | None:
    """Sieve, polygonise, copy as cloud-optimised GeoTIFFs and style the written rasters (before the commit);
    the class pixel counts when sieving changed them. The single-process and the distributed runs share it.
    Polygons for a GeoPackage that holds other layers go into a copy of it (see :mod:`..polygons.geopackage_target`);
    a regression model's value raster is measured (clipped on request) and copied instead (:mod:`.values`)."""
    counts = None
    if is_regression(contract):
        finish_values(files.paths, set(request.output_paths()), contract, outputs.work_folder(), request.clip_to_range,
                      progress)
    else:
        target = request.vector_destination
        if files.vector_path and target is not None:
            prepare_copy(target, files.vector_path, progress)
        layer = target.layer if target is not None else None
        counts = finish_outputs(files.paths, set(request.output_paths()), files.vector_path, request.vector, grid,
                                contract, outputs.work_folder(), progress, layer)
    if style_writer is not None:
        style_writer(files.paths["classes"], contract)
    if files.vector_path and vector_style_writer is not None:
        vector_style_writer(f"{files.vector_path}|layername={layer}", contract)
    return counts


def classify(request: ClassifyRequest, progress: Progress, style_writer: StyleWriter | None = None,
             vector_style_writer: StyleWriter | None = None) -> ClassifyResult:
    """Run the whole job; on any error or cancellation the outputs are removed, old ones kept."""
    started = time.perf_counter()
    request.check_paths()
    job = open_job(request, progress)
    map_large_allocations()  # memory flat however long the run (see process_memory)
    with AtomicOutputs() as outputs, bounded_block_cache():
        files = temporary_files(request, outputs)
        run = _run_at_model_resolution(job, request, files.paths, outputs, progress)
        require_pixels_fetched(job.stack)
        contract = job.model.contract
        report_input_problems(run, job.area.pixels, request, progress, count_nodata=not is_regression(contract))
        finishing = time.perf_counter()
        counts = finish_run(request, files, job.grid, contract, outputs, progress, style_writer, vector_style_writer)
        stages = {"finish": time.perf_counter() - finishing}
        run.class_counts = counts or run.class_counts
        values = value_summary_of(files.paths["classes"], contract)
        outputs.commit()
    return ClassifyResult(job.model.runtime.provider, run.summary, run.class_counts, contract,
                          time.perf_counter() - started, job.grid, stages, values)


def _run_at_model_resolution(job: OpenedJob, request: ClassifyRequest, paths: dict[str, str],
                             outputs: AtomicOutputs, progress: Progress) -> EngineRun:
    """The engine on the raster's own grid, or on a warped view at the model's resolution and back."""
    primary = job.stack.primary
    resolution = needs_resampling(primary.grid, bool(primary.georeferencing.gcps), job.model.contract, progress)
    if resolution is None:
        return run_engine(job, job.stack, job.area, job.mask, request, paths, progress)
    resampled = ResampledRun(primary, job.area, resolution, progress)
    view, model_area = resampled.model_view()
    stack = job.stack.on_view(view, progress)
    mask = None
    if job.mask is not None:  # the polygons burnt on the model's grid, then exactly on the output's
        mask = AreaOfInterest(view.grid, None, request.mask_path, request.mask_layer, within=model_area)
    model_paths = model_paths_in(outputs.work_folder(), list(paths))
    run = run_engine(job, stack, model_area, mask, request, model_paths, progress)
    regression = is_regression(job.model.contract)
    resampled.warp_back(model_paths, paths, continuous=regression)
    if job.mask is not None:
        blank_outside(paths, job.mask, job.area)
    run.class_counts = {} if regression else count_classes(paths["classes"])
    return run


def require_pixels_fetched(stack: RasterStack) -> None:
    """Refuse the result of a run that had not a single pixel from one of its rasters because every request to it
    failed (a web map that cannot be reached): its nodata-only output would pass for a classification."""
    for member in stack.members:
        failure = member.fetch_failure()
        if failure is not None:
            raise InputError(failure)


def report_input_problems(run: EngineRun, area_pixels: int, request: ClassifyRequest, progress: Progress,
                          count_nodata: bool = True) -> None:
    """Say, once, what the input's nodata and non-finite values left out of the ``area_pixels`` classified
    (``count_nodata`` False: a value raster, whose finishing counts its nodata pixels itself)."""
    if run.first_non_finite is not None:
        col, row = run.first_non_finite
        progress.warning(f"The raster holds NaN or infinite values (the first at column {col}, row {row}); those "
                         "pixels are treated as nodata and written as nodata.")
    if run.first_partial is not None:
        col, row = run.first_partial
        progress.info(f"Some pixels are nodata in some of the bands used but not all (the first at column {col}, "
                      f"row {row}): under NODATA_RULE=all they are classified, the missing bands filled as the model's "
                      "contract says (input.nodata_fill). Set NODATA_RULE=any to leave such pixels out.")
    if run.summary.windows_run == 0:
        progress.warning("Every pixel in the processing area is nodata: the output holds nodata only.")
        return
    if not count_nodata:
        return
    left_out = area_pixels - sum(run.class_counts.values())
    if left_out > 0:
        where = " or outside the MASK" if request.mask_path else ""
        progress.info(f"{100 * left_out / area_pixels:.1f} % of the pixels in the processing area "
                      f"({left_out} px) are nodata in the input (NODATA_RULE={request.nodata.rule}){where}: they are "
                      "left out and written as nodata.")
