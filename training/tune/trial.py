"""One trial of the search: train with the trial's settings, score on validation inside the training ground.

A trial never sees the test area (the data preparation leaves it out) and never exports anything.
Its score is the mean of its three best epochs' validation mean IoU (one epoch's figure on a small
validation area is noisy: a single lucky epoch should not choose the settings), or the mean of those
over k spatial folds; after every epoch the validation mIoU is reported to Optuna, whose pruner
(pruner.py) may stop the trial there.
Prepared data are cached per data settings, so trials that share a chip size share the chips.
"""
from __future__ import annotations

import json
import math
import os
import socket
import time
from typing import Any, Callable

from .._plugin import errors
from .._plugin import progress as progress_module
from ..config import TrainConfig, from_mapping
from ..data.prepare import PreparedData, prepare_data
from ..distributed import DistState, choose_device
from ..trainer import Trainer, seed_everything

Progress = progress_module.Progress
STEADY_EPOCHS = 3


class SearchCancelled(errors.CancelledError):
    """The person running the search asked it to stop."""


class DataCache:
    """PreparedData per (data, validation, test, seed) settings: chips are cut once per chip size and fold."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self._prepared: dict[str, PreparedData] = {}

    @staticmethod
    def _key(config: TrainConfig) -> str:
        sections = config.to_dict()
        return json.dumps([sections["data"], sections["validation"], sections["test"], config.training.seed,
                           config.is_detection], sort_keys=True)

    def get(self, config: TrainConfig) -> PreparedData:
        key = self._key(config)
        if key not in self._prepared and config.is_detection:
            from ..detection import tune as detection_tune

            self._prepared[key] = detection_tune.prepare(config, self.progress)  # type: ignore[assignment]
        if key not in self._prepared:
            self._prepared[key] = prepare_data(config, self.progress)
        return self._prepared[key]

    def put(self, config: TrainConfig, data: PreparedData) -> None:
        """Data already prepared for ``config`` (the defaults'), shared with the trials of the same chips."""
        self._prepared[self._key(config)] = data

    def clear(self) -> None:
        self._prepared.clear()


class ShareOfProgress:
    """A share of an outer progress bar (one trial, or the search), its messages prefixed."""

    def __init__(self, outer: Progress, prefix: str, start: float, span: float) -> None:
        self.outer, self.prefix, self.start, self.span = outer, prefix, start, span

    def set_fraction(self, fraction: float) -> None:
        self.outer.set_fraction(self.start + self.span * min(max(fraction, 0.0), 1.0))

    def is_cancelled(self) -> bool:
        return self.outer.is_cancelled()

    def info(self, message: str) -> None:
        self.outer.info(f"{self.prefix}{message}")

    def warning(self, message: str) -> None:
        self.outer.warning(f"{self.prefix}{message}")


def fold_configs(mapping: dict[str, Any], folds: int) -> list[TrainConfig]:
    """The trial's configuration, once per spatial fold (once when ``folds`` < 2)."""
    if folds < 2:
        return [from_mapping(mapping, "trial settings")]
    configs = []
    for fold in range(folds):
        validation = {**mapping.get("validation", {}), "folds": folds, "fold": fold, "extent": None, "layer": None}
        configs.append(from_mapping({**mapping, "validation": validation}, "trial settings"))
    return configs


def run_trial(trial: Any, mapping: dict[str, Any], folds: int, cache: DataCache, progress: Progress,
              should_prune: Callable[[Any, int, float], bool]) -> float:
    """Train the trial's settings (per fold) and return the score; raises TrialPruned or SearchCancelled."""
    configs = fold_configs(mapping, folds)
    scores: list[float] = []
    history: list[dict[str, Any]] = []
    started = time.perf_counter()
    key, name = ("map50", "mAP@0.5") if configs[0].is_detection else ("mean_iou", "mIoU")  # the objective
    for fold, config in enumerate(configs):
        data = cache.get(config)
        epochs = int(config.training.epochs or 1)

        def on_epoch(epoch: int, entry: dict[str, Any], fold: int = fold, epochs: int = epochs) -> None:
            history.append({"fold": fold, "epoch": epoch, key: entry[key], "seconds": entry["seconds"]})
            if progress.is_cancelled():
                return  # the trial stops as cancelled, not as pruned
            if should_prune(trial, fold * epochs + epoch, entry[key]):
                _record(trial, scores, history, started)
                import optuna

                raise optuna.TrialPruned(f"validation {name} {entry[key]:.1%} after epoch {epoch} is below the "
                                         "median of earlier trials")

        fit = _fit(config, data, progress, on_epoch)
        if fit.cancelled:
            raise SearchCancelled(f"The search was cancelled during trial {trial.number}.")
        if config.is_detection:
            scores.append(fit.best_score if fit.history else 0.0)
            continue
        scores.append(steady_score([entry["mean_iou"] for entry in fit.history]))
        interval = fit.best_evaluation.interval(config.validation.bootstrap)
        if interval is not None and fold == 0:
            trial.set_user_attr("mean_iou_standard_error", interval["mean_iou"]["standard_error"])
    _record(trial, scores, history, started)
    return float(sum(scores) / len(scores))


def steady_score(values: list[float], best: int = STEADY_EPOCHS) -> float:
    """The mean of the ``best`` highest values (a trial's score: less noisy than its single best epoch)."""
    finite = sorted((v for v in values if math.isfinite(v)), reverse=True)[:best]
    return float(sum(finite) / len(finite)) if finite else 0.0


def _fit(config: TrainConfig, data: PreparedData, progress: Progress, on_epoch: Callable[[int, dict], None]):
    from ..fitting import make_model

    if config.is_detection:
        from ..detection import tune as detection_tune

        return detection_tune.fit(config, data, progress, on_epoch)  # type: ignore[arg-type]

    device = choose_device(config.training.device)
    seed_everything(config.training.seed)
    model = make_model(config.model, data, config.data.indices, config.data.band_roles)
    trainer = Trainer(model, data, config, progress, DistState(0, 1, 0, device), on_epoch)
    return trainer.fit()


def _record(trial: Any, scores: list[float], history: list[dict[str, Any]], started: float) -> None:
    seconds = time.perf_counter() - started
    trial.set_user_attr("seconds", round(seconds, 2))
    trial.set_user_attr("epochs_run", len(history))
    per_epoch = sum(h["seconds"] for h in history) / len(history) if history else float("nan")
    trial.set_user_attr("seconds_per_epoch", round(per_epoch, 3) if math.isfinite(per_epoch) else None)
    trial.set_user_attr("fold_scores", [round(float(s), 6) for s in scores])
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # which process ran it (shared studies)
