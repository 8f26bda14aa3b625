"""The finished blocks of one output while a distributed run is under way: a hidden folder beside the output.

``.NAME.tif.parts/`` holds ``lock.json`` (the run that owns the folder: :mod:`.lock`), ``manifest.json`` (the
run's settings and their fingerprint), each finished block's GeoTIFFs (``r0001_c0002-FINGERPRINT.classes.tif``...)
and, written last and atomically, its marker (``r0001_c0002-FINGERPRINT.done.json``: class counts, windows,
timings, and the size and SHA-256 of each of its files). A block counts as finished only when its marker exists
and its files are exactly those the marker describes, so a block a worker was killed in, or whose file was
truncated or damaged since, is simply run again; its part files are written through
:class:`~plugin.adapters.outputs.atomic.AtomicOutputs` (temporary names, then renamed). File names carry the
run's fingerprint: a task of another run still going on after its client stopped can never replace the files of
this one. Nothing is written at the output path itself until every block is done (:mod:`.run`); then the folder
is removed.

Only the run holding the lock changes the folder. ``--resume`` keeps the finished blocks of an earlier run with
the same fingerprint; without it an earlier run's blocks are removed (with a warning) and every block is run. A
refused ``--resume`` (other settings) and a refused second run (the lock is held) change nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable

from ..adapters.outputs.atomic import check_writable, run_token
from ..core.errors import InputError, OutputError
from ..core.progress import Progress
from .lock import LOCK_NAME, PartsLock
from .results import TaskResult

MARKER_SUFFIX = ".done.json"
MANIFEST = "manifest.json"
NAME_PART = 12  # characters of the fingerprint in the names of a run's files


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


def file_record(path: str | os.PathLike) -> list[Any]:
    """``[size, SHA-256]`` of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return [size, digest.hexdigest()]


def record_files(paths: Iterable[str]) -> dict[str, list[Any]]:
    """The record of each file a task wrote, by path, for its marker."""
    return {path: file_record(path) for path in paths}


def check_files(recorded: dict[str, list[Any]], paths: Iterable[str]) -> str | None:
    """Why the files at ``paths`` are not those the marker recorded (missing, truncated, changed); None if they are."""
    for path in paths:
        expected = recorded.get(path)
        if expected is None:
            return f"its marker does not record '{Path(path).name}'"
        try:
            size = os.stat(path).st_size
            if size != expected[0]:
                return f"'{Path(path).name}' has {size} bytes instead of {expected[0]} (truncated or replaced)"
            if file_record(path) != list(expected):
                return f"the content of '{Path(path).name}' changed since it was written (damaged)"
        except OSError as error:
            return f"'{Path(path).name}' cannot be read ({error.strerror or error})"
    return None


def verified(marker: str | os.PathLike, fingerprint: str, paths: Iterable[str]) -> tuple[TaskResult | None, str | None]:
    """A task's result from its marker when its files are exactly those it wrote for this fingerprint; else None
    and why (None: no marker at all)."""
    data = read_json(marker)
    if data is None:
        return None, "its marker cannot be read" if Path(marker).exists() else None
    try:
        result = TaskResult.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None, "its marker is not one this program wrote"
    if result.fingerprint != fingerprint:
        return None, "its marker belongs to a run of other settings"
    problem = check_files(result.files, paths)
    return (None, problem) if problem else (result.as_reused(), None)


class PartsFolder:
    """``.NAME.parts`` beside an output: who owns it, what is done of it, and where each block's files go."""

    def __init__(self, output: str | os.PathLike, fingerprint: str, settings: dict[str, Any]) -> None:
        self.output = Path(output)
        self.path = self.output.with_name(f".{self.output.name}.parts")
        self.fingerprint, self.settings = fingerprint, settings
        self.lock = PartsLock(self.path)

    @property
    def owned(self) -> bool:
        """Whether this run holds the folder's lock (only then may it change or remove the folder)."""
        return self.lock.held

    def open(self, resume: bool, progress: Progress) -> None:
        """Take the folder (created, or an earlier run's): its lock first, then keep an earlier run's blocks
        (``resume``, same fingerprint) or remove them. Which blocks are done: :meth:`finished`."""
        check_writable(self.output)
        try:
            self.path.mkdir(exist_ok=True)
        except OSError as error:
            raise OutputError(f"Cannot create the folder of the blocks '{self.path}': {error.strerror or error}. "
                              "Choose an output folder you can write to.") from error
        self.lock.acquire(self.output.name, progress)
        try:
            self._take(resume, progress)
        except BaseException:
            self.release()
            raise

    def _take(self, resume: bool, progress: Progress) -> None:
        manifest = read_json(self.path / MANIFEST) or {}
        earlier = [p for p in self.path.iterdir() if p.name != LOCK_NAME and not p.name.startswith(f".{LOCK_NAME}")]
        if resume and manifest.get("fingerprint") == self.fingerprint:
            return
        if resume and manifest:
            raise InputError(f"The unfinished run in '{self.path}' was made with other settings "
                             f"({', '.join(self._differences(manifest.get('settings', {})))}): --resume would "
                             "mix two runs. Give the same inputs and options, or run without --resume to start "
                             "over (its finished blocks are kept until then).")
        if earlier and not resume:
            progress.warning(f"Removed the blocks of an earlier unfinished run of '{self.output.name}' ({self.path}); "
                             "add --resume to continue such a run instead.")
        elif resume:
            progress.info(f"Nothing to resume for '{self.output.name}': every block will run.")
        for path in earlier:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        write_json_atomically(self.path / MANIFEST, {"fingerprint": self.fingerprint, "settings": self.settings})

    def _differences(self, earlier: dict[str, Any]) -> list[str]:
        keys = sorted(set(earlier) | set(self.settings))
        changed = [key for key in keys if earlier.get(key) != self.settings.get(key)]
        return [f"{key} differs" for key in changed] or ["the settings differ"]

    def _stem(self, block: str) -> str:
        return f"{block}-{self.fingerprint[:NAME_PART]}"

    def part_paths(self, block: str, outputs: list[str]) -> dict[str, str]:
        """Where a block's GeoTIFFs go, by output name (classes, probabilities, confidence)."""
        return {name: str(self.path / f"{self._stem(block)}.{name}.tif") for name in outputs}

    def part_file(self, block: str, name: str) -> str:
        """Where a block's file ``name`` (e.g. ``candidates.npz``) goes."""
        return str(self.path / f"{self._stem(block)}.{name}")

    def marker(self, block: str) -> str:
        return str(self.path / f"{self._stem(block)}{MARKER_SUFFIX}")

    def finished(self, tasks: dict[str, list[str]], progress: Progress) -> dict[str, TaskResult]:
        """The results of the ``tasks`` (name: the files it writes) an earlier run of these settings finished,
        each checked against its files; a block whose file is missing, truncated or damaged is run again."""
        done = {}
        for name, paths in tasks.items():
            result, problem = verified(self.marker(name), self.fingerprint, paths)
            if result is not None:
                done[name] = result
            elif problem is not None:
                progress.info(f"'{self.output.name}': the finished block {name} is run again: {problem}.")
                Path(self.marker(name)).unlink(missing_ok=True)
        return done

    def disk_use(self) -> int:
        """Bytes the folder's files take."""
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file()) if self.path.exists() else 0

    def release(self) -> None:
        """Give the folder back, keeping its blocks (for ``--resume``)."""
        self.lock.release()

    def remove(self) -> None:
        """Remove the folder, lock and all; only by the run that holds it."""
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)
            self.lock.held = False
