"""What a Dask worker runs for a detection: one block of a scene (:func:`run_detect_block`: the windows touching
the block, each window's candidates recorded, see :mod:`plugin.core.detection.blocks`), or one whole scene
(:func:`run_detect_scene`: the detection job itself).

A block's record is written as ``NAME-FINGERPRINT.candidates.npz`` through
:class:`~plugin.adapters.outputs.atomic.AtomicOutputs` (temporary name, then renamed), then its marker with the
record's size and SHA-256 (:mod:`.parts`); a task run again finds its marker, checks the record against it and
returns at once. As for classification (:mod:`.tasks`), a block is not computed from inputs that changed since
the run was planned, nor written into a parts folder another run has taken meanwhile. The detector is loaded
once per worker process.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..adapters.detect.job import DetectRequest, detect_objects, open_detection
from ..adapters.outputs.atomic import AtomicOutputs
from ..core.areas.window import PixelWindow
from ..core.detection.blocks import BlockRecord, record_block
from ..core.detection.loading import LoadedDetector, load_detector
from ..core.engine.blocks import Block
from ..core.engine.plan import RunPlan
from ..core.progress import LoggingProgress
from .identity import file_identity
from .parts import record_files, verified, write_json_atomically
from .results import SCENE_TASK, TaskResult
from .tasks import prepared_request, require_folder_of, require_same_inputs


@dataclass(frozen=True)
class DetectBlockTask:
    """One block of a detection scene: the scene's request and whole plan, the block, where its record goes."""

    request: DetectRequest
    plan: RunPlan
    area: PixelWindow  # the whole run's area, raster coordinates (of the grid the engine runs on)
    block: Block
    record_path: str
    marker: str
    devices: tuple[str, ...] = ()
    fingerprint: str = ""  # the run's settings (:func:`.detect_scene.detect_settings`): its files carry it
    inputs: dict[str, Any] | None = None  # every file the run read when it was planned (:mod:`.identity`)


@dataclass(frozen=True)
class DetectSceneTask:
    """One whole detection scene, run by the detection job on a worker (small or resampled scenes)."""

    request: DetectRequest
    marker: str
    devices: tuple[str, ...] = ()
    fingerprint: str = ""

    @property
    def outputs(self) -> list[str]:
        """The files the job writes."""
        centroids = self.request.centroids
        return [self.request.output.path] + ([centroids.path] if centroids is not None else [])


_DETECTORS: dict[tuple, LoadedDetector] = {}


def _detector(request: DetectRequest) -> LoadedDetector:
    """The request's detector, loaded once per worker process (and again if the file or its sidecar changed)."""
    stat = os.stat(request.model_path)
    contract = tuple(file_identity(request.contract_path)) if request.contract_path else None
    key = (os.path.abspath(request.model_path), stat.st_mtime_ns, stat.st_size, contract, request.device,
           request.threads)
    if key not in _DETECTORS:
        _DETECTORS.clear()  # one detector at a time: a worker's memory is for the run
        _DETECTORS[key] = load_detector(request.model_path, request.device, request.contract_path, request.threads)
    return _DETECTORS[key]


def write_record(record: BlockRecord, path: str, before_commit: Any = None) -> None:
    """The block's record as a ``.npz`` file, written atomically (``before_commit``: a last check, or None)."""
    with AtomicOutputs() as outputs:
        temporary = outputs.temporary_for(path)
        with open(temporary, "wb") as handle:
            np.savez(handle, **record.to_arrays())
        if before_commit is not None:
            before_commit()
        outputs.commit()


def read_record(path: str) -> BlockRecord:
    """A block's record as :func:`write_record` wrote it."""
    with np.load(path) as arrays:
        return BlockRecord.from_arrays({name: arrays[name] for name in arrays.files})


def run_detect_block(task: DetectBlockTask) -> TaskResult:
    """Run the windows touching one block and record their candidates, then mark it done."""
    recorded, _ = verified(task.marker, task.fingerprint, [task.record_path])
    if recorded is not None:
        return recorded
    require_same_inputs(task.request, task.inputs)
    started = time.perf_counter()
    request = prepared_request(task.request, task.devices)
    progress = LoggingProgress()
    opened = open_detection(request, progress, detector=_detector(request), check_suitability=False)  # client did
    detector, target = opened.detector, opened.target
    source = target.stack.source(opened.inputs.bands, opened.inputs.decider)
    record, summary = record_block(source, detector.predictor, detector.contract, task.area, task.block, task.plan,
                                   request.settings(detector.contract), progress, target.mask)
    write_record(record, task.record_path,
                 lambda: require_folder_of(task.marker, task.fingerprint, task.block.name))
    decider = opened.inputs.decider
    result = TaskResult(task.block.name, {}, summary.windows_run, summary.windows_total,
                        time.perf_counter() - started, summary.inference_seconds, detector.runtime.provider,
                        decider.first_non_finite, decider.first_partial,
                        tuple(w for w in progress.warnings if not w.startswith("The raster has no CRS")),
                        fingerprint=task.fingerprint, files=record_files([task.record_path]))
    write_json_atomically(task.marker, result.to_json())
    return result


def run_detect_scene(task: DetectSceneTask) -> TaskResult:
    """Run the detection job over a whole scene (outputs committed atomically), then mark it done."""
    recorded, _ = verified(task.marker, task.fingerprint, task.outputs)
    if recorded is not None:
        return recorded
    request = prepared_request(task.request, task.devices)
    progress = LoggingProgress()
    result = detect_objects(request, progress)
    summary = result.summary
    record = TaskResult(SCENE_TASK, dict(result.counts), summary.windows_run, summary.windows_total, result.seconds,
                        summary.inference_seconds, result.provider, warnings=tuple(progress.warnings),
                        messages=tuple(progress.messages), fingerprint=task.fingerprint,
                        files=record_files(task.outputs))
    write_json_atomically(task.marker, record.to_json())
    return record
