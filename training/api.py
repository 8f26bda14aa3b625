"""What the command line and the Processing algorithm call: train, export a checkpoint, evaluate a model."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from . import checkpoint, distributed
from ._plugin import contract, errors, output_paths, preprocess
from ._plugin import progress as progress_module
from .config import ModelConfig, TrainConfig, from_mapping
from .data.prepare import PreparedData, prepare_data
from .export import ExportCheck, export_onnx
from .model_contract import build_contract, plain
from .nets import SegmentationModel, build_model, describe
from .nets.indices import SpectralIndices, band_positions
from .receptive_field import measure_context_margin
from .report import write_report
from .trainer import FitResult, Trainer, seed_everything

Progress = progress_module.Progress


@dataclass
class TrainingOutcome:
    """The result of :func:`train` (paths are None on ranks other than 0)."""

    fit: FitResult
    contract: contract.ModelContract | None
    model_path: Path | None
    report_path: Path | None
    export_check: ExportCheck | None

    @property
    def metrics(self) -> dict[str, Any]:
        scores = self.fit.best_evaluation.scores
        return {"overall_accuracy": scores.overall_accuracy, "kappa": scores.kappa, "mean_iou": scores.mean_iou}


def make_model(model_config: ModelConfig, data: PreparedData, indices: list[str],
               roles: dict[str, int]) -> SegmentationModel:
    """The network for ``data``'s bands and classes, with index channels standardised on the training sample."""
    layer = None
    if indices:
        spec = data.input
        layer = SpectralIndices(spec.mean, spec.std, band_positions(indices, roles, spec.band_names))
        pixels = data.pixel_sample.T.reshape(spec.bands, -1, 1)
        normalised = preprocess.normalise(pixels, spec)
        layer.set_statistics(torch.from_numpy(normalised).unsqueeze(0))
    return build_model(model_config, data.input.bands, len(data.classes.classes), layer)


def train(config: TrainConfig, progress: Progress | None = None) -> TrainingOutcome:
    """Prepare the data, train, and (on rank 0) export the best model and write the report."""
    progress = progress or progress_module.LoggingProgress()
    check_training_outputs(config)
    state = distributed.setup(config.training.device)
    try:
        progress.info(f"Training on {state.device}" + (f", process {state.rank + 1} of {state.world}"
                                                       if state.distributed else "") + ".")
        seed_everything(config.training.seed)
        data = prepare_data(config, progress)
        model = make_model(config.model, data, config.data.indices, config.data.band_roles)
        trainer = Trainer(model, data, config, progress, state)
        if config.training.resume:
            trainer.resume(config.training.resume)
        fit = trainer.fit()
        if fit.cancelled:
            progress.warning(f"Training was cancelled; the best model so far (epoch {fit.best_epoch}, validation "
                             f"mIoU {fit.best_evaluation.scores.mean_iou:.1%}) is exported.")
        if not state.is_main:
            return TrainingOutcome(fit, None, None, None, None)
        return _finish(config, data, model, fit, progress)
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


def _finish(config: TrainConfig, data: PreparedData, model: SegmentationModel, fit: FitResult,
            progress: Progress) -> TrainingOutcome:
    model.load_state_dict(fit.best_state)
    model.cpu().eval()
    margin = measure_context_margin(model, _margin_sample(data), model.size_multiple, data.chip_size)
    epochs = {"planned": config.training.epochs, "run": len(fit.history), "best": fit.best_epoch,
              "cancelled": fit.cancelled, "stopped_early": fit.stopped_early}
    architecture = describe(config.model, model)
    model_contract = build_contract(config, data, architecture, model.size_multiple, fit.best_evaluation, epochs,
                                    margin)
    check = export_onnx(model, model_contract, config.model_path)
    progress.info(f"Model written to {config.model_path}: context margin {margin[0]} px (measured {margin[1]} px), "
                  f"onnxruntime matches torch within {check.max_abs_difference:.2g}.")
    if config.output.checkpoints:
        checkpoint.save(Path(config.output.folder) / "best.pt", {
            "model": fit.best_state, "contract": model_contract.to_json(),
            "config": checkpoint.to_json(config.to_dict()), "bands": data.input.bands,
            "classes": len(data.classes.classes), "index_pairs": checkpoint.to_json(_index_pairs(model))})
    report = _report_document(config, data, fit, architecture, check)
    write_report(config.report_path, report, fit.best_evaluation.confusion,
                 png_folder=Path(config.output.folder) if config.output.report is None else None)
    progress.info(f"Report written to {config.report_path}.")
    return TrainingOutcome(fit, model_contract, config.model_path, config.report_path, check)


def _margin_sample(data: PreparedData) -> torch.Tensor:
    """A real normalised chip to measure the receptive field on (the first validation window)."""
    index = 0
    if data.validation.images is not None:
        raw, valid = data.validation.images[index]
    else:
        raw, valid = data.scene.read_image(data.validation.windows[index].read)
    return torch.from_numpy(preprocess.normalise(raw, data.input, valid)).unsqueeze(0)


def _index_pairs(model: SegmentationModel) -> list[list[int]]:
    if model.indices is None:
        return []
    return [[int(a), int(b)] for a, b in zip(model.indices.first.tolist(), model.indices.second.tolist())]


def _report_document(config: TrainConfig, data: PreparedData, fit: FitResult, architecture: dict[str, Any],
                     check: ExportCheck) -> dict[str, Any]:
    names = data.classes.names
    return plain({
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model_path": str(config.model_path), "architecture": architecture,
        "run": {"epochs_planned": config.training.epochs, "epochs_run": len(fit.history),
                "best_epoch": fit.best_epoch, "cancelled": fit.cancelled, "stopped_early": fit.stopped_early,
                "train_seconds": round(fit.train_seconds, 2), "chips_per_second": round(fit.chips_per_second, 2)},
        "validation": fit.best_evaluation.summary(names),
        "history": fit.history, "training_data": data.provenance(),
        "export": {"max_abs_difference": check.max_abs_difference, "argmax_agreement": check.argmax_agreement,
                   "checked_shape": list(check.checked_shape), "bytes": check.bytes},
        "config": config.to_dict()})


def export_checkpoint(path: str | Path, output: str | Path) -> ExportCheck:
    """Export the ``best.pt`` of a finished run to ONNX again (same contract, verified)."""
    output_paths.require_extension("--output", output, (".onnx",), "the exported model")
    output_paths.check_outputs({"--output": output}, {"--checkpoint": path})
    content = checkpoint.load(path)
    if "contract" not in content:
        raise errors.InputError(f"'{path}' holds no contract; export the best.pt that a finished run wrote.")
    model_contract = contract.ModelContract.from_json(content["contract"], str(path))
    config = from_mapping(checkpoint.from_json(content["config"]), str(path))
    pairs = [tuple(p) for p in checkpoint.from_json(content["index_pairs"])]
    spec = model_contract.input
    layer = SpectralIndices(spec.mean, spec.std, pairs) if pairs else None
    model_config = replace(config.model, encoder_weights=None)  # the checkpoint holds every weight
    model = build_model(model_config, int(content["bands"]), int(content["classes"]), layer)
    model.load_state_dict(content["model"])
    return export_onnx(model, model_contract, output)


__all__ = ["TrainingOutcome", "train", "export_checkpoint", "make_model"]
