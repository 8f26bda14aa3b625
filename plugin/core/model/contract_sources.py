"""Build a :class:`ModelContract` from everything a model file offers, in increasing priority:

1. what the ONNX input and output shapes imply (band count, tile size, channels per output),
2. Deepness-style metadata keys (``model_type``, ``class_names``, ``resolution`` in cm/px, ...),
3. this project's embedded contract (one JSON value under :data:`METADATA_KEY`),
4. a sidecar JSON file given by the user (parameter ``CONTRACT``).

Later sources override earlier ones field by field (see :func:`contract.merged`), completely: a value given
replaces the earlier one whole (a per-band list is not mixed with the earlier list). The normalisation is one
formula, ``(x * scale + offset - mean) / std``: a source that gives any of ``input.scale``, ``offset``, ``mean``
or ``std`` defines all four, the ones it leaves out being 1, 0, 0 and 1, whatever the earlier sources said.
Deepness's pixel / 255 is one of its fields like the others (``scale``), so a sidecar that gives ``mean`` and
``std`` for a Deepness model does not keep dividing by 255 unless it says ``scale`` too. The task is read first
(the sidecar's, the embedded contract's, else Deepness's ``model_type``; segmentation by default), because
an object detector's shapes mean something else (:func:`detection_defaults`).
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..errors import ContractError, ModelError
from .contract import METADATA_KEY, ModelContract, default_colors, merged, parse_json_object
from .contract_cells import CELL_TASKS, EMBEDDING_KIND
from .contract_regression import declared_regression, regression_defaults

# Deepness divides every pixel by 255 before standardising; models made for it expect that.
DEEPNESS_SCALE = 1.0 / 255.0
NORMALISATION = {"scale": 1.0, "offset": 0.0, "mean": 0.0, "std": 1.0}  # the four fields, and their neutral values
WITHOUT_METADATA = "model shapes only: Deepness's pixel / 255"  # the normalisation of a model that states none
DEEPNESS_NORMALISATION = "Deepness metadata: pixel / 255, then its standardization_mean and _std"
DEEPNESS_KEYS = ("model_type", "class_names", "resolution", "tile_size", "tiles_size", "tiles_overlap",
                  "standardization_mean", "standardization_std", "seg_thresh", "det_conf", "det_iou_thresh", "det_type")

Dim = int | str | None


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output as the runtime describes it: a name and a shape.

    Dimensions are ints when fixed, or a name/None when dynamic.
    """

    name: str
    shape: tuple[Dim, ...]
    dtype: str = "float32"

    def fixed(self, axis: int) -> int | None:
        value = self.shape[axis] if -len(self.shape) <= axis < len(self.shape) else None
        return value if isinstance(value, int) and value > 0 else None


@dataclass(frozen=True)
class ModelIO:
    """The model's inputs and outputs, independent of the runtime that read them."""

    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]


@dataclass(frozen=True)
class ContractOrigin:
    """Which sources contributed to a resolved contract (for logs and the Inspect model algorithm)."""

    embedded: bool
    deepness: bool
    sidecar: bool
    normalisation: str = WITHOUT_METADATA  # the source that defined the normalisation

    def describe(self) -> str:
        parts = [name for name, used in (("embedded contract", self.embedded), ("Deepness metadata",
                 self.deepness), ("sidecar JSON", self.sidecar)) if used]
        return ", ".join(parts) if parts else "model shapes only (no metadata)"


def output_channels(info: TensorInfo) -> int:
    """Channels of an output: (N, C, H, W) -> C; (N, H, W) -> 1 (one sigmoid map)."""
    if len(info.shape) == 3:
        return 1
    if len(info.shape) != 4:
        raise ModelError(f"Output '{info.name}' has shape {list(info.shape)}; a segmentation model must "
                         "output (batch, classes, height, width) or (batch, height, width).")
    channels = info.fixed(1)
    if channels is None:
        raise ModelError(f"Output '{info.name}' has a dynamic class axis {list(info.shape)}; give the classes "
                         "in a CONTRACT sidecar (outputs[].classes).")
    return channels


