"""Training a detector end to end: prepare the objects, train the RetinaNet, score the test area once, export it
with its contract (verified) and write the report; what ``api.train`` runs for ``architecture: retinanet``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import checkpoint
from .._plugin import contract, output_paths
from .._plugin import progress as progress_module
from ..config import TrainConfig
from ..data import split as split_module
from ..distributed import single_process_device
from ..model_contract import plain
from ..nets.retinanet import RetinaNet, anchor_plan
from ..nets.weights import load_encoder_weights
from ..trainer import seed_everything
from .data import DetectionData
from .evaluate import DetectionEvaluation, evaluate_detector
from .export import DetectorExportCheck, export_detector
from .labels import read_objects
from .model_contract import detector_contract
from .prepare import prepare_detection, prepare_detection_test
from .report import write_detection_report
from .trainer import DetectionFit, DetectionTrainer, EpochCallback

Progress = progress_module.Progress


@dataclass
class DetectionOutcome:
    """The result of :func:`train_detector`."""

    fit: DetectionFit
    contract: contract.ModelContract
    model_path: Path
    report_path: Path
    export_check: DetectorExportCheck
    test_evaluation: DetectionEvaluation | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        scores = self.fit.best_evaluation.scores
        return {"map50": self.fit.best_evaluation.map50, "map50_95": scores.map50_95, "precision": scores.precision,
                "recall": scores.recall, "f1": scores.f1, "score_threshold": self.fit.best_evaluation.threshold}


def make_detector(config: TrainConfig, data: DetectionData) -> RetinaNet:
    """The RetinaNet for the data's bands and classes, anchors fitted to the training objects."""
    training = data.objects.select(data.roles == split_module.TRAIN)
    sizes = training.boxes[:, 2:] - training.boxes[:, :2]
    plan = anchor_plan(np.sqrt(sizes.prod(axis=1)), sizes[:, 1] / sizes[:, 0], config.detection.aspect_ratios)
    detection = config.detection
    model = RetinaNet(data.input.bands, len(data.classes), plan, detection.backbone, detection.fpn_channels,
                      detection.head_convs, config.model.width)
    if config.model.encoder_weights:
        load_encoder_weights(model.backbone, config.model.encoder_weights)
    return model


def check_detector_outputs(config: TrainConfig) -> None:
    """Refuse, before any work, a model or report path that would replace one of the run's inputs."""
    output_paths.require_extension("the model path (--model, OUTPUT_MODEL)", config.model_path, (".onnx",),
                                   "the trained detector")
    output_paths.require_extension("the report path (--report, OUTPUT_REPORT)", config.report_path,
                                   (".html", ".htm"), "the training report")
    output_paths.check_outputs(
        {"the model (--model, OUTPUT_MODEL)": config.model_path, "the report (--report, OUTPUT_REPORT)":
         config.report_path, "the report's JSON copy": config.report_path.with_suffix(".json")},
        {"the image (--image, INPUT)": config.data.image, "the labels (--labels, LABELS)": config.data.labels,
         "the validation layer": config.validation.layer, "the test layer": config.test.layer})


def train_detector(config: TrainConfig, progress: Progress | None = None, on_epoch: EpochCallback | None = None,
                   search: dict[str, Any] | None = None) -> DetectionOutcome:
    """Prepare, train, score the test area, export (verified) and report."""
    progress = progress or progress_module.LoggingProgress()
    check_detector_outputs(config)
    device = single_process_device(config.training.device, "Detectors")
    progress.info(f"Training a RetinaNet ({config.detection.backbone}) on {device}.")
    seed_everything(config.training.seed)
    data = prepare_detection(config, progress)
    model = make_detector(config, data)
    fit = DetectionTrainer(model, data, config, progress, device, on_epoch).fit()
    model.load_state_dict(fit.best_state)
    model.cpu().eval()
    threshold = fit.best_evaluation.threshold
    test = _score_test_area(config, data, model, threshold, progress)
    provenance = {"architecture": describe_detector(config, model), "training_data": data.provenance(),
                  "validation": fit.best_evaluation.scores.to_dict(_names(data), curves=False),
                  "selection": "best epoch by validation mAP@0.5; score threshold: "
                               + ("given" if config.detection.score_threshold is not None else
                                  "the best validation F1's"),
                  "epochs": {"planned": config.training.epochs, "run": len(fit.history), "best": fit.best_epoch},
                  "training": {k: getattr(config.training, k) for k in (
                      "batch_size", "learning_rate", "weight_decay", "schedule", "d4", "brightness", "contrast",
                      "seed")}, "chip_size": data.chip_size,
                  **({"test": test.scores.to_dict(_names(data), curves=False)} if test else {}),
                  **({"search": search} if search else {})}
    model_contract = detector_contract(config, data, threshold, provenance)
    check = export_detector(model, model_contract, config.model_path)
    progress.info(f"Detector written to {config.model_path}: onnxruntime matches torch within "
                  f"{check.max_box_difference:.2g} px.")
    if config.output.checkpoints:
        checkpoint.save(Path(config.output.folder) / "best.pt", {
            "model": fit.best_state, "contract": model_contract.to_json(), "config": checkpoint.to_json(
                config.to_dict()), "anchors": checkpoint.to_json(model.plan.to_dict())})
    report = _report(config, data, fit, model, check, test, search)
    write_detection_report(config.report_path, report,
                           png_folder=Path(config.output.folder) if config.output.report is None else None)
    progress.info(f"Report written to {config.report_path}.")
    return DetectionOutcome(fit, model_contract, config.model_path, config.report_path, check, test)


