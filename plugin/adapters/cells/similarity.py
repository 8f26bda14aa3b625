"""The "Similarity search" job: an embedding model's vector per cell, compared with example cells.

Examples (points or polygons, optionally labelled) become cells of the run's grid (:mod:`.examples`), whose
vectors are computed first, window by window; then the engine runs over the area and, row by row, each cell's
vector gives its cosine similarity to each class of examples, its k-nearest-neighbour class and score, and, if
asked, is written to a GeoPackage for use elsewhere. Outputs are written under temporary names and committed
together.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from osgeo import gdal

from ...core.cells.loading import load_cell_model
from ...core.cells.merger import FinishedCells
from ...core.cells.neighbours import DISTANCES, NearestNeighbours, cosine_similarity, prototypes
from ...core.cells.run import CellSink, CellSummary, run_cells, run_windows
from ...core.errors import InputError, ModelError
from ...core.model.contract import ClassInfo, ModelContract
from ...core.progress import Progress
from ..classify.inputs import input_files
from ..inputs.gdal_grid import RasterGrid
from ..outputs.paths import RASTER_EXTENSIONS, VECTOR_EXTENSIONS, check_outputs, require_extension
from .cell_run import CellRun, open_cell_run
from .examples import Examples, read_examples
from .job import CellRequest, CellStyler
from .outputs import RasterOutput, VectorOutput, write_cell_outputs
from .tables import POSITION, RasterColumns, position
from .writers import Column, Columns, field_names

gdal.UseExceptions()

SIMILARITY_NODATA, SCORE_NODATA = -2.0, -1.0
MAX_FIELD_DIMENSIONS = 1024  # vectors longer than this go into one binary field (GeoPackage column limits)
RASTERS = {"similarity": "OUTPUT_SIMILARITY", "knn": "OUTPUT_KNN", "knn_score": "OUTPUT_KNN_SCORE"}


@dataclass
class SimilarityRequest(CellRequest):
    """Everything the Similarity search algorithm passes on, already parsed."""

    examples_path: str | None = None
    examples_layer: str | None = None
    examples_field: str | None = None
    k: int = 5
    distance: str = "cosine"
    similarity_path: str | None = None  # OUTPUT_SIMILARITY: a band per class of examples
    knn_path: str | None = None  # OUTPUT_KNN: the k-NN class
    knn_score_path: str | None = None  # OUTPUT_KNN_SCORE: its share of the votes
    vector_path: str | None = None  # OUTPUT_VECTOR: the polygon grid with every result
    embeddings_path: str | None = None  # OUTPUT_EMBEDDINGS: cell polygons with their vectors

    @property
    def wants_knn(self) -> bool:
        return bool(self.knn_path or self.knn_score_path)

    def check(self) -> None:
        """Refuse, before anything is read, a request without outputs, k-NN without labels, bad output names."""
        rasters = {"OUTPUT_SIMILARITY": self.similarity_path, "OUTPUT_KNN": self.knn_path,
                   "OUTPUT_KNN_SCORE": self.knn_score_path}
        vectors = {"OUTPUT_VECTOR": self.vector_path, "OUTPUT_EMBEDDINGS": self.embeddings_path}
        if not any(rasters.values()) and not any(vectors.values()):
            raise InputError("No output is given: set OUTPUT_SIMILARITY, OUTPUT_KNN, OUTPUT_VECTOR or "
                             "OUTPUT_EMBEDDINGS.")
        if not self.examples_path and (self.similarity_path or self.wants_knn or self.vector_path):
            raise InputError("EXAMPLES is missing: similarity and k-nearest-neighbour classes compare each cell with "
                             "example points or polygons. Give EXAMPLES, or write OUTPUT_EMBEDDINGS only.")
        if self.wants_knn and not self.examples_field:
            raise InputError("k-nearest-neighbour classes need labelled examples: set EXAMPLES_FIELD to the field "
                             "holding each example's class (or leave OUTPUT_KNN and OUTPUT_KNN_SCORE empty).")
        if self.distance not in DISTANCES:
            raise InputError(f"DISTANCE '{self.distance}' is not known; use one of {', '.join(DISTANCES)}.")
        if self.k < 1:
            raise InputError(f"K must be at least 1, got {self.k}.")
        for parameter, path in rasters.items():
            if path:
                require_extension(parameter, path, RASTER_EXTENSIONS, "a cell raster")
        for parameter, path in vectors.items():
            if path:
                require_extension(parameter, path, VECTOR_EXTENSIONS, "a GeoPackage of cells")
        inputs = {**input_files(self.input_choice(), self.model_path, self.contract_path),
                  "EXAMPLES": self.examples_path}
        check_outputs({**rasters, **vectors}, inputs, rasters=tuple(k for k, v in rasters.items() if v))


@dataclass
class SimilarityResult:
    provider: str
    summary: CellSummary
    contract: ModelContract
    seconds: float
    cell_grid: RasterGrid
    examples: int  # example cells used
    classes: tuple[ClassInfo, ...]
    knn_counts: dict[int, int]  # cells per k-NN class value
    dimensions: int


class SimilarityTable:
    """The columns of a similarity run: position, k-NN class and score, similarity per class, the vector."""

    def __init__(self, classes: tuple[ClassInfo, ...], prototype_rows: np.ndarray | None,
                 knn: NearestNeighbours | None, dimensions: int) -> None:
        self.classes, self.prototypes, self.knn, self.dimensions = classes, prototype_rows, knn, dimensions
        self.similarity_fields = field_names([c.name for c in classes], "sim_") if prototype_rows is not None else []
        self.vector_fields = ([f"e_{i:03d}" for i in range(dimensions)] if dimensions <= MAX_FIELD_DIMENSIONS
                              else ["embedding"])
        self.knn_counts: dict[int, int] = {}

    def result_columns(self) -> list[Column]:
        knn = [Column("knn_value", "integer"), Column("knn_name", "text"), Column("knn_score")] if self.knn else []
        return [*POSITION, *knn, *(Column(name) for name in self.similarity_fields)]

    def vector_columns(self) -> list[Column]:
        kind = "binary" if self.vector_fields == ["embedding"] else "real"
        return [*POSITION, *(Column(name, kind) for name in self.vector_fields)]

    def __call__(self, part: FinishedCells) -> Columns:
        values = position(part)
        vectors = part.embeddings if part.embeddings is not None else np.zeros((part.width, self.dimensions))
        if self.prototypes is not None:
            similarity = cosine_similarity(vectors, self.prototypes)
            values.update({name: similarity[:, i].astype(np.float64) for i, name in enumerate(self.similarity_fields)})
        if self.knn is not None:
            found, scores = self.knn.predict(vectors)
            lookup = np.array([c.value for c in self.classes], np.int64)
            values.update({"knn_value": lookup[found], "knn_name": np.array([c.name for c in self.classes],
                                                                             object)[found],
                           "knn_score": scores.astype(np.float64)})
            for value, count in zip(*np.unique(lookup[found][part.present], return_counts=True)):
                self.knn_counts[int(value)] = self.knn_counts.get(int(value), 0) + int(count)
        if self.vector_fields == ["embedding"]:
            values["embedding"] = np.array([row.astype("<f4").tobytes() for row in vectors], object)
        else:
            values.update({name: vectors[:, i].astype(np.float64) for i, name in enumerate(self.vector_fields)})
        return values

    def rasters(self, classes_nodata: tuple[int, int]) -> dict[str, RasterColumns]:
        data_type, nodata = classes_nodata
        return {"similarity": RasterColumns(self.similarity_fields, gdal.GDT_Float32, SIMILARITY_NODATA,
                                            [f"similarity to {c.name}" for c in self.classes]),
                "knn": RasterColumns(["knn_value"], data_type, nodata, ["k-NN class"], self.classes),
                "knn_score": RasterColumns(["knn_score"], gdal.GDT_Float32, SCORE_NODATA, ["k-NN score"])}


def example_vectors(run: CellRun, examples: Examples, progress: Progress) -> tuple[Examples, np.ndarray]:
    """The examples' vectors (windows read around their cells); examples over nodata only are left out."""
    cell, border = run.geometry.cell_px, run.geometry.border_px
    corners = [(run.area.row + int(r) * cell - border, run.area.col + int(c) * cell - border)
               for r, c in zip(examples.rows, examples.cols)]
    found, shares = run_windows(run.source(), run.model.runtime, run.model.contract, run.plan, corners, progress)
    if found.embeddings is None:
        raise ModelError("The model gave no vectors for the examples; is it an embedding model?")
    keep = shares > 0
    if not keep.all():
        progress.warning(f"{int((~keep).sum())} example cell(s) hold no valid pixel and are left out.")
    if not keep.any():
        raise InputError("Every example cell is nodata in the raster: there is nothing to compare with. Give "
                         "examples over valid pixels.")
    kept = examples.select(keep)
    empty = [c.name for i, c in enumerate(kept.classes) if not (kept.labels == i).any()]
    if empty:
        progress.warning(f"No example cell over valid pixels for class(es) {', '.join(empty)} (their features lie "
                         "beyond the raster or over nodata): their similarity is 0 everywhere and k-NN never gives "
                         "them.")
    return kept, found.embeddings[keep]


