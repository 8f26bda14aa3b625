"""The Python interpreter that QGIS runs, found so that pip and the checks run with it.

Inside QGIS ``sys.executable`` is not always Python: on Windows it can be ``qgis-bin.exe``, in the macOS
application bundle the QGIS binary, and embedded builds may leave it empty. The candidates below are
tried in order, and each is started once to check that it is a Python of the same version; one with the
same ``sys.prefix`` (the same installation, or the same virtual environment) is preferred.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from .install_error import InstallError

_PYTHON_NAME = re.compile(r"^python(\d+(\.\d+)?)?(\.exe)?$", re.IGNORECASE)
_CHECK = "import json, sys; print(json.dumps([list(sys.version_info[:2]), sys.prefix, sys.version.split()[0]]))"


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter that was started and answered."""

    path: Path
    version: str  # e.g. "3.11.2"
    prefix: str


def candidates(executable: str | None = None, base_executable: str | None = None, prefix: str | None = None,
               platform: str | None = None) -> list[Path]:
    """Places where QGIS's Python may be, most likely first (not yet checked)."""
    executable = sys.executable if executable is None else executable
    base_executable = getattr(sys, "_base_executable", "") if base_executable is None else base_executable
    prefix = sys.prefix if prefix is None else prefix
    platform = sys.platform if platform is None else platform
    major, minor = sys.version_info[:2]
    found: list[Path] = [Path(p) for p in (executable, base_executable) if p and _PYTHON_NAME.match(Path(p).name)]
    if platform == "win32":
        # OSGeo4W and the standalone installer: prefix is apps\PythonXY, which holds python.exe.
        found += [Path(prefix) / "python.exe", Path(prefix) / "python3.exe"]
        if executable:
            found += [Path(executable).parent / "python.exe", Path(executable).parent / "python3.exe"]
    else:
        if platform == "darwin" and executable:  # QGIS.app/Contents/MacOS/QGIS -> .../MacOS/bin/python3
            found.append(Path(executable).parent / "bin" / "python3")
        bindir = sysconfig.get_config_var("BINDIR") or ""
        for folder in (Path(prefix) / "bin", Path(bindir)):
            found += [folder / f"python{major}.{minor}", folder / "python3"]
    for name in (f"python{major}.{minor}", "python3", "python"):
        located = shutil.which(name)
        if located:
            found.append(Path(located))
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def probe(path: Path, timeout: float = 30) -> Interpreter | None:
    """Start ``path`` once; the interpreter when it is a working Python, else None."""
    if not path.is_file():
        return None
    try:
        completed = subprocess.run([str(path), "-c", _CHECK], capture_output=True, text=True, timeout=timeout,
                                   **hidden_window())
        (major, minor), prefix, version = json.loads(completed.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, TypeError):
        return None
    if (major, minor) != tuple(sys.version_info[:2]):
        return None
    return Interpreter(path, version, prefix)


def find_python(paths: list[Path] | None = None) -> Interpreter:
    """QGIS's own Python interpreter, or an InstallError naming every place that was tried."""
    tried = candidates() if paths is None else paths
    same_version = []
    for path in tried:
        interpreter = probe(path)
        if interpreter is None:
            continue
        if os.path.realpath(interpreter.prefix) == os.path.realpath(sys.prefix):
            return interpreter
        same_version.append(interpreter)
    if same_version:
        return same_version[0]
    major, minor = sys.version_info[:2]
    raise InstallError(
        f"Could not find the Python {major}.{minor} interpreter that QGIS runs (tried: "
        f"{', '.join(str(p) for p in tried) or 'nothing'}). Install the packages by hand with that Python "
        "(see the plugin's docs/install.md), or report this with the output of seamless:diagnostics.")


def hidden_window() -> dict:
    """Keyword arguments for subprocess so that no console window flashes up on Windows."""
    if sys.platform == "win32":
        return {"creationflags": getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000)}
    return {}
