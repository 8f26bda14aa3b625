"""onnxruntime, imported lazily here and nowhere else in the plugin.

``DEVICE`` picks the execution provider: ``auto`` takes the best one this onnxruntime build has
(TensorRT, CUDA, DirectML, CoreML, ROCm, OpenVINO, then CPU); a named device (``cpu``, ``cuda``,
``cuda:1``, ``tensorrt``, ``directml``, ``coreml``, ``rocm``, ``openvino``, or a full provider name)
must be available or the run stops with a message saying how to get it. Nothing falls back to the
CPU silently: the provider that actually runs is checked and logged, and when ``auto`` cannot start a
provider this onnxruntime lists, :attr:`OnnxModel.warnings` says which one and why.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, ModelError, RuntimeUnavailableError
from ..progress import LOG
from .contract_sources import ModelIO, TensorInfo
from .provider_probe import NEEDS_CUDA, preload_cuda_libraries, why_not_started

INSTALL_HINT = ("In QGIS, install it with Plugins > Seamless Segmentation > Install dependencies, or from a shell: "
                "qgis_process run seamless:installdependencies -- VARIANT=cpu (NVIDIA GPUs: VARIANT=nvidia). "
                "Outside QGIS, in the environment that runs this command: pip install onnxruntime. See "
                "docs/install.md.")

DEVICE_PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "directml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
AUTO_ORDER = ("tensorrt", "cuda", "directml", "coreml", "rocm", "openvino", "cpu")
_GPU_PACKAGES = {"cuda": "onnxruntime-gpu (CUDA 12 or 13 and cuDNN 9, see docs/install.md)",
                 "tensorrt": "onnxruntime-gpu with TensorRT libraries",
                 "directml": "onnxruntime-directml (Windows)", "coreml": "onnxruntime (macOS build)",
                 "rocm": "onnxruntime-rocm", "openvino": "onnxruntime-openvino"}


def import_onnxruntime() -> Any:
    """The onnxruntime module, or a RuntimeUnavailableError with the install command."""
    try:
        import onnxruntime
    except ImportError as error:
        raise RuntimeUnavailableError(f"onnxruntime is not installed or cannot be imported ({error}). "
                                      f"{INSTALL_HINT}") from error
    return onnxruntime


def available_providers() -> list[str]:
    """Execution providers of the installed onnxruntime (empty when it is missing)."""
    try:
        return list(import_onnxruntime().get_available_providers())
    except RuntimeUnavailableError:
        return []


@dataclass(frozen=True)
class DeviceChoice:
    """Providers to ask for, in order, and what the user asked for."""

    requested: str
    providers: list[Any]  # names or (name, options) pairs


def parse_device(device: str, available: list[str]) -> DeviceChoice:
    """Translate ``DEVICE`` into onnxruntime providers, or explain why it cannot run here."""
    text = (device or "auto").strip()
    if text.lower() == "auto":
        best: list[Any] = [DEVICE_PROVIDERS[d] for d in AUTO_ORDER if DEVICE_PROVIDERS[d] in available]
        return DeviceChoice("auto", best or ["CPUExecutionProvider"])
    name, _, index = text.partition(":")
    key = name.lower()
    provider = DEVICE_PROVIDERS.get(key) or next((p for p in available if p.lower() == key), None)
    if provider is None and key.endswith("executionprovider"):
        provider = text.partition(":")[0]
    if provider is None or (index and not index.isdigit()):
        known = ", ".join(["auto", *DEVICE_PROVIDERS, "cuda:N"])
        raise InputError(f"DEVICE '{device}' is not known. Use one of: {known}, or an onnxruntime provider "
                         f"name. Available here: {', '.join(available) or 'none'}.")
    if provider not in available:
        package = _GPU_PACKAGES.get(key, "an onnxruntime build with that provider")
        raise RuntimeUnavailableError(
            f"DEVICE '{device}' needs {provider}, which this onnxruntime does not have (available: "
            f"{', '.join(available) or 'none'}). Install {package}, or use DEVICE=auto or DEVICE=cpu.")
    options = {"device_id": int(index)} if index else {}
    chosen: list[Any] = [(provider, options) if options else provider]
    if provider != "CPUExecutionProvider":
        chosen.append("CPUExecutionProvider")  # for the few operators a GPU provider lacks
    return DeviceChoice(text, chosen)


def _provider_name(provider: Any) -> str:
    return provider[0] if isinstance(provider, tuple) else provider


def _tensor_info(node: Any) -> TensorInfo:
    shape = tuple(d if isinstance(d, int) else (d or None) for d in node.shape)
    dtype = str(node.type).replace("tensor(", "").rstrip(")")
    return TensorInfo(node.name, shape, "float32" if dtype == "float" else dtype)


_FLOAT_INPUTS = {"float32": np.float32, "float16": np.float16, "double": np.float64}


def _input_dtype(info: TensorInfo, name: str) -> type:
    """The numpy type the model's image input takes; integer or other inputs are refused clearly."""
    if info.dtype not in _FLOAT_INPUTS:
        raise ModelError(f"The model '{name}' takes its image as tensor({info.dtype}); only float32, float16 and "
                         "float64 image inputs are supported (normalised values are real numbers). Export the "
                         "model with a float input, casting inside the model if it needs integers.")
    return _FLOAT_INPUTS[info.dtype]


