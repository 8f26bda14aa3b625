"""The detector's ONNX export with its contract embedded, verified in the function that writes it.

The model is exported (opset 18; batch, height and width dynamic; outputs ``boxes`` and ``scores``, the anchors
layout) under a temporary name next to the target; before it is renamed into place: ``onnx.checker`` accepts it,
onnxruntime and torch agree on a batch size and a non-square shape other than the export sample's (boxes within
``tolerance`` pixels, scores within ``tolerance``), and the plugin's own detector loader reads back exactly the
contract that was written. Any failure raises ModelError and leaves nothing at the target path.

The TorchScript exporter is used by default: it exports the anchors' dynamic shapes in seconds where the
torch.export one takes some twenty (both files pass the same verification; ``dynamo=True`` asks for the latter).
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._plugin import atomic, contract, detection, errors
from ..export import OPSET, _quiet_exporter, strip_debug_info

LOG = logging.getLogger("seamless_segmentation.training")
INPUT, OUTPUTS = "image", ("boxes", "scores")
_AXES = {0: "batch", 2: "height", 3: "width"}


@dataclass(frozen=True)
class DetectorExportCheck:
    """What the verification measured."""

    max_box_difference: float  # pixels
    max_score_difference: float
    checked_shape: tuple[int, int, int, int]
    bytes: int


def export_detector(model: torch.nn.Module, model_contract: contract.ModelContract, path: str | Path,
                    tolerance: float = 1e-3, dynamo: bool = False) -> DetectorExportCheck:
    """Write ``model`` to ``path`` as ONNX with ``model_contract`` embedded, verified, atomically."""
    module = copy.deepcopy(model).cpu().eval()
    tile = model_contract.tile_size or 256
    sample = torch.zeros(1, model_contract.input.bands, tile, tile)
    with atomic.AtomicOutputs() as outputs:
        temporary = outputs.temporary_for(path)
        _write(module, sample, temporary, dynamo)
        _embed(temporary, model_contract)
        check = verify_detector(temporary, module, model_contract, tuple(sample.shape), tolerance)
        outputs.commit()
    LOG.info("Exported %s (%.1f MB): onnxruntime matches torch within %.2g px and %.2g in score on %s.", path,
             check.bytes / 1e6, check.max_box_difference, check.max_score_difference, check.checked_shape)
    return check


def _write(module: torch.nn.Module, sample: torch.Tensor, path: str, dynamo: bool) -> None:
    options: dict[str, Any]
    if dynamo:
        dims = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
        options = {"dynamo": True, "dynamic_shapes": (dims,), "external_data": False}
    else:
        per_box = {0: "batch", 1: "anchors"}
        options = {"dynamo": False, "dynamic_axes": {INPUT: _AXES, OUTPUTS[0]: per_box, OUTPUTS[1]: per_box}}
    try:
        with _quiet_exporter():
            torch.onnx.export(module, (sample,), path, input_names=[INPUT], output_names=list(OUTPUTS),
                              opset_version=OPSET, verbose=False, **options)
    except Exception as error:  # noqa: BLE001 - the exporters raise many kinds
        raise errors.ModelError(f"ONNX export of the detector failed: {error}") from error


def _embed(path: str, model_contract: contract.ModelContract) -> None:
    """Name the dynamic axes, drop the exporter's debug records and store the contract as metadata."""
    import onnx

    model = onnx.load(path)
    strip_debug_info(model)
    for axis, name in _AXES.items():
        model.graph.input[0].type.tensor_type.shape.dim[axis].dim_param = name
    for value in model.graph.output:
        for axis, name in ((0, "batch"), (1, "anchors")):
            value.type.tensor_type.shape.dim[axis].dim_param = name
    entries = {p.key: p.value for p in model.metadata_props}
    entries.update(model_contract.metadata_entries())
    onnx.helper.set_model_props(model, entries)
    onnx.save(model, path)


def verify_detector(path: str | Path, module: torch.nn.Module, expected: contract.ModelContract,
                    export_shape: tuple[int, ...], tolerance: float = 1e-3) -> DetectorExportCheck:
    """Check the written file against the torch module and the contract; raise ModelError on any mismatch."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as error:
        raise errors.ModelError(f"The exported detector fails the ONNX checker: {error}") from error
    loaded = detection.load_detector(path, "cpu")
    if not loaded.origin.embedded or loaded.contract != expected:
        raise errors.ModelError("The contract read back from the exported detector differs from the one written: "
                                f"{loaded.contract.to_dict()} != {expected.to_dict()}.")
    batch, bands, height, width = export_shape
    shape = (batch + 1, bands, height + 32, width + 64)
    probe = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        reference = [t.numpy() for t in module.cpu().eval()(torch.from_numpy(probe))]
    produced = loaded.predictor.predict(probe)
    if [p.shape for p in produced] != [r.shape for r in reference]:
        raise errors.ModelError(f"The exported detector outputs {[p.shape for p in produced]} for input {shape}; torch "
                                f"gives {[r.shape for r in reference]}.")
    boxes = float(np.abs(produced[0] - reference[0]).max())
    scores = float(np.abs(produced[1] - reference[1]).max())
    size = float(max(height, width))
    if boxes > tolerance * max(size, float(np.abs(reference[0]).max())) or scores > tolerance:
        raise errors.ModelError(f"onnxruntime and torch disagree by up to {boxes:.3g} px in boxes and {scores:.3g} in "
                                f"scores on input {shape}; the export is not faithful.")
    return DetectorExportCheck(boxes, scores, shape, Path(path).stat().st_size)
