"""What a Dask worker runs: one block of a large scene (:func:`run_block`), or one whole scene (:func:`run_scene`).

Both are plain functions of picklable task descriptions; they import no Dask (only to learn which device a
worker of a device list is pinned to), open the raster and the model themselves (the model once per worker
process) and write atomically: a block's GeoTIFFs under temporary names, renamed into the parts folder, then
its marker (with each file's size and SHA-256); a scene's outputs through the classify job itself. A task run
again (a worker died, or a resumed run) finds its marker, checks its files against it and returns at once. A
block is not written when its inputs changed since the run was planned, or when the parts folder has been
taken by a run of other settings meanwhile (a task cancelled by its client still runs to its end on the
worker). Both report a :class:`~.results.TaskResult`.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..adapters.classify.job import ClassifyRequest, classify, open_job, run_engine
from ..adapters.outputs.atomic import AtomicOutputs
from ..adapters.outputs.geotiff import bounded_block_cache
from ..adapters.outputs.qml_style import write_qml_style
from ..core.areas.window import PixelWindow
from ..core.engine.blocks import Block, block_plan
from ..core.engine.plan import RunPlan
from ..core.errors import InputError, OutputError
from ..core.model.loading import LoadedModel, load_model
from ..core.progress import LoggingProgress
from .cluster import available_cores
from .identity import file_identity, inputs_identity
from .parts import MANIFEST, read_json, record_files, verified, write_json_atomically
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
    fingerprint: str = ""  # the run's settings (:func:`.scenes.run_settings`): its blocks' files carry it
    inputs: dict[str, Any] | None = None  # every file the run read when it was planned (:mod:`.identity`)


@dataclass(frozen=True)
class SceneTask:
    """One whole scene, classified by the classify job on a worker (small scenes, resampled scenes)."""

    request: ClassifyRequest
    marker: str
    devices: tuple[str, ...] = ()
    fingerprint: str = ""


_MODELS: dict[tuple, LoadedModel] = {}


def _worker_device(request: Any, devices: tuple[str, ...]) -> str:
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


def prepared_request(request: Any, devices: tuple[str, ...]) -> Any:
    """The request (a ClassifyRequest or a DetectRequest) as this worker runs it: its device, and its cores shared
    by the tasks it runs at once."""
    threads = request.threads or max(1, available_cores() // _worker_threads())
    return replace(request, device=_worker_device(request, devices), threads=threads)


def _model(request: ClassifyRequest) -> LoadedModel:
    """The request's model, loaded once per worker process (and again if the file or its sidecar changed)."""
    stat = os.stat(request.model_path)
    contract = tuple(file_identity(request.contract_path)) if request.contract_path else None
    key = (os.path.abspath(request.model_path), stat.st_mtime_ns, stat.st_size, contract, request.device,
           request.threads)
    if key not in _MODELS:
        _MODELS.clear()  # one model at a time: a worker's memory is for the run
        _MODELS[key] = load_model(request.model_path, request.device, request.contract_path, request.threads)
    return _MODELS[key]


def require_same_inputs(request: Any, planned: dict[str, Any] | None) -> None:
    """Refuse to compute a block from inputs that changed since the run was planned (``planned``: their identity
    then): its other blocks were (or will be) computed from the files as they were, and the output would mix both."""
    if planned is None:
        return
    now = inputs_identity(request)
    changed = [key for key in planned if now.get(key) != planned.get(key)]
    if changed:
        raise InputError(f"The {', '.join(changed)} files changed while the run was going on (a file replaced, "
                         "edited or added); blocks computed before and after the change would not fit together. "
                         "Run again without --resume once the files stay as they are.")


def require_folder_of(marker: str, fingerprint: str, block: str) -> None:
    """Refuse to write into a parts folder another run (of other settings) has taken since the task of ``block``
    was submitted: a cancelled task runs to its end on the worker, long after its client may have gone."""
    manifest = read_json(Path(marker).parent / MANIFEST) or {}
    if manifest.get("fingerprint") != fingerprint:
        raise OutputError(f"The folder of the blocks '{Path(marker).parent}' now belongs to another run; the "
                          f"block {block} of this one is not written there.")


def run_block(task: BlockTask) -> TaskResult:
    """Classify one block (its run covers the windows touching it) into its part files, then mark it done."""
    recorded, _ = verified(task.marker, task.fingerprint, task.part_paths.values())
    if recorded is not None:
        return recorded
    require_same_inputs(task.request, task.inputs)
    started = time.perf_counter()
    request = prepared_request(task.request, task.devices)
    progress = LoggingProgress()
    job = open_job(request, progress, model=_model(request), check_suitability=False)  # the client checked
    run_area, written = task.block.in_raster(task.area)
    with AtomicOutputs() as outputs, bounded_block_cache():
        paths = {name: outputs.temporary_for(final) for name, final in task.part_paths.items()}
        run = run_engine(job, job.stack, run_area, job.mask, request, paths, progress,
                         plan=block_plan(task.plan, task.block), written=written)
        require_folder_of(task.marker, task.fingerprint, task.block.name)
        outputs.commit()
    result = TaskResult(
        task.block.name, run.class_counts, run.summary.windows_run, run.summary.windows_total,
        time.perf_counter() - started, run.summary.inference_seconds, job.model.runtime.provider,
        run.first_non_finite, run.first_partial,
        tuple(w for w in progress.warnings if not w.startswith("The raster has no CRS")),
        fingerprint=task.fingerprint, files=record_files(task.part_paths.values()))
    write_json_atomically(task.marker, result.to_json())
    return result


def run_scene(task: SceneTask) -> TaskResult:
    """Classify a whole scene with the classify job (outputs committed atomically), then mark it done."""
    outputs = list(task.request.output_paths().values())
    recorded, _ = verified(task.marker, task.fingerprint, outputs)
    if recorded is not None:
        return recorded
    request = prepared_request(task.request, task.devices)
    progress = LoggingProgress()
    result = classify(request, progress, style_writer=write_qml_style)
    summary = result.summary
    record = TaskResult(SCENE_TASK, result.class_pixel_counts, summary.windows_run, summary.windows_total,
                        result.seconds, summary.inference_seconds, result.provider,
                        warnings=tuple(progress.warnings), messages=tuple(progress.messages),
                        fingerprint=task.fingerprint, files=record_files(outputs))
    write_json_atomically(task.marker, record.to_json())
    return record
