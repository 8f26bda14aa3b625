"""The model contract: everything a model needs to be used correctly, in one place.

A contract is stored as ONE JSON value under ONE ONNX metadata key (:data:`METADATA_KEY`), or given
as a sidecar JSON file of the same schema. This module is the only reader and writer of that JSON:
nothing else in the project types its keys. :mod:`.contract_sources` builds a contract from what a
model file offers (its input and output shapes, Deepness-style keys, the embedded JSON, a sidecar).

Schema version 1, field by field (docs/model_contract.md repeats this for model authors)::

    schema_version        1
    task                  "segmentation" (default) or "detection" (object detectors: the output kinds,
                          the ``detection`` section and the layouts are in :mod:`.contract_detection`)
    name, description     free text
    input.name            ONNX input name (null: the model's only input)
    input.bands           number of input channels the model expects
    input.band_names      one name per channel, for people ("B04", "red")
    input.scale/offset    per channel: x' = x * scale + offset (raw raster values -> model units)
    input.mean/std        per channel: x'' = (x' - mean) / std
    input.nodata_fill     what the model sees where the input is nodata: "mean" (0 after normalisation)
                          or a number in raw raster units
    outputs[]             one entry per ONNX output used, in order
      .name               ONNX output name (null: the i-th output)
      .kind               "logits" (softmax applied), "probabilities", "sigmoid" (raw, sigmoid applied)
                          or "auto" (decided from the first batch's values and logged); "regression" for
                          continuous values (:mod:`.contract_regression`: band_names, units, valid_range)
      .threshold          optional: below this probability a pixel gets the first class (background)
      .classes[]          one per channel: value (written to the class raster), name, color "#rrggbb"
    tile_size             the window the model was trained on (pixels)
    dynamic_size          true if the spatial axes accept other sizes (null: read from the model)
    size_multiple         window sizes and positions are multiples of this (the network's total stride)
    context_margin        pixels at a window's edge whose predictions lack context; blending gives
                          them zero weight (null: derived from the overlap)
    recommended_overlap   percent of the window
    resolution_m          ground resolution the model was trained at, metres per pixel (null: any)
    provenance            free object: architecture, training data, metrics, date, software
    detection             detectors only: score_threshold, iou_threshold, max_detections,
                          max_object_size_px (:mod:`.contract_detection`)
    cells                 cell models only (tasks "classification" and "embedding": one result per window):
                          border_px; regression outputs carry units and valid_range (:mod:`.contract_cells`)
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from ..errors import ContractError
from . import contract_validation as check
from .class_colours import named_color
from .contract_cells import (
    CELL_TASKS,
    CellSpec,
    cell_output_extras,
    cells_from_dict,
    check_cell_entry,
    check_cell_output_kind,
    check_cell_outputs,
    value_spec,
)
from .contract_detection import (
    TASKS,
    DetectionSpec,
    check_detection_classes,
    check_output_kind,
    detection_from_dict,
    detection_layout,
)
from .contract_regression import (
    REGRESSION_KIND,
    RegressionSpec,
    check_one_kind,
    refuse_regression_keys,
    regression_from_dict,
)
from .contract_validation import parse_json_object

METADATA_KEY = "seamless_segmentation"
SCHEMA_VERSION = 1
OUTPUT_KINDS = ("logits", "probabilities", "sigmoid", "auto", REGRESSION_KIND)
NODATA_FILL_MEAN = "mean"

# Okabe-Ito (colour-blind safe) first, then distinct extras: used when a model names no colours.
DEFAULT_PALETTE = (
    "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7", "#999999",
    "#117733", "#882255", "#44aa99", "#ddcc77", "#332288", "#aa4499", "#88ccee", "#661100",
)
_COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")


def default_color(index: int) -> str:
    """A distinct colour for class ``index`` when the model gives none."""
    if index < len(DEFAULT_PALETTE):
        return DEFAULT_PALETTE[index]
    # Golden-angle hues beyond the palette: distinct enough, deterministic.
    hue = (index * 137.508) % 360 / 60
    chroma, x = 0.7, 0.7 * (1 - abs(hue % 2 - 1))
    rgb = [(chroma, x, 0), (x, chroma, 0), (0, chroma, x), (0, x, chroma), (x, 0, chroma), (chroma, 0, x)]
    r, g, b = (int(255 * (v + 0.15)) for v in rgb[int(hue) % 6])
    return f"#{r:02x}{g:02x}{b:02x}"


def default_colors(names: Sequence[str], given: Sequence[str | None] | None = None) -> list[str]:
    """A colour for each class: the one ``given``, else the land-cover colour its name calls for
    (:mod:`.class_colours`: forest green, water blue) unless another class has it, else the palette's colour
    of its place (or the next one no class has)."""
    chosen = list(given) if given is not None else [None] * len(names)
    taken = {c.lower() for c in chosen if c}
    colors = []
    for index, (name, color) in enumerate(zip(names, chosen)):
        if not color:
            color = named_color(name)
            if color is None or color in taken:
                color = next(default_color(i) for i in range(index, index + len(taken) + 1)
                             if default_color(i) not in taken)
        taken.add(color.lower())
        colors.append(color)
    return colors


@dataclass(frozen=True)
class ClassInfo:
    """One output class: the value written to the class raster, a name and a colour."""

    value: int
    name: str
    color: str

    def rgb(self) -> tuple[int, int, int]:
        """The colour as 0-255 integers."""
        return tuple(int(self.color[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@dataclass(frozen=True)
class OutputSpec:
    """How one ONNX output turns into class probabilities and classes (or, of kind "regression", into values)."""

    name: str | None
    kind: str
    classes: tuple[ClassInfo, ...]
    threshold: float | None = None
    regression: RegressionSpec | None = None  # regression outputs only (kind "regression")

    @property
    def class_count(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class InputSpec:
    """What the model expects as input and how raw raster values are normalised for it."""

    name: str | None
    bands: int
    band_names: tuple[str, ...]
    scale: tuple[float, ...]
    offset: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    nodata_fill: str | float = NODATA_FILL_MEAN


@dataclass(frozen=True)
class ModelContract:
    """Everything needed to run a segmentation model or an object detector correctly (schema version 1)."""

    input: InputSpec
    outputs: tuple[OutputSpec, ...]
    name: str = ""
    description: str = ""
    tile_size: int | None = None
    dynamic_size: bool | None = None
    size_multiple: int = 32
    context_margin: int | None = None
    recommended_overlap: float | None = None
    resolution_m: float | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    task: str = "segmentation"
    detection: DetectionSpec | None = None  # detectors only (task "detection")
    cells: CellSpec | None = None  # cell models only (tasks "classification" and "embedding")

    # ---- derived views -------------------------------------------------------------------
    @property
    def class_count(self) -> int:
        """Channels over all outputs (the probability bands written)."""
        return sum(o.class_count for o in self.outputs)

    @property
    def all_classes(self) -> tuple[ClassInfo, ...]:
        return tuple(c for o in self.outputs for c in o.classes)

    def with_overrides(self, **changes: Any) -> "ModelContract":
        """A copy with some top-level fields replaced (validated again)."""
        return ModelContract.from_dict({**self.to_dict(), **changes})

    # ---- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dictionary of schema version 1."""
        return {
            "schema_version": self.schema_version,
            "task": self.task,
            "name": self.name,
            "description": self.description,
            "input": {
                "name": self.input.name,
                "bands": self.input.bands,
                "band_names": list(self.input.band_names),
                "scale": list(self.input.scale),
                "offset": list(self.input.offset),
                "mean": list(self.input.mean),
                "std": list(self.input.std),
                "nodata_fill": self.input.nodata_fill,
            },
            "outputs": [
                {"name": o.name, "kind": o.kind, **o.regression.to_dict()} if o.regression is not None else
                {
                    "name": o.name,
                    "kind": o.kind,
                    "threshold": o.threshold,
                    "classes": [{"value": c.value, "name": c.name, "color": c.color} for c in o.classes],
                    **cell_output_extras(self.cells, index),
                }
                for index, o in enumerate(self.outputs)
            ],
            "tile_size": self.tile_size,
            "dynamic_size": self.dynamic_size,
            "size_multiple": self.size_multiple,
            "context_margin": self.context_margin,
            "recommended_overlap": self.recommended_overlap,
            "resolution_m": self.resolution_m,
            "provenance": dict(self.provenance),
            **({"detection": (self.detection or DetectionSpec()).to_dict()} if self.task == "detection" else {}),
            **({"cells": (self.cells or CellSpec()).to_dict()} if self.task in CELL_TASKS else {}),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    def metadata_entries(self) -> dict[str, str]:
        """The ONNX metadata to embed: one key, one JSON value."""
        return {METADATA_KEY: self.to_json()}

    @classmethod
    def from_json(cls, text: str, source: str = "contract JSON") -> "ModelContract":
        return cls.from_dict(parse_json_object(text, source), source)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "contract") -> "ModelContract":
        """Validate a complete schema-1 dictionary; errors name the field and the fix."""
        if not isinstance(data, Mapping):
            raise ContractError(f"{source} must be a JSON object, not {type(data).__name__}.")
        check.check_keys(data, (*check.TOP_KEYS, "cells"), "", source)
        version = data.get("schema_version", SCHEMA_VERSION)
        if isinstance(version, bool) or not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
            raise ContractError(
                f"{source}: schema_version {version!r} is not supported; this plugin reads version "
                f"{SCHEMA_VERSION}. Update the plugin or re-export the model.")
        task = data.get("task", "segmentation")
        if task not in TASKS and task not in CELL_TASKS:
            raise ContractError(f"{source}: task {task!r} is not supported; the tasks are 'segmentation', "
                                "'detection' (object detectors), 'classification' (one class or value per window) "
                                "and 'embedding' (one vector per window).")
        if task != "detection" and data.get("detection") is not None:
            raise ContractError(f"{source}: a 'detection' section belongs to object detectors; set \"task\": "
                                "\"detection\" or remove it.")
        if task not in CELL_TASKS and data.get("cells") is not None:
            raise ContractError(f"{source}: a 'cells' section belongs to models of task 'classification' or "
                                "'embedding'; set the task or remove it.")
        provenance = data.get("provenance") or {}
        if not isinstance(provenance, Mapping):
            raise ContractError(f"{source}: 'provenance' must be an object or null, got {provenance!r}.")
        tile_size = check.optional_int(data, "tile_size", source, 1, check.MAX_TILE_SIZE)
        size_multiple = check.optional_int(data, "size_multiple", source, 1, check.MAX_SIZE_MULTIPLE) or 32
        if tile_size is not None and size_multiple > tile_size:
            raise ContractError(f"{source}: 'size_multiple' ({size_multiple}) is larger than 'tile_size' "
                                f"({tile_size}); the size multiple is the network's total stride, which divides "
                                "its tile size.")
        outputs, values = (_cell_outputs(data.get("outputs"), source, task) if task in CELL_TASKS
                           else (_outputs_from_list(data.get("outputs"), source, task), ()))
        return cls(
            input=_input_from_dict(check.mapping(data, "input", source), source),
            outputs=outputs,
            name=check.optional_text(data, "name", source) or "",
            description=check.optional_text(data, "description", source) or "",
            tile_size=tile_size,
            dynamic_size=check.optional_bool(data, "dynamic_size", source),
            size_multiple=size_multiple,
            context_margin=check.optional_int(data, "context_margin", source, 0, check.MAX_TILE_SIZE),
            recommended_overlap=check.optional_float(data, "recommended_overlap", source, 0.0, 90.0),
            resolution_m=check.positive_or_none(data, "resolution_m", source, check.MAX_RESOLUTION_M),
            provenance=dict(provenance),
            schema_version=SCHEMA_VERSION,
            task=task,
            detection=detection_from_dict(data.get("detection"), source) if task == "detection" else None,
            cells=cells_from_dict(data.get("cells"), values, source) if task in CELL_TASKS else None,
        )


