"""The search space of ``python -m training tune``: a documented default that ``tune.space`` narrows or widens.

Each parameter is a list of choices, a range ``{low, high, log}`` or a single fixed value; ``null``
leaves it out of the search (the configuration's own value is used). Named parameters map onto the
configuration as follows; any other ``section.key`` of the configuration can be searched too
(``training.batch_size: [8, 16]``).

==================  =========================================  ===========================================
parameter           default                                    sets
==================  =========================================  ===========================================
architecture        unet, resnet18_fcn, mobilenetv2_unet       model.architecture
depth               2 to 5 (U-Net only)                        model.depth
width_factor        0.25, 0.5, 0.75, 1                         model.width = factor x the family's default
learning_rate       0.0003 to 0.01, log                        training.learning_rate
weight_decay        0.000001 to 0.01, log                      training.weight_decay
dropout             0 to 0.5                                   model.dropout
class_weights       auto, none                                 training.class_weights
region_loss         none, dice, jaccard                        training.region_loss
augmentation        0 to 0.3                                   training.brightness and training.contrast
chip_size           32 to 256 px, those the scene can take          data.chip_size (stride scaled alike)
==================  =========================================  ===========================================

Choices that cannot run on the data are never proposed: chip sizes larger than the image or the
labelled ground, or with labels for fewer than two chips, are left out of the space (a user's choice
among them is dropped with a warning). Settings the configuration left to the data (batch size, U-Net
depth) follow each trial's chip size as they would in ``train``.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Mapping

from .._plugin import errors, training_choices
from ..config import TrainConfig, from_mapping
from ..nets.model import DEFAULT_WIDTH, unet_depth

InputError = errors.InputError
DETECTION_ARCHITECTURES = training_choices.DETECTION_ARCHITECTURES


@dataclass(frozen=True)
class Choice:
    """One of a list of values."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    """A number from ``low`` to ``high`` (whole numbers when ``integer``; log-uniform when ``log``)."""

    low: float
    high: float
    log: bool = False
    integer: bool = False


Spec = Choice | Range
DEFAULT_SPACE: dict[str, Spec] = {
    "architecture": Choice(("unet", "resnet18_fcn", "mobilenetv2_unet")),
    "depth": Range(2, 5, integer=True),
    "width_factor": Choice((0.25, 0.5, 0.75, 1.0)),
    "learning_rate": Range(3e-4, 1e-2, log=True),
    "weight_decay": Range(1e-6, 1e-2, log=True),
    "dropout": Range(0.0, 0.5),
    "class_weights": Choice(("auto", "none")),
    "region_loss": Choice(("none", "dice", "jaccard")),
    "augmentation": Range(0.0, 0.3),
    "chip_size": Choice((64, 128, 256)),
}
_INTEGER_PARAMETERS = {"depth", "chip_size"}
_TARGETS = {"depth": ("model", "depth"), "learning_rate": ("training", "learning_rate"),
            "weight_decay": ("training", "weight_decay"), "dropout": ("model", "dropout"),
            "class_weights": ("training", "class_weights"), "region_loss": ("training", "region_loss"),
            "architecture": ("model", "architecture"), "backbone": ("detection", "backbone"),
            "fpn_channels": ("detection", "fpn_channels"), "head_convs": ("detection", "head_convs")}


@dataclass(frozen=True)
class SearchSpace:
    """Searched parameters (in suggestion order) and fixed values applied to every trial."""

    searched: dict[str, Spec]
    fixed: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for the report."""
        def text(spec: Spec) -> Any:
            if isinstance(spec, Choice):
                return list(spec.values)
            return {"low": spec.low, "high": spec.high, "log": spec.log, "integer": spec.integer}
        return {"searched": {name: text(spec) for name, spec in self.searched.items()}, "fixed": dict(self.fixed)}


def default_space(base: Mapping[str, Any]) -> dict[str, Spec]:
    """The default search space of the configuration's kind of model (detectors have their own)."""
    if base.get("model", {}).get("architecture") not in DETECTION_ARCHITECTURES:
        return DEFAULT_SPACE
    from ..detection.tune import SPACE

    return {name: Choice(tuple(values)) if kind == "choice" else Range(float(values[0]), float(values[1]),
                                                                       bool(values[2]))
            for name, (kind, values) in SPACE.items()}


