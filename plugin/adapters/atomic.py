"""Atomic outputs: write under a temporary name next to the target, rename only on success.

A failed or cancelled run leaves nothing where the user asked for the result, and an existing file
there is replaced only once the new one is complete. GDAL sidecars (``name.tif.aux.xml``) and QGIS
default styles (``name.qml``) travel with their raster.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from ..core.errors import OutputError



def sidecars(path: Path) -> list[Path]:
    """Files that belong to a raster: GDAL's ``name.tif.aux.xml`` and QGIS's default style ``name.qml``."""
    return [Path(str(path) + ".aux.xml"), path.with_suffix(".qml")]


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
    return final


class AtomicOutputs:
    """Hands out temporary paths for final paths; :meth:`commit` renames them all, :meth:`abort` deletes them."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def temporary_for(self, final: str | os.PathLike) -> str:
        """A temporary path in the same folder (so the rename is atomic), with the same extension."""
        final = check_writable(final)
        temporary = final.with_name(f".{final.stem}.partial-{uuid.uuid4().hex[:8]}{final.suffix}")
        self._pending.append((temporary, final))
        return str(temporary)

    def commit(self) -> None:
        """Move every temporary file (and its sidecars) to its final name."""
        for temporary, final in self._pending:
            for stale in sidecars(final):
                if stale.exists():
                    stale.unlink()
            os.replace(temporary, final)
            for sidecar, target in zip(sidecars(temporary), sidecars(final)):
                if sidecar.exists():
                    os.replace(sidecar, target)
        self._pending.clear()

    def abort(self) -> None:
        """Delete every temporary file and sidecar; the final paths are left as they were."""
        for temporary, _ in self._pending:
            for path in (temporary, *sidecars(temporary)):
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass
        self._pending.clear()

    def __enter__(self) -> "AtomicOutputs":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:
            self.abort()


class AtomicFolder:
    """Builds a folder under a temporary sibling name; :meth:`commit` renames it into place.

    The final folder must not exist yet or be empty, so an export never mixes with earlier files and
    a failed or cancelled run (:meth:`abort`, or leaving the ``with`` block by an exception) leaves
    nothing behind.
    """

    def __init__(self, final: str | os.PathLike) -> None:
        self.final = Path(final)
        if self.final.exists() and (not self.final.is_dir() or any(self.final.iterdir())):
            kind = "a folder that is not empty" if self.final.is_dir() else "a file"
            raise OutputError(f"The output folder '{self.final}' is {kind}; choose a new or empty folder so the "
                              "export does not mix with other files.")
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.partial-", dir=self.final.parent))
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