def vector_length(run: CellRun, fixed: int, progress: Progress) -> int:
    """The length of the model's vectors: its output's fixed size, else (a dynamic axis) that of the first cell's
    vector, computed once."""
    if fixed:
        return fixed
    border = run.geometry.border_px
    found, _ = run_windows(run.source(), run.model.runtime, run.model.contract, run.plan,
                           [(run.area.row - border, run.area.col - border)], progress)
    if found.embeddings is None or found.embeddings.shape[1] < 1:
        raise ModelError("The model gave no vector for a window; is it an embedding model?")
    return int(found.embeddings.shape[1])


def _knn(request: SimilarityRequest, examples: Examples, vectors: np.ndarray) -> NearestNeighbours | None:
    if not examples.labelled or not (request.wants_knn or request.vector_path):
        return None
    return NearestNeighbours(vectors, examples.labels, len(examples.classes), request.k, request.distance)


def similarity(request: SimilarityRequest, progress: Progress, styler: CellStyler | None = None) -> SimilarityResult:
    """Run the whole job; on any error or cancellation the outputs are removed, old ones kept."""
    started = time.perf_counter()
    request.check()
    model = load_cell_model(request.model_path, "embedding", request.device, request.contract_path, request.threads)
    progress.info(f"Model '{model.contract.name or request.model_path}': contract from {model.origin.describe()}; "
                  f"running on {model.runtime.provider}.")
    run = open_cell_run(model, request.input_choice(), request.cells, progress)
    examples, vectors = None, np.zeros((0, 0))
    classes: tuple[ClassInfo, ...] = (ClassInfo(1, "examples", "#e69f00"),)
    if request.examples_path:
        examples = read_examples(request.examples_path, request.examples_layer, request.examples_field,
                                 run.output_grid, run.inputs.stack.primary.grid)
        if examples.outside:
            progress.warning(f"{examples.outside} example feature(s) lie beyond the raster and are left out.")
        examples, vectors = example_vectors(run, examples, progress)
        classes = examples.classes
        progress.info(f"Examples: {len(examples)} cell(s) in {len(classes)} class(es): "
                      + ", ".join(f"{c.name} {int((examples.labels == i).sum())}" for i, c in enumerate(classes)))
    knn = _knn(request, examples, vectors) if examples is not None else None
    rows = prototypes(vectors, examples.labels, len(classes)) if examples is not None else None
    dimensions = vectors.shape[1] if len(vectors) else vector_length(run, model.shape.raw_channels[0], progress)
    table = SimilarityTable(classes, rows, knn, dimensions)
    summary = _write(request, run, table, progress, styler)
    progress.info(f"{summary.cells} cell(s) compared in {summary.seconds:.1f} s (model {summary.inference_seconds:.1f} "
                  "s).")
    return SimilarityResult(model.runtime.provider, summary, model.contract, time.perf_counter() - started,
                            run.output_grid, len(examples) if examples is not None else 0, classes,
                            dict(sorted(table.knn_counts.items())), dimensions)


