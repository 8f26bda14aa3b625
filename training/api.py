"""What the command line and the Processing algorithm call: train, export a checkpoint, evaluate a model."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from . import calibration, checkpoint, distributed
from ._plugin import contract, errors, output_paths
from ._plugin import progress as progress_module
from .checkpoint_export import export_checkpoint, index_pairs, margin_sample
from .config import TrainConfig, from_mapping
from .data.prepare import PreparedData, prepare_data, prepare_test
from .distributed import DistState
from .export import ExportCheck, export_onnx
from .fitting import FittedRun, fit_run, forest_baseline, make_model
from .losses import SegmentationLoss
from .model_contract import build_contract, plain, validation_summary
from .nets import SegmentationModel, describe
from .quantize import MIN_AGREEMENT, QuantizationCheck, int8_path, quantize_model
from .receptive_field import measure_context_margin
from .report import write_report
from .trainer import EpochCallback, FitResult
from .validation import Evaluation, evaluate

if TYPE_CHECKING:
    from .cells.api import ClassifierOutcome
    from .detection.api import DetectionOutcome
    from .regression.api import RegressionOutcome

Progress = progress_module.Progress


@dataclass
class TrainingOutcome:
    """The result of :func:`train` (paths are None on ranks other than 0)."""

    fit: FitResult
    contract: contract.ModelContract | None
    model_path: Path | None
    report_path: Path | None
    export_check: ExportCheck | None
    test_evaluation: Evaluation | None = None  # the test area, scored once after training (if one was given)
    run: FittedRun | None = None  # the configuration with every setting filled in, the data, the network
    compared: dict[str, FittedRun] | None = None  # after a search: the default settings' and the winner's runs

    @property
    def metrics(self) -> dict[str, Any]:
        scores = self.fit.best_evaluation.scores
        return {"overall_accuracy": scores.overall_accuracy, "kappa": scores.kappa, "mean_iou": scores.mean_iou}


def train(config: TrainConfig, progress: Progress | None = None, on_epoch: EpochCallback | None = None,
          search: dict[str, Any] | None = None
          ) -> TrainingOutcome | DetectionOutcome | RegressionOutcome | ClassifierOutcome:
    """Choose what the configuration leaves to the data, prepare it, train, and (on rank 0) export the best
    model and write the report, with the network compared with a pixel random forest.

    ``on_epoch`` is called after every validated epoch; ``search`` (a hyperparameter search's record)
    goes into the contract's provenance and the report.
    """
    if config.is_detection:  # an object detector: its own data, network, loop, export and report
        from .detection.api import train_detector

        return train_detector(config, progress, on_epoch, search)
    if config.is_regression:  # a raster of values: its own data, loop, metrics, export and report
        from .regression.api import train_regression

        return train_regression(config, progress, on_epoch, search)
    if config.is_classifier:  # a tile classifier: cells, their own loop, a classification contract
        from .cells.api import train_classifier

        return train_classifier(config, progress, on_epoch, search)
    progress = progress or progress_module.LoggingProgress()
    check_training_outputs(config)
    state = distributed.setup(config.training.device)
    try:
        progress.info(f"Training on {state.device}" + (f", process {state.rank + 1} of {state.world}"
                                                       if state.distributed else "") + ".")
        run = fit_run(config, progress, state, on_epoch)
        if run.fit.cancelled:
            progress.warning(f"Training was cancelled; the best model so far (epoch {run.fit.best_epoch}, "
                             f"validation mIoU {run.mean_iou:.1%}) is exported.")
        if not state.is_main:
            return TrainingOutcome(run.fit, None, None, None, None)
        baselines = None if run.fit.cancelled else forest_baseline(run, progress)
        return finish(run, progress, search, {"baselines": baselines} if baselines else None)
    finally:
        distributed.teardown(state)


def check_training_outputs(config: TrainConfig) -> None:
    """Refuse, before any work, a model or report path that would replace one of the run's inputs."""
    output_paths.require_extension("the model path (--model, OUTPUT_MODEL)", config.model_path, (".onnx",),
                                   "the trained model")
    output_paths.require_extension("the report path (--report, OUTPUT_REPORT)", config.report_path,
                                   (".html", ".htm"), "the training report")
    output_paths.check_outputs(
        {"the model (--model, OUTPUT_MODEL)": config.model_path, "the report (--report, OUTPUT_REPORT)":
         config.report_path, "the report's JSON copy": config.report_path.with_suffix(".json")},
        {"the image (--image, INPUT)": config.data.image, "the labels (--labels, LABELS)": config.data.labels,
         "the label raster (--label-raster, LABEL_RASTER)": config.data.label_raster,
         "the validation layer": config.validation.layer, "the checkpoint to resume": config.training.resume,
         **{f"the additional image {path} (--additional-image, ADDITIONAL_INPUTS)": path
            for path in config.data.additional_images}})


def finish(run: FittedRun, progress: Progress, search: dict[str, Any] | None = None,
           extra: dict[str, Any] | None = None, selection: str | None = None) -> TrainingOutcome:
    """Export the run's kept weights with their contract, score the test area, write the report.

    ``extra`` goes into the report and the contract's provenance (the forest baseline, a search's
    comparison of defaults and winner); ``selection`` says how the exported weights were chosen.
    """
    config, data, model, fit = run.config, run.data, run.model, run.fit
    model.load_state_dict(fit.best_state)
    model.cpu().eval()
    margin = measure_context_margin(model, margin_sample(data), model.size_multiple, data.chip_size)
    epochs = {"planned": config.training.epochs, "run": len(fit.history), "best": fit.best_epoch,
              "cancelled": fit.cancelled, "stopped_early": fit.stopped_early}
    architecture = describe(config.model, model)
    model_contract = build_contract(config, data, architecture, model.size_multiple, fit.best_evaluation, epochs,
                                    margin)
    test = score_test_area(config, data, model, progress)
    interval = fit.best_evaluation.interval(config.validation.bootstrap)
    model_contract = _with_provenance(model_contract, {
        "selection": selection or "best epoch by validation mean IoU (validation area inside the training ground)",
        "defaults_chosen": {c.key: c.value for c in run.choices},
        **({"validation_interval_95": _interval_brief(interval)} if interval else {}),
        **({"test": test[1]} if test else {}), **({"search": search} if search else {}),
        **{key: _brief(value) for key, value in (extra or {}).items()}})
    check = export_onnx(model, model_contract, config.model_path)
    progress.info(f"Model written to {config.model_path}: context margin {margin[0]} px (measured {margin[1]} px), "
                  f"onnxruntime matches torch within {check.max_abs_difference:.2g}.")
    if config.output.checkpoints:
        checkpoint.save(Path(config.output.folder) / "best.pt", {
            "model": fit.best_state, "contract": model_contract.to_json(),
            "config": checkpoint.to_json(config.to_dict()), "bands": data.input.bands,
            "classes": len(data.classes.classes), "index_pairs": checkpoint.to_json(index_pairs(model))})
    report = _report_document(run, architecture, check)
    report.update({"defaults_chosen": run.describe_choices(), **(extra or {})})
    if test:
        report["test"] = test[1]
    if search:
        report["search"] = search
    write_report(config.report_path, plain(report), fit.best_evaluation.confusion,
                 png_folder=Path(config.output.folder) if config.output.report is None else None)
    progress.info(f"Report written to {config.report_path}.")
    return TrainingOutcome(fit, model_contract, config.model_path, config.report_path, check,
                           test[0] if test else None, run)


def _interval_brief(interval: dict[str, Any]) -> dict[str, Any]:
    return {name: [round(interval[name]["low"], 4), round(interval[name]["high"], 4)]
            for name in ("overall_accuracy", "kappa", "mean_iou")} | {"method": interval["method"]}


def _brief(value: Any) -> Any:
    """What the contract keeps of a report section: figures, not per-class tables."""
    if isinstance(value, dict):
        return {k: _brief(v) for k, v in value.items() if k not in ("classes", "interval_95", "confusion_matrix")}
    return value


def score_test_area(config: TrainConfig, data: PreparedData, model: SegmentationModel,
                    progress: Progress) -> tuple[Evaluation, dict[str, Any]] | None:
    """The chosen weights scored once on the test area (None without one); nothing was selected on it."""
    test_data = prepare_test(config, progress, data.classes, data.input)
    if test_data is None:
        return None
    state = DistState(0, 1, 0, torch.device("cpu"))
    evaluation = evaluate(model.cpu().eval(), test_data, SegmentationLoss(), model.size_multiple,
                          max((config.training.batch_size or 8) // 2, 1), state)
    scores = evaluation.scores
    progress.info(f"Test area (never used for training or selection): OA {scores.overall_accuracy:.1%}, kappa "
                  f"{scores.kappa:.3f}, mIoU {scores.mean_iou:.1%} over {scores.total} labelled pixels.")
    summary = {**validation_summary(evaluation, test_data), "area": test_data.split,
               "classes": evaluation.summary(data.classes.names)["classes"],
               "confusion_matrix": {"values": list(evaluation.confusion.values),
                                    "matrix": evaluation.confusion.matrix.tolist()}}
    return evaluation, plain(summary)


def _with_provenance(model_contract: contract.ModelContract, extra: dict[str, Any]) -> contract.ModelContract:
    """The contract with ``extra`` added to its provenance (JSON-normalised, so it reads back equal)."""
    provenance = json.loads(json.dumps(plain({**model_contract.provenance, **extra})))
    return model_contract.with_overrides(provenance=provenance)


def _report_document(run: FittedRun, architecture: dict[str, Any], check: ExportCheck) -> dict[str, Any]:
    config, data, fit = run.config, run.data, run.fit
    names = data.classes.names
    return plain({
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model_path": str(config.model_path), "architecture": architecture,
        "run": {"epochs_planned": config.training.epochs, "epochs_run": len(fit.history),
                "best_epoch": fit.best_epoch, "cancelled": fit.cancelled, "stopped_early": fit.stopped_early,
                "train_seconds": round(fit.train_seconds, 2), "chips_per_second": round(fit.chips_per_second, 2),
                "seconds_per_epoch": round(fit.seconds_per_epoch, 2), "wall_seconds": round(fit.wall_seconds, 2)},
        "validation": fit.best_evaluation.summary(names, config.validation.bootstrap),
        "history": fit.history, "training_data": data.provenance(),
        "export": {"max_abs_difference": check.max_abs_difference, "argmax_agreement": check.argmax_agreement,
                   "checked_shape": list(check.checked_shape), "bytes": check.bytes},
        "config": config.to_dict()})


def quantize_export(checkpoint_path: str | Path, float_model: str | Path, progress: Progress,
                    min_agreement: float = MIN_AGREEMENT) -> QuantizationCheck:
    """The INT8 copy of an exported model (``name.int8.onnx``), calibrated on the run's training chips and
    checked on its validation windows; refused (nothing written) below ``min_agreement``."""
    content = checkpoint.load(checkpoint_path)
    config = from_mapping(checkpoint.from_json(content["config"]), str(checkpoint_path))
    if config.is_classifier:
        raise errors.InputError(f"'{checkpoint_path}' is a tile classifier's; INT8 quantization is offered for "
                                "segmentation models only. Export it without --quantize.")
    model_contract = contract.ModelContract.from_json(content["contract"], str(checkpoint_path))
    try:
        data = prepare_data(config, progress)
    except errors.InputError as error:
        raise errors.InputError(f"The training data of '{checkpoint_path}' cannot be read again ({error}). Quantize "
                                f"with a raster instead: python -m training quantize --model {float_model} "
                                "--calibration RASTER.") from error
    windows = calibration.from_training_data(data, model_contract.input, model_contract.size_multiple)
    return quantize_model(float_model, int8_path(float_model), windows, min_agreement)


__all__ = ["TrainingOutcome", "train", "export_checkpoint", "quantize_export", "make_model", "score_test_area"]
