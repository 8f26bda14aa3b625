"""Classify tiles on a Dask cluster: the grid of cells cut into blocks, each block a task, the outputs written by
the client exactly as one process writes them.

A cell's result depends on its own window only, so a block is run as the engine over the block's sub-area with
the whole run's cells, border, variants and batch size (:meth:`..adapters.cells.cell_run.CellRun.block_plan`): its
cells are the whole run's. Each task returns its block's finished rows (one result per cell: small); when every
task is done, the client joins the blocks' rows into whole rows and feeds them to the same writers as the
single-process run (:func:`..adapters.cells.job.write_tiles`). Blocks are not kept on disk: an interrupted run
starts again (``--resume`` is for classify's blocks).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..adapters.cells.job import CellStyler, TilesRequest, TilesResult, load_tiles_model, open_tiles, write_tiles
from ..core.cells.loading import load_cell_model
from ..core.cells.merger import FinishedCells
from ..core.cells.run import CellSink, CellSummary, CollectingSink, run_cells
from ..core.errors import CancelledError
from ..core.model.loading import LoadedModel
from ..core.progress import LoggingProgress, Progress
from .cluster import ClusterSpec, dask_client

DEFAULT_BLOCK_PX = 4096  # pixels (on the grid cells are read on) along a block's side


@dataclass(frozen=True)
class CellBlockTask:
    """One block of cells: ``rows`` x ``cols`` cells from cell (``first_row``, ``first_col``)."""

    request: TilesRequest
    first_row: int
    first_col: int
    rows: int
    cols: int


@dataclass
class CellBlockResult:
    """A block's finished rows (cell positions in the whole grid) and its figures."""

    parts: list[FinishedCells]
    summary: CellSummary


_MODELS: dict[tuple, LoadedModel] = {}


def _model(request: TilesRequest) -> LoadedModel:
    """The request's model, loaded once per worker process (and again if the file changed)."""
    stat = os.stat(request.model_path)
    key = (os.path.abspath(request.model_path), stat.st_mtime_ns, stat.st_size, request.contract_path,
           request.device, request.threads)
    if key not in _MODELS:
        _MODELS.clear()
        _MODELS[key] = load_cell_model(request.model_path, "classification", request.device, request.contract_path,
                                       request.threads)
    return _MODELS[key]


def run_cell_block(task: CellBlockTask) -> CellBlockResult:
    """Run one block of cells on a worker; its rows come back with their places in the whole grid."""
    progress = LoggingProgress()
    job = open_tiles(task.request, progress, model=_model(task.request), check_suitability=False)
    run = job.run
    area = run.block_area(task.first_row, task.first_col, task.rows, task.cols)
    sink = CollectingSink(task.cols, task.rows)
    summary = run_cells(run.source(), run.model.runtime, sink, run.model.contract, area, run.block_plan(area),
                        progress, run.mask)
    parts = [replace(p, row=p.row + task.first_row, col=p.col + task.first_col) for p in sink.parts]
    return CellBlockResult(parts, summary)


def join_row(parts: list[FinishedCells]) -> FinishedCells:
    """The segments of one cell row (left to right) as one row."""
    if len(parts) == 1:
        return parts[0]

    def joined(name: str) -> np.ndarray | None:
        arrays = [getattr(p, name) for p in parts]
        sample = next((a for a in arrays if a is not None), None)
        if sample is None:
            return None
        return np.concatenate([a if a is not None else np.zeros((p.width, *sample.shape[1:]), sample.dtype)
                               for a, p in zip(arrays, parts)])

    return FinishedCells(parts[0].row, parts[0].col, np.concatenate([p.present for p in parts]),
                         np.concatenate([p.coverage for p in parts]), sum(p.area_pixels for p in parts),
                         joined("classes"), joined("scores"), joined("probabilities"), joined("values"),
                         joined("embeddings"))


def _combined(summaries: list[CellSummary]) -> CellSummary:
    total = CellSummary()
    for summary in summaries:
        total.cells += summary.cells
        total.windows_total += summary.windows_total
        total.windows_run += summary.windows_run
        total.clipped += summary.clipped
        total.pixels += summary.pixels
        total.seconds += summary.seconds
        total.inference_seconds += summary.inference_seconds
        for channel, count in summary.per_class.items():
            total.per_class[channel] = total.per_class.get(channel, 0) + count
    return total


def block_tasks(request: TilesRequest, columns: int, rows: int, cell_px: int, block_px: int) -> list[CellBlockTask]:
    """Blocks of about ``block_px`` pixels (whole cells) over a grid of ``columns`` x ``rows`` cells."""
    side = max(1, (block_px or DEFAULT_BLOCK_PX) // cell_px)
    return [CellBlockTask(request, r, c, min(side, rows - r), min(side, columns - c))
            for r in range(0, rows, side) for c in range(0, columns, side)]


def classify_tiles_distributed(request: TilesRequest, spec: ClusterSpec, block_px: int, progress: Progress,
                               styler: CellStyler | None = None) -> TilesResult:
    """Classify tiles on the cluster; the outputs are those of one process."""
    request.check_paths()
    client_request = replace(request, device="cpu", threads=1)
    job = open_tiles(client_request, progress, model=load_tiles_model(client_request, LoggingProgress()))
    run = job.run
    worker_request = replace(request, threads=spec.threads_per_task())
    tasks = block_tasks(worker_request, run.columns, run.rows, run.geometry.cell_px, block_px)
    progress.info(f"{len(tasks)} block(s) of at most {math.ceil(run.rows / max(1, len(tasks)))} cell rows; "
                  f"{run.columns} x {run.rows} cells in all.")
    results = _run_tasks(tasks, spec, progress)

    def feed(sink: CellSink) -> CellSummary:
        by_row: dict[int, list[FinishedCells]] = {}
        for result in results:
            for part in result.parts:
                by_row.setdefault(part.row, []).append(part)
        for row in sorted(by_row):
            sink.write(join_row(sorted(by_row[row], key=lambda p: p.col)))
        return _combined([r.summary for r in results])

    return write_tiles(job, request, feed, progress, styler)


def _run_tasks(tasks: list[CellBlockTask], spec: ClusterSpec, progress: Progress) -> list[CellBlockResult]:
    """Every task's result, in task order; the first failure stops the run."""
    from distributed import wait

    results: dict[int, CellBlockResult] = {}
    with dask_client(spec, progress) as client:
        futures: dict[Any, int] = {client.submit(run_cell_block, task, pure=False): i for i, task in enumerate(tasks)}
        pending = set(futures)
        while pending:
            if progress.is_cancelled():
                client.cancel(list(pending))
                raise CancelledError("the run was cancelled; no output was written.")
            try:
                done, pending = wait(list(pending), timeout=0.5, return_when="FIRST_COMPLETED")
            except TimeoutError:
                continue
            pending = set(pending)
            for future in done:
                results[futures[future]] = future.result()  # a task's error is the run's
            progress.set_fraction(len(results) / len(tasks))
    return [results[i] for i in range(len(tasks))]
