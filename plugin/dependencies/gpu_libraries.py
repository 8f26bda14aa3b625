"""The NVIDIA side of a machine: GPUs nvidia-smi reports, and the CUDA and cuDNN libraries that can be found."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .interpreter import hidden_window

# Library name stems onnxruntime-gpu (CUDA, TensorRT) and torch load.
CUDA_LIBRARIES = ("cudart", "cublas", "cublasLt", "cudnn", "cufft", "curand", "nvrtc", "nvinfer")


def nvidia_smi() -> list[str]:
    """One line per GPU (name, driver, memory), or a single line saying why there is none."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ["nvidia-smi not found: no NVIDIA driver is installed, or nvidia-smi is not on PATH"]
    try:
        completed = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                                   capture_output=True, text=True, timeout=30, **hidden_window())
    except (OSError, subprocess.SubprocessError) as error:
        return [f"nvidia-smi ({smi}) failed: {error}"]
    lines = [line.strip() for line in completed.stdout.splitlines() if line.strip()]
    if completed.returncode != 0 or not lines:
        reason = (completed.stderr.strip() or completed.stdout.strip() or f"exit code {completed.returncode}")
        return [f"nvidia-smi ({smi}) found no GPU: {' '.join(reason.split())[:300]}"]
    return lines


def _library_pattern() -> re.Pattern:
    stems = "|".join(CUDA_LIBRARIES)
    if sys.platform == "win32":
        return re.compile(rf"^({stems})(64)?_?[\d_]*\.dll$", re.IGNORECASE)
    return re.compile(rf"^lib({stems})\.so(\.[\d.]+)?$")


def _search_folders() -> list[Path]:
    folders: list[Path] = []
    for entry in sys.path:  # pip's NVIDIA wheels: <site>/nvidia/<component>/lib (bin on Windows)
        nvidia = Path(entry or ".") / "nvidia"
        if nvidia.is_dir():
            folders += [p for p in nvidia.glob("*/lib")] + [p for p in nvidia.glob("*/bin")]
    variables = ("PATH", "CUDA_PATH") if sys.platform == "win32" else ("LD_LIBRARY_PATH", "CUDA_HOME", "CUDA_PATH")
    for variable in variables:
        for part in os.environ.get(variable, "").split(os.pathsep):
            if part:
                folders += [Path(part), Path(part) / ("bin" if sys.platform == "win32" else "lib64")]
    if sys.platform.startswith("linux"):
        folders += [Path("/usr/local/cuda/lib64"), Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib64")]
    unique: list[Path] = []
    for folder in folders:
        if folder.is_dir() and folder not in unique:
            unique.append(folder)
    return unique


def cuda_libraries() -> dict[str, list[str]]:
    """Library stem -> the files found for it (at most three each); stems with no file are left out."""
    pattern = _library_pattern()
    found: dict[str, list[str]] = {}
    for folder in _search_folders():
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            match = pattern.match(name)
            if match:
                stem = next(s for s in CUDA_LIBRARIES if s.lower() == match.group(1).lower())
                paths = found.setdefault(stem, [])
                if len(paths) < 3:
                    paths.append(str(folder / name))
    return found
