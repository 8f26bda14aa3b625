"""Atomic outputs: write under temporary names next to the targets, move them all into place only on success.

- A failed or cancelled run leaves nothing where the user asked for the result; an existing file there
  is replaced only by a complete new one.
- All outputs of a run are committed together or not at all: the old files (and the sidecars of their kind:
  a raster's ``name.tif.aux.xml`` and ``name.qml``, a GeoPackage's SQLite journal files; other files have
  none) are first moved aside, then the new ones moved in; if any move fails, the new ones are taken out again
  and the old ones restored. A ``name.qml`` beside a report, a JSON file or a model is another file's style
  and is never touched.
- Temporary names carry this machine's name and the process id (``.name.partial-HOST-PID-RANDOM.tif``),
  so a later run at the same path recognises the leftovers of a run that was killed (``kill -9``, a
  crash, a power cut) and removes them, while the files of a run still going on are left alone.
- Temporary work (intermediate rasters) goes into one folder per run beside the first output, removed
  when the run ends, and recognised and removed like the other leftovers when it could not be.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import stat
import sys
import uuid
from glob import escape as glob_escape
from pathlib import Path

from ...core.errors import OutputError
from .paths import output_sidecars

_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
_TOKEN = re.compile(r"\.(partial|backup)-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[0-9a-f]{8}")


def run_token() -> str:
    """A name part unique to this run: host, process id and a random part."""
    return f"{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


sidecars = output_sidecars  # the files that travel with an output of its kind (a raster's, a GeoPackage's)


def process_alive(pid: int) -> bool:
    """Whether a process of this machine with id ``pid`` exists (this one always does)."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill would terminate the process there
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(name: str) -> bool:
    """True for the temporary files of a run on this machine whose process no longer exists."""
    match = _TOKEN.search(name)
    return match is not None and match["host"] == _HOST and not process_alive(int(match["pid"]))


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


def clean_stale_leftovers(final: str | os.PathLike) -> list[Path]:
    """Remove what killed runs left for ``final``: partial files and folders, and moved-aside old files
    (put back when the new file never arrived). Returns the paths removed or restored."""
    final = Path(final)
    if not final.parent.is_dir():
        return []
    handled = []
    for sidecar in (final, *sidecars(final)):
        for entry in final.parent.glob(f".{glob_escape(sidecar.name)}.backup-*"):
            if _stale(entry.name):
                if not sidecar.exists():
                    os.replace(entry, sidecar)
                else:
                    _remove(entry)
                handled.append(entry)
    partial_prefix = f".{final.stem}.partial-"
    for entry in final.parent.iterdir():
        if entry.name.startswith(partial_prefix) and _stale(entry.name):
            _remove(entry)
            handled.append(entry)
    return handled


def check_writable(final: str | os.PathLike) -> Path:
    """Create the folder of ``final`` if needed and prove a file can be written there, or say why not."""
    final = Path(final)
    folder = final.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".{final.name}.probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise OutputError(f"Cannot write the output '{final}': {error.strerror or error} ({folder}). "
                          "Choose an output path in a folder you can write to.") from error
    if final.is_dir():
        raise OutputError(f"The output '{final}' is a folder; give a file name such as '{final / 'classes.tif'}'.")
    if final.is_file() and not final.stat().st_mode & stat.S_IWUSR:
        raise OutputError(f"The output '{final}' exists and is read-only, so it is kept as it is. Make it writable "
                          "to replace it, or choose another output path.")
    return final


