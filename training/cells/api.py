"""Training a tile classifier end to end: label the cells, split them spatially, train, score the test cells once,
export with a ``classification`` contract (verified) and write the report; what ``api.train`` runs for
``architecture: mobilenetv2_classifier`` or ``resnet18/34/50_classifier``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from .. import checkpoint
from .._plugin import contract, output_paths
from .._plugin import progress as progress_module
from ..config import TrainConfig
from ..distributed import single_process_device
from ..nets.classifiers import TileClassifier, build_classifier, describe_classifier
from ..trainer import seed_everything
from .data import TEST, CellData, prepare_cells
from .export import ClassifierExportCheck, export_classifier
from .model_contract import classifier_contract
from .report import write_classifier_report
from .trainer import CellEvaluation, CellFit, CellTrainer, EpochCallback, evaluate_cells

Progress = progress_module.Progress


@dataclass
class ClassifierOutcome:
    """The result of :func:`train_classifier`."""

    fit: CellFit
    contract: contract.ModelContract
    model_path: Path
    report_path: Path
    export_check: ClassifierExportCheck
    data: CellData
    model: TileClassifier
    test_evaluation: CellEvaluation | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        """The validation figures of the exported weights (empty without a validation area)."""
        evaluation = self.fit.best_evaluation
        if evaluation is None:
            return {}
        scores = evaluation.scores
        return {"overall_accuracy": scores.overall_accuracy, "kappa": scores.kappa, "mean_f1": evaluation.mean_f1}


def train_classifier(config: TrainConfig, progress: Progress | None = None, on_epoch: EpochCallback | None = None,
                     search: dict[str, Any] | None = None) -> ClassifierOutcome:
    """Prepare, train, score the test cells, export (verified) and report."""
    progress = progress or progress_module.LoggingProgress()
    check_classifier_outputs(config)
    device = single_process_device(config.training.device, "Tile classifiers")
    progress.info(f"Training a tile classifier ({config.model.architecture}) on {device}.")
    seed_everything(config.training.seed)
    data = prepare_cells(config, progress)
    model = build_classifier(config.model, data.input.bands, len(data.classes))
    fit = CellTrainer(model, data, config, progress, device, on_epoch).fit()
    model.load_state_dict(fit.best_state)
    model.cpu().eval()
    names = {c.value: c.name for c in data.classes}
    test_cells = data.cells_of(TEST)
    test = evaluate_cells(model, data, test_cells, torch.device("cpu")) if len(test_cells) else None
    if test is not None:
        scores = test.scores
        progress.info(f"Test cells (never used for training or selection): OA {scores.overall_accuracy:.1%}, kappa "
                      f"{scores.kappa:.3f}, mean F1 {test.mean_f1:.1%} over {scores.total} cells.")
    architecture = describe_classifier(config.model, model)
    validation = fit.best_evaluation.summary(names) if fit.best_evaluation is not None else None
    provenance = {"architecture": architecture, "training_data": data.provenance(),
                  "validation": _brief(validation), "test": _brief(test.summary(names) if test else None),
                  "selection": "best epoch by validation mean F1" if validation else "the last epoch (no validation)",
                  "epochs": {"planned": config.training.epochs, "run": len(fit.history), "best": fit.best_epoch},
                  "training": {k: getattr(config.training, k) for k in (
                      "batch_size", "learning_rate", "weight_decay", "schedule", "class_weights", "d4", "brightness",
                      "contrast", "seed")}, **({"search": search} if search else {})}
    model_contract = classifier_contract(config, data, provenance)
    check = export_classifier(model, model_contract, config.model_path)
    progress.info(f"Classifier written to {config.model_path}: onnxruntime matches torch within "
                  f"{check.max_abs_difference:.2g}; it runs in Classify tiles (seamless:classifytiles).")
    if config.output.checkpoints:
        checkpoint.save(Path(config.output.folder) / "best.pt", {
            "model": fit.best_state, "contract": model_contract.to_json(),
            "config": checkpoint.to_json(config.to_dict())})
    report = _report(config, data, fit, architecture, check, test, search)
    write_classifier_report(config.report_path, report,
                            png_folder=Path(config.output.folder) if config.output.report is None else None)
    progress.info(f"Report written to {config.report_path}.")
    return ClassifierOutcome(fit, model_contract, config.model_path, config.report_path, check, data, model, test)


def _report(config: TrainConfig, data: CellData, fit: CellFit, architecture: dict[str, Any],
            check: ClassifierExportCheck, test: CellEvaluation | None, search: dict[str, Any] | None) -> dict[str, Any]:
    names = {c.value: c.name for c in data.classes}
    return {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "model_path": str(config.model_path), "architecture": architecture,
            "run": {"epochs_planned": config.training.epochs, "epochs_run": len(fit.history),
                    "best_epoch": fit.best_epoch, "cancelled": fit.cancelled, "stopped_early": fit.stopped_early,
                    "train_seconds": round(fit.train_seconds, 2), "cells_per_second": round(fit.cells_per_second, 2)},
            "validation": fit.best_evaluation.summary(names) if fit.best_evaluation is not None else None,
            "test": test.summary(names) if test else None, "history": fit.history,
            "training_data": data.provenance(),
            "export": {"max_abs_difference": check.max_abs_difference, "class_agreement": check.class_agreement,
                       "checked_shape": list(check.checked_shape), "bytes": check.bytes},
            "config": config.to_dict(), **({"search": search} if search else {})}


def check_classifier_outputs(config: TrainConfig) -> None:
    """Refuse, before any work, a model or report path that would replace one of the run's inputs."""
    output_paths.require_extension("the model path (--model, OUTPUT_MODEL)", config.model_path, (".onnx",),
                                   "the trained classifier")
    output_paths.require_extension("the report path (--report, OUTPUT_REPORT)", config.report_path,
                                   (".html", ".htm"), "the training report")
    output_paths.check_outputs(
        {"the model (--model, OUTPUT_MODEL)": config.model_path, "the report (--report, OUTPUT_REPORT)":
         config.report_path, "the report's JSON copy": config.report_path.with_suffix(".json")},
        {"the image (--image, INPUT)": config.data.image, "the labels (--labels, LABELS)": config.data.labels,
         "the label raster (--label-raster, LABEL_RASTER)": config.data.label_raster,
         "the validation layer": config.validation.layer, "the test layer": config.test.layer})


def _brief(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the contract keeps of a score section: the figures and per-class F1, not the matrix."""
    if summary is None:
        return None
    return {"overall_accuracy": summary["overall_accuracy"], "kappa": summary["kappa"], "mean_f1": summary["mean_f1"],
            "cells": summary["total"], "per_class_f1": {c["name"]: c["f1"] for c in summary["classes"]}}


def classifier_summary(outcome: ClassifierOutcome) -> str:
    """The lines ``python -m training train`` prints for a tile classifier."""
    lines = [f"model: {outcome.model_path}", f"report: {outcome.report_path}"]
    metrics = outcome.metrics
    if metrics:
        lines.append(f"validation: OA {metrics['overall_accuracy']:.4f}  kappa {metrics['kappa']:.4f}  mean F1 "
                     f"{metrics['mean_f1']:.4f}  (best epoch {outcome.fit.best_epoch}; "
                     f"{outcome.fit.cells_per_second:.1f} cells/s)")
    if outcome.test_evaluation is not None:
        scores = outcome.test_evaluation.scores
        lines.append(f"test cells: OA {scores.overall_accuracy:.4f}  kappa {scores.kappa:.4f}  ({scores.total} cells, "
                     "scored once, never used for selection)")
    return "\n".join(lines)
