"""A detection scene of a distributed run, on the client: planned into tasks, followed, assembled and committed.

A scene whose detector needs another ground resolution, or that fits in one block, is one task running the
detection job on a worker. A larger scene is cut into blocks of the whole run's window grid
(:mod:`plugin.core.engine.blocks`); each block task records its windows' candidates, and when all are done the
client replays them through the cross-window merge (:func:`plugin.core.detection.blocks.replay`) into the
GeoPackage layers, which are then committed at once: the same detections, in the same order, as one process.
The parts folder, its lock, ``--resume`` and the checks of the inputs are those of classification
(:mod:`.parts`, :mod:`.identity`).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, replace
from typing import Any, Callable

from ..adapters.detect.geopackage import Placement
from ..adapters.detect.job import (
    DetectRequest,
    DetectResult,
    check_detections,
    describe_plan,
    open_detection,
    oriented,
    plan_job,
    write_parts,
)
from ..core.detection.blocks import replay
from ..core.detection.loading import load_detector
from ..core.detection.run import DetectionSummary
from ..core.engine.blocks import default_block_size, plan_blocks
from ..core.engine.plan import RunPlan
from ..core.errors import ModelError
from ..core.progress import LoggingProgress, Progress
from .detect_tasks import DetectBlockTask, DetectSceneTask, read_record, run_detect_block, run_detect_scene
from .identity import inputs_identity, plan_identity
from .parts import PartsFolder
from .results import SCENE_TASK, TaskResult
from .run import DistributedOptions, SceneOutcome, outcomes, run_scenes
from .scenes import SceneState

# the client's own log lines a distributed run repeats: the largest object assumed when the contract gives none
FORWARDED = ("The detector's contract gives no max_object_size_px",)


def detect_settings(request: DetectRequest, block_size: int, plan: RunPlan | None = None,
                    inputs: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The settings that decide a scene's detections, and their fingerprint (what ``--resume`` must match): every
    file the inputs read (:mod:`.identity`), every option that changes the detections, the plan and the blocks."""
    identity = inputs if inputs is not None else inputs_identity(request)
    centroids = request.centroids
    settings = {**identity, "bands": list(request.bands or []) or None,
                "extent": list(request.extent) if request.extent else None, "window_size": request.window_size,
                "overlap": request.overlap, "tta": request.tta, "batch_size": request.batch_size,
                "min_score": request.min_score, "iou": request.iou, "max_detections": request.max_detections,
                "outputs": [request.output.layer, centroids.path if centroids else None,
                            centroids.layer if centroids else None],
                "block_size": block_size, "plan": plan_identity(plan), "nodata": asdict(request.nodata),
                "grid": asdict(request.grid)}
    settings = json.loads(json.dumps(settings, sort_keys=True, default=str))  # as the manifest keeps them
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16], settings


def task_function(task: Any) -> Callable[[Any], TaskResult]:
    """The worker function of a detection task."""
    return run_detect_block if isinstance(task, DetectBlockTask) else run_detect_scene