def build_space(overrides: Mapping[str, Any], base: Mapping[str, Any], chips_folder: bool = False,
                fitting_chips: tuple[int, ...] = (), progress: Any = None) -> SearchSpace:
    """The default space with ``tune.space`` applied, each choice checked against the configuration, chip
    sizes limited to ``fitting_chips`` (those the scene can take) when given."""
    defaults = default_space(base)
    searched: dict[str, Spec] = dict(defaults)
    if fitting_chips and "chip_size" in searched:
        searched["chip_size"] = Choice(tuple(fitting_chips))
    fixed: dict[str, Any] = {}
    for name, value in overrides.items():
        if name not in defaults and name not in DEFAULT_SPACE and "." not in name:
            raise InputError(f"tune.space: unknown parameter {name!r}; use one of {', '.join(defaults)} or a "
                             "configuration key written as section.key (for example training.batch_size).")
        searched.pop(name, None)
        if value is None:
            continue
        spec = _spec(name, value)
        if spec is None:
            fixed[name] = value[0] if isinstance(value, (list, tuple)) else value
        else:
            searched[name] = spec
    if chips_folder and "chip_size" in searched:
        del searched["chip_size"]  # a chips folder's chips have the size they were exported with
    if fitting_chips and not chips_folder:
        _fit_chips(searched, fixed, fitting_chips, progress)
    _check(searched, fixed, base)
    order = [n for n in defaults if n in searched] + sorted(n for n in searched if n not in defaults)
    return SearchSpace({n: searched[n] for n in order}, fixed)


def _fit_chips(searched: dict[str, Spec], fixed: dict[str, Any], fitting: tuple[int, ...], progress: Any) -> None:
    """Leave out chip sizes the scene cannot take (a fixed one that cannot is refused)."""
    if "chip_size" in fixed and int(fixed["chip_size"]) not in fitting:
        raise InputError(f"tune.space.chip_size {fixed['chip_size']} does not fit this scene; chip sizes it can take: "
                         f"{', '.join(str(c) for c in fitting)}.")
    spec = searched.get("chip_size")
    if isinstance(spec, Range):  # a range of chip sizes: the fitting ones inside it
        spec = Choice(tuple(c for c in fitting if spec.low <= c <= spec.high))
    if isinstance(spec, Choice):
        kept = tuple(c for c in spec.values if int(c) in fitting)
        dropped = [c for c in spec.values if int(c) not in fitting]
        if dropped and progress is not None:
            progress.warning(f"tune.space: chip size(s) {dropped} cannot be trained on this scene (larger than its "
                             f"labelled ground, or labels for fewer than two chips) and are not tried.")
        if not kept:
            raise InputError(f"tune.space.chip_size: none of {list(spec.values)} fits this scene; chip sizes it can "
                             f"take: {', '.join(str(c) for c in fitting)}.")
        if len(kept) == 1:
            del searched["chip_size"]
            fixed["chip_size"] = kept[0]
        else:
            searched["chip_size"] = Choice(kept)


def _spec(name: str, value: Any) -> Spec | None:
    """A Choice, a Range, or None for a single fixed value."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise InputError(f"tune.space.{name} is an empty list; give at least one value.")
        return Choice(tuple(value)) if len(value) > 1 else None
    if isinstance(value, Mapping):
        unknown = set(value) - {"low", "high", "log"}
        if unknown or "low" not in value or "high" not in value:
            raise InputError(f"tune.space.{name} must be a list of values or {{low, high, log}}; got {dict(value)}.")
        low, high = value["low"], value["high"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) or not low <= high:
            raise InputError(f"tune.space.{name}: low and high must be numbers with low <= high; got {low}, {high}.")
        log = bool(value.get("log", False))
        if log and low <= 0:
            raise InputError(f"tune.space.{name}: a log range needs low > 0; got {low}.")
        integer = name in _INTEGER_PARAMETERS or (isinstance(low, int) and isinstance(high, int) and not log
                                                  and name not in DEFAULT_SPACE)
        return Range(float(low), float(high), log, integer)
    return None


def _check(searched: dict[str, Spec], fixed: dict[str, Any], base: Mapping[str, Any]) -> None:
    """Every choice and range end must make a valid configuration (so a typo fails now, not in trial 7)."""
    probes: list[dict[str, Any]] = []
    for name, spec in searched.items():
        values = spec.values if isinstance(spec, Choice) else (spec.low, spec.high)
        probes.extend({name: int(v) if isinstance(spec, Range) and spec.integer else v} for v in values)
    probes.append({})
    for probe in probes:
        params = {**fixed, **probe}
        if "width_factor" in params and "architecture" not in params:
            params["architecture"] = base.get("model", {}).get("architecture", "unet")
        try:
            from_mapping(apply(base, params), "tune.space")
        except InputError as error:
            raise InputError(f"tune.space: {params} does not make a valid configuration: {error}") from error


def suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """Draw one trial's parameters (``depth`` only for the U-Net)."""
    params: dict[str, Any] = {}
    for name, spec in space.searched.items():
        architecture = params.get("architecture", space.fixed.get("architecture"))
        if name == "depth" and architecture not in (None, "unet"):
            continue
        if isinstance(spec, Choice):
            params[name] = trial.suggest_categorical(name, list(spec.values))
        elif spec.integer:
            params[name] = trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)
        else:
            params[name] = trial.suggest_float(name, spec.low, spec.high, log=spec.log)
    return params


