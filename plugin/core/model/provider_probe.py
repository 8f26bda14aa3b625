"""Why an execution provider does not start, found out for real.

onnxruntime leaves a GPU provider out of a session without raising when its libraries are missing
(it writes a line to the console and runs on the CPU). To tell the user why, the provider is tried alone
on a one-node model with onnxruntime's fallback switched off, and its shared library is loaded directly,
which names the library that is missing. Used when ``DEVICE=auto`` falls back and by the diagnostics.
"""
from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
from dataclasses import dataclass
from typing import Any

# Providers that run somewhere else than onnxruntime's own CPU code (Azure is a remote-call helper).
ACCELERATED = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "DmlExecutionProvider",
               "CoreMLExecutionProvider", "ROCMExecutionProvider", "MIGraphXExecutionProvider",
               "OpenVINOExecutionProvider", "QNNExecutionProvider")
NEEDS_CUDA = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
_LIBRARIES = {"CUDAExecutionProvider": "onnxruntime_providers_cuda",
              "TensorrtExecutionProvider": "onnxruntime_providers_tensorrt",
              "OpenVINOExecutionProvider": "onnxruntime_providers_openvino",
              "ROCMExecutionProvider": "onnxruntime_providers_rocm",
              "MIGraphXExecutionProvider": "onnxruntime_providers_migraphx",
              "QNNExecutionProvider": "onnxruntime_providers_qnn"}
_preloaded: dict[int, str] = {}


@dataclass(frozen=True)
class ProviderCheck:
    """Whether a session starts on ``provider``, and why not."""

    provider: str
    works: bool
    reason: str = ""


def _field(number: int, payload: bytes | int) -> bytes:
    """One protobuf field: varint for ints, length-delimited for bytes."""
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def tiny_model() -> bytes:
    """An ONNX model with one Relu node on a float32 vector of 4: enough to start a session on any provider."""
    shape = _field(2, _field(1, _field(1, 4)))  # TensorShapeProto with one dimension of 4
    tensor = _field(1, _field(1, 1) + shape)  # TypeProto.tensor_type, elem_type FLOAT
    value = {name: _field(1, name.encode()) + _field(2, tensor) for name in ("x", "y")}
    node = _field(1, b"x") + _field(2, b"y") + _field(4, b"Relu")
    graph = _field(1, node) + _field(2, b"probe") + _field(11, value["x"]) + _field(12, value["y"])
    return _field(1, 7) + _field(7, graph) + _field(8, _field(2, 13))  # IR 7, opset 13


def preload_cuda_libraries(ort: Any) -> str:
    """Load CUDA and cuDNN from pip's NVIDIA wheels (onnxruntime-gpu 1.21+), once; what it printed."""
    key = id(ort)
    if key not in _preloaded:
        printed = io.StringIO()
        preload = getattr(ort, "preload_dlls", None)
        if preload is not None:
            with contextlib.redirect_stdout(printed):
                try:
                    preload()
                except Exception as error:  # noqa: BLE001 - any failure is reported, never fatal
                    print(f"preload_dlls failed: {error}")
        _preloaded[key] = printed.getvalue().strip()
    return _preloaded[key]


def library_problem(ort: Any, provider: str) -> str | None:
    """The error of loading the provider's own shared library (e.g. a missing CUDA library), or None."""
    stem = _LIBRARIES.get(provider)
    if stem is None:
        return None
    folder = os.path.join(os.path.dirname(ort.__file__), "capi")
    name = f"{stem}.dll" if sys.platform == "win32" else f"lib{stem}.dylib" if sys.platform == "darwin" \
        else f"lib{stem}.so"
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return f"{name} is not part of this onnxruntime installation"
    try:
        ctypes.CDLL(path)
    except OSError as error:
        return str(error)
    return None


def session_problem(ort: Any, provider: str, options: dict | None = None) -> str | None:
    """The error of starting a session on ``provider`` alone, with no fallback to the CPU, or None."""

    class _NoFallback(ort.InferenceSession):
        def _create_inference_session(self, *args: Any, **kwargs: Any) -> Any:
            self.disable_fallback()
            return super()._create_inference_session(*args, **kwargs)

    settings = ort.SessionOptions()
    settings.log_severity_level = 4
    try:
        session = _NoFallback(tiny_model(), sess_options=settings,
                              providers=[(provider, options) if options else provider])
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own types
        return " ".join(str(error).split())[:500]
    if provider not in session.get_providers():
        return f"onnxruntime left it out and started with {', '.join(session.get_providers())}"
    return None


def why_not_started(ort: Any, provider: str, options: dict | None = None) -> str:
    """The most telling reason ``provider`` does not start here."""
    library = library_problem(ort, provider)
    reasons = [library, session_problem(ort, provider, options)]
    if provider in NEEDS_CUDA and _preloaded.get(id(ort)) and not library:
        reasons.append("preloading CUDA said: " + " ".join(_preloaded[id(ort)].split())[:300])
    found = [r for r in reasons if r]
    return "; ".join(found) if found else "it starts on a test model, but onnxruntime did not use it for this one"


def check_providers(ort: Any) -> list[ProviderCheck]:
    """For every accelerated provider this onnxruntime lists: does a session start on it?"""
    checks = []
    for provider in ort.get_available_providers():
        if provider not in ACCELERATED:
            continue
        if provider in NEEDS_CUDA:
            preload_cuda_libraries(ort)
        problem = session_problem(ort, provider)
        checks.append(ProviderCheck(provider, problem is None, why_not_started(ort, provider) if problem else ""))
    return checks
