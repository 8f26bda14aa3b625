"""onnxruntime-gpu on a machine without a GPU: a real build that lists CUDA and TensorRT but cannot start them.

The wheel (the same version as the installed onnxruntime, without its CUDA dependencies) goes into a
temporary folder once per test session; tests put that folder first on ``sys.path`` of a subprocess.
"""
from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=None)
def _install() -> tuple[Path | None, str]:
    folder = Path(tempfile.mkdtemp(prefix="seamless-onnxruntime-gpu-"))
    atexit.register(shutil.rmtree, folder, True)
    requirement = f"onnxruntime-gpu=={metadata.version('onnxruntime')}"
    completed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                                str(folder), requirement], capture_output=True, text=True, timeout=1200)
    if completed.returncode != 0:
        return None, f"{requirement} could not be installed: {completed.stderr.strip()[-500:]}"
    return folder, ""


def onnxruntime_gpu_site() -> Path:
    """The folder holding onnxruntime-gpu; the test is skipped (with pip's reason) when it cannot be had."""
    folder, reason = _install()
    if folder is None:
        pytest.skip(reason)
    return folder


def run_with_gpu_build(code: str, *arguments: str) -> dict:
    """Run ``code`` in a fresh Python with onnxruntime-gpu first on its path; it prints one JSON line last."""
    site = onnxruntime_gpu_site()
    prelude = f"import sys\nsys.path[:0] = [{str(site)!r}, {str(REPO)!r}, {str(REPO / 'tests')!r}]\n"
    completed = subprocess.run([sys.executable, "-c", prelude + code, *arguments], capture_output=True, text=True,
                               timeout=600, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])
