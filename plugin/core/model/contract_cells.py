"""The cell part of the model contract: models that give one result per window, not per pixel.

Two tasks run window by window over a grid of cells (Classify tiles, Similarity):

- ``"classification"``: one class vector per window (MobileNetV2, a ResNet, any ONNX image classifier), or one
  or more continuous values per window (per-cell regression: ``outputs[].kind: "regression"``);
- ``"embedding"``: one vector per window (an encoder, a siamese network), compared by cosine similarity and
  k-nearest neighbours.

Outputs are ``(batch, channels)``, ``(batch, channels, 1, 1)`` or, for one value, ``(batch,)``. Their kinds::

    logits, probabilities,   classification: one output listing its classes (softmax applied to logits; one
    sigmoid, auto            sigmoid channel is a binary classifier of two classes, as for segmentation)
    regression               one or more values per window; ``units`` (text) and ``valid_range``
                             ([low, high]: values outside are clipped and counted) on the output entry
    embedding                the one output of an embedding model (no classes)

A classification model has either one class output or only regression outputs. The ``cells`` section
(optional)::

    border_px   0   pixels of context on each side of the cell the model was trained with: the model's input
                    is the cell plus this border all round, and the result describes the cell only
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..errors import ContractError
from . import contract_validation as check

CELL_TASKS = ("classification", "embedding")
CLASS_KINDS = ("logits", "probabilities", "sigmoid", "auto")
REGRESSION_KIND = "regression"
EMBEDDING_KIND = "embedding"
CELL_OUTPUT_KEYS = ("name", "kind", "threshold", "classes", "units", "valid_range")
CELLS_KEYS = ("border_px",)
ALGORITHMS = {"segmentation": "Classify raster (seamless:classify)", "detection": "Detect objects (seamless:detect)",
              "classification": "Classify tiles (seamless:classifytiles)",
              "embedding": "Similarity search (seamless:similarity)"}


@dataclass(frozen=True)
class ValueSpec:
    """A regression output: what its values measure and the range they are valid in."""

    units: str = ""
    valid_range: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"units": self.units, "valid_range": list(self.valid_range) if self.valid_range else None}


@dataclass(frozen=True)
class CellSpec:
    """The cell settings of a contract: the context border, and each output's regression settings (None for a
    class or embedding output), in the order of ``outputs``."""

    border_px: int = 0
    values: tuple[ValueSpec | None, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"border_px": self.border_px}


def is_cell_task(task: str) -> bool:
    return task in CELL_TASKS


def other_algorithm(task: str) -> str:
    """The algorithm that runs models of ``task``."""
    return ALGORITHMS.get(task, "Classify raster (seamless:classify)")


def check_cell_output_kind(kind: Any, task: str, source: str, where: str) -> str:
    """``kind`` if a ``task`` model may have it; a message naming the allowed kinds otherwise."""
    allowed = (EMBEDDING_KIND,) if task == "embedding" else (*CLASS_KINDS, REGRESSION_KIND)
    if kind is None:
        return EMBEDDING_KIND if task == "embedding" else "auto"
    if kind in allowed:
        return str(kind)
    hint = (" ('embedding' outputs belong to task \"embedding\")" if kind == EMBEDDING_KIND else
            " (a classifier's classes come from logits, probabilities or sigmoid outputs)" if task == "embedding"
            else "")
    raise ContractError(f"{source}: '{where}.kind' is {kind!r}; a '{task}' model's outputs are of kind "
                        f"{', '.join(allowed)}{hint}.")


def value_spec(item: Mapping[str, Any], source: str, where: str) -> ValueSpec:
    """``units`` and ``valid_range`` of a regression output entry."""
    units = check.optional_text(item, "units", source, where) or ""
    span = item.get("valid_range")
    if span is None:
        return ValueSpec(units, None)
    if (not isinstance(span, list) or len(span) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in span)
            or not span[0] < span[1]):
        raise ContractError(f"{source}: '{where}.valid_range' must be [low, high], two finite numbers with low < "
                            f"high, or null; got {span!r}.")
    return ValueSpec(units, (float(span[0]), float(span[1])))


def check_cell_entry(item: Mapping[str, Any], kind: str, class_count: int, source: str, where: str) -> None:
    """What each kind of cell output may carry: classes on class outputs only, units and ranges on regression."""
    check.check_keys(item, CELL_OUTPUT_KEYS, where, source)
    if kind in (REGRESSION_KIND, EMBEDDING_KIND) and class_count:
        raise ContractError(f"{source}: '{where}' is a '{kind}' output and lists classes; only classification "
                            "outputs (logits, probabilities, sigmoid) have classes. Remove 'classes' or change 'kind'.")
    if kind != REGRESSION_KIND and (item.get("units") is not None or item.get("valid_range") is not None):
        raise ContractError(f"{source}: '{where}' has 'units' or 'valid_range', which describe regression outputs; "
                            "set \"kind\": \"regression\" or remove them.")
    if kind in CLASS_KINDS and not class_count:
        raise ContractError(f"{source}: '{where}' is a classification output without classes; list them in "
                            "outputs[].classes (one per output channel) in a CONTRACT sidecar.")


def check_cell_outputs(kinds: Sequence[str], task: str, source: str) -> None:
    """One class output, or regression outputs only (classification); exactly one output (embedding)."""
    if task == "embedding":
        if len(kinds) != 1:
            raise ContractError(f"{source}: an embedding model has exactly one output (its vector per window); this "
                                f"contract lists {len(kinds)}. Keep the embedding output only.")
        return
    classes = [k for k in kinds if k in CLASS_KINDS]
    if classes and (len(classes) > 1 or len(kinds) > 1):
        raise ContractError(f"{source}: a classification model has one class output, or regression outputs only; "
                            f"this contract lists outputs of kinds {list(kinds)}. Describe the outputs to use only.")


def cells_from_dict(value: Any, values: tuple[ValueSpec | None, ...], source: str) -> CellSpec:
    """The ``cells`` section (absent or null: no border)."""
    if value is None:
        return CellSpec(0, values)
    if not isinstance(value, Mapping):
        raise ContractError(f"{source}: 'cells' must be an object or null, got {value!r}.")
    check.check_keys(value, CELLS_KEYS, "cells", source)
    border = check.optional_int(value, "border_px", source, 0, check.MAX_TILE_SIZE, "cells")
    return CellSpec(border or 0, values)


def cell_output_extras(spec: CellSpec | None, index: int) -> dict[str, Any]:
    """What an output entry of a cell model adds when written back (units and range of regression outputs)."""
    if spec is None or index >= len(spec.values) or spec.values[index] is None:
        return {}
    return spec.values[index].to_dict()  # type: ignore[union-attr]
