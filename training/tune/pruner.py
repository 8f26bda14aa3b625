"""Pruning that allows for the validation's noise: a trial stops only when it is clearly behind.

A validation mean IoU measured on a few blocks moves by several points from one epoch to the next and
from one block draw to another. Optuna's median pruner compares one epoch's figure with the median of
earlier trials at that epoch, so on a small validation area it stops good settings by chance. This
pruner compares the trial's best figure so far (not its last epoch) with the median of the completed
trials' best figures up to the same epoch, and prunes only when the trial is behind by more than the
validation's noise: the standard error of the mean IoU, measured by bootstrap on the first trial
(the default settings), and never less than ``MIN_MARGIN``. No trial is stopped during its warm-up
(a third of its epochs unless set) or before ``startup_trials`` trials have completed.
"""
from __future__ import annotations

import statistics
from typing import Any

import optuna
from optuna.trial import TrialState

NOISE_ATTRIBUTE = "validation_noise"  # the study's user attribute holding the standard error of the mIoU
MIN_MARGIN = 0.01


def best_until(trial: Any, step: int) -> float | None:
    """The trial's best reported value at or before ``step`` (None before its first report)."""
    values = [value for at, value in trial.intermediate_values.items() if at <= step]
    return max(values) if values else None


class NoiseAwarePruner(optuna.pruners.BasePruner):
    """Prune when the best value so far trails the completed trials' median by more than the noise."""

    def __init__(self, startup_trials: int, warmup_steps: int, margin: float = MIN_MARGIN) -> None:
        self.startup_trials, self.warmup_steps, self.margin = startup_trials, warmup_steps, margin

    def prune(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step <= self.warmup_steps:
            return False
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(completed) < max(self.startup_trials, 1):
            return False
        mine = best_until(trial, step)
        others = [value for value in (best_until(t, step) for t in completed) if value is not None]
        if mine is None or not others:
            return False
        margin = max(float(study.user_attrs.get(NOISE_ATTRIBUTE) or 0.0), self.margin)
        return mine + margin < statistics.median(others)
