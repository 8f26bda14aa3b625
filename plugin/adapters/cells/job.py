"""The "Classify tiles" job on the GDAL side: a classifier or per-cell regressor over a grid of cells.

Open the model (task classification) and the inputs (the classify job's: :func:`..classify.inputs.open_inputs`),
size the cells and choose the grid they are read on (:mod:`.cell_run`), run the engine with the cell merger,
write the cell raster (classes or values), the class probabilities and the polygon grid, style them, and commit
them together. Outputs are written under temporary names and renamed only when everything succeeded.
"""
from __future__ import annotations

import time
from dataclasses import KW_ONLY, dataclass, field
from typing import Protocol, Sequence

from osgeo import gdal

from ...core.cells.loading import load_cell_model
from ...core.cells.merger import FinishedCells
from ...core.cells.run import CellSink, CellSummary, run_cells
from ...core.engine.nodata import NodataPolicy
from ...core.errors import InputError
from ...core.model.contract import ClassInfo, ModelContract
from ...core.model.loading import LoadedModel
from ...core.progress import Progress
from ..classify.inputs import GridChoice, InputChoice, RasterRef, input_files
from ..inputs.gdal_grid import RasterGrid
from ..inputs.raster_inputs import InputRaster
from ..outputs.paths import RASTER_EXTENSIONS, VECTOR_EXTENSIONS, check_outputs, require_extension
from .cell_run import CellChoice, CellRun, open_cell_run
from .outputs import Feed, RasterOutput, VectorOutput, write_cell_outputs
from .tables import TileTable

gdal.UseExceptions()


class CellStyler(Protocol):
    """Styles the outputs (QGIS inside QGIS, QML files from the command line); any method may do nothing."""

    def class_raster(self, path: str, classes: Sequence[ClassInfo]) -> None: ...

    def value_raster(self, path: str, low: float, high: float) -> None: ...

    def class_polygons(self, path: str, classes: Sequence[ClassInfo], field_name: str) -> None: ...

    def value_polygons(self, path: str, field_name: str, low: float, high: float) -> None: ...


@dataclass
class CellRequest:
    """What every cell job reads: INPUT and the model, then (by keyword) the inputs and cell options that Classify
    tiles and Similarity search share."""

    input_path: str
    model_path: str
    _: KW_ONLY
    contract_path: str | None = None
    bands: Sequence[int] | None = None
    extent: tuple[float, float, float, float] | None = None
    device: str = "auto"
    cells: CellChoice = field(default_factory=CellChoice)
    additional_inputs: Sequence[RasterRef] = ()
    input_layer: InputRaster | None = None
    grid: GridChoice = field(default_factory=GridChoice)
    mask_path: str | None = None
    mask_layer: str | None = None
    nodata: NodataPolicy = field(default_factory=NodataPolicy)
    threads: int = 0

    def input_choice(self) -> InputChoice:
        return InputChoice(self.input_path, self.input_layer, self.additional_inputs, self.bands, self.extent,
                           self.grid, self.mask_path, self.mask_layer, self.nodata)


@dataclass
class TilesRequest(CellRequest):
    """Everything the Classify tiles algorithm passes on, already parsed."""

    output_path: str
    probabilities_path: str | None = None
    vector_path: str | None = None  # OUTPUT_VECTOR: the polygon grid (GeoPackage)

    def check_paths(self) -> None:
        """Refuse outputs that name inputs or have the wrong extension, before anything is read or written."""
        rasters = {"OUTPUT": self.output_path, "OUTPUT_PROBABILITIES": self.probabilities_path}
        for parameter, path in rasters.items():
            if path:
                require_extension(parameter, path, RASTER_EXTENSIONS, "a cell raster")
        if self.vector_path:
            require_extension("OUTPUT_VECTOR", self.vector_path, VECTOR_EXTENSIONS, "the polygon grid of the cells")
        inputs = input_files(self.input_choice(), self.model_path, self.contract_path)
        check_outputs({**rasters, "OUTPUT_VECTOR": self.vector_path}, inputs,
                      rasters=tuple(k for k, v in rasters.items() if v))


@dataclass
class TilesResult:
    """What the run produced, for the algorithm's outputs and the log."""

    provider: str
    summary: CellSummary
    contract: ModelContract
    seconds: float
    cell_grid: RasterGrid
    class_counts: dict[int, int]  # cells per class value (classifiers)
    value_range: tuple[float, float] | None  # the smallest and largest value written (regressors)


@dataclass
class TilesJob:
    """A request opened: its cell run and the columns of its results."""

    run: CellRun
    table: TileTable


def load_tiles_model(request: TilesRequest, progress: Progress) -> LoadedModel:
    model = load_cell_model(request.model_path, "classification", request.device, request.contract_path,
                            request.threads)
    progress.info(f"Model '{model.contract.name or request.model_path}': contract from {model.origin.describe()}; "
                  f"running on {model.runtime.provider}.")
    for warning in model.runtime.warnings:
        progress.warning(warning)
    return model