def defaults_in_space(config: TrainConfig, space: SearchSpace, progress: Any = None) -> dict[str, Any]:
    """The configuration's own settings, for those searched parameters whose range holds them (the first
    trial); a setting outside the space is named in a warning (that trial then differs from the defaults)."""
    current = {"architecture": config.model.architecture, "depth": unet_depth(config.model),
               "learning_rate": config.training.learning_rate, "weight_decay": config.training.weight_decay,
               "dropout": config.model.dropout, "class_weights": config.training.class_weights,
               "region_loss": config.training.region_loss, "chip_size": config.data.chip_size,
               "augmentation": config.training.brightness if config.training.brightness == config.training.contrast
               else None,
               "width_factor": (config.model.width or DEFAULT_WIDTH.get(config.model.architecture, 64))
               / DEFAULT_WIDTH.get(config.model.architecture, 64),
               "backbone": config.detection.backbone, "fpn_channels": config.detection.fpn_channels,
               "head_convs": config.detection.head_convs}
    sections = config.to_dict()
    result = {}
    for name, spec in space.searched.items():
        if name in current:
            value = current[name]
        else:
            section, _, key = name.partition(".")
            value = sections.get(section, {}).get(key)
        if name == "depth" and current["architecture"] != "unet":
            continue
        if isinstance(spec, Choice) and value in spec.values:
            result[name] = value
        elif isinstance(spec, Range) and isinstance(value, (int, float)) and spec.low <= value <= spec.high:
            result[name] = int(value) if spec.integer else float(value)
        elif progress is not None:
            progress.warning(f"The default {name} ({value}) lies outside the search space; the first trial draws "
                             "it instead, and the default settings are still trained and compared at the end.")
    return result


def apply(base: Mapping[str, Any], params: Mapping[str, Any], auto: set[str] | frozenset[str] = frozenset()
          ) -> dict[str, Any]:
    """A copy of the configuration mapping ``base`` with the trial's parameters set; settings named in ``auto``
    (chosen from the data for the base's chip size) follow a new chip size."""
    result = {name: dict(values or {}) for name, values in copy.deepcopy(dict(base)).items()}
    for name, value in params.items():
        if name in _TARGETS:
            section, key = _TARGETS[name]
            result.setdefault(section, {})[key] = value
        elif name == "width_factor":
            architecture = params.get("architecture") or result.get("model", {}).get("architecture", "unet")
            result.setdefault("model", {})["width"] = max(4, int(round(DEFAULT_WIDTH[architecture] * float(value))))
        elif name == "augmentation":
            result.setdefault("training", {}).update(brightness=float(value), contrast=float(value))
        elif name == "chip_size":
            data = result.setdefault("data", {})
            ratio = (data.get("stride") or (data.get("chip_size") or 256) // 2) / (data.get("chip_size") or 256)
            old = int(data.get("chip_size") or 256)
            data.update(chip_size=int(value), stride=max(int(round(int(value) * ratio)), 1))
            _follow_chip(result, old, int(value), params, auto)
        else:
            section, _, key = name.partition(".")
            result.setdefault(section, {})[key] = value
    return result


def _follow_chip(result: dict[str, Any], old: int, chip: int, params: Mapping[str, Any],
                 auto: set[str] | frozenset[str]) -> None:
    """Batch size and U-Net depth chosen from the data for ``old`` chips, chosen again for ``chip``."""
    if old == chip:
        return
    training, model = result.setdefault("training", {}), result.setdefault("model", {})
    if "training.batch_size" in auto and "training.batch_size" not in params and training.get("batch_size"):
        scaled = training["batch_size"] * (old / chip) ** 2
        training["batch_size"] = int(min(32, max(2, 2 ** round(math.log2(max(scaled, 1))))))
    if "model.depth" in auto and "depth" not in params:
        model["depth"] = 4 if chip >= 64 else 3
