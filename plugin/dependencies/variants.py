"""What can be installed: onnxruntime in one variant per kind of hardware, and the training packages."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from .install_error import InstallError
from .interpreter import hidden_window


@dataclass(frozen=True)
class Variant:
    """One onnxruntime build: what pip installs and where it runs."""

    key: str
    title: str
    requirements: tuple[str, ...]
    platforms: tuple[str, ...]  # sys.platform values it exists for; empty: every platform


VARIANTS = {
    "cpu": Variant("cpu", "CPU (every platform; on macOS with CoreML)", ("onnxruntime>=1.16",), ()),
    # CUDA and cuDNN come as pip wheels (the extras), so no system CUDA installation is needed; the
    # plugin preloads them with onnxruntime.preload_dlls() (1.21 and later).
    "nvidia": Variant("nvidia", "NVIDIA GPU (CUDA and cuDNN from pip)", ("onnxruntime-gpu[cuda,cudnn]>=1.21",),
                      ("linux", "win32")),
    "directml": Variant("directml", "Any DirectX 12 GPU on Windows (DirectML)", ("onnxruntime-directml>=1.16",),
                        ("win32",)),
    "openvino": Variant("openvino", "Intel CPU, GPU or NPU (OpenVINO)", ("onnxruntime-openvino>=1.16",),
                        ("linux", "win32")),
}
VARIANT_KEYS = ("auto", *VARIANTS)
TRAINING_REQUIREMENTS = ("torch>=2.1", "onnx>=1.16", "onnxscript>=0.1")
# Every distribution that provides the module ``onnxruntime``: two of them in one place break each other.
ONNXRUNTIME_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino",
                             "onnxruntime-rocm", "onnxruntime-migraphx", "onnxruntime-qnn", "onnxruntime-silicon",
                             "onnxruntime-training")


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement ("onnxruntime-gpu[cuda]>=1.21" -> "onnxruntime-gpu")."""
    name = requirement.split(";")[0]
    for stop in "[<>=!~ ":
        name = name.split(stop)[0]
    return normalise(name)


def normalise(name: str) -> str:
    """PEP 503 normalisation: case and runs of - _ . do not matter."""
    return "-".join(part for part in name.replace("_", "-").replace(".", "-").lower().split("-") if part)


def nvidia_gpu() -> str | None:
    """The NVIDIA GPUs nvidia-smi lists (one per line), or None when there is no NVIDIA driver to ask."""
    if sys.platform.startswith("linux") and not os.path.exists("/proc/driver/nvidia/version"):
        return None
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, **hidden_window())
    except (OSError, subprocess.SubprocessError):
        return None
    if listed.returncode != 0 or not listed.stdout.strip():
        return None
    return listed.stdout.strip()


def choose_variant(key: str, platform: str | None = None) -> tuple[Variant, str]:
    """The variant for ``key`` (``auto``: NVIDIA when an NVIDIA GPU answers, else CPU) and why it was chosen."""
    platform = platform or sys.platform
    if key == "auto":
        gpus = nvidia_gpu() if platform in ("linux", "win32") else None
        if gpus:
            return VARIANTS["nvidia"], f"auto: NVIDIA GPU found ({gpus.splitlines()[0]})"
        return VARIANTS["cpu"], "auto: no NVIDIA GPU found (nvidia-smi did not answer), so the CPU build"
    variant = VARIANTS.get(key)
    if variant is None:
        raise InstallError(f"Unknown variant '{key}'. Choose one of: {', '.join(VARIANT_KEYS)}.")
    if variant.platforms and platform not in variant.platforms:
        raise InstallError(f"The {variant.title} build of onnxruntime does not exist for this platform "
                           f"({platform}); it exists for {', '.join(variant.platforms)}. Choose 'cpu' or 'auto'.")
    return variant, f"{variant.key}: chosen"