def open_tiles(request: TilesRequest, progress: Progress, model: LoadedModel | None = None,
               check_suitability: bool = True) -> TilesJob:
    """Load the model (unless given), open the inputs and size the cells."""
    model = model or load_tiles_model(request, progress)
    run = open_cell_run(model, request.input_choice(), request.cells, progress, check_suitability)
    values = sum(model.shape.raw_channels) or len(model.contract.outputs)
    table = TileTable.of(model.contract, values)
    if table.regression and request.probabilities_path:
        raise InputError("OUTPUT_PROBABILITIES is for classifiers; this model gives regression values (its cell raster "
                         "holds them). Leave OUTPUT_PROBABILITIES empty.")
    return TilesJob(run, table)


def write_tiles(job: TilesJob, request: TilesRequest, feed: Feed, progress: Progress,
                styler: CellStyler | None = None) -> TilesResult:
    """Create the outputs, fill them with what ``feed`` sends the sink (the engine, or a distributed run's
    blocks), finish, style and commit them; the single-process and the distributed runs share it."""
    started = time.perf_counter()
    grid, table = job.run.output_grid, job.table
    rasters = {"cells": RasterOutput(request.output_path, table.main_raster(),
                                     "AVERAGE" if table.regression else "NEAREST")}
    if request.probabilities_path:
        rasters["probabilities"] = RasterOutput(request.probabilities_path, table.probability_raster())
    vectors = {"vector": VectorOutput(request.vector_path, table.columns())} if request.vector_path else {}
    ranges = _ValueRange(table)

    def styles(paths: dict[str, str]) -> None:
        _style(styler, paths, paths.get("vector"), table, ranges.range)

    summary = write_cell_outputs(grid, table, rasters, vectors, feed, progress, styles, ranges.watching)
    _report(summary, job, progress)
    counts = {int(table.classes[c].value): n for c, n in summary.per_class.items()} if table.classes else {}
    return TilesResult(job.run.model.runtime.provider, summary, job.run.model.contract,
                       time.perf_counter() - started, grid, counts, ranges.range)


class _ValueRange:
    """Passes rows on and keeps the smallest and largest regression value written (for the styles and log)."""

    def __init__(self, table: TileTable) -> None:
        self.table = table
        self.sink: CellSink | None = None
        self.range: tuple[float, float] | None = None

    def watching(self, sink: CellSink) -> CellSink:
        self.sink = sink
        return self

    def write(self, part: FinishedCells) -> None:
        if self.table.regression and part.values is not None and part.present.any():
            values = part.values[part.present]
            low, high = float(values.min()), float(values.max())
            self.range = (low, high) if self.range is None else (min(low, self.range[0]), max(high, self.range[1]))
        assert self.sink is not None
        self.sink.write(part)


def _style(styler: CellStyler | None, paths: dict[str, str], vector: str | None, table: TileTable,
           span: tuple[float, float] | None) -> None:
    if styler is None:
        return
    spec = table.contract.cells.values[0] if table.contract.cells and table.contract.cells.values else None
    low, high = (spec.valid_range if spec is not None and spec.valid_range else span) or (0.0, 1.0)
    if table.regression:
        styler.value_raster(paths["cells"], low, high)
        if vector:
            styler.value_polygons(vector, table.value_fields[0], low, high)
        return
    styler.class_raster(paths["cells"], table.classes)
    if vector:
        styler.class_polygons(vector, table.classes, "class_value")


def _report(summary: CellSummary, job: TilesJob, progress: Progress) -> None:
    run = job.run
    total = run.columns * run.rows
    progress.info(f"{summary.cells} of {total} cells have a result ({total - summary.cells} left out: all nodata or "
                  f"outside the MASK); {summary.windows_run} windows run in {summary.seconds:.1f} s (model "
                  f"{summary.inference_seconds:.1f} s).")
    if summary.clipped:
        progress.warning(f"{summary.clipped} value(s) fell outside the model's valid range and were clipped to it.")
    if summary.windows_run == 0:
        progress.warning("Every cell of the processing area is nodata: the outputs hold nodata only.")


def classify_tiles(request: TilesRequest, progress: Progress, styler: CellStyler | None = None) -> TilesResult:
    """Run the whole job; on any error or cancellation the outputs are removed, old ones kept."""
    request.check_paths()
    job = open_tiles(request, progress)
    run = job.run

    def feed(sink: CellSink) -> CellSummary:
        return run_cells(run.source(), run.model.runtime, sink, run.model.contract, run.area, run.plan, progress,
                         run.mask)

    return write_tiles(job, request, feed, progress, styler)
