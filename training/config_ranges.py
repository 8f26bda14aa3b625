"""The allowed range of every numeric configuration key, checked before anything runs.

One table (``RANGES``) names, for each numeric key of the configuration (``section.key``), the smallest
and largest value it may take; a value outside it is refused with a message naming the key, its range
and the value given, so ``model.dropout=2`` or ``training.workers=-2`` never reaches the network or a
DataLoader. Keys holding lists or mappings of numbers (``data.bands``, ``data.band_roles``,
``training.class_weights``) have each of their numbers checked. A test makes sure every numeric key of
the configuration has its row here.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from ._plugin import errors

INF = math.inf
SEED_MAX = 2 ** 32 - 1  # numpy and torch seeds

# section.key -> (lowest, highest) allowed value (inclusive)
RANGES: dict[str, tuple[float, float]] = {
    "data.ignore_value": (0, 65535),
    "data.bands": (1, 10000),
    "data.chip_size": (16, 4096),
    "data.stride": (1, 4096),
    "data.min_labelled": (0.0, 1.0),
    "data.band_roles": (1, 10000),
    "data.cache_mb": (0, 10 ** 7),
    "validation.fraction": (0.01, 0.9),
    "validation.block_size": (8, 10 ** 6),
    "validation.extent": (-INF, INF),
    "validation.buffer": (0, 4096),
    "validation.window": (16, 8192),
    "validation.context": (0, 4096),
    "validation.folds": (0, 20),
    "validation.fold": (0, 19),
    "validation.forest_trees": (0, 5000),
    "validation.bootstrap": (0, 100000),
    "model.depth": (1, 6),
    "model.width": (1, 1024),
    "model.dropout": (0.0, 0.95),
    "training.epochs": (1, 100000),
    "training.batch_size": (1, 4096),
    "training.learning_rate": (1e-9, 10.0),
    "training.weight_decay": (0.0, 1.0),
    "training.class_weights": (0.0, 10 ** 6),
    "training.region_loss_weight": (0.0, 100.0),
    "training.brightness": (0.0, 10.0),
    "training.contrast": (0.0, 0.95),
    "training.patience": (0, 100000),
    "training.seed": (0, SEED_MAX),
    "training.workers": (0, 256),
    "training.steps_per_epoch": (1, 10 ** 7),
    "test.extent": (-INF, INF),
    "tune.trials": (1, 100000),
    "tune.timeout": (1.0, 10 ** 8),
    "tune.folds": (0, 20),
    "tune.epochs": (1, 100000),
    "tune.final_epochs": (1, 100000),
    "tune.seed": (0, SEED_MAX),
    "tune.startup_trials": (0, 100000),
    "tune.prune_startup_trials": (0, 100000),
    "tune.prune_warmup_epochs": (0, 100000),
    "detection.fpn_channels": (8, 1024),
    "detection.head_convs": (0, 8),
    "detection.point_size": (1, 4096),
    "detection.aspect_ratios": (0.05, 20),
    "detection.background_chips": (0, 10),
    "detection.score_threshold": (0.0, 1.0),
    "detection.iou_threshold": (0.01, 1.0),
    "detection.max_detections": (1, 100000),
    "regression.bands": (1, 10000),
    "regression.nodata": (-INF, INF),
    "regression.valid_range": (-INF, INF),
    "regression.huber_delta": (1e-6, 10 ** 6),
    "cells.cell_size": (1, 4096),
    "cells.border": (0, 2048),
    "cells.min_cover": (0.0, 1.0),
}


def range_text(low: float, high: float) -> str:
    """``from 0 to 0.95``, ``at least 1``, ``any finite number``."""
    if math.isinf(low) and math.isinf(high):
        return "any finite number"
    if math.isinf(high):
        return f"at least {low:g}"
    return f"from {low:g} to {high:g}"


def check_number(key: str, value: Any, low: float, high: float, where: str = "") -> None:
    """Refuse ``value`` outside [low, high] (or not finite) with a message naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return  # a text value (data.ignore_value: 'none', class weights 'auto'): checked where it is read
    if not math.isfinite(value) or not low <= value <= high:
        raise errors.InputError(f"{key}{where} must be {range_text(low, high)}, got {value!r}.")


def check_ranges(sections: Mapping[str, Any]) -> None:
    """Check every numeric key of a configuration (``sections``: section name -> dataclass instance)."""
    for key, (low, high) in RANGES.items():
        section, name = key.split(".")
        value = getattr(sections[section], name)
        if isinstance(value, Mapping):
            for item, number in value.items():
                check_number(key, number, low, high, f" ({item})")
        elif isinstance(value, (list, tuple)):
            for position, number in enumerate(value):
                check_number(key, number, low, high, f"[{position}]")
        elif value is not None:
            check_number(key, value, low, high)
