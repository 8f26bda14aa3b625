"""Loading a model for a run: the session, its resolved contract and its spatial layout."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import ContractError, ModelError
from .contract import METADATA_KEY, ModelContract
from .contract_cells import other_algorithm
from .contract_sources import DEEPNESS_KEYS, ContractOrigin, ModelIO, output_channels, resolve_contract
from .contract_validation import MAX_CONTRACT_BYTES
from .onnx_file import OnnxFileSummary, scan_onnx_file
from .runtime import OnnxModel


@dataclass(frozen=True)
class ModelShape:
    """What the runtime knows of the model's spatial layout."""

    fixed_size: int | None  # the fixed square input size; None when the spatial axes are dynamic
    output_size: int | None  # fixed output size when it differs from the input (valid convolutions)
    raw_channels: tuple[int, ...]  # channels of each output, as the model emits them
    measured_margin: int | None = None  # context margin measured when the run is planned (for models without one)


@dataclass
class LoadedModel:
    """A ready-to-run model with everything known about it."""

    runtime: OnnxModel
    contract: ModelContract
    origin: ContractOrigin
    shape: ModelShape


def read_sidecar(path: str | os.PathLike | None) -> str | None:
    """The text of a CONTRACT sidecar file, or None when none is given.

    Only regular files of a sane size are read (a FIFO or device would block or never end), as UTF-8.
    """
    if not path:
        return None
    sidecar = Path(path)
    try:
        info = sidecar.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ContractError(f"The CONTRACT '{path}' is not a regular file (a folder, device or pipe); give the "
                                "JSON file with the model contract.")
        if info.st_size > MAX_CONTRACT_BYTES:
            raise ContractError(f"The CONTRACT file '{path}' is {info.st_size / 1e6:.1f} MB; a model contract is a "
                                "few kB of JSON. Check that the right file was given.")
        data = sidecar.read_bytes()
    except OSError as error:
        raise ContractError(f"Cannot read the CONTRACT file '{path}': {error.strerror or error}.") from error
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ContractError(f"The CONTRACT file '{path}' is not UTF-8 text (byte {error.start} cannot be decoded); "
                            "save it as UTF-8 JSON.") from error


def check_model_file(path: str | os.PathLike) -> Path:
    """A clear error for a missing, empty, damaged or non-ONNX file, before onnxruntime sees it."""
    scan_onnx_file(path)
    return Path(path)


def model_metadata(summary: OnnxFileSummary) -> dict[str, str]:
    """The metadata the contract is built from; refuses a contract key too large to be a contract."""
    for key, size in summary.oversized_metadata.items():
        if key == METADATA_KEY or key in DEEPNESS_KEYS:
            raise ContractError(f"The model's metadata '{key}' is {size / 1e6:.1f} MB; a model contract is a few kB. "
                                "The model file is damaged or was written wrongly; export it again.")
    return dict(summary.metadata)


def spatial_shape(io: ModelIO, contract: ModelContract) -> ModelShape:
    """The model's fixed input size (if any), output size and channels per used output."""
    image = io.inputs[0]
    height, width = image.fixed(2), image.fixed(3)
    fixed = height if height is not None and height == width else None
    if height is not None and width is not None and height != width:
        raise ModelError(f"The model's input is {height} x {width}; only square windows are supported.")
    by_name = {o.name: o for o in io.outputs}
    used = [by_name.get(spec.name or "") or io.outputs[i] for i, spec in enumerate(contract.outputs)]
    sizes = {o.fixed(-1) for o in used}
    output_size = sizes.pop() if len(sizes) == 1 else None
    return ModelShape(fixed_size=fixed, output_size=output_size if fixed else None,
                      raw_channels=tuple(output_channels(o) for o in used))


def load_model(path: str | os.PathLike, device: str = "auto", sidecar: str | os.PathLike | None = None,
               threads: int = 0) -> LoadedModel:
    """Open the model, resolve its contract (shapes, Deepness keys, embedded JSON, sidecar)."""
    summary = scan_onnx_file(path)
    sidecar_text = read_sidecar(sidecar)
    metadata = model_metadata(summary)
    runtime = OnnxModel(Path(path), device, threads)
    contract, origin = resolve_contract(runtime.io, metadata, sidecar_text,
                                        f"CONTRACT file '{sidecar}'" if sidecar else "CONTRACT sidecar")
    if contract.task != "segmentation":
        what = "an object detector" if contract.task == "detection" else f"a '{contract.task}' model"
        raise ModelError(f"'{Path(path).name}' is {what} (task '{contract.task}' in its contract), not a "
                         f"segmentation model: run it with {other_algorithm(contract.task)}, not Classify raster.")
    if len(contract.outputs) > len(runtime.io.outputs):
        raise ContractError(f"The contract describes {len(contract.outputs)} outputs but the model has "
                            f"{len(runtime.io.outputs)}.")
    runtime.use_outputs([o.name for o in contract.outputs])
    return LoadedModel(runtime, contract, origin, spatial_shape(runtime.io, contract))
