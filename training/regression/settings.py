"""The configuration checks of regression training (``regression.target`` given), called by
``TrainConfig.validate``; the ranges shared with segmentation are checked there."""
from __future__ import annotations

from typing import Any

from .._plugin import errors, training_choices

InputError = errors.InputError
LOSSES = ("l1", "l2", "huber")
OBJECTIVES = ("r2", "rmse", "mae")


def check_regression_config(config: Any) -> None:
    """Refuse what regression training cannot use, saying what to give instead (``config``: a TrainConfig)."""
    data, regression = config.data, config.regression
    if data.labels or data.label_raster or data.chips:
        raise InputError("A regression model learns the values of regression.target; data.labels, data.label_raster "
                         "and data.chips are class labels. Give either the target raster (a regression model) or "
                         "class labels (a segmentation model), not both.")
    if not data.image:
        raise InputError("data.image is missing: give the raster to train on (the target raster holds the values "
                         "to learn, data.image the bands to learn them from).")
    if config.model.architecture not in training_choices.ARCHITECTURES:
        raise InputError(f"model.architecture {config.model.architecture!r} is not a per-pixel network; a regression "
                         f"model is one of {', '.join(training_choices.ARCHITECTURES)}.")
    if regression.loss not in LOSSES:
        raise InputError(f"regression.loss is {regression.loss!r}; use one of {', '.join(LOSSES)}.")
    if regression.objective not in OBJECTIVES:
        raise InputError(f"regression.objective is {regression.objective!r}; use one of {', '.join(OBJECTIVES)}.")
    bands = regression.bands or [1]
    if len(set(bands)) != len(bands):
        raise InputError(f"regression.bands must be distinct band numbers, got {regression.bands}.")
    if regression.names is not None and len(regression.names) != len(bands):
        raise InputError(f"regression.names gives {len(regression.names)} name(s) for {len(bands)} target band(s); "
                         "give one name per band.")
    limits = regression.valid_range
    if limits is not None and (len(limits) != 2 or not limits[0] < limits[1]):
        raise InputError(f"regression.valid_range must be [low, high] with low < high, got {limits}.")
    if config.training.resume:
        raise InputError("training.resume is not available for regression models; start the run again.")
    if not config.validation.holdout:
        raise InputError("A regression model is chosen and scored on a validation area: validation.holdout false is "
                         "not available for it. Leave it out (true), or give a validation layer or extent.")
