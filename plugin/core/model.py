"""Loading a model for a run: the session, its resolved contract and its spatial layout."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .contract import ModelContract
from .contract_sources import ContractOrigin, ModelIO, output_channels, resolve_contract
from .errors import ContractError, ModelError
from .plan import ModelShape
from .runtime import OnnxModel


@dataclass
class LoadedModel:
    """A ready-to-run model with everything known about it."""

    runtime: OnnxModel
    contract: ModelContract
    origin: ContractOrigin
    shape: ModelShape


def read_sidecar(path: str | os.PathLike | None) -> str | None:
    """The text of a CONTRACT sidecar file, or None when none is given."""
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ContractError(f"Cannot read the CONTRACT file '{path}': {error.strerror or error}.") from error


def check_model_file(path: str | os.PathLike) -> Path:
    """A clear error for a missing file or a file that is plainly not ONNX, before onnxruntime sees it."""
    model = Path(path) if path else None
    if model is None or not model.is_file():
        raise ModelError(f"The model file '{path}' does not exist; choose an .onnx model file.")
    with open(model, "rb") as handle:
        head = handle.read(64)
    looks_like_text = all(byte in b"\t\n\r" or 32 <= byte < 127 for byte in head)
    if not head or looks_like_text:
        raise ModelError(f"'{model.name}' is not an ONNX model (it looks like a text file). Choose the "
                         ".onnx file exported from your training framework.")
    return model


def spatial_shape(io: ModelIO, contract: ModelContract) -> ModelShape:
    """The model's fixed input size (if any), output size and channels per used output."""
    image = io.inputs[0]
    height, width = image.fixed(2), image.fixed(3)
    fixed = height if height is not None and height == width else None
    if height is not None and width is not None and height != width:
        raise ModelError(f"The model's input is {height} x {width}; only square windows are supported.")
    by_name = {o.name: o for o in io.outputs}
    used = [by_name.get(spec.name) or io.outputs[i] for i, spec in enumerate(contract.outputs)]
    sizes = {o.fixed(-1) for o in used}
    output_size = sizes.pop() if len(sizes) == 1 else None
    return ModelShape(fixed_size=fixed, output_size=output_size if fixed else None,
                      raw_channels=tuple(output_channels(o) for o in used))


def load_model(path: str | os.PathLike, device: str = "auto", sidecar: str | os.PathLike | None = None,
               threads: int = 0) -> LoadedModel:
    """Open the model, resolve its contract (shapes, Deepness keys, embedded JSON, sidecar)."""
    model_path = check_model_file(path)
    sidecar_text = read_sidecar(sidecar)
    runtime = OnnxModel(model_path, device, threads)
    contract, origin = resolve_contract(runtime.io, runtime.metadata, sidecar_text,
                                        f"CONTRACT file '{sidecar}'" if sidecar else "CONTRACT sidecar")
    if len(contract.outputs) > len(runtime.io.outputs):
        raise ContractError(f"The contract describes {len(contract.outputs)} outputs but the model has "
                            f"{len(runtime.io.outputs)}.")
    runtime.use_outputs([o.name for o in contract.outputs])
    return LoadedModel(runtime, contract, origin, spatial_shape(runtime.io, contract))
