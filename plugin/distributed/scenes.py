"""One scene of a distributed run, on the client: planned into tasks, followed, assembled and committed.

A scene whose model needs another ground resolution, or that fits in one block, is one task running the
classify job on a worker. A larger scene is cut into blocks (:mod:`plugin.core.engine.blocks`), each a task; when
they are all done its outputs are assembled from the parts and committed at once (:class:`BlockScene`).
"""
from __future__ import annotations

import hashlib
import json
import time
import traceback
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ..adapters.classify.job import (
    ClassifyRequest,
    ClassifyResult,
    OpenedJob,
    accumulated_channels,
    create_outputs,
    finish_run,
    open_job,
    plan_job,
    report_input_problems,
    require_memory,
    temporary_files,
)
from ..adapters.classify.values import value_summary_of
from ..adapters.inputs.gdal_grid import RasterGrid
from ..adapters.inputs.georeferencing import Georeferencing
from ..adapters.inputs.raster_area import needs_resampling
from ..adapters.outputs.atomic import AtomicOutputs
from ..adapters.outputs.geotiff import bounded_block_cache
from ..adapters.outputs.qml_style import write_qml_style
from ..core.areas.window import PixelWindow
from ..core.engine.blocks import Block, BlockLayout, block_plan, default_block_size, plan_blocks
from ..core.engine.plan import RunPlan
from ..core.model.contract import ModelContract
from ..core.model.contract_regression import is_regression
from ..core.model.loading import LoadedModel, load_model
from ..core.progress import LoggingProgress, Progress
from .assemble import copy_parts
from .identity import file_identity, inputs_identity, plan_identity
from .parts import PartsFolder
from .results import SCENE_TASK, TaskResult, engine_run
from .tasks import BlockTask, SceneTask

# the client's own log lines a distributed run repeats: the contract and normalisation, the context margin
FORWARDED = ("Context margin", "The cached context margin", "Input normalisation")


