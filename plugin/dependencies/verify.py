"""Checking an installation in a separate process of QGIS's Python, before it is put to use.

The check imports what was installed with the folder appended to ``sys.path`` exactly as the plugin does
when it loads, lists onnxruntime's execution providers, and makes sure GDAL's bindings still import next to
numpy (the failure an upgraded numpy causes). A crash there cannot take QGIS down.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .install_error import InstallError
from .interpreter import Interpreter, hidden_window

_CHECK = """
import json, os, site, sys
folder = sys.argv[1]
if folder:  # as the plugin does (layout.add_to_path): before the first site-packages folder
    site.addsitedir(folder)
    sys.path.remove(folder)
    ends = ("site-packages", "dist-packages")
    first = next((i for i, p in enumerate(sys.path) if p.rstrip("/" + chr(92)).endswith(ends)), len(sys.path))
    sys.path.insert(first, folder)
report = {}
import numpy
report["numpy"] = [numpy.__version__, numpy.__file__]
try:
    from osgeo import gdal, gdal_array
    report["gdal"] = gdal.__version__
except ImportError as error:
    report["gdal_error"] = str(error)
import onnxruntime
report["onnxruntime"] = [onnxruntime.__version__, onnxruntime.__file__]
report["providers"] = list(onnxruntime.get_available_providers())
if sys.argv[2] == "training":
    import onnx, onnxscript, torch
    report["torch"] = [torch.__version__, torch.__file__, bool(torch.cuda.is_available())]
    report["onnx"] = onnx.__version__
print("SEAMLESS-CHECK " + json.dumps(report))
"""


def verify(python: Interpreter, folder: Path | None, training: bool, gdal_expected: bool,
           timeout: float = 600) -> dict:
    """What the installation in ``folder`` (None: QGIS's Python as it is) offers: versions, providers.
    InstallError when it does not work."""
    try:
        completed = subprocess.run([str(python.path), "-c", _CHECK, str(folder or ""), "training" if training else "-"],
                                   capture_output=True, text=True, timeout=timeout, **hidden_window())
    except (OSError, subprocess.SubprocessError) as error:
        raise InstallError(f"The installed packages could not be checked with {python.path}: {error}.") from error
    marked = [line for line in completed.stdout.splitlines() if line.startswith("SEAMLESS-CHECK ")]
    if completed.returncode != 0 or not marked:
        last = (completed.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise InstallError(f"The installed packages do not work in QGIS's Python: {last}. They were not put to "
                           "use; nothing was changed.")
    report = json.loads(marked[-1].split(" ", 1)[1])
    if folder is not None and not Path(report["onnxruntime"][1]).resolve().is_relative_to(folder.resolve()):
        raise InstallError(f"QGIS's Python imports onnxruntime from {report['onnxruntime'][1]}, not from the new "
                           "installation; remove that copy first.")
    if gdal_expected and "gdal_error" in report:
        raise InstallError(f"With the new packages GDAL's Python bindings no longer import "
                           f"({report['gdal_error']}); they were not put to use.")
    return report
