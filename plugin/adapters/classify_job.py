"""The "Classify raster" job on the GDAL side: open, plan, run the engine, write, finish, commit.

INPUT (a file, or a layer QGIS reads for us) and ADDITIONAL_INPUTS are stacked on one grid
(:mod:`.classify_inputs`, :mod:`.stacked_source`); the engine writes tiled GeoTIFFs, which are then finished
(sieved, polygonised, copied as cloud-optimised GeoTIFFs: :mod:`.classify_outputs`). Outputs are written under
temporary names and renamed only when everything succeeded, so a failed or cancelled run leaves nothing
behind and never touches the inputs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from ..core import engine
from ..core.contract import ModelContract
from ..core.errors import InputError
from ..core.model import LoadedModel, load_model
from ..core.nodata import NodataDecider, NodataPolicy, raw_fill_values
from ..core.outputs import class_dtype_and_nodata
from ..core.plan import RunOptions, RunPlan, plan_run
from ..core.progress import Progress
from ..core.window import PixelWindow
from .area_of_interest import AreaOfInterest, AreaSpec
from .atomic import AtomicOutputs
from .classify_inputs import GridChoice, RasterRef, open_input, place_input, processing_area, warn_if_unsuitable
from .classify_outputs import VectorOptions, blank_outside, finish_outputs
from .gdal_grid import RasterGrid
from .output_paths import RASTER_EXTENSIONS, VECTOR_EXTENSIONS, check_outputs, require_extension
from .process_memory import available_memory, map_large_blocks
from .raster_area import needs_resampling, resolve_bands
from .raster_inputs import InputRaster
from .raster_io import bounded_block_cache, create_geotiff
from .resample import ResampledRun, count_classes, model_paths_in
from .result_rasters import GeoTiffSink, output_specs
from .stacked_source import RasterStack

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
    vector_path: str | None = None  # OUTPUT_VECTOR: a GeoPackage of class regions
    vector: VectorOptions = field(default_factory=VectorOptions)  # MIN_AREA, SIMPLIFY, SIEVE, confidence

    def __post_init__(self) -> None:
        # The run options are the one switch for what is written; here they follow the outputs asked for.
        self.options = replace(self.options, probabilities=bool(self.probabilities_path),
                               confidence=bool(self.confidence_path) or self.wants_vector_confidence)

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
        inputs = {"INPUT": self.input_path if self.input_layer is None else None, "MODEL": self.model_path,
                  "CONTRACT": self.contract_path, "MASK": self.mask_path}
        inputs.update({f"ADDITIONAL_INPUTS ({index})": path for index, path in enumerate(self.additional_inputs, 1)
                       if isinstance(path, str)})
        check_outputs({**rasters, "OUTPUT_VECTOR": self.vector_path}, inputs, rasters=tuple(rasters))


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
    stage_seconds: dict[str, float] = field(default_factory=dict)  # "finish": sieve, polygons, COG copies


@dataclass
class _EngineRun:
    summary: engine.RunSummary
    class_counts: dict[int, int]


@dataclass
class _Inputs:
    """What the run reads, decided before any output is created."""

    stack: RasterStack
    bands: list[int]
    area: PixelWindow
    mask: AreaOfInterest | None
    decider: NodataDecider


def _run_engine(stack: RasterStack, inputs: _Inputs, area: PixelWindow, mask: AreaOfInterest | None,
                model: LoadedModel, request: ClassifyRequest, paths: dict[str, str], progress: Progress) -> _EngineRun:
    """Run the engine over ``area`` of the stack into new GeoTIFFs at ``paths`` (the area's pixel grid)."""
    plan = plan_run(model.contract, model.shape, area.width, area.height, request.options, progress)
    progress.info(f"Plan: {plan.describe()}.")
    require_memory(plan.array_bytes(len(inputs.bands), model.contract.class_count), plan, request.options)
    primary = stack.primary
    grid = RasterGrid(area.width, area.height, primary.grid.window_geotransform(area), primary.grid.crs_wkt,
                      primary.grid.georeferenced)
    datasets = {}
    for name, spec in output_specs(model.contract, plan, paths).items():
        datasets[name] = create_geotiff(spec, grid)
        primary.georeferencing.apply(datasets[name], area)
    dtype, nodata = class_dtype_and_nodata(model.contract)
    sink = GeoTiffSink(datasets, dtype, nodata)
    source = stack.source(inputs.bands, inputs.decider)
    try:
        summary = engine.run(source, model.runtime, sink, model.contract, area, plan, progress, mask)
    finally:
        sink.close()
    return _EngineRun(summary, sink.class_counts())


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


def _open_inputs(request: ClassifyRequest, model: LoadedModel, progress: Progress) -> _Inputs:
    """INPUT on its grid, the stack, the bands, the area and mask, the nodata rule, and a suitability check."""
    raw = request.input_layer or open_input(request.input_path, "input raster")
    primary, extent = place_input(raw, request.extent, request.grid, model.contract, progress)
    if not primary.grid.crs_wkt and not primary.georeferencing.gcps:
        progress.warning("The raster has no CRS: it is classified as it is, and the output has no CRS either.")
    stack = RasterStack(primary, [open_input(r, "additional raster") for r in request.additional_inputs], progress)
    bands = resolve_bands(stack.bands, request.bands, model.contract, progress)
    area, mask = processing_area(primary, extent, AreaSpec(None, request.mask_path, request.mask_layer), progress)
    decider = NodataDecider(request.nodata, raw_fill_values(model.contract.input))
    chosen = [stack.bands[b - 1] for b in bands]
    warn_if_unsuitable(stack.source(bands, decider), area, model.contract, [b.data_type for b in chosen],
                       [b.description for b in chosen], progress)
    return _Inputs(stack, bands, area, mask, decider)


def classify(request: ClassifyRequest, progress: Progress, style_writer: StyleWriter | None = None,
             vector_style_writer: StyleWriter | None = None) -> ClassifyResult:
    """Run the whole job; on any error or cancellation the outputs are removed, old ones kept."""
    started = time.perf_counter()
    request.check_paths()
    request.nodata.validate()
    model = load_model(request.model_path, request.device, request.contract_path)
    progress.info(f"Model '{model.contract.name or request.model_path}': contract from {model.origin.describe()}; "
                  f"running on {model.runtime.provider}.")
    inputs = _open_inputs(request, model, progress)
    map_large_blocks()  # memory flat however long the run (see process_memory)
    with AtomicOutputs() as outputs, bounded_block_cache():
        paths = {name: outputs.temporary_for(final) for name, final in request.output_paths().items()}
        vector_path = outputs.temporary_for(request.vector_path) if request.vector_path else None
        if request.wants_vector_confidence and "confidence" not in paths:
            paths["confidence"] = str(outputs.work_folder() / "confidence_for_polygons.tif")
        run = _run_at_model_resolution(inputs, model, request, paths, outputs, progress)
        _report_input_problems(run, inputs, request, progress)
        grid = _area_grid(inputs)
        finishing = time.perf_counter()
        counts = finish_outputs(paths, set(request.output_paths()), vector_path, request.vector, grid, model.contract,
                                outputs.work_folder(), progress)
        stages = {"finish": time.perf_counter() - finishing}
        run.class_counts = counts or run.class_counts
        if style_writer is not None:
            style_writer(paths["classes"], model.contract)
        if vector_path and vector_style_writer is not None:
            vector_style_writer(vector_path, model.contract)
        outputs.commit()
    return ClassifyResult(model.runtime.provider, run.summary, run.class_counts, model.contract,
                          time.perf_counter() - started, grid, stages)


def _area_grid(inputs: _Inputs) -> RasterGrid:
    """The outputs' grid: the processed window of INPUT's grid."""
    grid, area = inputs.stack.primary.grid, inputs.area
    return RasterGrid(area.width, area.height, grid.window_geotransform(area), grid.crs_wkt, grid.georeferenced)


def _run_at_model_resolution(inputs: _Inputs, model: LoadedModel, request: ClassifyRequest, paths: dict[str, str],
                             outputs: AtomicOutputs, progress: Progress) -> _EngineRun:
    """The engine on the raster's own grid, or on a warped view at the model's resolution and back."""
    primary = inputs.stack.primary
    resolution = needs_resampling(primary.grid, bool(primary.georeferencing.gcps), model.contract, progress)
    if resolution is None:
        return _run_engine(inputs.stack, inputs, inputs.area, inputs.mask, model, request, paths, progress)
    resampled = ResampledRun(primary, inputs.area, resolution, progress)
    view, model_area = resampled.model_view()
    stack = inputs.stack.on_view(view, progress)
    mask = None
    if inputs.mask is not None:  # the polygons burnt on the model's grid, then exactly on the output's
        mask = AreaOfInterest(view.grid, None, request.mask_path, request.mask_layer, within=model_area)
    model_paths = model_paths_in(outputs.work_folder(), list(paths))
    run = _run_engine(stack, inputs, model_area, mask, model, request, model_paths, progress)
    resampled.warp_back(model_paths, paths)
    if inputs.mask is not None:
        blank_outside(paths, inputs.mask, inputs.area)
    run.class_counts = count_classes(paths["classes"])
    return run


def _report_input_problems(run: _EngineRun, inputs: _Inputs, request: ClassifyRequest, progress: Progress) -> None:
    decider = inputs.decider
    if decider.first_non_finite is not None:
        col, row = decider.first_non_finite
        progress.warning(f"The raster holds NaN or infinite values (the first at column {col}, row {row}); those "
                         "pixels are treated as nodata and written as nodata.")
    if decider.first_partial is not None:
        col, row = decider.first_partial
        progress.info(f"Some pixels are nodata in some of the bands used but not all (the first at column {col}, "
                      f"row {row}): under NODATA_RULE=all they are classified, the missing bands filled as the model's "
                      "contract says (input.nodata_fill). Set NODATA_RULE=any to leave such pixels out.")
    if run.summary.windows_run == 0:
        progress.warning("Every pixel in the processing area is nodata: the output holds nodata only.")
        return
    left_out = inputs.area.pixels - sum(run.class_counts.values())
    if left_out > 0:
        where = " or outside the MASK" if inputs.mask is not None else ""
        progress.info(f"{100 * left_out / inputs.area.pixels:.1f} % of the pixels in the processing area "
                      f"({left_out} px) are nodata in the input (NODATA_RULE={request.nodata.rule}){where}: they are "
                      "left out and written as nodata.")