def _write(request: SimilarityRequest, run: CellRun, table: SimilarityTable, progress: Progress,
           styler: CellStyler | None) -> CellSummary:
    largest = max(c.value for c in table.classes)
    specs = table.rasters((gdal.GDT_Byte, 255) if largest < 255 else (gdal.GDT_UInt16, 65535))
    paths = {"similarity": request.similarity_path, "knn": request.knn_path, "knn_score": request.knn_score_path}
    rasters = {name: RasterOutput(path, specs[name], "NEAREST" if name == "knn" else "AVERAGE")
               for name, path in paths.items() if path}
    vectors = {}
    if request.vector_path:
        vectors["vector"] = VectorOutput(request.vector_path, table.result_columns())
    if request.embeddings_path:
        vectors["embeddings"] = VectorOutput(request.embeddings_path, table.vector_columns())
    if table.dimensions > MAX_FIELD_DIMENSIONS and request.embeddings_path:
        progress.info(f"The vectors have {table.dimensions} dimensions: OUTPUT_EMBEDDINGS holds each in one binary "
                      "field 'embedding' (little-endian float32), as GeoPackage tables hold at most 2000 columns.")

    def feed(sink: CellSink) -> CellSummary:
        return run_cells(run.source(), run.model.runtime, sink, run.model.contract, run.area, run.plan, progress,
                         run.mask)

    def styles(temporary: dict[str, str]) -> None:
        if styler is None:
            return
        if "similarity" in temporary:
            styler.value_raster(temporary["similarity"], -1.0, 1.0)
        if "knn" in temporary:
            styler.class_raster(temporary["knn"], table.classes)
        if "knn_score" in temporary:
            styler.value_raster(temporary["knn_score"], 0.0, 1.0)
        if "vector" in temporary and table.knn is not None:
            styler.class_polygons(temporary["vector"], table.classes, "knn_value")
        elif "vector" in temporary and table.similarity_fields:
            styler.value_polygons(temporary["vector"], table.similarity_fields[0], -1.0, 1.0)

    return write_cell_outputs(run.output_grid, table, rasters, vectors, feed, progress, styles)
