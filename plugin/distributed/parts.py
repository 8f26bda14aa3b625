"""The finished blocks of one output while a distributed run is under way: a hidden folder beside the output.

``.NAME.tif.parts/`` holds ``manifest.json`` (the run's settings and their fingerprint), each finished block's
GeoTIFFs (``r0001_c0002.classes.tif``...) and, written last and atomically, its marker
(``r0001_c0002.done.json``: class counts, windows, timings). A block counts as finished only when its
marker exists, so a block a worker was killed in is simply run again; its part files are written through
:class:`~plugin.adapters.atomic.AtomicOutputs` (temporary names, then renamed). Nothing is written at the
output path itself until every block is done (:mod:`.run`); then the folder is removed.

``--resume`` keeps the finished blocks of an earlier run with the same fingerprint; without it an earlier
run's folder is removed (with a warning) and every block is run.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..adapters.outputs.atomic import check_writable, run_token
from ..core.errors import InputError, OutputError
from ..core.progress import Progress
from .results import TaskResult

MARKER_SUFFIX = ".done.json"


def write_json_atomically(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON under a temporary name in the same folder, then rename it into place."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial-{run_token()}")
    try:
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OutputError(f"Cannot write '{path}': {error.strerror or error}. Check the free space and "
                          "permissions of the output folder.") from error


def read_json(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing or not a complete JSON object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class PartsFolder:
    """``.NAME.parts`` beside an output: what is done of it, and where each block's files go."""

    def __init__(self, output: str | os.PathLike, fingerprint: str, settings: dict[str, Any]) -> None:
        self.output = Path(output)
        self.path = self.output.with_name(f".{self.output.name}.parts")
        self.fingerprint, self.settings = fingerprint, settings

    def open(self, resume: bool, progress: Progress) -> dict[str, TaskResult]:
        """Create the folder, or keep an earlier run's (``resume``); returns the finished blocks' markers."""
        check_writable(self.output)
        if self.path.exists():
            manifest = read_json(self.path / "manifest.json") or {}
            if resume and manifest.get("fingerprint") == self.fingerprint:
                finished = self.finished()
                progress.info(f"Resuming '{self.output.name}': {len(finished)} block(s) already done in "
                              f"'{self.path}'.")
                return finished
            if resume and manifest:
                raise InputError(f"The unfinished run in '{self.path}' was made with other settings "
                                 f"({', '.join(self._differences(manifest.get('settings', {})))}): --resume would "
                                 "mix two runs. Give the same inputs and options, or run without --resume to start "
                                 "over.")
            progress.warning(f"Removed the blocks of an earlier unfinished run of '{self.output.name}' ({self.path}); "
                             "add --resume to continue such a run instead.")
            self.remove()
        elif resume:
            progress.info(f"Nothing to resume for '{self.output.name}': every block will run.")
        try:
            self.path.mkdir()
        except OSError as error:
            raise OutputError(f"Cannot create the folder of the blocks '{self.path}': {error.strerror or error}. "
                              "Choose an output folder you can write to.") from error
        write_json_atomically(self.path / "manifest.json", {"fingerprint": self.fingerprint,
                                                             "settings": self.settings})
        return {}

    def _differences(self, earlier: dict[str, Any]) -> list[str]:
        keys = sorted(set(earlier) | set(self.settings))
        changed = [key for key in keys if earlier.get(key) != self.settings.get(key)]
        return [f"{key} differs" for key in changed] or ["the settings differ"]

    def part_paths(self, block: str, outputs: list[str]) -> dict[str, str]:
        """Where a block's GeoTIFFs go, by output name (classes, probabilities, confidence)."""
        return {name: str(self.path / f"{block}.{name}.tif") for name in outputs}

    def marker(self, block: str) -> str:
        return str(self.path / f"{block}{MARKER_SUFFIX}")

    def finished(self) -> dict[str, TaskResult]:
        """The results of the blocks done, by block name (a marker that cannot be read is a block to run)."""
        done = {}
        for marker in self.path.glob(f"*{MARKER_SUFFIX}"):
            data = read_json(marker)
            try:
                done[marker.name[:-len(MARKER_SUFFIX)]] = TaskResult.from_json(data or {}).as_reused()
            except (KeyError, TypeError, ValueError):
                continue
        return done

    def disk_use(self) -> int:
        """Bytes the folder's files take."""
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file()) if self.path.exists() else 0

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