def _default_classes(channels: int, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Class entries for an output of ``channels`` channels; a single channel is a binary map."""
    if channels == 1:
        positive = names[0] if names else "class 1"
        return [{"value": 0, "name": "background", "color": "#000000"},
                {"value": 1, "name": positive, "color": default_colors([positive])[0]}]
    given = list(names or [])
    labels = [given[i] if i < len(given) else f"class {i}" for i in range(channels)]
    return [{"value": i, "name": name, "color": color} for i, (name, color) in enumerate(zip(labels,
                                                                                            default_colors(labels)))]


def input_defaults(io: ModelIO) -> dict[str, Any]:
    """What the model's input shape says (bands, tile size, dynamic axes), plus the Deepness convention for
    scaling (pixel / 255)."""
    if len(io.inputs) != 1:
        raise ModelError(f"The model has {len(io.inputs)} inputs; a segmentation model takes exactly one "
                         "image tensor (batch, bands, height, width).")
    image = io.inputs[0]
    if len(image.shape) != 4:
        raise ModelError(f"Input '{image.name}' has shape {list(image.shape)}; expected 4 axes "
                         "(batch, bands, height, width).")
    height, width = image.fixed(2), image.fixed(3)
    return {
        "input": {"name": image.name, "bands": image.fixed(1), "scale": DEEPNESS_SCALE},
        "tile_size": height if height is not None and height == width else None,
        "dynamic_size": height is None or width is None,
    }


def shape_defaults(io: ModelIO, regression: frozenset[int] | set[int] = frozenset()) -> dict[str, Any]:
    """What a segmentation model's shapes alone say, plus the Deepness convention for scaling (pixel / 255).

    The outputs at the positions in ``regression`` (declared of kind "regression") get band names for their
    channels instead of classes."""
    outputs = []
    for index, out in enumerate(io.outputs):
        if index in regression:
            channels = out.fixed(1) if len(out.shape) == 4 else 1 if len(out.shape) == 3 else None
            outputs.append(regression_defaults({"name": out.name}, channels))
        else:
            outputs.append({"name": out.name, "kind": "auto", "classes": _default_classes(output_channels(out))})
    return {**input_defaults(io), "outputs": outputs}


def _decode(value: str) -> Any:
    """Deepness stores every value JSON-encoded ('"Segmentor"', '{"0": "Coffee"}'); plain text also occurs."""
    try:
        return json.loads(value)
    except (json.JSONDecodeError, TypeError):
        return value
    except RecursionError:
        raise ContractError("A Deepness metadata value of the model is nested too deeply to be read.") from None


def _deepness_number(meta: Mapping[str, Any], key: str) -> float:
    """A Deepness value that must be a number (stored as text or JSON); a clear error names the key."""
    try:
        number = float(meta[key])
    except (TypeError, ValueError):
        raise ContractError(f"The model's Deepness metadata '{key}' must be a number, got {meta[key]!r}; fix it "
                            "with a CONTRACT sidecar that gives the field in this plugin's terms.") from None
    return number


def _names_from_deepness(value: Any) -> list[list[str]]:
    """``{"0": "a", "1": "b"}`` or a list of such dicts (one per output) -> names per output."""
    groups = value if isinstance(value, list) else [value]
    names = []
    for group in groups:
        if not isinstance(group, Mapping):
            raise ContractError(f"Deepness 'class_names' must be an object or a list of objects, got {value!r}.")
        if not all(str(key).strip().isdigit() for key in group):
            raise ContractError(f"Deepness 'class_names' keys must be class indices ('0', '1', ...), got {value!r}.")
        names.append([str(group[key]) for key in sorted(group, key=lambda k: int(k))])
    return names


def deepness_metadata(metadata: Mapping[str, str]) -> dict[str, Any]:
    """The Deepness plugin's metadata keys of a model, decoded."""
    return {key: _decode(metadata[key]) for key in DEEPNESS_KEYS if key in metadata}


def deepness_overrides(metadata: Mapping[str, str], io: ModelIO) -> dict[str, Any]:
    """Translate Deepness plugin metadata keys into contract fields (segmentation models)."""
    meta = deepness_metadata(metadata)
    if not meta:
        return {}
    model_type = meta.get("model_type")
    if deepness_regressor(metadata):
        return deepness_regression(meta, io)
    if model_type is not None and str(model_type).lower() != "segmentor":
        raise ModelError(f"This Deepness model is a '{model_type}', not a segmentation model ('Segmentor'), a "
                         "regression model ('Regressor') or an object detector ('Detector'); only those kinds run "
                         "here.")
    result: dict[str, Any] = {}
    if "class_names" in meta:
        groups = _names_from_deepness(meta["class_names"])
        result["outputs"] = [{"classes": _default_classes(output_channels(out), groups[i] if i < len(groups)
                                                          else None)} for i, out in enumerate(io.outputs)]
    result.update(deepness_common(meta))
    if "seg_thresh" in meta:
        threshold = _deepness_number(meta, "seg_thresh")
        result.setdefault("outputs", [{} for _ in io.outputs])
        for entry in result["outputs"]:
            entry["threshold"] = threshold
    return result


def deepness_regressor(metadata: Mapping[str, str]) -> bool:
    """Whether the model is a Deepness 'Regressor' (per-pixel continuous values)."""
    return str(deepness_metadata(metadata).get("model_type", "")).lower() == "regressor"


def deepness_regression(meta: Mapping[str, Any], io: ModelIO) -> dict[str, Any]:
    """A Deepness regressor's keys in contract fields: every output of kind "regression", its channels named by
    ``class_names`` when given."""
    result = deepness_common(meta)
    groups = _names_from_deepness(meta["class_names"]) if "class_names" in meta else []
    outputs = []
    for index, out in enumerate(io.outputs):
        channels = out.fixed(1) if len(out.shape) == 4 else 1
        entry = regression_defaults({"name": out.name}, channels)
        if index < len(groups) and channels == len(groups[index]):
            entry["band_names"] = groups[index]
        outputs.append(entry)
    result["outputs"] = outputs
    return result


def deepness_common(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The Deepness keys every model kind shares: resolution, tile size, overlap, standardisation."""
    result: dict[str, Any] = {}
    if "resolution" in meta:
        result["resolution_m"] = _deepness_number(meta, "resolution") / 100.0  # Deepness gives cm per pixel
    tile_key = "tile_size" if "tile_size" in meta else "tiles_size"
    if tile_key in meta:
        result["tile_size"] = _deepness_number(meta, tile_key)  # the contract checks it is a whole number
    if "tiles_overlap" in meta:
        result["recommended_overlap"] = _deepness_number(meta, "tiles_overlap")
    if "standardization_mean" in meta or "standardization_std" in meta:
        result["input"] = {"scale": DEEPNESS_SCALE, "mean": meta.get("standardization_mean", 0.0),
                           "std": meta.get("standardization_std", 1.0)}
    return result


# Deepness's detector types (its ``det_type``) and the layout each means: its YOLOv5/v7 post-processing reads
# rows [b, n, 5 + nc] with objectness, YOLOv6 the same rows with objectness ignored, YOLOv9 and Ultralytics
# YOLOv8/11 columns [b, 4 + nc, n], Ultralytics OBB columns [b, 4 + nc + 1, n] with the angle last.
DEEPNESS_DETECTOR_TYPES = {"YOLO_v5_or_v7_default": "yolo_v5", "YOLO_v6": "yolo_v6", "YOLO_v9": "yolo_v8",
                           "YOLO_Ultralytics": "yolo_v8", "YOLO_Ultralytics_obb": "yolo_obb"}
ULTRALYTICS_TASKS = {"detect": "yolo_v8", "obb": "yolo_obb"}  # Ultralytics exports' ``task`` metadata
_NAMED_PARTS = (("box", "boxes"), ("score", "scores"), ("conf", "scores"), ("label", "labels"), ("class", "labels"),
                ("angle", "angles"))
_YOLO_CLASS_AXIS = {"yolo_v5": (2, 5), "yolo_v6": (2, 5), "yolo_v8": (1, 4), "yolo_obb": (1, 5)}


def _detection_classes(count: int, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    names = list(names or [])
    labels = [names[i] if i < len(names) else f"class {i}" for i in range(count)]
    return [{"value": i, "name": name, "color": color} for i, (name, color) in enumerate(zip(labels,
                                                                                          default_colors(labels)))]


def yolo_class_count(kind: str, info: TensorInfo) -> int | None:
    """Classes a single YOLO-style output of ``kind`` holds, from its fixed shape (None when unknown)."""
    axis, extra = _YOLO_CLASS_AXIS.get(kind, (0, 0))
    size = info.fixed(axis) if axis and len(info.shape) == 3 else None
    return size - extra if size is not None and size > extra else None


def guess_yolo_kind(info: TensorInfo) -> str | None:
    """The layout a single [b, a, c] output suggests: rows of 5 + nc values (YOLOv5) when the last axis is
    the short one, columns of 4 + nc values (YOLOv8) when the middle one is; None when the shape cannot say."""
    if len(info.shape) != 3:
        return None
    middle, last = info.fixed(1), info.fixed(2)
    if last is not None and (middle is None or middle > last):
        return "yolo_v5"
    if middle is not None and (last is None or last > middle):
        return "yolo_v8"
    return None


def detection_output_defaults(io: ModelIO) -> list[dict[str, Any]]:
    """Output entries a detector's shapes and output names suggest (a sidecar corrects a wrong guess)."""
    entries: list[dict[str, Any]] = []
    for out in io.outputs:
        lowered = out.name.lower()
        kind = guess_yolo_kind(out) if len(io.outputs) == 1 else next(
            (part for word, part in _NAMED_PARTS if word in lowered), None)
        entry: dict[str, Any] = {"name": out.name, **({"kind": kind} if kind else {})}
        count = yolo_class_count(kind, out) if kind in _YOLO_CLASS_AXIS else (
            out.fixed(2) if kind == "scores" and len(out.shape) == 3 else None)
        if count:
            entry["classes"] = _detection_classes(count)
        entries.append(entry)
    return entries


def deepness_detector(meta: Mapping[str, Any], io: ModelIO) -> dict[str, Any]:
    """Translate a Deepness detector's metadata (``det_type``, ``det_conf``, ``det_iou_thresh``, class names and
    the shared keys) into contract fields; Deepness reads the first output only."""
    result = deepness_common(meta)
    first = io.outputs[0]
    if len(first.shape) != 3:
        raise ModelError(f"This Deepness model is a 'Detector' (an object detector, not a segmentation model), but "
                         f"its first output '{first.name}' has shape {list(first.shape)}; a Deepness detector outputs "
                         "(batch, boxes, values) or (batch, values, boxes). Check the model file.")
    output: dict[str, Any] = {"name": first.name}
    if "det_type" in meta:
        kind = DEEPNESS_DETECTOR_TYPES.get(str(meta["det_type"]))
        if kind is None:
            raise ModelError(f"This Deepness detector's type '{meta['det_type']}' is not supported here; the "
                             f"supported types are {', '.join(DEEPNESS_DETECTOR_TYPES)} (instance segmentation is "
                             "not). Give the layout in a CONTRACT sidecar (outputs[].kind) if it is one of those.")
        output["kind"] = kind
        count = yolo_class_count(kind, io.outputs[0])
        if count:
            output["classes"] = _detection_classes(count)
    if "class_names" in meta:
        names = _names_from_deepness(meta["class_names"])[0]
        output["classes"] = _detection_classes(len(names), names)
    result["outputs"] = [output]
    detection = {key: _deepness_number(meta, name) for key, name in (("score_threshold", "det_conf"),
                                                                     ("iou_threshold", "det_iou_thresh"))
                 if name in meta}
    if detection:
        result["detection"] = detection
    return result


def _literal(metadata: Mapping[str, str], key: str) -> Any:
    """A Python literal as Ultralytics writes its metadata ("{0: 'car'}", "[640, 640]"); None when unreadable."""
    try:
        return ast.literal_eval(metadata[key])
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def ultralytics_detector(metadata: Mapping[str, str], io: ModelIO) -> dict[str, Any]:
    """What an Ultralytics export's own metadata says (``task`` detect or obb, ``names``, ``imgsz``)."""
    kind = ULTRALYTICS_TASKS.get(str(metadata.get("task", "")).strip())
    if kind is None or not io.outputs:
        return {}
    output: dict[str, Any] = {"name": io.outputs[0].name, "kind": kind}
    names = _literal(metadata, "names") if "names" in metadata else None
    if isinstance(names, Mapping) and names and all(isinstance(k, int) for k in names):
        ordered = [str(names[k]) for k in sorted(names)]
        output["classes"] = _detection_classes(len(ordered), ordered)
    result: dict[str, Any] = {"outputs": [output]}
    size = _literal(metadata, "imgsz") if "imgsz" in metadata else None
    if isinstance(size, (list, tuple)) and len(size) == 2 and size[0] == size[1] and isinstance(size[0], int):
        result["tile_size"] = size[0]
    return result


def detection_defaults(io: ModelIO, metadata: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An object detector's defaults (shapes, output names, Ultralytics and Deepness keys) and the Deepness part
    alone."""
    data: dict[str, Any] = {**input_defaults(io), "task": "detection", "outputs": detection_output_defaults(io)}
    ultralytics = ultralytics_detector(metadata, io)
    if ultralytics:
        data = merged({**data, "outputs": data["outputs"][:1]}, ultralytics)
    meta = deepness_metadata(metadata)
    deepness = deepness_detector(meta, io) if meta else {}
    if deepness:
        data["outputs"] = data["outputs"][:1]
    return merged(data, deepness), deepness


def cell_output_channels(info: TensorInfo) -> int | None:
    """Channels of a cell model's output: (N, C) or (N, C, 1, 1) -> C, (N,) -> 1; None when the axis is dynamic."""
    if len(info.shape) == 1:
        return 1
    if len(info.shape) == 2 or (len(info.shape) == 4 and all(info.fixed(a) == 1 for a in (2, 3))):
        return info.fixed(1)
    raise ModelError(f"Output '{info.name}' has shape {list(info.shape)}: a model that gives one result per window "
                     "outputs (batch, values) or (batch, values, 1, 1). An output with height and width is a "
                     "segmentation map: run such a model with Classify raster (seamless:classify).")


def cell_defaults(io: ModelIO, task: str, metadata: Mapping[str, str]) -> dict[str, Any]:
    """What a cell model's shapes say (and the Deepness keys every model kind shares): the classes of a classifier's
    single output, or an embedding output."""
    outputs: list[dict[str, Any]] = []
    for out in io.outputs[:1]:
        channels = cell_output_channels(out)
        if task == "embedding":
            outputs.append({"name": out.name, "kind": EMBEDDING_KIND})
        else:
            outputs.append({"name": out.name, "kind": "auto",
                            **({"classes": _default_classes(channels)} if channels else {})})
    meta = deepness_metadata(metadata)
    # One result per window: windows need not sit on a pooling grid, so any size goes unless the contract says.
    defaults = {**input_defaults(io), "task": task, "outputs": outputs, "size_multiple": 1}
    return overridden(defaults, deepness_common(meta) if meta else {})


def without_guessed_classes(data: dict[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` without the classes the shapes guessed on outputs a contract made regression or embedding outputs
    (the shapes cannot tell a one-value regression from a one-channel binary classifier)."""
    guessed = [entry.get("classes") for entry in defaults.get("outputs", [])]
    outputs = []
    for index, entry in enumerate(data.get("outputs") or []):
        if (isinstance(entry, Mapping) and entry.get("kind") in ("regression", EMBEDDING_KIND)
                and index < len(guessed) and entry.get("classes") == guessed[index]):
            entry = {key: value for key, value in entry.items() if key != "classes"}
        outputs.append(entry)
    return {**data, "outputs": outputs}


def declared_task(metadata: Mapping[str, str], documents: Sequence[Mapping[str, Any] | None],
                  default: str = "segmentation") -> str:
    """The task the model's sources declare: the last document (sidecar over embedded) that names one, else
    Deepness's ``model_type`` ('Detector': detection; any other: segmentation, whose reader names the types it
    refuses) or an Ultralytics export's ``task`` (detect, obb), else ``default`` (what the algorithm that opens it
    runs)."""
    for document in reversed(documents):
        if document is not None and isinstance(document.get("task"), str):
            return str(document["task"])
    model_type = deepness_metadata(metadata).get("model_type")
    if str(model_type).lower() == "detector" or str(metadata.get("task", "")).strip() in ULTRALYTICS_TASKS:
        return "detection"
    return "segmentation" if model_type is not None else default


def defines_normalisation(layer: Mapping[str, Any]) -> bool:
    """Whether a contract source gives any of the normalisation's fields (then it defines all of them)."""
    given = layer.get("input")
    return isinstance(given, Mapping) and any(key in given for key in NORMALISATION)


def overridden(data: Mapping[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with ``layer``'s fields over it (:func:`merged`); the normalisation, if ``layer`` gives any of it,
    entirely ``layer``'s (fields it leaves out neutral)."""
    if defines_normalisation(layer):
        base = data.get("input")
        data = {**data, "input": {**(base if isinstance(base, Mapping) else {}), **NORMALISATION}}
    return merged(data, layer)


def resolve_contract(io: ModelIO, metadata: Mapping[str, str], sidecar_text: str | None = None,
                     sidecar_source: str = "CONTRACT sidecar",
                     default_task: str = "segmentation") -> tuple[ModelContract, ContractOrigin]:
    """The contract for a model: shapes, then Deepness keys, then the embedded JSON, then the sidecar. A model
    whose sources declare no task is taken to be of ``default_task``."""
    embedded = metadata.get(METADATA_KEY)
    documents = [parse_json_object(embedded, f"the model's '{METADATA_KEY}' metadata") if embedded else None,
                 parse_json_object(sidecar_text, sidecar_source) if sidecar_text is not None else None]
    task = declared_task(metadata, documents, default_task)
    if task in CELL_TASKS:
        data = cell_defaults(io, task, metadata)
        meta = deepness_metadata(metadata)
        deepness = deepness_common(meta) if meta else {}
    elif task == "detection":
        data, deepness = detection_defaults(io, metadata)
    else:
        regression = declared_regression(documents)
        if deepness_regressor(metadata):
            regression |= set(range(len(io.outputs)))
        data = shape_defaults(io, regression)
        deepness = deepness_overrides(metadata, io)
        data = overridden(data, deepness)
    defaults = data
    normalisation = DEEPNESS_NORMALISATION if defines_normalisation(deepness) else WITHOUT_METADATA
    for name, document in zip(("embedded contract", "sidecar JSON"), documents):
        if document is not None:
            normalisation = name if defines_normalisation(document) else normalisation
            data = overridden(data, document)
    if task in CELL_TASKS:
        data = without_guessed_classes(data, defaults)
    if data.get("tile_size") is None and not data.get("dynamic_size"):
        raise ContractError("The model's input is not square and no tile_size is given; add 'tile_size' "
                            "to a CONTRACT sidecar.")
    source = sidecar_source if sidecar_text is not None else "model contract"
    contract = ModelContract.from_dict(data, source)
    return contract, ContractOrigin(embedded=bool(embedded), deepness=bool(deepness),
                                    sidecar=sidecar_text is not None, normalisation=normalisation)
