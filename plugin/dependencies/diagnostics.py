"""The diagnostics report a user pastes into a bug report: versions, onnxruntime and its providers (and
whether a session really starts on each GPU provider), CUDA libraries, GPUs, torch, the plugin's package
folder. As text and as HTML.

The QGIS, Qt and GDAL lines come from the caller (plugin/processing); everything here needs only the standard
library, imports numpy and onnxruntime only to report on them, asks torch in a separate process, and
tolerates any failure.
"""
from __future__ import annotations

import configparser
import html
import importlib.util
import json
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .gpu_libraries import cuda_libraries, nvidia_smi
from .install_error import InstallError
from .interpreter import find_python, hidden_window
from .layout import folder_size, profile_folder

PLUGIN_ROOT = Path(__file__).resolve().parents[2]
Rows = list[tuple[str, str]]


@dataclass
class Section:
    title: str
    rows: Rows = field(default_factory=list)


@dataclass
class Report:
    """Sections of (name, value) rows."""

    sections: list[Section]

    def text(self) -> str:
        lines = ["Seamless Segmentation diagnostics"]
        for section in self.sections:
            lines += ["", f"## {section.title}"]
            lines += [f"{name}: " + value.replace("\n", "\n    ") for name, value in section.rows]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        parts = ["<html><head><meta charset='utf-8'><title>Seamless Segmentation diagnostics</title></head><body>",
                 "<h1>Seamless Segmentation diagnostics</h1>"]
        for section in self.sections:
            parts.append(f"<h2>{html.escape(section.title)}</h2><table>")
            parts += [f"<tr><th align='left' valign='top'>{html.escape(name)}</th><td>"
                      f"{html.escape(value).replace(chr(10), '<br>')}</td></tr>" for name, value in section.rows]
            parts.append("</table>")
        return "\n".join(parts + ["</body></html>"]) + "\n"

    def value(self, title: str, name: str) -> str | None:
        """The value of row ``name`` in section ``title`` (None when absent)."""
        for section in self.sections:
            if section.title == title:
                return next((v for n, v in section.rows if n == name), None)
        return None


def plugin_version() -> str:
    metadata = configparser.ConfigParser()
    metadata.read(PLUGIN_ROOT / "metadata.txt", encoding="utf-8")
    return metadata.get("general", "version", fallback="unknown")


def python_rows() -> Rows:
    try:
        interpreter = str(find_python().path)
    except InstallError as error:
        interpreter = str(error)
    return [("Python", sys.version.replace("\n", " ")), ("sys.executable", sys.executable or "(empty)"),
            ("Python interpreter found for pip", interpreter), ("Platform", platform.platform())]


def _guarded(rows: Rows, name: str, function) -> None:
    try:
        rows.append((name, function()))
    except Exception as error:  # noqa: BLE001 - a report never fails
        rows.append((name, f"error: {type(error).__name__}: {error}"))


def library_rows() -> Rows:
    rows: Rows = []

    def numpy_version() -> str:
        import numpy
        return f"{numpy.__version__} ({numpy.__file__})"

    _guarded(rows, "numpy", numpy_version)
    return rows


def onnxruntime_rows() -> Rows:
    if importlib.util.find_spec("onnxruntime") is None:
        return [("onnxruntime", "not installed (Plugins > Seamless Segmentation > Install dependencies)")]
    from ..core.model.provider_probe import check_providers
    from ..core.model.runtime import import_onnxruntime

    ort = import_onnxruntime()
    distributions = [d for d in ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino",
                                 "onnxruntime-rocm", "onnxruntime-silicon") if _distribution_version(d)]
    rows = [("onnxruntime", f"{ort.__version__} ({Path(ort.__file__).parent})"),
            ("package", ", ".join(f"{d} {_distribution_version(d)}" for d in distributions) or "unknown")]
    if len(distributions) > 1:
        rows.append(("warning", "more than one onnxruntime package is installed: only the first on Python's path "
                                "is used, and in one folder they overwrite each other's files; keep one"))
    rows += [("device", str(ort.get_device())), ("available providers", ", ".join(ort.get_available_providers()))]
    checks = check_providers(ort)
    rows += [(check.provider, "a session starts" if check.works else f"cannot start a session: {check.reason}")
             for check in checks]
    if not checks:
        rows.append(("GPU providers", "none in this onnxruntime build (CPU only); for an NVIDIA GPU install the "
                                      "nvidia variant (Install dependencies)"))
    return rows


def _distribution_version(name: str) -> str | None:
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def gpu_rows() -> Rows:
    rows = [("GPU (nvidia-smi)", "\n".join(nvidia_smi()))]
    libraries = cuda_libraries()
    rows += [(f"lib {stem}", "\n".join(paths)) for stem, paths in libraries.items()]
    if not libraries:
        rows.append(("CUDA/cuDNN libraries", "none found (pip's NVIDIA wheels, LD_LIBRARY_PATH/PATH, CUDA_PATH, "
                                             "/usr/local/cuda)"))
    return rows


# torch as QGIS's Python imports it (the same path), in its own process: importing torch is slow and heavy.
_TORCH = """
import json, sys
sys.path[:] = json.loads(sys.argv[1])
import torch
usable = torch.cuda.is_available()
names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if usable else []
print(json.dumps([torch.__version__, torch.version.cuda, usable, names]))
"""


def torch_rows() -> Rows:
    if importlib.util.find_spec("torch") is None:
        return [("torch", "not installed (needed for training only)")]
    python = find_python()
    completed = subprocess.run([str(python.path), "-c", _TORCH, json.dumps(sys.path)], capture_output=True,
                               text=True, timeout=300, **hidden_window())
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no message"])[-1]
        return [("torch", f"installed but does not import: {last}")]
    version, cuda, usable, names = json.loads(completed.stdout.strip().splitlines()[-1])
    described = f"{version}; built with CUDA {cuda or 'none (CPU build)'}; CUDA usable: {usable}"
    return [("torch", described + (f"; {', '.join(names)}" if names else ""))]


def dependency_rows(profile_dir: str | None) -> Rows:
    if not profile_dir:
        return [("folder", "unknown (no QGIS profile)")]
    folder = profile_folder(profile_dir)
    installation = folder.installation()
    rows = [("folder", str(folder.path))]
    if installation is None:
        return rows + [("installed", "nothing: the packages come from QGIS's Python itself")]
    packages = ", ".join(f"{n} {v}" for n, v in installation.packages.items())
    return rows + [("installed", f"{installation.variant}{' + training' if installation.training else ''} on "
                                 f"{installation.installed_at}, {folder_size(installation.site) / 1e6:.0f} MB"),
                   ("packages", packages), ("on sys.path", str(str(installation.site) in sys.path)),
                   ("newer than QGIS's Python's", ", ".join(f"{n} (QGIS's Python: {v})" for n, v in
                                                            installation.overrides.items()) or "none")]


def collect(qgis_rows: Rows, profile_dir: str | None) -> Report:
    """The whole report; ``qgis_rows`` are QGIS's and Qt's own lines."""
    return Report([Section("QGIS", qgis_rows + [("plugin version", plugin_version())]),
                   Section("Python", python_rows() + library_rows()),
                   Section("onnxruntime", _safe(onnxruntime_rows)),
                   Section("GPU", _safe(gpu_rows)),
                   Section("torch", _safe(torch_rows)),
                   Section("Plugin packages", _safe(lambda: dependency_rows(profile_dir)))])


def _safe(function) -> Rows:
    try:
        return function()
    except Exception as error:  # noqa: BLE001 - a report never fails
        return [("error", f"{type(error).__name__}: {error}")]
