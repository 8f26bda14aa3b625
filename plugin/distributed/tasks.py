"""What a Dask worker runs: one block of a large scene (:func:`run_block`), or one whole scene (:func:`run_scene`).

Both are plain functions of picklable task descriptions; they import no Dask (only to learn which device a
worker of a device list is pinned to), open the raster and the model themselves (the model once per worker
process) and write atomically: a block's GeoTIFFs under temporary names, renamed into the parts folder, then
its marker; a scene's outputs through the classify job itself. A task run again (a worker died, or a resumed
run) finds its marker and returns at once. Both report a :class:`~.results.TaskResult`.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..adapters.classify.job import ClassifyRequest, classify, open_job, run_engine
from ..adapters.outputs.atomic import AtomicOutputs
from ..adapters.outputs.geotiff import bounded_block_cache
from ..adapters.outputs.qml_style import write_qml_style
from ..core.areas.window import PixelWindow
from ..core.engine.blocks import Block, block_plan
from ..core.engine.plan import RunPlan
from ..core.model.loading import LoadedModel, load_model
from ..core.progress import LoggingProgress
from .cluster import available_cores
from .parts import read_json, write_json_atomically
from .results import SCENE_TASK, TaskResult


@dataclass(frozen=True)
class BlockTask:
    """One block of a scene: the scene's request and plan, the block, and where its files go."""

    request: ClassifyRequest
    plan: RunPlan
    area: PixelWindow  # the whole run's area, raster coordinates
    block: Block
    part_paths: dict[str, str]
    marker: str
    devices: tuple[str, ...] = ()  # a local cluster with one worker per device


@dataclass(frozen=True)
class SceneTask:
    """One whole scene, classified by the classify job on a worker (small scenes, resampled scenes)."""

    request: ClassifyRequest
    marker: str
    devices: tuple[str, ...] = ()


_MODELS: dict[tuple, LoadedModel] = {}


def _worker_device(request: ClassifyRequest, devices: tuple[str, ...]) -> str:
    """The device of this worker: its own one of a device list (workers are named 0, 1, ...), else the
    request's."""
    if not devices:
        return request.device
    from distributed import get_worker  # only where a device list was given, that is on a Dask worker

    name = str(get_worker().name)
    return devices[int(name) % len(devices)] if name.isdigit() else devices[0]


def _worker_threads() -> int:
    """Tasks this worker runs at once (its threads); 1 outside a Dask worker."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return 1


def _prepared(request: ClassifyRequest, devices: tuple[str, ...]) -> ClassifyRequest:
    """The request as this worker runs it: its device, and its cores shared by the tasks it runs at once."""
    threads = request.threads or max(1, available_cores() // _worker_threads())
    return replace(request, device=_worker_device(request, devices), threads=threads)


def _model(request: ClassifyRequest) -> LoadedModel:
    """The request's model, loaded once per worker process (and again if the file changed)."""
    stat = os.stat(request.model_path)
    key = (os.path.abspath(request.model_path), stat.st_mtime_ns, stat.st_size, request.contract_path,
           request.device, request.threads)
    if key not in _MODELS:
        _MODELS.clear()  # one model at a time: a worker's memory is for the run
        _MODELS[key] = load_model(request.model_path, request.device, request.contract_path, request.threads)
    return _MODELS[key]


def _done(marker: str, outputs: list[str]) -> TaskResult | None:
    """The task's result when an earlier run finished it (its marker and its files are there)."""
    recorded = read_json(marker)
    if recorded is None or not all(Path(p).exists() for p in outputs):
        return None
    try:
        return TaskResult.from_json(recorded).as_reused()
    except (KeyError, TypeError, ValueError):  # a marker we did not write: run the task again
        return None


def run_block(task: BlockTask) -> TaskResult:
    """Classify one block (its run covers the windows touching it) into its part files, then mark it done."""
    recorded = _done(task.marker, list(task.part_paths.values()))
    if recorded is not None:
        return recorded
    started = time.perf_counter()
    request = _prepared(task.request, task.devices)
    progress = LoggingProgress()
    job = open_job(request, progress, model=_model(request), check_suitability=False)  # the client checked
    run_area, written = task.block.in_raster(task.area)
    with AtomicOutputs() as outputs, bounded_block_cache():
        paths = {name: outputs.temporary_for(final) for name, final in task.part_paths.items()}
        run = run_engine(job, job.stack, run_area, job.mask, request, paths, progress,
                         plan=block_plan(task.plan, task.block), written=written)
        outputs.commit()
    result = TaskResult(
        task.block.name, run.class_counts, run.summary.windows_run, run.summary.windows_total,
        time.perf_counter() - started, run.summary.inference_seconds, job.model.runtime.provider,
        run.first_non_finite, run.first_partial,
        tuple(w for w in progress.warnings if not w.startswith("The raster has no CRS")))
    write_json_atomically(task.marker, result.to_json())
    return result


def run_scene(task: SceneTask) -> TaskResult:
    """Classify a whole scene with the classify job (outputs committed atomically), then mark it done."""
    recorded = _done(task.marker, list(task.request.output_paths().values()))
    if recorded is not None:
        return recorded
    request = _prepared(task.request, task.devices)
    progress = LoggingProgress()
    result = classify(request, progress, style_writer=write_qml_style)
    summary = result.summary
    record = TaskResult(SCENE_TASK, result.class_pixel_counts, summary.windows_run, summary.windows_total,
                        result.seconds, summary.inference_seconds, result.provider,
                        warnings=tuple(progress.warnings), messages=tuple(progress.messages))
    write_json_atomically(task.marker, record.to_json())
    return record