def run_settings(request: ClassifyRequest, block_size: int, plan: RunPlan | None = None,
                 inputs: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The settings that decide a scene's result, and their fingerprint (what ``--resume`` must match): every file
    the inputs read (:mod:`.identity`), every option that changes pixels, the resolved plan and the blocks."""
    identity = inputs if inputs is not None else inputs_identity(request)
    settings = {**identity, "bands": list(request.bands or []) or None,
                "extent": list(request.extent) if request.extent else None, "options": asdict(request.options),
                "outputs": sorted(request.output_paths()), "block_size": block_size, "plan": plan_identity(plan),
                "nodata": asdict(request.nodata), "grid": asdict(request.grid),
                "confidence_for_polygons": request.wants_vector_confidence,
                "clip_to_range": request.clip_to_range}
    settings = json.loads(json.dumps(settings, sort_keys=True, default=str))  # as the manifest keeps them
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16], settings


def _worker_provider(devices: tuple[str, ...]) -> str | None:
    """The execution provider the workers' default batch size is chosen for (CUDA where devices name it)."""
    return "CUDAExecutionProvider" if any(d.lower().startswith("cuda") for d in devices) else None


class ClientModels:
    """Models the client reads contracts and shapes from: on the CPU, one thread, each loaded once."""

    def __init__(self) -> None:
        self._models: dict[tuple, LoadedModel] = {}

    def get(self, request: ClassifyRequest) -> LoadedModel:
        key = (tuple(file_identity(request.model_path)),
               tuple(file_identity(request.contract_path)) if request.contract_path else None)
        if key not in self._models:
            self._models[key] = load_model(request.model_path, "cpu", request.contract_path, threads=1)
        return self._models[key]

    def release(self) -> None:
        """Drop the models once every scene is planned (the workers load their own)."""
        self._models.clear()


class SceneState:
    """What every kind of scene on the client keeps and does alike: its tasks and their results, its outcome, its
    parts folder, and what happens to that folder when it fails or is cancelled."""

    def __init__(self, index: int, input_path: str, progress: Progress) -> None:
        self.index, self.progress = index, progress
        self.name = Path(input_path).name
        self.started = time.perf_counter()
        self.results: dict[str, TaskResult] = {}
        self.pixels = 0
        self.result: Any = None
        self.error: BaseException | None = None
        self.parts_bytes = 0
        self.parts: PartsFolder | None = None
        self.area = PixelWindow(0, 0, 0, 0)
        self.layout: BlockLayout | None = None
        self.whole_plan: RunPlan | None = None
        self.contract: ModelContract | None = None
        self.tasks: dict[str, Any] = {}
        self.log = SceneProgress(self.name, progress)  # the scene's messages, named, each warning once

    @property
    def done(self) -> bool:
        return self.error is not None or self.result is not None

    @property
    def complete(self) -> bool:
        return not self.done and all(name in self.results for name in self.tasks)

    def reuse_finished(self, files: dict[str, list[str]]) -> None:
        """The tasks an earlier run of the same settings finished, their ``files`` checked (a damaged one runs
        again)."""
        assert self.parts is not None
        self.results = self.parts.finished(files, self.progress)
        self.progress.info(f"Resuming '{self.parts.output.name}': {len(self.results)} block(s) already done in "
                           f"'{self.parts.path}'.")

    def fail(self, error: BaseException) -> None:
        """The scene stops with ``error``. The frames of the failed step are cleared now, in this thread: kept by
        the error in a reference cycle, they would hold the step's GDAL datasets open until a garbage collection
        in whatever thread runs it (Dask's event loop included), closing them in the middle of other GDAL work."""
        self.error = error
        clear_frames(error)

    def abandon(self) -> None:
        """After a failure or a cancellation: keep the finished blocks for ``--resume`` (the folder is given back),
        or remove the parts folder if none is. A folder this run does not hold (refused) is left as it is."""
        if self.parts is None or not self.parts.owned:
            return
        finished = [name for name in self.tasks if name in self.results and name != SCENE_TASK]
        if finished:
            self.log.info(f"{len(finished)} finished block(s) are kept in '{self.parts.path}'; "
                          "run again with --resume to continue once the cause is fixed.")
            self.parts.release()
        else:
            self.parts.remove()


class Scene(SceneState):
    """A classify scene's request, its tasks still to run, the results of those done, and its outcome."""

    def __init__(self, index: int, request: ClassifyRequest, progress: Progress) -> None:
        super().__init__(index, request.input_path, progress)
        self.request = request
        self.tasks: dict[str, BlockTask | SceneTask] = {}
        self.result: ClassifyResult | None = None
        self.inputs: dict[str, Any] | None = None  # every file the scene reads (:mod:`.identity`), when planned
        # INPUT's grid and georeferencing (pure data: no GDAL object is kept by a scene, whose references may
        # form cycles that the garbage collector would free in any order)
        self.grid: RasterGrid | None = None
        self.georeferencing: Georeferencing | None = None

    def pixels_of(self, task_name: str) -> int:
        """Area pixels a task finishes (for the progress of the whole run)."""
        task = self.tasks[task_name]
        return task.block.window.pixels if isinstance(task, BlockTask) else self.pixels

    def plan(self, models: ClientModels, block_size: int, resume: bool, devices: tuple[str, ...],
             threads: int) -> None:
        """Open and check the scene, then decide its tasks (skipping what an earlier run finished)."""
        request = replace(self.request, threads=threads)
        request.check_paths()
        quiet = LoggingProgress()  # the client's own lines (model loaded on its CPU...) would mislead
        job = open_job(request, quiet, model=models.get(request))
        self.area, self.contract, self.pixels = job.area, job.model.contract, job.area.pixels
        primary = job.stack.primary
        self.grid, self.georeferencing = primary.grid, primary.georeferencing
        resampled = needs_resampling(primary.grid, bool(primary.georeferencing.gcps), job.model.contract,
                                     quiet) is not None
        source = job.stack.source(job.bands, job.decider)
        plan = plan_job(job.model, source, job.area, request.options, quiet,  # as one process would plan
                        _worker_provider(devices or (request.device,)))
        for message in quiet.messages:
            if message.startswith(FORWARDED):  # the contract and margin, decided here once for every block
                self.log.info(message)
        for warning in quiet.warnings:
            self.log.warning(warning)
        layout = plan_blocks(plan, block_size or default_block_size(plan))
        whole = resampled or len(layout.blocks) == 1
        self.inputs = inputs_identity(request)
        fingerprint, settings = run_settings(request, 0 if whole else layout.block_size, plan, self.inputs)
        self.parts = PartsFolder(request.output_path, fingerprint, settings)
        self.parts.open(resume, self.progress)  # refused (changing nothing) while another run holds the folder
        if whole:
            why = "resampled to the model's resolution" if resampled else "one block"
            self.log.info(f"one task ({why}).")
            self.tasks = {SCENE_TASK: SceneTask(request, self.parts.marker(SCENE_TASK), devices, fingerprint)}
        else:
            self._plan_blocks(request, job, plan, layout, devices)
        if resume:
            self._reuse_finished()

    def _reuse_finished(self) -> None:
        self.reuse_finished({name: list(task.part_paths.values()) if isinstance(task, BlockTask) else
                             list(task.request.output_paths().values()) for name, task in self.tasks.items()})

    def _plan_blocks(self, request: ClassifyRequest, job: OpenedJob, plan: RunPlan, layout: BlockLayout,
                     devices: tuple[str, ...]) -> None:
        """One task per block; refused first if the largest block's run would not fit in memory."""
        assert self.parts is not None
        biggest = block_plan(plan, max(layout.blocks, key=lambda b: b.windows))
        require_memory(biggest.array_bytes(len(job.bands), accumulated_channels(job.model.contract)), biggest,
                       request.options)
        self.log.info(f"plan: {plan.describe()}; {layout.describe()}.")
        self.layout, self.whole_plan = layout, plan
        outputs = list(request.output_paths())
        if request.wants_vector_confidence and "confidence" not in outputs:
            outputs.append("confidence")  # the polygons' mean confidence is read from it when assembling
        self.tasks = {b.name: BlockTask(request, plan, job.area, b, self.parts.part_paths(b.name, outputs),
                                        self.parts.marker(b.name), devices, self.parts.fingerprint, self.inputs)
                      for b in layout.blocks}

    def finish(self) -> None:
        """All tasks done: assemble and commit a block scene's outputs, then report; remove the parts."""
        results = [self.results[name] for name in self.tasks]
        run = engine_run(results, self.pixels)
        assert self.contract is not None and self.grid is not None
        if SCENE_TASK not in self.tasks:
            report_input_problems(run, self.pixels, self.request, self.log,
                                  count_nodata=not is_regression(self.contract))
            counts = self._assemble()
            run.class_counts = counts or run.class_counts
        for warning in sorted({w for r in results for w in r.warnings}):
            self.log.warning(warning)
        self.result = ClassifyResult(results[0].provider, run.summary, run.class_counts, self.contract,
                                     time.perf_counter() - self.started, self.grid.sub_grid(self.area),
                                     values=value_summary_of(self.request.output_path, self.contract))
        if self.parts is not None:
            self.parts_bytes = self.parts.disk_use()
            self.parts.remove()

    def _assemble(self) -> dict[int, int] | None:
        """The outputs from the parts, finished (sieve, polygons, cloud-optimised copies) as a single-process
        run finishes them, then committed; the class pixel counts when sieving changed them."""
        assert self.parts is not None and self.layout is not None and self.whole_plan is not None
        assert self.contract is not None and self.grid is not None and self.georeferencing is not None
        blocks: list[Block] = list(self.layout.blocks)
        with AtomicOutputs() as outputs, bounded_block_cache():
            files = temporary_files(self.request, outputs)
            datasets = create_outputs(self.grid, self.georeferencing, self.area, self.contract, self.whole_plan,
                                      files.paths)
            for name in list(datasets):
                copy_parts(datasets[name], name, blocks, self.parts)
                datasets[name].FlushCache()
                datasets[name] = None  # closed: GDAL writes the class names' sidecar now
            counts = finish_run(self.request, files, self.grid.sub_grid(self.area), self.contract, outputs,
                                self.log, write_qml_style)
            outputs.commit()
        return counts


def clear_frames(error: BaseException | None) -> None:
    """Clear the frames of ``error``'s traceback and of the errors it was raised from (see :meth:`Scene.fail`)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if error.__traceback__ is not None:
            traceback.clear_frames(error.__traceback__)
        error = error.__cause__ or error.__context__


class SceneProgress:
    """A scene's view of the run's progress: its messages named, each warning said once; the fraction is the
    whole run's (the client sets it from the tasks done)."""

    def __init__(self, name: str, progress: Progress) -> None:
        self.name, self.progress = name, progress
        self.said: set[str] = set()

    def info(self, message: str) -> None:
        self.progress.info(f"{self.name}: {message}")

    def warning(self, message: str) -> None:
        if message not in self.said:
            self.said.add(message)
            self.progress.warning(f"{self.name}: {message}")

    def set_fraction(self, fraction: float) -> None:
        pass

    def is_cancelled(self) -> bool:
        return self.progress.is_cancelled()
