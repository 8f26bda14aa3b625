"""What a worker's task reports: one record type for blocks and whole scenes alike, written as its marker."""
from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ..adapters.classify.job import EngineRun
from ..core.engine.run import RunSummary

SCENE_TASK = "scene"  # the name of the one task of a scene run whole


@dataclass(frozen=True)
class TaskResult:
    """A finished task: a block of a scene (``name`` its block name) or a whole scene (``name`` "scene")."""

    name: str
    class_counts: dict[int, int]
    windows_run: int
    windows_total: int
    seconds: float
    inference_seconds: float
    provider: str
    first_non_finite: tuple[int, int] | None = None
    first_partial: tuple[int, int] | None = None
    warnings: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    fingerprint: str = ""  # the settings of the run it was computed for (:func:`.scenes.run_settings`)
    files: dict[str, list[Any]] = field(default_factory=dict)  # each file written: [size, SHA-256], by path
    reused: bool = False  # found finished (a resumed run, or a task run again), not computed now

    def to_json(self) -> dict[str, Any]:
        """The marker's content (``reused`` is not stored: it says how this run came by the result)."""
        data = asdict(self)
        data.pop("reused")
        data["class_counts"] = {str(k): v for k, v in self.class_counts.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TaskResult":
        """A marker read back (raises KeyError, TypeError, ValueError or AttributeError when it is not one we
        wrote)."""
        known = {f.name for f in fields(cls)} - {"reused"}
        values = {k: v for k, v in data.items() if k in known}
        values["class_counts"] = {int(k): int(v) for k, v in data["class_counts"].items()}
        for key in ("first_non_finite", "first_partial"):
            position = values.get(key)
            values[key] = (int(position[0]), int(position[1])) if position else None
        values["warnings"] = tuple(str(w) for w in values.get("warnings", ()))
        values["messages"] = tuple(str(m) for m in values.get("messages", ()))
        values["fingerprint"] = str(values.get("fingerprint", ""))
        values["files"] = {str(path): [int(record[0]), str(record[1])]
                           for path, record in dict(values.get("files") or {}).items()}
        return cls(**values)

    def as_reused(self) -> "TaskResult":
        return replace(self, reused=True)


def engine_run(results: list[TaskResult], pixels: int) -> EngineRun:
    """A scene's figures from its tasks' results, as one run of the engine would report them."""
    counts: dict[int, int] = {}
    for result in results:
        for value, count in result.class_counts.items():
            counts[value] = counts.get(value, 0) + count
    run = sum(r.windows_run for r in results)
    total = sum(r.windows_total for r in results)
    summary = RunSummary(windows_total=total, windows_run=run, windows_skipped=total - run, pixels_written=pixels,
                         seconds=sum(r.seconds for r in results),
                         inference_seconds=sum(r.inference_seconds for r in results))
    return EngineRun(summary, counts, _first(r.first_non_finite for r in results),
                     _first(r.first_partial for r in results))


def _first(positions: Any) -> tuple[int, int] | None:
    """The first (row, then column) of the (column, row) positions the tasks recorded."""
    found = [p for p in positions if p]
    return min(found, key=lambda p: (p[1], p[0])) if found else None
