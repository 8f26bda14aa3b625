"""One training run up to the kept weights, without exporting: defaults from the data, chips, network, fit.

``train`` exports what this returns; ``tune`` fits the default configuration and the search's winner
this way, compares them (and the pixel random forest) on the same validation area, and exports the one
it keeps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from . import forest
from ._plugin import preprocess
from ._plugin import progress as progress_module
from .config import ModelConfig, TrainConfig
from .data.prepare import PreparedData, prepare_data
from .distributed import DistState
from .nets import SegmentationModel, build_model
from .nets.indices import SpectralIndices, band_positions
from .plan import Choice, resolve, resolve_epochs
from .trainer import EpochCallback, FitResult, Trainer, seed_everything

Progress = progress_module.Progress


@dataclass
class FittedRun:
    """A finished (or cancelled) run: its configuration with every setting filled in, data, network, fit."""

    config: TrainConfig
    data: PreparedData
    model: SegmentationModel
    fit: FitResult
    choices: list[Choice] = field(default_factory=list)

    @property
    def mean_iou(self) -> float:
        return float(self.fit.best_evaluation.scores.mean_iou)

    def describe_choices(self) -> list[dict[str, Any]]:
        """The settings chosen from the data, with their reasons (for the report)."""
        return [{"key": c.key, "value": c.value, "reason": c.reason} for c in self.choices]


def make_model(model_config: ModelConfig, data: PreparedData, indices: list[str] | None,
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


def prepare(config: TrainConfig, progress: Progress) -> tuple[TrainConfig, PreparedData, list[Choice]]:
    """The configuration with its data-derived settings (epochs included) and the prepared data."""
    resolved = resolve(config, progress)
    data = prepare_data(resolved.config, progress, resolved.census)
    choices = list(resolved.choices)
    final = resolve_epochs(resolved.config, len(data.train.refs), int(data.train_counts.sum()), progress, choices)
    return final, data, choices


def fit_run(config: TrainConfig, progress: Progress, state: DistState, on_epoch: EpochCallback | None = None,
            prepared: tuple[TrainConfig, PreparedData, list[Choice]] | None = None) -> FittedRun:
    """Prepare (unless ``prepared`` is given), build the network and train it."""
    final, data, choices = prepared or prepare(config, progress)
    seed_everything(final.training.seed)
    model = make_model(final.model, data, final.data.indices, final.data.band_roles)
    trainer = Trainer(model, data, final, progress, state, on_epoch)
    if final.training.resume:
        trainer.resume(final.training.resume)
    return FittedRun(final, data, model, trainer.fit(), choices)


def forest_baseline(run: FittedRun, progress: Progress) -> dict[str, Any] | None:
    """The pixel random forest on the run's training pixels, scored on its validation area and compared with
    the network pair by pair (None when ``validation.forest_trees`` is 0)."""
    trees = run.config.validation.forest_trees
    if trees <= 0 or not run.data.validation.windows:  # no validation area: nothing to compare on
        return None
    if not forest.available():
        progress.warning("scikit-learn is not installed, so the network is not compared with a pixel random forest "
                         "(python3 -m pip install scikit-learn).")
        return {"skipped": "scikit-learn is not installed"}
    result = forest.fit_and_score(run.data, run.config.data.indices, run.config.data.band_roles, trees,
                                  run.config.training.seed)
    return baseline_summary(run, result, progress)


def baseline_summary(run: FittedRun, result: forest.ForestResult, progress: Progress) -> dict[str, Any]:
    """The forest's figures, the network's, and their paired difference; a warning when the forest is better."""
    from .uncertainty import paired_difference

    resamples = run.config.validation.bootstrap
    network, baseline = run.fit.best_evaluation, result.evaluation
    names = run.data.classes.names
    difference = None
    if network.units is not None and baseline.units is not None and result.validation_pixels == network.scores.total:
        difference = paired_difference(network.units, baseline.units, resamples)
    summary: dict[str, Any] = {"random_forest": {**baseline.summary(names, resamples), "trees": result.trees,
                                 "training_pixels": result.training_pixels, "scored_pixels": result.validation_pixels,
                                 "seconds": round(result.seconds, 1)},
               "network_minus_forest": difference}
    ours, theirs = network.scores, baseline.scores
    line = (f"Pixel random forest ({result.trees} trees, {result.training_pixels} training pixels) on the same "
            f"validation: OA {theirs.overall_accuracy:.1%}, mIoU {theirs.mean_iou:.1%}; the network: OA "
            f"{ours.overall_accuracy:.1%}, mIoU {ours.mean_iou:.1%}")
    if theirs.mean_iou > ours.mean_iou:
        progress.warning(f"{line}. The forest is better on this validation area: with this little data or these "
                         "settings the network has not learnt more than each pixel's own values tell.")
        summary["verdict"] = "the random forest scores higher than the network"
    else:
        progress.info(f"{line}.")
        summary["verdict"] = "the network scores higher than the random forest"
    return summary
