"""Loading a model that gives one result per window (a classifier, a per-cell regressor, an encoder)."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import ContractError, ModelError
from ..model.contract_cells import other_algorithm
from ..model.contract_sources import ModelIO, cell_output_channels, resolve_contract
from ..model.loading import LoadedModel, ModelShape, model_metadata, read_sidecar
from ..model.onnx_file import scan_onnx_file
from ..model.runtime import OnnxModel

TASK_NAMES = {"classification": "a classifier (or per-cell regressor)", "embedding": "an embedding model (encoder)"}


def fixed_input_size(io: ModelIO) -> int | None:
    """The model's fixed square input size, None when its spatial axes are dynamic."""
    image = io.inputs[0]
    height, width = image.fixed(2), image.fixed(3)
    if height is not None and width is not None and height != width:
        raise ModelError(f"The model's input is {height} x {width}; only square windows are supported.")
    return height if height is not None and height == width else None


def load_cell_model(path: str | os.PathLike, task: str, device: str = "auto",
                    sidecar: str | os.PathLike | None = None, threads: int = 0) -> LoadedModel:
    """Open a model of ``task`` ("classification" or "embedding") and resolve its contract. A model whose
    sources name no task is taken to be one (a sidecar can say so); a model of another task is refused with the
    algorithm that runs it."""
    summary = scan_onnx_file(path)
    sidecar_text = read_sidecar(sidecar)
    metadata = model_metadata(summary)
    runtime = OnnxModel(Path(path), device, threads)
    contract, origin = resolve_contract(runtime.io, metadata, sidecar_text,
                                        f"CONTRACT file '{sidecar}'" if sidecar else "CONTRACT sidecar", task)
    if contract.task != task:
        raise ModelError(f"'{Path(path).name}' is a {contract.task} model (task '{contract.task}' in its contract), "
                         f"not {TASK_NAMES[task]}: run it with {other_algorithm(contract.task)}.")
    if len(contract.outputs) > len(runtime.io.outputs):
        raise ContractError(f"The contract describes {len(contract.outputs)} outputs but the model has "
                            f"{len(runtime.io.outputs)}.")
    runtime.use_outputs([o.name for o in contract.outputs])
    by_name = {o.name: o for o in runtime.io.outputs}
    used = [by_name.get(spec.name or "") or runtime.io.outputs[i] for i, spec in enumerate(contract.outputs)]
    channels = [cell_output_channels(info) for info in used]
    for spec, info, count in zip(contract.outputs, used, channels):
        expected = 1 if spec.class_count == 2 and count == 1 else spec.class_count
        if spec.class_count and count is not None and count != expected:
            raise ModelError(f"Output '{info.name}' gives {count} value(s) per window but the contract lists "
                             f"{spec.class_count} classes; fix outputs[].classes in a CONTRACT sidecar.")
    fixed = fixed_input_size(runtime.io)
    return LoadedModel(runtime, contract, origin, ModelShape(fixed, None, tuple(c or 0 for c in channels)))


def declared_model_task(path: str | os.PathLike, sidecar: str | os.PathLike | None, default: str) -> str:
    """The task a model file's metadata (and sidecar) declare, read without loading the model (``default`` when
    none is declared): a cheap first check of parameters."""
    from ..model.contract import METADATA_KEY, parse_json_object
    from ..model.contract_sources import declared_task

    metadata = model_metadata(scan_onnx_file(path))
    sidecar_text = read_sidecar(sidecar)
    embedded = metadata.get(METADATA_KEY)
    documents = [parse_json_object(embedded, f"the model's '{METADATA_KEY}' metadata") if embedded else None,
                 parse_json_object(sidecar_text, "CONTRACT sidecar") if sidecar_text is not None else None]
    return declared_task(metadata, documents, default)


def require_task(path: str | os.PathLike, sidecar: str | os.PathLike | None, task: str) -> None:
    """Refuse, before anything is loaded, a model whose metadata declare another task than ``task``."""
    found = declared_model_task(path, sidecar, task)
    if found != task:
        raise ModelError(f"'{Path(path).name}' is a {found} model (task '{found}' in its contract), not "
                         f"{TASK_NAMES[task]}: run it with {other_algorithm(found)}.")