def _names(data: DetectionData) -> dict[int, str]:
    return {i: c.name for i, c in enumerate(data.classes)}


def describe_detector(config: TrainConfig, model: RetinaNet) -> dict[str, Any]:
    detection = config.detection
    return {"architecture": "retinanet", "backbone": detection.backbone, "fpn_channels": detection.fpn_channels,
            "head_convs": detection.head_convs, "width": config.model.width,
            "encoder_weights": config.model.encoder_weights and Path(config.model.encoder_weights).name,
            "anchors": model.plan.to_dict(), "parameters": sum(p.numel() for p in model.parameters()),
            "implementation": "plain PyTorch after Lin et al. 2017 and torchvision's design (torchvision not used)"}


def _score_test_area(config: TrainConfig, data: DetectionData, model: RetinaNet, threshold: float,
                     progress: Progress) -> DetectionEvaluation | None:
    """The chosen weights scored once on the test area, at the chosen threshold (None without a test area)."""
    windows = prepare_detection_test(config, data, progress)
    if windows is None:
        return None
    objects = read_objects(config.data.labels or "", config.data.label_field, data.image.grid, config.data.label_layer,
                           config.detection.point_size)
    evaluation_contract = detector_contract(config, data, threshold)
    result = evaluate_detector(model, data, windows, evaluation_contract, _same_classes(objects, data),
                               torch.device("cpu"), threshold)
    scores = result.scores
    progress.info(f"Test area (never used for training or selection): mAP@0.5 {result.map50:.1%}, F1 {scores.f1:.1%} "
                  f"(precision {scores.precision:.1%}, recall {scores.recall:.1%}) at score {threshold:.2f}.")
    return result


def _same_classes(objects: Any, data: DetectionData) -> Any:
    """Objects with their class indices in the training data's class table (classes it lacks are left out)."""
    values = [c.value for c in data.classes]
    own = np.array([values.index(objects.class_table[i].value) if objects.class_table[i].value in values else -1
                    for i in objects.classes], np.int64)
    kept = own >= 0
    return type(objects)(objects.boxes[kept], own[kept], data.classes, objects.points)


def _report(config: TrainConfig, data: DetectionData, fit: DetectionFit, model: RetinaNet,
            check: DetectorExportCheck, test: DetectionEvaluation | None, search: dict[str, Any] | None) -> dict:
    names = _names(data)
    return plain({
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "model_path": str(config.model_path),
        "architecture": describe_detector(config, model),
        "run": {"epochs_planned": config.training.epochs, "epochs_run": len(fit.history), "best_epoch": fit.best_epoch,
                "cancelled": fit.cancelled, "stopped_early": fit.stopped_early,
                "train_seconds": round(fit.train_seconds, 2), "chips_per_second": round(fit.chips_per_second, 2),
                "seconds_per_epoch": round(fit.seconds_per_epoch, 2), "wall_seconds": round(fit.wall_seconds, 2)},
        "validation": fit.best_evaluation.scores.to_dict(names),
        **({"test": test.scores.to_dict(names)} if test else {}), **({"search": search} if search else {}),
        "history": fit.history, "training_data": data.provenance(),
        "export": {"max_box_difference_px": check.max_box_difference, "max_score_difference":
                   check.max_score_difference, "checked_shape": list(check.checked_shape), "bytes": check.bytes},
        "config": config.to_dict()})
