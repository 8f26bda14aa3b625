"""Training a per-pixel regression model end to end: settings chosen from the data, chips of target values, the
network with its regression head trained, the test area scored once, the ONNX export (values in the target's
units) with its regression contract verified, and the report; what ``api.train`` runs when the configuration
has ``regression.target``."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from .._plugin import contract, output_paths, preprocess
from .._plugin import progress as progress_module
from ..config import ModelConfig, TrainConfig
from ..distributed import single_process_device
from ..export import ExportCheck, export_onnx
from ..model_contract import plain
from ..nets import SegmentationModel, build_model, describe
from ..nets.indices import SpectralIndices, band_positions
from ..plan import Choice, resolve_epochs
from ..receptive_field import measure_context_margin
from ..trainer import seed_everything
from .data import RegressionData, prepare_regression, prepare_regression_test, resolve_regression
from .evaluate import RegressionEvaluation, evaluate_regression
from .forest import forest_baseline
from .loss import RegressionLoss
from .model import OUTPUT_NAME, ValueModel, regression_contract
from .report import regression_plots, write_regression_report
from .trainer import EpochCallback, RegressionFit, RegressionTrainer

Progress = progress_module.Progress


@dataclass
class RegressionOutcome:
    """The result of :func:`train_regression`."""

    fit: RegressionFit
    contract: contract.ModelContract
    model_path: Path
    report_path: Path
    export_check: ExportCheck
    config: TrainConfig  # every setting filled in
    test_evaluation: RegressionEvaluation | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        """The first target band's validation figures, in its units."""
        scores = self.fit.best_evaluation.scores[0]
        return {"r2": scores.r2, "rmse": scores.rmse, "mae": scores.mae, "bias": scores.bias}


def make_regression_model(model_config: ModelConfig, data: RegressionData, indices: list[str] | None,
                          roles: dict[str, int]) -> SegmentationModel:
    """The network for ``data``'s bands with one linear output channel per target band (the regression head:
    the architecture's last 1 x 1 convolution, no activation), index channels standardised on the training
    sample."""
    layer = None
    if indices:
        spec = data.input
        layer = SpectralIndices(spec.mean, spec.std, band_positions(indices, roles, spec.band_names))
        pixels = data.pixel_sample.T.reshape(spec.bands, -1, 1)
        layer.set_statistics(torch.from_numpy(preprocess.normalise(pixels, spec)).unsqueeze(0))
    return build_model(model_config, data.input.bands, len(data.targets.names), layer)


def check_regression_outputs(config: TrainConfig) -> None:
    """Refuse, before any work, a model or report path that would replace one of the run's inputs."""
    output_paths.require_extension("the model path (--model, OUTPUT_MODEL)", config.model_path, (".onnx",),
                                   "the trained regression model")
    output_paths.require_extension("the report path (--report, OUTPUT_REPORT)", config.report_path,
                                   (".html", ".htm"), "the training report")
    output_paths.check_outputs(
        {"the model (--model, OUTPUT_MODEL)": config.model_path, "the report (--report, OUTPUT_REPORT)":
         config.report_path, "the report's JSON copy": config.report_path.with_suffix(".json")},
        {"the image (--image, INPUT)": config.data.image, "the target raster (regression.target)":
         config.regression.target, "the validation layer": config.validation.layer,
         **{f"the additional image {path}": path for path in config.data.additional_images}})


def train_regression(config: TrainConfig, progress: Progress | None = None, on_epoch: EpochCallback | None = None,
                     search: dict[str, Any] | None = None) -> RegressionOutcome:
    """Choose what the configuration leaves to the data, prepare the chips, train, export and report."""
    progress = progress or progress_module.LoggingProgress()
    check_regression_outputs(config)
    device = single_process_device(config.training.device, "Regression models")
    progress.info(f"Training a regression model on {device}.")
    resolved, scene, census, choices = resolve_regression(config, progress)
    data = prepare_regression(resolved, progress, scene, census)
    final = resolve_epochs(resolved, len(data.train_refs), data.train_pixels, progress, choices)
    seed_everything(final.training.seed)
    network = make_regression_model(final.model, data, final.data.indices, final.data.band_roles)
    fit = RegressionTrainer(network, data, final, progress, device, on_epoch).fit()
    if fit.cancelled:
        progress.warning(f"Training was cancelled; the best model so far (epoch {fit.best_epoch}, validation "
                         f"{final.regression.objective} score {fit.best_score:.3f}) is exported.")
    baseline = None if fit.cancelled else forest_baseline(
        data, fit.best_evaluation, final.data.indices, final.data.band_roles, final.validation.forest_trees,
        final.training.seed, progress)
    return finish_regression(final, data, network, fit, choices, progress, search, baseline)


