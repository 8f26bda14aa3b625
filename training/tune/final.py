"""The end of a search: never export a worse model without saying so.

The default settings and the search's winner are both trained for the final epochs on the same training
ground and scored on the same validation area, next to the pixel random forest trained on the same
pixels. The winner is kept only when its validation mean IoU beats the defaults' (``tune.keep: winner``
exports it anyway); the report and the log show all three with their 95 % intervals, the paired
difference between the two networks, which one was kept and why, and whether it beats the forest.
The model exported is the kept run itself, whose validation figures the report shows. With
``tune.refit`` the kept settings are instead retrained on all the training ground, validation blocks
included, for the epochs their validated run found best, and that model is exported: its own validation
figures cannot be measured (it trained on the validation blocks), so the report shows those of the
validated run with the same settings and says so. Off by default: such a model can be worse than the
validated one without anything showing it (on the smallest benchmark scene it was).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from .. import forest
from .._plugin import progress as progress_module
from ..config import TrainConfig, from_mapping
from ..distributed import DistState, choose_device
from ..fitting import FittedRun, baseline_summary, fit_run
from ..uncertainty import paired_difference
from .setup import SearchSetup
from .study import best_mapping
from .trial import ShareOfProgress

Progress = progress_module.Progress
DEFAULTS, WINNER, FOREST = "default settings", "search's winner", "pixel random forest"


def finish_search(setup: SearchSetup, study: Any, record: dict[str, Any], progress: Progress) -> Any:
    """Train the defaults and the winner, compare them with the forest, refit the kept one and export it."""
    from .. import api

    config = setup.config
    state = DistState(0, 1, 0, choose_device(config.training.device))
    final_epochs = int(config.tune.final_epochs or config.training.epochs or 1)
    defaults_config = _without_checkpoints(_with_epochs(config, final_epochs))
    winner_config = _without_checkpoints(from_mapping(best_mapping(setup, study), "best settings"))
    same = _settings(winner_config) == _settings(defaults_config)
    steps = 3 if same else 4
    defaults = fit_run(defaults_config, ShareOfProgress(progress, "Default settings: ", 0.0, 1 / steps), state,
                       prepared=(defaults_config, setup.data, setup.choices))
    winner = defaults if same else fit_run(
        winner_config, ShareOfProgress(progress, "Search's winner: ", 1 / steps, 1 / steps), state,
        prepared=(winner_config, setup.cache.get(winner_config), setup.choices))
    comparison, forest_result = compare(defaults, winner, same, study.best_trial.number, progress)
    keep_winner = config.tune.keep == "winner" or comparison["winner_better"]
    kept = winner if keep_winner else defaults
    baselines = (baseline_summary(kept, forest_result, progress) if forest_result is not None else
                 {"skipped": "scikit-learn is not installed"} if config.validation.forest_trees > 0 else None)
    comparison["kept"] = WINNER if keep_winner and not same else DEFAULTS
    comparison["reason"] = _reason(comparison, config.tune.keep, same)
    progress.info(f"Kept: {comparison['kept']}: {comparison['reason']}.")
    exported, refit = kept, None
    if config.tune.refit and not kept.fit.cancelled:
        exported = refit_run(kept, ShareOfProgress(progress, "Final fit: ", (steps - 1) / steps, 1 / steps), state)
        refit = {"epochs": exported.config.training.epochs, "validated_best_epoch": kept.fit.best_epoch,
                 "note": "the kept settings retrained on all the training ground (validation blocks included); the "
                         "validation figures are those of the validated run with the same settings"}
        comparison["refit"] = refit
    exported.config = dataclasses.replace(exported.config, output=config.output)
    selection = (f"{comparison['kept']} ({comparison['reason']})" +
                 (f"; then retrained on all the training ground for {refit['epochs']} epochs" if refit else ""))
    outcome = api.finish(exported, progress, search=record,
                         extra={"comparison": comparison, **({"baselines": baselines} if baselines else {})},
                         selection=selection)
    outcome.compared = {"defaults": defaults, "winner": winner}
    return outcome


def compare(defaults: FittedRun, winner: FittedRun, same: bool, best_trial: int,
            progress: Progress) -> tuple[dict[str, Any], forest.ForestResult | None]:
    """The three models on the same validation area: figures, intervals, paired differences."""
    resamples = defaults.config.validation.bootstrap
    rows = [_row(DEFAULTS, defaults, resamples)]
    if not same:
        rows.append(_row(f"{WINNER} (trial {best_trial})", winner, resamples))
    result = None
    trees = defaults.config.validation.forest_trees
    if trees > 0 and forest.available():
        result = forest.fit_and_score(defaults.data, defaults.config.data.indices, defaults.config.data.band_roles,
                                      trees, defaults.config.training.seed)
        rows.append({"name": FOREST, **_figures(result.evaluation, resamples), "trees": trees})
    difference = None
    first, second = winner.fit.best_evaluation.units, defaults.fit.best_evaluation.units
    if not same and first is not None and second is not None:
        difference = paired_difference(first, second, resamples)
    for row in rows:
        interval = row.get("interval_95", {}).get("mean_iou", {})
        progress.info(f"On the validation area: {row['name']}: OA {row['overall_accuracy']:.1%}, kappa "
                      f"{row['kappa']:.3f}, mIoU {row['mean_iou']:.1%}"
                      + (f" (95 % interval {interval['low']:.1%} to {interval['high']:.1%})" if interval else ""))
    comparison = {"validation_pixels": defaults.fit.best_evaluation.scores.total, "rows": rows,
                  "winner_minus_defaults": difference, "same_settings": same,
                  "winner_better": (not same) and winner.mean_iou > defaults.mean_iou}
    return comparison, result


def refit_run(kept: FittedRun, progress: Progress, state: DistState) -> FittedRun:
    """The kept settings trained on all the training ground for the epochs their validated run found best."""
    planned = int(kept.config.training.epochs or 1)
    epochs = max(kept.fit.best_epoch, (planned + 1) // 2)
    config = dataclasses.replace(
        kept.config, training=dataclasses.replace(kept.config.training, epochs=epochs),
        validation=dataclasses.replace(kept.config.validation, holdout=False))
    progress.info(f"Retraining the kept settings on all the training ground (validation blocks included) for {epochs} "
                  f"epochs (the validated run's best epoch {kept.fit.best_epoch} of {planned}).")
    refit = fit_run(config, progress, state, prepared=(config, _prepare(config, progress), kept.choices))
    refit.fit.best_evaluation = kept.fit.best_evaluation  # the validated run's figures stand for it (said so)
    refit.data.validation = kept.data.validation
    refit.data.validation_counts = kept.data.validation_counts
    return refit


def _prepare(config: TrainConfig, progress: Progress) -> Any:
    from ..data.prepare import prepare_data

    return prepare_data(config, progress)


def _row(name: str, run: FittedRun, resamples: int) -> dict[str, Any]:
    return {"name": name, **_figures(run.fit.best_evaluation, resamples), "best_epoch": run.fit.best_epoch,
            "epochs": run.config.training.epochs, "seconds": round(run.fit.wall_seconds, 1)}


def _figures(evaluation: Any, resamples: int) -> dict[str, Any]:
    scores = evaluation.scores
    figures = {"overall_accuracy": scores.overall_accuracy, "kappa": scores.kappa, "mean_iou": scores.mean_iou}
    interval = evaluation.interval(resamples) if resamples else None
    return {**figures, **({"interval_95": interval} if interval else {})}


def _reason(comparison: dict[str, Any], keep: str, same: bool) -> str:
    rows = comparison["rows"]
    if same:
        return "the search's best settings are the default settings"
    defaults, winner = rows[0]["mean_iou"], rows[1]["mean_iou"]
    difference = comparison.get("winner_minus_defaults") or {}
    noise = difference.get("mean_iou", {})
    within = f" (95 % interval of the difference {noise['low']:+.1%} to {noise['high']:+.1%})" if noise else ""
    if comparison["winner_better"]:
        return f"the winner's validation mIoU {winner:.1%} beats the defaults' {defaults:.1%}{within}"
    if keep == "winner":
        return (f"tune.keep is 'winner': exported although its validation mIoU {winner:.1%} does not beat the "
                f"defaults' {defaults:.1%}{within}")
    return (f"the winner's validation mIoU {winner:.1%} does not beat the defaults' {defaults:.1%}{within}, so the "
            "default settings' model is kept (tune.keep: winner exports the winner anyway)")


def _with_epochs(config: TrainConfig, epochs: int) -> TrainConfig:
    return dataclasses.replace(config, training=dataclasses.replace(config.training, epochs=epochs))


def _without_checkpoints(config: TrainConfig) -> TrainConfig:
    return dataclasses.replace(config, output=dataclasses.replace(config.output, checkpoints=False))


def _settings(config: TrainConfig) -> dict[str, Any]:
    """What trains the network (everything but outputs and the search's own section)."""
    return {k: v for k, v in config.to_dict().items() if k not in ("output", "tune")}
