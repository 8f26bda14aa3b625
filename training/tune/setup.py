"""What a search starts from: the default configuration filled in from the data, its prepared chips, the
chip sizes the scene can take, and the signature that ties a study to its search.

The defaults are chosen once (plan.py) and are the first trial; the chips they need are prepared once
and shared with every trial of the same chip size and with the final comparison. A stored study is
tied to its search space, epochs per trial, scoring and data: running ``tune`` again into the same
study with a different search would mix trials that cannot be compared (and could export settings the
new space excludes), so it is refused with the differences and what to do.
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._plugin import errors
from .._plugin import progress as progress_module
from ..config import TrainConfig, from_mapping
from ..data.census import LabelCensus
from ..data.prepare import PreparedData, prepare_data
from ..plan import CHIP_SIZES, Choice, resolve, resolve_epochs
from .trial import DataCache

Progress = progress_module.Progress
SIGNATURE_ATTRIBUTE = "seamless_search"
MIN_TRIAL_EPOCHS = 5
MIN_CHIP_AREAS_TO_FIT = 2  # a chip size needs labelled pixels for at least this many chips' area


@dataclass
class SearchSetup:
    """The defaults (every setting filled in), the trials' base mapping, the shared data cache."""

    config: TrainConfig
    base: dict[str, Any]
    cache: DataCache
    data: Any  # PreparedData (a detector's: DetectionData)
    census: LabelCensus | None
    choices: list[Choice] = field(default_factory=list)
    fitting_chips: tuple[int, ...] = ()

    @property
    def auto_keys(self) -> set[str]:
        """The settings chosen from the data (a trial with another chip size chooses them again)."""
        return {choice.key for choice in self.choices}

    @property
    def trial_epochs(self) -> int:
        """Epochs per trial: tune.epochs, else half the final training's (at least 5): more trials in the time."""
        if self.config.tune.epochs:
            return int(self.config.tune.epochs)
        final = int(self.config.training.epochs or 1)
        if self.config.is_detection:
            return final  # detectors: trials as long as the final training, as before
        return min(final, max(MIN_TRIAL_EPOCHS, math.ceil(final / 2)))


def prepare_search(config: TrainConfig, progress: Progress) -> SearchSetup:
    """Fill in the defaults from the data, fix the validation windows for every chip size, prepare the chips."""
    if config.is_detection:
        return _detector_search(config, progress)
    resolved = resolve(config, progress)
    base = fixed_validation(resolved.config.to_dict(), int(resolved.config.data.chip_size or 0))
    defaults = from_mapping(base, "default settings")
    cache = DataCache(progress)
    data = prepare_data(defaults, progress, resolved.census)
    choices = list(resolved.choices)
    defaults = resolve_epochs(defaults, len(data.train.refs), int(data.train_counts.sum()), progress, choices)
    base = defaults.to_dict()
    cache.put(defaults, data)
    return SearchSetup(defaults, base, cache, data, resolved.census, choices,
                       fitting_chip_sizes(resolved.census, defaults, data))


def _detector_search(config: TrainConfig, progress: Progress) -> SearchSetup:
    """A detector's search: its fixed defaults, the validation blocks of its own data (training/detection)."""
    from ..detection import tune as detection_tune

    base = config.to_dict()
    if not (config.validation.layer or config.validation.extent) and config.validation.block_size is None:
        base["validation"]["block_size"] = detection_tune.block_size(config)
    base = fixed_validation(base, int(config.data.chip_size or 0))
    defaults = from_mapping(base, "default settings")
    cache = DataCache(progress)
    return SearchSetup(defaults, defaults.to_dict(), cache, cache.get(defaults), None)


def fixed_validation(mapping: dict[str, Any], chip: int) -> dict[str, Any]:
    """The mapping with the validation windows fixed (the same validation area for every chip size)."""
    mapping = copy.deepcopy(mapping)
    validation = mapping["validation"]
    validation["window"] = validation["window"] or chip
    validation["context"] = validation["context"] if validation["context"] is not None else chip // 4
    return mapping


def fitting_chip_sizes(census: LabelCensus | None, config: TrainConfig, data: PreparedData) -> tuple[int, ...]:
    """Chip sizes the scene can take: within the image and the labelled ground, with labels for a few chips."""
    fixed = getattr(data.scene, "chip_size", None)
    if fixed:
        return (int(fixed),)
    width, height = data.scene.extent_pixels
    short = min(width, height)
    labelled = int(data.train_counts.sum() + data.validation_counts.sum())
    if census is not None:
        short = min(short, *census.ground())
    sizes = {c for c in CHIP_SIZES if c <= short and labelled >= MIN_CHIP_AREAS_TO_FIT * c * c}
    sizes.add(int(config.data.chip_size or data.chip_size))
    return tuple(sorted(sizes))


def signature(setup: SearchSetup, space: dict[str, Any], folds: int, objective: str) -> dict[str, Any]:
    """What makes a study's trials comparable: the space, epochs per trial, scoring, data and validation."""
    data, validation = setup.config.data, setup.config.validation
    name = lambda path: Path(path).name if path else None  # noqa: E731 - file names only, no local paths
    return json.loads(json.dumps({
        "space": space, "epochs_per_trial": setup.trial_epochs, "folds": folds, "objective": objective,
        "data": {"image": name(data.image), "labels": name(data.labels), "label_field": data.label_field,
                 "label_raster": name(data.label_raster), "chips": name(data.chips), "bands": data.bands,
                 "additional_images": [name(p) for p in data.additional_images]},
        "validation": {"fraction": validation.fraction, "block_size": validation.block_size,
                       "extent": validation.extent, "layer": name(validation.layer), "window": validation.window,
                       "seed": setup.config.training.seed},
        "test": {"extent": setup.config.test.extent, "layer": name(setup.config.test.layer)}}, default=str))


def tie_study(study: Any, expected: dict[str, Any]) -> None:
    """Record the search a new study belongs to, or refuse a stored study made for another search."""
    stored = study.user_attrs.get(SIGNATURE_ATTRIBUTE)
    if stored is None and not study.trials:
        study.set_user_attr(SIGNATURE_ATTRIBUTE, expected)
        return
    if stored == expected:
        return
    changes = _differences(stored or {}, expected) if stored else ["it records no search settings (an older study)"]
    raise errors.InputError(
        f"The study '{study.study_name}' in this storage holds {len(study.trials)} trial(s) of another search: "
        f"{'; '.join(changes[:6])}. Its trials cannot be compared with this search's, and its best settings may lie "
        "outside this search space. Give the new search its own study (--study NAME, or tune.study) or its own "
        "output folder, or delete the storage (OUTPUT/tune.db) to start again.")


def _differences(stored: dict[str, Any], expected: dict[str, Any], prefix: str = "") -> list[str]:
    changes = []
    for key in sorted(set(stored) | set(expected)):
        old, new = stored.get(key), expected.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changes.extend(_differences(old, new, f"{prefix}{key}."))
        elif old != new:
            changes.append(f"{prefix}{key} was {json.dumps(old)}, now {json.dumps(new)}")
    return changes