def finish_regression(config: TrainConfig, data: RegressionData, network: SegmentationModel, fit: RegressionFit,
                      choices: list[Choice], progress: Progress, search: dict[str, Any] | None = None,
                      baseline: dict[str, Any] | None = None) -> RegressionOutcome:
    """Export the kept weights with their contract, score the test area once, write the report (with the pixel
    random forest's figures, ``baseline``, when it was scored)."""
    network.load_state_dict(fit.best_state)
    network.cpu().eval()
    margin = measure_context_margin(network, _margin_sample(data), network.size_multiple, data.chip_size)
    test = _score_test(config, data, network, progress)
    names = data.targets.names
    validation = fit.best_evaluation.summary(names)
    epochs = {"planned": config.training.epochs, "run": len(fit.history), "best": fit.best_epoch,
              "cancelled": fit.cancelled, "stopped_early": fit.stopped_early}
    architecture = describe(config.model, network)
    provenance = {"validation": _brief(validation), "epochs": epochs,
                  "selection": f"best epoch by validation {config.regression.objective} (validation area inside the "
                               "training ground)", "defaults_chosen": {c.key: c.value for c in choices},
                  **({"test": _brief(test.summary(names))} if test else {}), **({"search": search} if search else {}),
                  **({"baselines": _brief_baseline(baseline)} if baseline else {})}
    model_contract = regression_contract(config, data, architecture, network.size_multiple, margin, provenance)
    check = export_onnx(ValueModel(network, data.targets), model_contract, config.model_path, output_name=OUTPUT_NAME)
    progress.info(f"Model written to {config.model_path}: outputs {', '.join(names)}"
                  f"{f' in {data.targets.units}' if data.targets.units else ''}, context margin {margin[0]} px "
                  f"(measured {margin[1]} px), onnxruntime matches torch within {check.max_abs_difference:.2g}.")
    report = _report_document(config, data, fit, architecture, check, choices, validation)
    if test:
        report["test"] = test.summary(names)
    if search:
        report["search"] = search
    if baseline:
        report["baselines"] = baseline
    images = regression_plots(fit.best_evaluation, fit.history, names, data.targets.units)
    write_regression_report(config.report_path, report, images,
                            png_folder=Path(config.output.folder) if config.output.report is None else None)
    progress.info(f"Report written to {config.report_path}.")
    return RegressionOutcome(fit, model_contract, config.model_path, config.report_path, check, config, test)


def _margin_sample(data: RegressionData) -> torch.Tensor:
    """A real normalised window to measure the receptive field on (the first validation window)."""
    windows = data.validation
    raw, valid = (windows.images[0] if windows.images else data.scene.read_image(windows.windows[0].read))
    return torch.from_numpy(preprocess.normalise(raw, data.input, valid)).unsqueeze(0)


def _score_test(config: TrainConfig, data: RegressionData, network: SegmentationModel,
                progress: Progress) -> RegressionEvaluation | None:
    """The kept weights scored once on the test area (None without one); nothing was selected on it."""
    windows = prepare_regression_test(config, data, progress)
    if windows is None:
        return None
    criterion = RegressionLoss(config.regression.loss, config.regression.huber_delta)
    evaluation = evaluate_regression(network, data, windows, criterion, torch.device("cpu"),
                                     max((config.training.batch_size or 8) // 2, 1), config.regression.objective)
    first = evaluation.scores[0]
    progress.info(f"Test area (never used for training or selection): R² {_text(first.r2)}, RMSE "
                  f"{_text(first.rmse)}, MAE {_text(first.mae)}, bias {_text(first.bias)} over {first.count} pixels.")
    return evaluation


def _text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _brief(summary: dict[str, Any]) -> dict[str, Any]:
    """What the contract keeps of a validation summary: the main figures per band."""
    keep = ("mae", "rmse", "r2", "bias", "count")
    return {"objective": summary["objective"], "bands": {name: {k: v for k, v in scores.items() if k in keep}
                                                         for name, scores in summary["bands"].items()}}


def _brief_baseline(baseline: dict[str, Any]) -> dict[str, Any]:
    """What the contract keeps of the forest's comparison: its main figures per band and the verdict."""
    if "random_forest" not in baseline:
        return baseline
    forest = baseline["random_forest"]
    return {"random_forest": {"trees": forest["trees"], **_brief({"objective": "r2", "bands": forest["bands"]})},
            "verdict": baseline["verdict"]}


def _report_document(config: TrainConfig, data: RegressionData, fit: RegressionFit, architecture: dict[str, Any],
                     check: ExportCheck, choices: list[Choice], validation: dict[str, Any]) -> dict[str, Any]:
    targets = data.targets
    return json.loads(json.dumps(plain({
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model_path": str(config.model_path), "architecture": architecture,
        "targets": {"names": list(targets.names), "units": targets.units, "valid_range": targets.valid_range,
                    "training_mean": list(targets.mean), "training_std": list(targets.std)},
        "run": {"epochs_planned": config.training.epochs, "epochs_run": len(fit.history),
                "best_epoch": fit.best_epoch, "cancelled": fit.cancelled, "stopped_early": fit.stopped_early,
                "train_seconds": round(fit.train_seconds, 2), "chips_per_second": round(fit.chips_per_second, 2),
                "seconds_per_epoch": round(fit.seconds_per_epoch, 2), "wall_seconds": round(fit.wall_seconds, 2)},
        "validation": validation, "history": fit.history, "training_data": data.provenance(),
        "defaults_chosen": [{"key": c.key, "value": c.value, "reason": c.reason} for c in choices],
        "export": {"max_abs_difference": check.max_abs_difference, "checked_shape": list(check.checked_shape),
                   "bytes": check.bytes},
        "config": config.to_dict()})))