class DetectScene(SceneState):
    """A detection scene's request, its tasks still to run, the results of those done, and its outcome (what
    :func:`.run.run_scenes` follows)."""

    def __init__(self, index: int, request: DetectRequest, progress: Progress) -> None:
        super().__init__(index, request.input_path, progress)
        self.request = request
        self.tasks: dict[str, DetectBlockTask | DetectSceneTask] = {}
        self.result: DetectResult | None = None
        self.placement: Placement | None = None  # pure data: no GDAL dataset is kept by a scene

    def pixels_of(self, task_name: str) -> int:
        """Area pixels a task finishes (for the progress of the whole run)."""
        task = self.tasks[task_name]
        return task.block.window.pixels if isinstance(task, DetectBlockTask) else self.pixels

    def plan(self, block_size: int, resume: bool, devices: tuple[str, ...], threads: int) -> None:
        """Open and check the scene, then decide its tasks (skipping what an earlier run finished)."""
        request = replace(self.request, threads=threads)
        request.check_paths()
        quiet = LoggingProgress()  # the client's own lines (detector loaded on its CPU...) would mislead
        detector = load_detector(request.model_path, "cpu", request.contract_path, threads=1)
        opened = open_detection(request, quiet, detector=detector)
        target = opened.target
        self.area, self.contract, self.pixels = target.area, detector.contract, target.area.pixels
        self.placement = target.placement
        provider = "CUDAExecutionProvider" if any(d.lower().startswith("cuda") for d in devices or
                                                  (request.device,)) else None
        plan = plan_job(opened, request, quiet, provider)  # as one process would plan
        for message in quiet.messages:
            if message.startswith(FORWARDED):  # decided here once for every block
                self.log.info(message)
        for warning in quiet.warnings:
            self.log.warning(warning)
        layout = plan_blocks(plan, block_size or default_block_size(plan))
        whole = target.resampled or len(layout.blocks) == 1
        inputs = inputs_identity(request)
        fingerprint, settings = detect_settings(request, 0 if whole else layout.block_size, plan, inputs)
        self.parts = PartsFolder(request.output.path, fingerprint, settings)
        self.parts.open(resume, self.progress)  # refused (changing nothing) while another run holds the folder
        if whole:
            why = "resampled to the detector's resolution" if target.resampled else "one block"
            self.log.info(f"one task ({why}).")
            self.tasks = {SCENE_TASK: DetectSceneTask(request, self.parts.marker(SCENE_TASK), devices, fingerprint)}
        else:
            self.log.info(f"plan: {describe_plan(plan)}; {layout.describe()}.")
            self.layout, self.whole_plan = layout, plan
            self.tasks = {b.name: DetectBlockTask(request, plan, target.area, b,
                                                  self.parts.part_file(b.name, "candidates.npz"),
                                                  self.parts.marker(b.name), devices, fingerprint, inputs)
                          for b in layout.blocks}
        if resume:
            self._reuse_finished()

    def _reuse_finished(self) -> None:
        self.reuse_finished({name: [task.record_path] if isinstance(task, DetectBlockTask) else task.outputs
                             for name, task in self.tasks.items()})

    def finish(self) -> None:
        """All tasks done: replay a block scene's candidates into its layers and commit them; report."""
        results = [self.results[name] for name in self.tasks]
        summary = DetectionSummary(windows_total=sum(r.windows_total for r in results),
                                   windows_run=sum(r.windows_run for r in results), pixels=self.pixels,
                                   seconds=sum(r.seconds for r in results),
                                   inference_seconds=sum(r.inference_seconds for r in results))
        summary.windows_skipped = summary.windows_total - summary.windows_run
        counts = dict(results[0].class_counts) if SCENE_TASK in self.tasks else self._assemble(summary)
        summary.detections, summary.per_class = sum(counts.values()), counts
        for warning in sorted({w for r in results for w in r.warnings}):
            self.log.warning(warning)
        assert self.contract is not None
        plan = describe_plan(self.whole_plan) if self.whole_plan is not None else "one task"
        self.result = DetectResult(results[0].provider, summary, self.contract, time.perf_counter() - self.started,
                                   plan, counts)
        if self.parts is not None:
            self.parts_bytes = self.parts.disk_use()
            self.parts.remove()

    def _assemble(self, summary: DetectionSummary) -> dict[int, int]:
        """The blocks' candidates replayed through the cross-window merge into the output layers."""
        assert self.whole_plan is not None and self.contract is not None and self.placement is not None
        records = [read_record(task.record_path) for task in self.tasks.values()
                   if isinstance(task, DetectBlockTask)]
        summary.window_detections = sum(r.found for r in records)  # windows run by two blocks counted twice
        summary.centred_outside = sum(r.outside for r in records)
        try:
            check_detections(summary, self.whole_plan)
        except ModelError:  # the detector's fault: no later run of these settings can use its blocks
            if self.parts is not None:
                self.parts.remove()
            raise
        parts = replay(records, self.contract, self.whole_plan, self.request.settings(self.contract))
        return write_parts(self.request, self.placement, self.contract, oriented(self.contract), parts, None)


def detect_distributed(requests: list[DetectRequest], options: DistributedOptions,
                       progress: Progress) -> list[SceneOutcome]:
    """Detect objects in every request on the cluster; one outcome per request, in order."""
    spec = options.cluster
    scenes = [DetectScene(i, request, progress) for i, request in enumerate(requests)]
    run_scenes(scenes, options, progress,
               lambda scene: scene.plan(options.block_size, options.resume, spec.devices, spec.threads_per_task()),
               task_function)
    return outcomes(scenes)
