"""Evaluate an exported ONNX model on labelled data, exactly as the plugin would run it.

The model's embedded contract decides the normalisation and the classes; the data and the
validation area come from a training configuration, so ``evaluate`` with the configuration a model
was trained with scores it on the same held-out area. ``--all`` scores every labelled pixel
instead (for labels the model has never seen).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._plugin import contract, errors
from ._plugin import model as model_loader
from ._plugin import progress as progress_module
from .config import TrainConfig
from .data.labels import ClassTable
from .data.prepare import PreparedData, prepare_validation
from .distributed import DistState
from .losses import SegmentationLoss
from .validation import Evaluation, evaluate

Progress = progress_module.Progress


class OnnxPredictor:
    """Logits of an ONNX segmentation model for normalised batches: the plugin's own model loader
    (the same contract resolution, checks and onnxruntime session as Classify raster), on the CPU."""

    def __init__(self, path: str | Path) -> None:
        loaded = model_loader.load_model(path, "cpu")
        self.runtime, self.contract = loaded.runtime, loaded.contract
        if self.contract.outputs[0].kind not in ("logits", "probabilities", "auto"):
            raise errors.ModelError(f"'{path}' outputs {self.contract.outputs[0].kind}; only multi-class models "
                                    "(logits or probabilities) can be evaluated here.")

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.runtime.predict(images.cpu().numpy())[0])


def evaluate_model(model_path: str | Path, config: TrainConfig, progress: Progress,
                   all_labels: bool = False) -> tuple[Evaluation, PreparedData, contract.ModelContract]:
    """Score the ONNX model on the configuration's validation area (or on every labelled pixel)."""
    predictor = OnnxPredictor(model_path)
    model_contract = predictor.contract
    if model_contract.input.bands != len(config.data.bands or []) and config.data.bands:
        raise errors.InputError(f"The model takes {model_contract.input.bands} bands; data.bands lists "
                                f"{len(config.data.bands)}.")
    classes = ClassTable(model_contract.outputs[0].classes)
    data = prepare_validation(config, progress, classes, all_labels)
    if data.input.bands != model_contract.input.bands:
        raise errors.InputError(f"The model takes {model_contract.input.bands} bands; the image gives "
                                f"{data.input.bands}. Choose the bands with data.bands.")
    data = replace(data, input=model_contract.input)
    state = DistState(0, 1, 0, torch.device("cpu"))
    evaluation = evaluate(predictor, data, SegmentationLoss(), model_contract.size_multiple,
                          max((config.training.batch_size or 8) // 2, 1), state)
    return evaluation, data, model_contract


def summary_lines(evaluation: Evaluation, names: dict[int, str]) -> list[str]:
    """Human-readable lines: overall figures, then one line per class."""
    scores = evaluation.scores
    lines = [f"pixels {scores.total}  OA {scores.overall_accuracy:.4f}  kappa {scores.kappa:.4f}  "
             f"mIoU {scores.mean_iou:.4f}"]
    for index, value in enumerate(scores.values):
        lines.append(f"  {value:>5} {names.get(value, str(value)):<20} IoU {_text(scores.iou[index])}  "
                     f"precision {_text(scores.users_accuracy[index])}  "
                     f"recall {_text(scores.producers_accuracy[index])}")
    return lines


def _text(value: float) -> str:
    return "  n/a " if np.isnan(value) else f"{value:.4f}"


def evaluation_document(evaluation: Evaluation, data: PreparedData, model_path: str | Path) -> dict[str, Any]:
    """JSON-ready result of an evaluation."""
    return {"model": str(model_path), "validation": evaluation.summary(data.classes.names),
            "confusion_matrix": {"values": list(evaluation.confusion.values),
                                 "matrix": evaluation.confusion.matrix.tolist()},
            "data": data.provenance()}