class AtomicOutputs:
    """Hands out temporary paths for final paths; :meth:`commit` moves them all in, :meth:`abort` deletes them."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []
        self._token = run_token()
        self._work: Path | None = None

    def temporary_for(self, final: str | os.PathLike) -> str:
        """A temporary path in the same folder (so the move is atomic), with the same extension."""
        final = check_writable(final)
        clean_stale_leftovers(final)
        temporary = final.with_name(f".{final.stem}.partial-{self._token}{final.suffix}")
        self._pending.append((temporary, final))
        return str(temporary)

    def work_folder(self) -> Path:
        """A folder for this run's intermediate files, beside the first output; removed when the run ends."""
        if self._work is None:
            if not self._pending:
                raise RuntimeError("work_folder() needs an output first (temporary_for)")
            final = self._pending[0][1]
            self._work = final.with_name(f".{final.stem}.partial-{self._token}.d")
            self._work.mkdir()
        return self._work

    def _moves(self, temporary: Path, final: Path) -> list[tuple[Path, Path]]:
        return [(new, target) for new, target in zip((temporary, *sidecars(temporary)), (final, *sidecars(final)))]

    def commit(self) -> None:
        """Move every temporary file (and its sidecars) to its final name, all or none."""
        moved_aside: list[tuple[Path, Path]] = []
        moved_in: list[Path] = []
        try:
            for temporary, final in self._pending:
                for old in (final, *sidecars(final)):
                    if old in moved_in:  # a sidecar shared by two outputs of one stem (NAME.tif, NAME.gpkg)
                        continue
                    if old.is_dir() and not old.is_symlink():  # never moved, never removed: refuse instead
                        raise IsADirectoryError(errno.EISDIR, "a folder is where the output is to go", str(old))
                    if old.exists() or old.is_symlink():
                        aside = old.with_name(f".{old.name}.backup-{self._token}")
                        os.replace(old, aside)
                        moved_aside.append((aside, old))
                for new, target in self._moves(temporary, final):
                    if new.exists():
                        os.replace(new, target)
                        moved_in.append(target)
        except OSError as error:
            for target in reversed(moved_in):
                _remove(target)
            for aside, old in reversed(moved_aside):
                os.replace(aside, old)
            self.abort()
            raise OutputError(f"Cannot move the finished outputs into place ({error.strerror or error}: "
                              f"{error.filename}); nothing was changed, the previous files are as they were. "
                              "Check the output folder's permissions and free space.") from error
        for aside, _ in moved_aside:
            _remove(aside)
        self._pending.clear()
        self._remove_work()

    def abort(self) -> None:
        """Delete every temporary file, sidecar and the work folder; the final paths are left as they were."""
        for temporary, _ in self._pending:
            for path in (temporary, *sidecars(temporary)):
                _remove(path)
        self._pending.clear()
        self._remove_work()

    def _remove_work(self) -> None:
        if self._work is not None:
            _remove(self._work)
            self._work = None

    def __enter__(self) -> "AtomicOutputs":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None or self._pending:
            self.abort()


class AtomicFolder:
    """Builds a folder under a temporary sibling name; :meth:`commit` renames it into place.

    The final folder must not exist yet or be empty, so an export never mixes with earlier files and
    a failed or cancelled run (:meth:`abort`, or leaving the ``with`` block by an exception) leaves
    nothing behind; the leftovers of a killed run are removed by the next run at the same path.
    """

    def __init__(self, final: str | os.PathLike) -> None:
        self.final = Path(final)
        if self.final.exists() and (not self.final.is_dir() or any(self.final.iterdir())):
            kind = "a folder that is not empty" if self.final.is_dir() else "a file"
            raise OutputError(f"The output folder '{self.final}' is {kind}; choose a new or empty folder so the "
                              "export does not mix with other files.")
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            clean_stale_leftovers(self.final)
            self.path = self.final.with_name(f".{self.final.stem}.partial-{run_token()}")
            self.path.mkdir()
        except OSError as error:
            raise OutputError(f"Cannot create the output folder '{self.final}': {error.strerror or error}. "
                              "Choose a folder in a place you can write to.") from error

    def commit(self) -> None:
        """Move the finished folder to its final name (replacing an empty folder there)."""
        try:
            if self.final.is_dir():
                self.final.rmdir()  # empty when checked; fails, as it should, if files appeared since
            os.replace(self.path, self.final)
        except OSError as error:
            self.abort()
            raise OutputError(f"Cannot move the finished export to '{self.final}': {error.strerror or error}.") \
                from error

    def abort(self) -> None:
        """Delete the temporary folder and everything in it."""
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> "AtomicFolder":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:
            self.abort()
