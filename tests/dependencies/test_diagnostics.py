"""seamless:diagnostics reports this machine as it is: versions, providers, GPUs, libraries, package folder."""
from __future__ import annotations

import shutil
import sys
from importlib import metadata

import numpy as np
import pytest

from tests.support.data import REPO
from tests.support.gpu_build import run_with_gpu_build


@pytest.fixture(scope="module")
def diagnosed(provider, tmp_path_factory) -> dict:
    import processing

    folder = tmp_path_factory.mktemp("diagnostics")
    results = processing.run("seamless:diagnostics", {"OUTPUT_HTML": str(folder / "report.html"),
                                                      "OUTPUT_TEXT": str(folder / "report.txt")})
    return {**results, "html": (folder / "report.html").read_text(encoding="utf-8"),
            "text": (folder / "report.txt").read_text(encoding="utf-8")}


def _row(report: str, name: str) -> str:
    line = next(line for line in report.splitlines() if line.startswith(name + ": "))
    return line.split(": ", 1)[1]


def test_versions_are_the_real_ones(diagnosed):
    import onnxruntime
    from osgeo import gdal
    from qgis.core import Qgis
    from qgis.PyQt.QtCore import QT_VERSION_STR

    report = diagnosed["REPORT"]
    assert _row(report, "QGIS") == Qgis.version()
    assert _row(report, "Qt") == QT_VERSION_STR
    assert _row(report, "numpy").startswith(np.__version__ + " (")
    assert _row(report, "GDAL").startswith(gdal.__version__)
    assert _row(report, "onnxruntime").startswith(onnxruntime.__version__)
    assert _row(report, "package") == f"onnxruntime {metadata.version('onnxruntime')}"
    assert _row(report, "available providers") == ", ".join(onnxruntime.get_available_providers())
    version = next(line.split("=", 1)[1] for line in (REPO / "metadata.txt").read_text().splitlines()
                   if line.startswith("version="))
    assert _row(report, "plugin version") == version


def test_a_cpu_build_says_it_has_no_gpu_provider(diagnosed):
    assert "none in this onnxruntime build (CPU only)" in _row(diagnosed["REPORT"], "GPU providers")


def test_the_gpu_line_says_what_nvidia_smi_said(diagnosed):
    line = _row(diagnosed["REPORT"], "GPU (nvidia-smi)")
    if shutil.which("nvidia-smi") is None:
        assert line.startswith("nvidia-smi not found")
    else:
        assert "not found" not in line


def test_torch_and_the_package_folder_are_reported(diagnosed):
    import torch

    report = diagnosed["REPORT"]
    assert _row(report, "torch").startswith(torch.__version__ + ";")
    assert _row(report, "folder").endswith(f"seamless_segmentation_deps/python3.{sys.version_info[1]}")
    assert _row(report, "installed").startswith("nothing")


def test_text_file_and_html_hold_the_same_report(diagnosed):
    assert diagnosed["text"] == diagnosed["REPORT"]
    html = diagnosed["html"]
    assert html.startswith("<html>") and "<h2>onnxruntime</h2>" in html
    assert "CPUExecutionProvider" in html


def test_html_escapes_what_it_reports():
    from plugin.dependencies.diagnostics import Report, Section

    report = Report([Section("GPU", [("name", "<script>alert(1)</script> & co")])])
    assert "<script>" not in report.html() and "&lt;script&gt;" in report.html()
    assert "<script>alert(1)</script> & co" in report.text()


@pytest.mark.slow
def test_on_a_gpu_build_each_gpu_provider_is_tried_and_the_reason_given():
    rows = run_with_gpu_build("import json\nfrom plugin.dependencies.diagnostics import onnxruntime_rows\n"
                              "print(json.dumps(dict(onnxruntime_rows())))")
    assert f"onnxruntime-gpu {metadata.version('onnxruntime')}" in rows["package"]
    if "," in rows["package"]:  # the test's own onnxruntime is visible too: the report warns about two
        assert "more than one onnxruntime package" in rows["warning"]
    assert rows["CUDAExecutionProvider"].startswith("cannot start a session: ")
    assert "cannot open shared object file" in rows["CUDAExecutionProvider"]
    assert rows["TensorrtExecutionProvider"].startswith("cannot start a session: ")
