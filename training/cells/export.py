"""The tile classifier's ONNX export with its contract embedded, verified in the function that writes it.

The model takes windows of the training size only (the cell and its border; dynamic batch), written under a
temporary name next to the target; then, before it is renamed into place, ``onnx.checker`` accepts it,
onnxruntime and torch agree on a batch of another size than the export sample's, and the plugin's own cell model
loader (the one Classify tiles uses) reads back exactly the contract that was written. Any failure raises
``ModelError`` and leaves nothing at the target path.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._plugin import atomic, cell_loading, contract, errors
from ..config import TrainConfig
from ..export import OPSET, _quiet_exporter, dynamo_available, strip_debug_info

INPUT_NAME, OUTPUT_NAME = "image", "logits"


@dataclass(frozen=True)
class ClassifierExportCheck:
    """What the verification measured."""

    max_abs_difference: float
    class_agreement: float
    checked_shape: tuple[int, int, int, int]
    bytes: int


def export_classifier(model: torch.nn.Module, model_contract: contract.ModelContract, path: str | Path,
                      tolerance: float = 1e-3) -> ClassifierExportCheck:
    """Write ``model`` to ``path`` as ONNX with ``model_contract`` embedded, verified, atomically."""
    module = copy.deepcopy(model).cpu().eval()
    size = int(model_contract.tile_size or 0)
    sample = torch.zeros(2, model_contract.input.bands, size, size)
    with atomic.AtomicOutputs() as outputs:
        temporary = outputs.temporary_for(path)
        _write(module, sample, temporary)
        _embed(temporary, model_contract)
        check = verify_classifier(temporary, module, model_contract, tolerance)
        outputs.commit()
    return check


def _write(module: torch.nn.Module, sample: torch.Tensor, path: str) -> None:
    options: dict[str, Any]
    if dynamo_available():
        options = {"dynamo": True, "dynamic_shapes": ({0: torch.export.Dim.DYNAMIC},), "external_data": False}
    else:
        options = {"dynamo": False, "dynamic_axes": {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}}
    try:
        with _quiet_exporter():
            torch.onnx.export(module, (sample,), path, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              opset_version=OPSET, verbose=False, **options)
    except Exception as error:  # noqa: BLE001 - the exporters raise many kinds
        raise errors.ModelError(f"ONNX export of the classifier failed: {error}") from error


def _embed(path: str, model_contract: contract.ModelContract) -> None:
    """Name the batch axis, drop the exporter's debug records and store the contract as metadata."""
    import onnx

    model = onnx.load(path)
    strip_debug_info(model)
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    entries = {p.key: p.value for p in model.metadata_props}
    entries.update(model_contract.metadata_entries())
    onnx.helper.set_model_props(model, entries)
    onnx.save(model, path)


def verify_classifier(path: str | Path, module: torch.nn.Module, expected: contract.ModelContract,
                      tolerance: float = 1e-3) -> ClassifierExportCheck:
    """Check the written file against the torch module and the contract; raise ModelError on any mismatch."""
    import onnx
    import onnxruntime

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as error:
        raise errors.ModelError(f"The exported classifier fails the ONNX checker: {error}") from error
    size = int(expected.tile_size or 0)
    shape = (5, expected.input.bands, size, size)
    probe = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        reference = module(torch.from_numpy(probe)).numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    produced = session.run([OUTPUT_NAME], {INPUT_NAME: probe})[0]
    if produced.shape != reference.shape:
        raise errors.ModelError(f"The exported classifier outputs {produced.shape} for input {shape}; torch gives "
                                f"{reference.shape}.")
    difference = float(np.abs(produced - reference).max())
    if difference > tolerance * max(1.0, float(np.abs(reference).max())):
        raise errors.ModelError(f"onnxruntime and torch disagree by up to {difference:.3g} on input {shape}; the "
                                "export is not faithful.")
    loaded = cell_loading.load_cell_model(path, "classification", "cpu")
    if not loaded.origin.embedded or loaded.contract != expected:
        raise errors.ModelError("The contract read back from the exported classifier differs from the one written: "
                                f"{loaded.contract.to_dict()} != {expected.to_dict()}.")
    agreement = float((produced.argmax(1) == reference.argmax(1)).mean())
    return ClassifierExportCheck(difference, agreement, shape, Path(path).stat().st_size)


def export_classifier_checkpoint(content: dict[str, Any], model_contract: contract.ModelContract, config: TrainConfig,
                                 output: str | Path) -> ClassifierExportCheck:
    """A tile classifier's ``best.pt`` (weights, contract, configuration) exported again, verified."""
    from dataclasses import replace

    from ..nets.classifiers import build_classifier

    classes = len(model_contract.outputs[0].classes)
    model = build_classifier(replace(config.model, encoder_weights=None), model_contract.input.bands, classes)
    model.load_state_dict(content["model"])
    return export_classifier(model.eval(), model_contract, output)
