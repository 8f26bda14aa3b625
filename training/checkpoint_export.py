"""Any checkpoint a run wrote exports to ONNX: ``best.pt`` (the kept weights) or ``last.pt`` (the last epoch).

Both carry what the exporter needs besides the weights: the contract (classes, bands, normalisation,
validation figures of those weights), the band and class counts and the spectral-index pairs. The
context margin is measured on the exported weights themselves: ``best.pt`` holds the measured value;
``last.pt`` (written every epoch, where measuring would cost time) holds a real normalised validation
chip, and the margin is measured on it when the checkpoint is exported.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from . import checkpoint
from ._plugin import contract, errors, output_paths, preprocess
from .config import TrainConfig, from_mapping
from .data.prepare import PreparedData
from .export import ExportCheck, export_onnx
from .model_contract import build_contract
from .nets import SegmentationModel, build_model, describe
from .nets.indices import SpectralIndices
from .receptive_field import measure_context_margin
from .validation import Evaluation

if TYPE_CHECKING:
    from .cells.export import ClassifierExportCheck


def index_pairs(model: SegmentationModel) -> list[list[int]]:
    """The (first, second) band positions of each spectral index computed inside the model."""
    if model.indices is None:
        return []
    return [[int(a), int(b)] for a, b in zip(model.indices.first.tolist(), model.indices.second.tolist())]


def margin_sample(data: PreparedData) -> torch.Tensor:
    """A real normalised chip to measure the receptive field on (the first validation window; the first
    training chip when there is no validation area)."""
    if not data.validation.windows:
        raw, valid = data.train.images[0] if data.train.images else data.scene.read_image(data.train.refs[0])
    elif data.validation.images is not None:
        raw, valid = data.validation.images[0]
    else:
        raw, valid = data.scene.read_image(data.validation.windows[0].read)
    return torch.from_numpy(preprocess.normalise(raw, data.input, valid)).unsqueeze(0)


def last_epoch_fields(model: SegmentationModel, data: PreparedData, config: TrainConfig, evaluation: Evaluation,
                      epochs: dict[str, Any], sample: torch.Tensor) -> dict[str, Any]:
    """What ``last.pt`` carries so that it exports on its own: the contract of these weights and a chip."""
    model_contract = build_contract(config, data, describe(config.model, model), model.size_multiple, evaluation,
                                    epochs, (0, 0))
    return {"contract": model_contract.to_json(), "bands": data.input.bands, "class_count": len(data.classes.classes),
            "index_pairs": checkpoint.to_json(index_pairs(model)), "margin_sample": sample}


def export_checkpoint(path: str | Path, output: str | Path) -> ExportCheck | ClassifierExportCheck:
    """Export ``best.pt`` or ``last.pt`` of a run to ONNX (contract embedded, verified)."""
    output_paths.require_extension("--output", output, (".onnx",), "the exported model")
    output_paths.check_outputs({"--output": output}, {"--checkpoint": path})
    content = checkpoint.load(path)
    if "contract" not in content:
        raise errors.InputError(f"'{path}' holds no contract: it was written before checkpoints carried one. "
                                "Export the best.pt of that run, or train again.")
    model_contract = contract.ModelContract.from_json(content["contract"], str(path))
    config = from_mapping(checkpoint.from_json(content["config"]), str(path))
    if config.is_classifier:  # a tile classifier's best.pt: its own network and export
        from .cells.export import export_classifier_checkpoint

        return export_classifier_checkpoint(content, model_contract, config, output)
    pairs = [tuple(p) for p in checkpoint.from_json(content["index_pairs"])]
    spec = model_contract.input
    layer = SpectralIndices(spec.mean, spec.std, pairs) if pairs else None
    model_config = replace(config.model, encoder_weights=None)  # the checkpoint holds every weight
    classes = int(content["class_count"] if "class_count" in content else content["classes"])
    model = build_model(model_config, int(content["bands"]), classes, layer)
    model.load_state_dict(content["model"])
    model.eval()
    if "margin_sample" in content:
        model_contract = _with_measured_margin(model, model_contract, content["margin_sample"])
    return export_onnx(model, model_contract, output)


def _with_measured_margin(model: SegmentationModel, model_contract: contract.ModelContract,
                          sample: torch.Tensor) -> contract.ModelContract:
    margin, measured = measure_context_margin(model, sample, model.size_multiple, model_contract.tile_size or 256)
    provenance = {**model_contract.provenance, "context_margin_measured_px": measured}
    return model_contract.with_overrides(context_margin=margin, provenance=provenance)
