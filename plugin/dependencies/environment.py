"""What QGIS's Python already has, asked of that Python itself, and the pip constraints that keep it.

An installation never upgrades or replaces a package QGIS's Python has: every distribution it can import
(system and user site-packages, QGIS's own folders) is pinned to its installed version. That keeps, for
example, Debian 12's numpy 1.24 that its GDAL bindings are built against (numpy 2 would break
``osgeo.gdal_array``), and Debian 13's numpy 2.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from .install_error import InstallError
from .interpreter import Interpreter, hidden_window
from .variants import normalise

# Lists name, version and location of every distribution on the interpreter's path, leaving out the folder
# given as argument (the plugin's own packages).
_LIST = """
import json, os, sys
from importlib import metadata
leave_out = os.path.realpath(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] else None
found = {}
for distribution in metadata.distributions():
    name = distribution.metadata["Name"]
    location = os.path.realpath(str(distribution.locate_file("")))
    if not name or (leave_out and (location + os.sep).startswith(leave_out + os.sep)):
        continue
    found.setdefault(name, [distribution.version, location])
print(json.dumps(found))
"""
# A public PEP 440 version (and a local label such as +cpu): anything else cannot be a pip constraint.
_VERSION = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$", re.I)


def installed_distributions(python: Interpreter, leave_out: Path | None = None) -> dict[str, tuple[str, str]]:
    """Normalised name -> (version, location) of what ``python`` can import, without ``leave_out``."""
    try:
        completed = subprocess.run([str(python.path), "-c", _LIST, str(leave_out or "")], capture_output=True,
                                   text=True, timeout=120, **hidden_window())
        listed = json.loads(completed.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as error:
        raise InstallError(f"Could not list the packages of QGIS's Python ({python.path}): {error}") from error
    return {normalise(name): (version, location) for name, (version, location) in listed.items()}


# Never replaced, whatever is installed: numpy (GDAL's bindings are built against its major version), GDAL,
# and Qt's bindings and QGIS.
ALWAYS_PROTECTED = ("numpy", "gdal", "pyqt5", "pyqt5-sip", "pyqt6", "pyqt6-sip", "sip", "qscintilla", "qgis")


def protected_names(installed: dict[str, tuple[str, str]]) -> set[str]:
    """What QGIS relies on: the packages above and every distribution this process (QGIS) has imported."""
    names = {name for name in ALWAYS_PROTECTED if name in installed}
    try:
        from importlib.metadata import packages_distributions
    except ImportError:  # Python 3.9: only the packages above
        return names
    by_module = packages_distributions()
    for module in list(sys.modules):
        names.update(normalise(d) for d in by_module.get(module.split(".")[0], ()) if normalise(d) in installed)
    return names


def constraint_lines(installed: dict[str, tuple[str, str]], only: set[str] | None = None) -> list[str]:
    """``name==version`` for every installed distribution (or those in ``only``) whose version pip can read.

    Versions such as 0.0.0 (a packaging error: Debian 12's mpmath says so) are left out: pinning them would
    only make pip refuse whatever needs the package."""
    return sorted(f"{name}=={version}" for name, (version, _) in installed.items()
                  if _VERSION.match(version) and version.strip("0.") and (only is None or name in only))
