"""The client of a distributed run: every scene planned into tasks, the tasks submitted to Dask and followed,
each scene assembled and committed as soon as its last task is done.

Every scene is planned (opened, checked, its parts folder locked) before the cluster is reached: a run whose
scenes all fail there, an unreadable input for one, never connects. Dask reruns the task of a worker that died
(up to ``distributed.scheduler.allowed-failures`` times); a task that fails with an error fails its scene only
(its other tasks are cancelled, its finished blocks are kept for ``--resume``), and the other scenes go on.
Cancelling (Ctrl+C) stops submitting and cancels what is queued; finished blocks are kept. However the run
ends, every parts folder it locked is given back. Task keys carry a token of the run: a scheduler still busy
with the cancelled tasks of an earlier run never mistakes them for this run's.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..adapters.classify.job import ClassifyRequest
from ..core.errors import CancelledError
from ..core.progress import Progress
from .cluster import ClusterSpec, dask_client
from .results import TaskResult
from .scenes import ClientModels, Scene
from .tasks import BlockTask, run_block, run_scene


@dataclass(frozen=True)
class DistributedOptions:
    """How to run: the cluster, the block size (0: the largest whose run streams as one panel), resume."""

    cluster: ClusterSpec
    block_size: int = 0
    resume: bool = False


@dataclass
class SceneOutcome:
    """What became of one scene: its result, or the error that stopped it."""

    request: Any  # a ClassifyRequest or a DetectRequest
    result: Any  # its ClassifyResult or DetectResult; None when it failed
    error: BaseException | None
    tasks: int = 0
    tasks_reused: int = 0
    parts_bytes: int = 0


class _Progress:
    """The whole run's fraction: area pixels finished over all pixels of the scenes."""

    def __init__(self, progress: Progress, scenes: list[Any]) -> None:
        self._progress = progress
        self._total = sum(s.pixels for s in scenes) or 1
        self._done = 0

    def add(self, pixels: int) -> None:
        self._done += pixels
        self._progress.set_fraction(min(self._done / self._total, 1.0))


def classify_distributed(requests: list[ClassifyRequest], options: DistributedOptions,
                         progress: Progress) -> list[SceneOutcome]:
    """Classify every request on the cluster; one outcome per request, in order."""
    spec = options.cluster
    scenes = [Scene(i, request, progress) for i, request in enumerate(requests)]
    models = ClientModels()
    run_scenes(scenes, options, progress,
               lambda scene: scene.plan(models, options.block_size, options.resume, spec.devices,
                                        spec.threads_per_task()),
               lambda task: run_block if isinstance(task, BlockTask) else run_scene,
               planned=models.release)  # the client's sessions, closed now rather than at a later collection
    return outcomes(scenes)


def outcomes(scenes: Sequence[Any]) -> list[SceneOutcome]:
    """What became of each scene, in order."""
    return [SceneOutcome(s.request, s.result, s.error, len(s.tasks),
                         sum(1 for r in s.results.values() if r.reused), s.parts_bytes) for s in scenes]


def run_scenes(scenes: Sequence[Any], options: DistributedOptions, progress: Progress, plan: Callable[[Any], None],
               task_function: Callable[[Any], Callable[[Any], TaskResult]],
               planned: Callable[[], None] | None = None) -> None:
    """Plan every scene (``plan``; then ``planned``), submit the tasks of those that could be planned (each to the
    worker function ``task_function`` gives for it), follow them, assemble and commit each scene when its tasks
    are done. A scene is anything with what :class:`.scenes.Scene` offers the run (index, tasks, results,
    pixels, pixels_of, done, complete, finish, fail, abandon, result, error); its outcome stays on it."""
    try:
        for scene in scenes:
            _guarded(scene, lambda s=scene: plan(s))
        ready = [s for s in scenes if not s.done]
        tracker = _Progress(progress, ready)
        for scene in ready:
            for name in [name for name in scene.tasks if name in scene.results]:
                tracker.add(scene.pixels_of(name))
            _finish_if_complete(scene)  # every task found done (--resume): assembled without the cluster
        if planned is not None:
            planned()
        if any(not s.done for s in scenes):
            _run_on_cluster([s for s in scenes if not s.done], options.cluster, tracker, progress, task_function)
    finally:
        for scene in scenes:
            if scene.result is None:
                scene.abandon()


def _run_on_cluster(scenes: list[Any], spec: ClusterSpec, tracker: _Progress, progress: Progress,
                    task_function: Callable[[Any], Callable[[Any], TaskResult]]) -> None:
    """Submit the tasks still to run and follow them to the end."""
    run = uuid.uuid4().hex[:12]
    with dask_client(spec, progress) as client:
        pending: dict[Any, tuple[Any, str]] = {}
        for scene in scenes:
            for name, task in scene.tasks.items():
                if name not in scene.results:
                    future = client.submit(task_function(task), task, pure=False, priority=-scene.index,
                                           key=f"seamless-{run}-{scene.index}-{name}")
                    pending[future] = (scene, name)
        _follow(client, pending, tracker, progress)


def _follow(client: Any, pending: dict[Any, tuple[Any, str]], tracker: _Progress, progress: Progress) -> None:
    """Take each task's result as it comes; a scene whose tasks are all done is assembled and committed."""
    from distributed import wait

    while pending:
        if progress.is_cancelled():
            client.cancel(list(pending))
            raise CancelledError("the run was cancelled; finished blocks are kept (run again with --resume to "
                                 "continue), and no output was written for unfinished scenes.")
        try:
            done, _ = wait(list(pending), timeout=0.5, return_when="FIRST_COMPLETED")
        except TimeoutError:
            continue
        for future in done:
            scene, name = pending.pop(future)
            if scene.done:
                continue
            if future.status != "finished":
                error = future.exception() if future.status == "error" else CancelledError("a task was cancelled.")
                scene.fail(_task_error(error, name))
                doomed = [f for f, (s, _) in pending.items() if s is scene]
                client.cancel(doomed)
                for f in doomed:
                    pending.pop(f)
                continue
            scene.results[name] = future.result()
            tracker.add(scene.pixels_of(name))
            _finish_if_complete(scene)


def _task_error(error: BaseException | None, name: str) -> BaseException:
    """The error of a failed task; a worker that died again and again is named as the cause."""
    if error is not None and type(error).__name__ == "KilledWorker":
        from ..core.errors import SeamlessError

        return SeamlessError(f"The task of {name} stopped its worker process several times (killed, out of memory, "
                             "or a crash in a library): it was given up. Lower the block size (--block-size), "
                             "WINDOW_SIZE or BATCH_SIZE, or give the workers more memory.")
    return error or RuntimeError(f"the task of {name} failed without an error")


def _finish_if_complete(scene: Any) -> None:
    if scene.complete:
        _guarded(scene, scene.finish)


def _guarded(scene: Any, action: Any) -> None:
    """Run one step of a scene; an error ends that scene (kept as its outcome), not the run."""
    try:
        action()
    except (KeyboardInterrupt, CancelledError):
        raise
    except Exception as error:  # noqa: BLE001 - one scene's failure, reported with the others' results
        # kept without this frame, which refers to the scene (and the action's models): no reference cycle
        scene.fail(error.with_traceback(error.__traceback__.tb_next if error.__traceback__ else None))