def _input_from_dict(data: Mapping[str, Any], source: str) -> InputSpec:
    check.check_keys(data, check.INPUT_KEYS, "input", source)
    bands = check.optional_int(data, "bands", source, 1, check.MAX_BANDS, "input")
    if bands is None:
        raise ContractError(f"{source}: 'input.bands' is missing and the model's input shape does not fix "
                            "it; give the number of bands the model takes in a CONTRACT sidecar.")
    std = check.per_band(data.get("std"), bands, "std", source, 1.0)
    scale = check.per_band(data.get("scale"), bands, "scale", source, 1.0)
    check.check_factors(scale, std, source)
    return InputSpec(
        name=check.optional_text(data, "name", source, "input"),
        bands=bands,
        band_names=check.band_names(data, bands, source),
        scale=scale,
        offset=check.per_band(data.get("offset"), bands, "offset", source, 0.0),
        mean=check.per_band(data.get("mean"), bands, "mean", source, 0.0),
        std=std,
        nodata_fill=check.nodata_fill(data, source, NODATA_FILL_MEAN),
    )


def _classes_from_list(items: Any, source: str, where: str, optional: bool = False) -> tuple[ClassInfo, ...]:
    if optional and items in (None, []):  # a detector lists its classes on one output only
        return ()
    items = check.sequence_of_objects(items, source, f"{where}.classes", "{value, name, color} objects, one per "
                                      "output channel")
    if len(items) > check.MAX_CLASSES:
        raise ContractError(f"{source}: '{where}.classes' lists {len(items)} classes; at most {check.MAX_CLASSES}.")
    entries = []
    for index, item in enumerate(items):
        here = f"{where}.classes[{index}]"
        if not isinstance(item, Mapping):
            raise ContractError(f"{source}: '{here}' must be an object.")
        check.check_keys(item, check.CLASS_KEYS, here, source)
        value = item.get("value", index)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65534:
            raise ContractError(f"{source}: '{here}.value' must be a whole number from 0 to 65534, got {value!r}.")
        color = item.get("color")
        if color and (not isinstance(color, str) or not _COLOR_PATTERN.match(color)):
            raise ContractError(f"{source}: '{here}.color' must look like '#1f78b4', got {color!r}.")
        name = item.get("name")
        if name is not None and not isinstance(name, (str, int, float)):
            raise ContractError(f"{source}: '{here}.name' must be text, got {name!r}.")
        entries.append((value, str(name if name not in (None, "") else f"class {value}"), color or None))
    colors = default_colors([name for _, name, _ in entries], [color for _, _, color in entries])
    classes = [ClassInfo(value=value, name=name, color=color.lower())
               for (value, name, _), color in zip(entries, colors)]
    values = [c.value for c in classes]
    if len(set(values)) != len(values):
        raise ContractError(f"{source}: '{where}.classes' repeats a value ({values}); each class needs its own.")
    return tuple(classes)


