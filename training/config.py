"""Training configuration: sections of plain settings, read from YAML or JSON and from flags.

A configuration file holds the sections ``data``, ``validation``, ``model``, ``training`` and
``output``, and optionally ``test`` (a held-out test area), ``tune`` (the hyperparameter search),
``detection`` (object detectors) and ``regression`` (a raster of values to learn instead of classes);
every key is optional except where a section says otherwise (docs/training.md lists them all).
Relative paths are taken from the current working directory. Unknown keys and values of the wrong
type are refused with a message naming the key, so a typo never passes silently.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ._plugin import errors, training_choices
from .class_codes import parse_class_codes
from .config_ranges import check_ranges

InputError = errors.InputError

ARCHITECTURES = (training_choices.ARCHITECTURES + training_choices.DETECTION_ARCHITECTURES
                 + training_choices.CLASSIFIER_ARCHITECTURES)
SCHEDULES = ("cosine", "onecycle")
REGION_LOSSES = ("none", "dice", "jaccard")
DEVICES = training_choices.DEVICES
TUNE_KEEP = ("better", "winner")
DETECTOR_DEFAULTS = {"chip_size": 256, "epochs": 30, "batch_size": 8}
DEFAULT_IGNORE = "default"  # label rasters: their nodata value (0 is a class, as in evaluate and chip export)


@dataclass
class DataConfig:
    """Where the image and labels come from and how chips are cut."""

    image: str | None = None  # image raster (any band count and data type)
    additional_images: list[str] = field(default_factory=list)  # rasters whose bands follow the image's, read
    # on its grid (Classify raster's ADDITIONAL_INPUTS: a model trained on a stack is applied to the same stack)
    labels: str | None = None  # vector labels (polygons) with a class field
    label_field: str | None = None
    label_layer: str | None = None  # layer inside a multi-layer vector file (default: the first)
    label_raster: str | None = None  # or a label raster (resampled nearest onto the image grid)
    chips: str | None = None  # or a chips folder written by seamless:exportchips
    ignore_value: int | str | None = DEFAULT_IGNORE  # label rasters: value meaning "unlabelled"
    bands: list[int] | None = None  # 1-based band numbers to use (default: all but alpha)
    band_names: list[str] | None = None  # names for the contract (default: band descriptions)
    classes: list[dict[str, Any]] | None = None  # optional {value, name, color} per class value; also read from
    # 'value=name; ...' text or a {value: name} mapping. With a text class field, the names take these codes.
    chip_size: int | None = None  # None: chosen from the data (see training/plan.py)
    stride: int | None = None  # None: chosen from the data (half or a quarter of a chip)
    min_labelled: float = 0.05  # a training chip needs this fraction of labelled training pixels
    indices: list[str] | None = None  # spectral indices added inside the model (None: those the band names allow)
    band_roles: dict[str, int] = field(default_factory=dict)  # e.g. {red: 3, nir: 4}: 1-based positions
    cache_mb: int = 2048  # raw chips are kept in memory when they fit in this many megabytes


@dataclass
class ValidationConfig:
    """How the validation area is chosen: spatial blocks, a bounding box or a polygon layer."""

    fraction: float = 0.2  # share of labelled pixels held out, in whole blocks
    block_size: int | None = None  # pixels; None: chosen from the data (enough blocks for every class)
    extent: list[float] | None = None  # [xmin, ymin, xmax, ymax] in the image CRS: overrides fraction
    layer: str | None = None  # polygon layer of the validation area: overrides extent and fraction
    layer_name: str | None = None
    buffer: int = 0  # pixels around the validation area left out of training
    window: int | None = None  # validation window; default the chip size
    context: int | None = None  # extra pixels read around each validation window; default chip / 4
    folds: int = 0  # k spatial folds of whole blocks (0: one validation area); ``fold`` is the one held out
    fold: int = 0
    holdout: bool = True  # false: no validation area, every labelled pixel trains and the last epoch is kept
    forest_trees: int = 100  # a pixel random forest scored on the same validation (0: none)
    bootstrap: int = 200  # resamples of the validation windows for the figures' 95 % intervals (0: none)


@dataclass
class ModelConfig:
    """The network: architecture and its size."""

    architecture: str = "unet"
    depth: int | None = None  # U-Net levels below full resolution (total stride 2**depth); None: 4, 3 for 32 px
    width: int | None = None  # channels of the first level (None: U-Net 16 on small data, else 32; 64 ResNet,
    # 32 MobileNetV2 stem)
    batch_norm: bool = True
    dropout: float = 0.0
    upsampling: str = "transpose"  # U-Net: transpose (2x2 transposed convolution) or bilinear (+ 3x3 convolution)
    encoder_weights: str | None = None  # local .pt/.pth state dict for the encoder; nothing is downloaded


@dataclass
class DetectionConfig:
    """Object detection (``model.architecture: retinanet``); segmentation ignores this section."""

    backbone: str = "resnet18"  # resnet18, resnet34, resnet50 or mobilenetv2 (model.encoder_weights: a local file)
    fpn_channels: int = 128  # channels of the feature pyramid and the heads (the paper: 256)
    head_convs: int = 4  # 3 x 3 convolutions in each head before its output
    point_size: float | None = None  # pixels: point labels become boxes of this side
    aspect_ratios: list[float] | None = None  # anchor height / width; default from the training objects
    background_chips: float = 0.25  # chips drawn at random, per chip around an object
    score_threshold: float | None = None  # the exported default; None: the best F1 on the validation area
    iou_threshold: float = 0.5  # class-wise non-maximum suppression
    max_detections: int = 300  # per window


@dataclass
class RegressionConfig:
    """Per-pixel regression (``regression.target`` given): the network learns a raster of values, not classes."""

    target: str | None = None  # raster of the values to learn (read on the image grid: averaged or bilinear)
    bands: list[int] | None = None  # its 1-based bands to predict, one output channel each (default [1])
    names: list[str] | None = None  # their names in the contract (default: band descriptions)
    nodata: float | None = None  # a target value meaning "no value" (besides the raster's own nodata)
    units: str = ""  # the values' units, e.g. "reflectance x 10000", "m"
    valid_range: list[float] | None = None  # [low, high] the quantity can take (for the contract)
    loss: str = "huber"  # l1, l2 or huber, on targets standardised by the training area's mean and std
    huber_delta: float = 1.0  # Huber's switch from squared to absolute error, in target standard deviations
    objective: str = "r2"  # r2, rmse or mae: picks the best epoch (and tune's trials) on the validation area


@dataclass
class CellsConfig:
    """Tile classifiers (``model.architecture: mobilenetv2_classifier`` or ``resnetNN_classifier``): the grid of
    cells a class is learnt for; other models ignore this section."""

    cell_size: int = 32  # pixels of a cell (the model's input is the cell plus its border all round)
    border: int = 0  # pixels of context read on each side of the cell (the contract's cells.border_px)
    min_cover: float = 0.5  # polygon or raster labels: share of a cell's pixels that must be labelled


@dataclass
class OptimConfig:
    """The training loop: optimiser, schedule, loss, augmentation, stopping, device."""

    epochs: int | None = None  # None: chosen from the data (enough steps for its size)
    batch_size: int | None = None  # None: chosen from the chip size
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "onecycle"
    class_weights: str | list[float] | dict[str, float] = "auto"  # auto, none, or one weight per class
    region_loss: str = "none"  # add soft Dice or Jaccard to cross-entropy
    region_loss_weight: float = 1.0
    d4: bool = True  # the eight flips and quarter turns
    brightness: float = 0.0  # jitter in normalised units (0: off)
    contrast: float = 0.0  # relative jitter (0.1: x0.9..x1.1)
    patience: int = 0  # early stopping after this many epochs without better mIoU (0: off)
    seed: int = 0
    device: str = "auto"
    amp: bool = False  # mixed precision on CUDA
    workers: int = 0  # DataLoader worker processes
    steps_per_epoch: int | None = None  # cap (quick runs); default one pass over the chips
    resume: str | None = None  # checkpoint to continue from


@dataclass
class OutputConfig:
    """Where results go: a folder with checkpoints, and the model and report paths."""

    folder: str = "training-output"
    model: str | None = None  # default FOLDER/model.onnx
    report: str | None = None  # default FOLDER/report.html
    name: str = ""
    description: str = ""
    checkpoints: bool = True  # write FOLDER/last.pt and FOLDER/best.pt


@dataclass
class TestConfig:
    """An optional test area: left out of training and validation entirely, scored once at the end."""

    __test__ = False  # not a pytest test class

    extent: list[float] | None = None  # [xmin, ymin, xmax, ymax] in the image CRS
    layer: str | None = None  # or polygons (overrides extent)
    layer_name: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.layer or self.extent)


@dataclass
class TuneConfig:
    """Hyperparameter search (``python -m training tune``); training ignores this section."""

    trials: int | None = None  # finished trials the study should hold (None: 20, or no limit with a timeout)
    timeout: float | None = None  # seconds for this process's search
    storage: str | None = None  # Optuna storage URL; default sqlite:///FOLDER/tune.db (resumable)
    study: str = "seamless-tune"
    folds: int = 0  # score trials on k spatial folds instead of one validation area
    epochs: int | None = None  # epochs per trial (default training.epochs)
    final_epochs: int | None = None  # epochs of the final retraining (default training.epochs)
    seed: int | None = None  # sampler seed (default training.seed)
    startup_trials: int = 5  # random trials before TPE models the results
    prune: bool = True  # stop trials whose validation mIoU falls below the median of earlier trials
    prune_startup_trials: int = 3  # trials that always run to the end before pruning starts
    prune_warmup_epochs: int | None = None  # epochs a trial always runs before it can be pruned (None: a third)
    include_defaults: bool = True  # the first trial runs the configuration's own settings
    retrain: bool = True  # retrain the best settings and export the model when the search ends
    keep: str = "better"  # better: export the winner only if it beats the defaults' model; winner: always
    refit: bool = False  # export the kept settings retrained on all the training ground (validation blocks too)
    space: dict[str, Any] = field(default_factory=dict)  # narrows or widens the default search space


@dataclass
class TrainConfig:
    """The whole configuration."""

    data: DataConfig = field(default_factory=DataConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: OptimConfig = field(default_factory=OptimConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    test: TestConfig = field(default_factory=TestConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    regression: RegressionConfig = field(default_factory=RegressionConfig)
    cells: CellsConfig = field(default_factory=CellsConfig)

    @property
    def is_regression(self) -> bool:
        """A per-pixel regression model is trained (``regression.target`` given), not a classifier."""
        return bool(self.regression.target)

    @property
    def is_detection(self) -> bool:
        """An object detector is trained (the ``detection`` section applies), not a segmentation model."""
        return self.model.architecture in training_choices.DETECTION_ARCHITECTURES

    @property
    def is_classifier(self) -> bool:
        """A tile classifier is trained (one class per cell; the ``cells`` section applies)."""
        return self.model.architecture in training_choices.CLASSIFIER_ARCHITECTURES

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary (stored in checkpoints and the model's provenance)."""
        return dataclasses.asdict(self)

    @property
    def model_path(self) -> Path:
        return Path(self.output.model or Path(self.output.folder) / "model.onnx")

    @property
    def report_path(self) -> Path:
        return Path(self.output.report or Path(self.output.folder) / "report.html")

    @property
    def stride(self) -> int:
        """Pixels between training chips (half a chip when not chosen yet)."""
        chip = self.data.chip_size or 0
        return self.data.stride or max(chip // 2, 1)

    def validate(self) -> "TrainConfig":
        """Check values that types alone do not catch; return self."""
        if self.is_detection:
            self._detector_defaults()
        _check_choice("model.architecture", self.model.architecture, ARCHITECTURES)
        _check_choice("model.upsampling", self.model.upsampling, ("transpose", "bilinear"))
        _check_choice("training.schedule", self.training.schedule, SCHEDULES)
        _check_choice("training.region_loss", self.training.region_loss, REGION_LOSSES)
        _check_choice("training.device", self.training.device, DEVICES)
        if self.is_regression:  # first: a detector's architecture with a target is refused as not per-pixel
            from .regression.settings import check_regression_config

            check_regression_config(self)  # a raster of values instead of labels; the checks below apply alike
        elif self.is_detection:
            from .detection.settings import check_detection_config

            check_detection_config(self)  # its own label sources and settings; the checks below apply alike
        elif self.is_classifier:
            from .cells.settings import check_classifier_config

            check_classifier_config(self)
        else:
            self._check_label_sources()
        check_ranges({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        _check_choice("tune.keep", self.tune.keep, TUNE_KEEP)
        if self.validation.extent is not None and len(self.validation.extent) != 4:
            raise InputError("validation.extent must be [xmin, ymin, xmax, ymax] in the image CRS.")
        if self.test.extent is not None and len(self.test.extent) != 4:
            raise InputError("test.extent must be [xmin, ymin, xmax, ymax] in the image CRS.")
        self._validate_folds()
        return self

    def _detector_defaults(self) -> None:
        """Detectors keep fixed defaults (256 px chips, 30 epochs, 8 chips a step); the defaults chosen from the
        data (training/plan.py) are the segmentation models'."""
        if self.data.chip_size is None:
            self.data.chip_size = DETECTOR_DEFAULTS["chip_size"]
        if self.training.epochs is None:
            self.training.epochs = DETECTOR_DEFAULTS["epochs"]
        if self.training.batch_size is None:
            self.training.batch_size = DETECTOR_DEFAULTS["batch_size"]

    def _check_label_sources(self) -> None:
        sources = [bool(self.data.chips), bool(self.data.labels), bool(self.data.label_raster)]
        if sum(sources) != 1:
            raise InputError("Give exactly one source of labels: data.labels (a vector layer with "
                             "data.label_field), data.label_raster, or data.chips (a chips folder).")
        if not self.data.chips and not self.data.image:
            raise InputError("data.image is missing: give the raster to train on.")
        if self.data.labels and not self.data.label_field:
            raise InputError("data.label_field is missing: name the field of the label layer that holds "
                             "each feature's class.")

    def _validate_folds(self) -> None:
        folds = self.validation.folds
        if folds == 0 or folds == 1:
            return
        if self.validation.layer or self.validation.extent:
            raise InputError("validation.folds splits the image into spatial blocks; it cannot be combined with "
                             "validation.layer or validation.extent. Remove one of them.")
        if not 0 <= self.validation.fold < folds:
            raise InputError(f"validation.fold must be from 0 to {folds - 1} for {folds} folds, got "
                             f"{self.validation.fold}.")


def _check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"{key} is {value!r}; use one of: {', '.join(choices)}.")


# ---- reading ------------------------------------------------------------------------------------
_SECTIONS = {f.name: f.type for f in dataclasses.fields(TrainConfig)}


def from_mapping(data: Mapping[str, Any], source: str = "configuration") -> TrainConfig:
    """Build and validate a configuration from nested dictionaries."""
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        raise InputError(f"{source}: unknown section(s) {sorted(unknown)}; the sections are "
                         f"{', '.join(_SECTIONS)}.")
    hints = typing.get_type_hints(TrainConfig)
    sections = {}
    for name in _SECTIONS:
        value = data.get(name) or {}
        if not isinstance(value, Mapping):
            raise InputError(f"{source}: section '{name}' must be a mapping of keys to values.")
        if name == "data" and "classes" in value:
            value = {**value, "classes": parse_class_codes(value["classes"], f"{source}: data.classes")}
        sections[name] = _build_section(hints[name], value, f"{source}: {name}")
    return TrainConfig(**sections).validate()


def _build_section(cls: type, values: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    unknown = set(values) - set(hints)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {sorted(unknown)}; valid keys are {', '.join(hints)}.")
    return cls(**{key: _coerce(value, hints[key], f"{where}.{key}") for key, value in values.items()})


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Accept ``value`` if it fits the type ``hint`` (ints are accepted for floats)."""
    if value is None:
        if type(None) in typing.get_args(hint) or hint is Any:
            return None
        raise InputError(f"{where} cannot be empty.")
    is_union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = [h for h in typing.get_args(hint) if h is not type(None)] if is_union else [hint]
    for option in options:
        accepted, result = _fits(value, option)
        if accepted:
            return result
    raise InputError(f"{where} has the wrong type: {value!r}; expected {hint}.")


def _fits(value: Any, option: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(option)
    if option is Any:
        return True, value
    if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return True, float(value)
    if option in (int, str, bool):
        ok = isinstance(value, option) and (option is bool or not isinstance(value, bool))
        return ok, value
    if origin is list and isinstance(value, (list, tuple)):
        (item,) = typing.get_args(option)
        results = [_fits(v, item) for v in value]
        return all(ok for ok, _ in results), [r for _, r in results]
    if origin is dict and isinstance(value, Mapping):
        _, item = typing.get_args(option)
        checked = {str(k): _fits(v, item) for k, v in value.items()}
        return all(ok for ok, _ in checked.values()), {k: r for k, (_, r) in checked.items()}
    return False, None


def load(path: str | Path) -> TrainConfig:
    """Read a YAML (.yaml/.yml) or JSON configuration file."""
    return from_file_and_overrides(path, [])


def parse_text(text: str, suffix: str, source: str) -> dict[str, Any]:
    """Parse configuration text as JSON (``.json``) or YAML (anything else)."""
    try:
        if suffix == ".json":
            data = json.loads(text)
        else:
            import yaml  # only needed for YAML files

            data = yaml.safe_load(text)
    except ValueError as error:
        raise InputError(f"Cannot parse the configuration '{source}': {error}.") from error
    except Exception as error:  # noqa: BLE001 - yaml.YAMLError, whose module is imported lazily
        raise InputError(f"Cannot parse the configuration '{source}': {error}.") from error
    if not isinstance(data, dict):
        raise InputError(f"The configuration '{source}' must hold a mapping of sections.")
    return data


def apply_overrides(data: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings (values parsed as YAML) to a configuration dictionary."""
    import yaml

    result = {name: dict(values or {}) for name, values in data.items()}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise InputError(f"Cannot read the override {assignment!r}; write it as section.key=value, "
                             "for example training.epochs=5.")
        result.setdefault(section, {})[name] = yaml.safe_load(raw) if raw.strip() else None
    return result


def from_file_and_overrides(path: str | Path | None, assignments: list[str]) -> TrainConfig:
    """A configuration file (optional) with ``section.key=value`` overrides applied on top."""
    data: dict[str, Any] = {}
    if path is not None:
        file_path = Path(path)
        try:
            text = file_path.read_text(encoding="utf-8")
        except OSError as error:
            raise InputError(f"Cannot read the configuration '{file_path}': {error.strerror or error}.") from error
        data = parse_text(text, file_path.suffix.lower(), str(file_path))
    return from_mapping(apply_overrides(data, assignments), str(path or "command line"))