class OnnxModel:
    """An onnxruntime session with the model's description, running batches of any size."""

    def __init__(self, path: str | os.PathLike, device: str = "auto", threads: int = 0) -> None:
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"The model file '{path}' does not exist; choose an .onnx file.")
        ort = import_onnxruntime()
        self.path = path
        self.device = parse_device(device, list(ort.get_available_providers()))
        self.warnings: list[str] = []  # what the user should know about the device, e.g. a fallback
        if any(_provider_name(p) in NEEDS_CUDA for p in self.device.providers):
            preload_cuda_libraries(ort)  # CUDA and cuDNN from pip's wheels: no system CUDA installation needed
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        # Idle workers must not spin: the read-ahead and write-behind threads need the cores between runs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No pre-planned block for all activations: the arena reuses freed tensors instead. Measured on one
        # 1008 px window of the bundled model: peak 554 instead of 904 MiB, run time the same (0.98x).
        options.enable_mem_pattern = False
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=self.device.providers)
        except Exception as error:  # onnxruntime raises its own exception types for bad files
            raise ModelError(f"'{path.name}' is not a model onnxruntime can load ({type(error).__name__}: "
                             f"{str(error).splitlines()[0][:300]}). Choose an ONNX segmentation model.") from error
        self._check_provider()
        self._note_fallback(ort)
        self.io = ModelIO(tuple(_tensor_info(n) for n in self.session.get_inputs()),
                          tuple(_tensor_info(n) for n in self.session.get_outputs()))
        self._input = self.io.inputs[0]
        self._output_names: list[str] = [o.name for o in self.io.outputs]
        # Some exports declare a dynamic batch but reshape to a fixed one inside: trust the outputs too.
        fixed = [size for t in (self._input, *self.io.outputs) if len(t.shape) >= 3 and (size := t.fixed(0))]
        self._fixed_batch = min(fixed) if fixed else None
        self._input_dtype = _input_dtype(self._input, path.name)

    def _check_provider(self) -> None:
        active = self.session.get_providers()
        first = self.device.providers[0]
        wanted = first[0] if isinstance(first, tuple) else first
        if self.device.requested != "auto" and active[0] != wanted:
            options = first[1] if isinstance(first, tuple) else None
            raise RuntimeUnavailableError(
                f"DEVICE '{self.device.requested}' was requested but onnxruntime could not start {wanted} "
                f"({why_not_started(import_onnxruntime(), wanted, options)}; it would run on {active[0]}). Check "
                "the GPU driver and CUDA/cuDNN libraries (seamless:diagnostics shows what is missing), or use "
                "DEVICE=auto or DEVICE=cpu.")

    def _note_fallback(self, ort: Any) -> None:
        """DEVICE=auto: a warning, with the reason, for each provider it wanted that did not start."""
        active = self.session.get_providers()
        wanted = [_provider_name(p) for p in self.device.providers]
        if self.device.requested != "auto" or active[0] not in wanted:
            return
        for provider in wanted[:wanted.index(active[0])]:
            message = (f"DEVICE=auto: {provider} is in this onnxruntime but could not start "
                       f"({why_not_started(ort, provider)}), so the model runs on {active[0]}. seamless:diagnostics "
                       "shows what is missing; DEVICE=cpu runs on the CPU without this warning.")
            LOG.warning(message)
            self.warnings.append(message)

    @property
    def provider(self) -> str:
        """The execution provider that runs the model."""
        return self.session.get_providers()[0]

    def use_outputs(self, names: list[str | None]) -> None:
        """Run only these outputs, in this order (None: the output at that position)."""
        known = [o.name for o in self.io.outputs]
        chosen = []
        for position, name in enumerate(names):
            if name is None:
                name = known[position] if position < len(known) else None
            if name not in known:
                raise ModelError(f"The contract names output '{name}', but the model's outputs are {known}.")
            chosen.append(name)
        self._output_names = chosen

    def predict(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run a (B, C, H, W) batch; models with a fixed batch size get it in chunks of that size."""
        batch = batch.astype(self._input_dtype, copy=False)
        step = self._fixed_batch or len(batch)
        if step == len(batch):
            return [np.asarray(o, np.float32) for o in self._run(batch)]
        parts = []
        for start in range(0, len(batch), step):
            chunk = batch[start:start + step]
            missing = step - len(chunk)
            if missing:  # a fixed batch size: fill the last chunk with copies, drop their results
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], missing, axis=0)])
            parts.append([np.asarray(o, np.float32)[:step - missing] for o in self._run(chunk)])
        return [np.concatenate([p[k] for p in parts]) for k in range(len(self._output_names))]

    def _run(self, batch: np.ndarray) -> list[Any]:
        try:
            return self.session.run(self._output_names, {self._input.name: batch})
        except Exception as error:  # onnxruntime raises its own exception types (bad shapes, failing kernels)
            first_line = (str(error).splitlines() or [""])[0][:400]
            raise ModelError(f"The model '{self.path.name}' failed on a batch of shape {list(batch.shape)} "
                             f"({type(error).__name__}: {first_line}). Check that WINDOW_SIZE and the bands suit "
                             "the model, or try DEVICE=cpu.") from error