def _outputs_from_list(items: Any, source: str, task: str = "segmentation") -> tuple[OutputSpec, ...]:
    items = check.sequence_of_objects(items, source, "outputs", "objects, one per model output")
    detector = task == "detection"
    outputs = []
    for index, item in enumerate(items):
        where = f"outputs[{index}]"
        if not isinstance(item, Mapping):
            raise ContractError(f"{source}: '{where}' must be an object.")
        check.check_keys(item, check.OUTPUT_KEYS, where, source)
        kind = check_output_kind(item.get("kind", None if detector else "auto"), task, source, where, OUTPUT_KINDS)
        name = check.optional_text(item, "name", source, where)
        if kind == REGRESSION_KIND:
            outputs.append(OutputSpec(name, kind, (), regression=regression_from_dict(item, source, where)))
            continue
        refuse_regression_keys(item, kind, source, where)
        threshold = check.optional_float(item, "threshold", source, 0.0, 1.0, where)
        if detector and threshold is not None:
            raise ContractError(f"{source}: '{where}.threshold' is for segmentation outputs; a detector's score "
                                "threshold is 'detection.score_threshold'.")
        classes = _classes_from_list(item.get("classes"), source, where, optional=detector)
        outputs.append(OutputSpec(name=name, kind=kind, classes=classes, threshold=threshold))
    check_one_kind([o.kind for o in outputs], source)
    if detector:
        detection_layout([o.kind for o in outputs], source)
        check_detection_classes([o.class_count for o in outputs], source)
    return tuple(outputs)


def _cell_outputs(items: Any, source: str, task: str) -> tuple[tuple[OutputSpec, ...], tuple[Any, ...]]:
    """A cell model's outputs (:mod:`.contract_cells`) and, per output, its regression settings (or None)."""
    items = check.sequence_of_objects(items, source, "outputs", "objects, one per model output")
    outputs, values = [], []
    for index, item in enumerate(items):
        where = f"outputs[{index}]"
        if not isinstance(item, Mapping):
            raise ContractError(f"{source}: '{where}' must be an object.")
        kind = check_cell_output_kind(item.get("kind"), task, source, where)
        classes = _classes_from_list(item.get("classes"), source, where, optional=True)
        check_cell_entry(item, kind, len(classes), source, where)
        outputs.append(OutputSpec(name=check.optional_text(item, "name", source, where), kind=kind, classes=classes,
                                  threshold=check.optional_float(item, "threshold", source, 0.0, 1.0, where)))
        values.append(value_spec(item, source, where) if kind == "regression" else None)
    check_cell_outputs([o.kind for o in outputs], task, source)
    return tuple(outputs), tuple(values)


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of two contract dictionaries: objects merge key by key, anything else is replaced.

    ``outputs`` lists merge item by item, so a sidecar can rename the classes of the first output
    without restating the second.
    """
    result = dict(base)
    for key, value in override.items():
        old = result.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            result[key] = merged(old, value)
        elif key == "outputs" and isinstance(old, list) and isinstance(value, list):
            result[key] = [merged(o, v) if isinstance(o, Mapping) and isinstance(v, Mapping) else v
                           for o, v in zip(old, value)] + value[len(old):] + old[len(value):]
        else:
            result[key] = value
    return result


__all__ = [
    "METADATA_KEY", "SCHEMA_VERSION", "OUTPUT_KINDS", "ClassInfo", "OutputSpec", "InputSpec",
    "ModelContract", "DetectionSpec", "merged", "parse_json_object", "default_color", "default_colors", "replace",
]
