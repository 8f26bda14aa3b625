"""The regression part of the model contract: outputs of kind ``"regression"`` (continuous values).

A regression output gives continuous values instead of class scores: one value per pixel and output
channel for a per-pixel model (``task: "segmentation"``, run by Classify raster), or per window for a
per-cell model (``task: "classification"``). Its ``outputs[]`` entry has no ``classes`` and no
``threshold``; instead (all optional)::

    kind          "regression"
    band_names    one name per output channel, e.g. ["NIR (B08)"]; default "value" (one channel) or
                  "value 1", "value 2", ...
    units         the values' units for people and legends, e.g. "m", "%", "reflectance x 10000"; default ""
    valid_range   [low, high]: the values the quantity can take (e.g. [0, 100] for a share in percent);
                  predictions outside it are counted and warned about (and clipped on request); null: any

The model's values are written as they come out of the network: a model that predicts in other units
than it should be read in carries the conversion in its graph. A model's outputs are all regression or
all class outputs, never a mix (a class raster and a value raster are different products).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Protocol, Sequence

from ..errors import ContractError
from . import contract_validation as check

REGRESSION_KIND = "regression"
REGRESSION_KEYS = ("band_names", "units", "valid_range")
VALUE_NODATA = -9999.0  # nodata of value rasters, unless the valid range holds it
FALLBACK_NODATA = -3.4028234663852886e38  # the lowest float32, when -9999 is a valid value
MAX_UNITS_LENGTH = 100


@dataclass(frozen=True)
class RegressionSpec:
    """What a regression output's channels are: their names, units and the range of valid values."""

    band_names: tuple[str, ...]
    units: str = ""
    valid_range: tuple[float, float] | None = None

    @property
    def bands(self) -> int:
        return len(self.band_names)

    def to_dict(self) -> dict[str, Any]:
        """The output entry's regression keys (besides name and kind)."""
        return {"band_names": list(self.band_names), "units": self.units,
                "valid_range": list(self.valid_range) if self.valid_range is not None else None}

    def label(self, index: int) -> str:
        """Band ``index`` for people: its name and units, e.g. "NIR (B08) [reflectance x 10000]"."""
        return f"{self.band_names[index]} [{self.units}]" if self.units else self.band_names[index]


def default_band_names(channels: int) -> list[str]:
    """"value" for one channel, "value 1", "value 2", ... for more."""
    return ["value"] if channels == 1 else [f"value {i + 1}" for i in range(channels)]


def regression_from_dict(item: Mapping[str, Any], source: str, where: str) -> RegressionSpec:
    """The regression keys of one ``outputs[]`` entry, checked (class keys are refused)."""
    for key in ("classes", "threshold"):
        if item.get(key) not in (None, []):
            raise ContractError(f"{source}: '{where}.{key}' belongs to class outputs; a 'regression' output gives "
                                "continuous values (describe them with band_names, units and valid_range).")
    names = item.get("band_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, (str, int, float)) for n in names):
        raise ContractError(f"{source}: '{where}.band_names' must be a non-empty list of names, one per output "
                            f"channel of the regression output, got {names!r}.")
    if len(names) > check.MAX_BANDS:
        raise ContractError(f"{source}: '{where}.band_names' lists {len(names)} bands; at most {check.MAX_BANDS}.")
    units = check.optional_text(item, "units", source, where) or ""
    if len(units) > MAX_UNITS_LENGTH:
        raise ContractError(f"{source}: '{where}.units' is {len(units)} characters long; give a short unit such as "
                            "\"m\" or \"%\".")
    return RegressionSpec(tuple(str(n) for n in names), units, valid_range(item.get("valid_range"), source, where))


def valid_range(value: Any, source: str, where: str) -> tuple[float, float] | None:
    """``[low, high]`` of finite numbers with low < high, or None."""
    if value is None:
        return None
    numbers = value if isinstance(value, list) else None
    if (numbers is None or len(numbers) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                         and math.isfinite(v) for v in numbers)
            or not numbers[0] < numbers[1] or max(abs(v) for v in numbers) > check.MAX_ABS_NUMBER):
        raise ContractError(f"{source}: '{where}.valid_range' must be [low, high] with finite numbers, low < high "
                            f"(or null for any value), got {value!r}.")
    return float(numbers[0]), float(numbers[1])


class _Output(Protocol):
    @property
    def kind(self) -> str:
        ...

    @property
    def regression(self) -> RegressionSpec | None:
        ...


class _Contract(Protocol):
    """What these helpers read of a :class:`~.contract.ModelContract` (which imports this module)."""

    @property
    def outputs(self) -> Sequence[_Output]:
        ...


def refuse_regression_keys(item: Mapping[str, Any], kind: str, source: str, where: str) -> None:
    """A class output (``kind`` logits, probabilities...) may not carry the regression keys."""
    given = [key for key in REGRESSION_KEYS if item.get(key) not in (None, "", [])]
    if given:
        raise ContractError(f"{source}: '{where}' is a '{kind}' output but gives {', '.join(given)}, which describe "
                            "continuous values; set \"kind\": \"regression\" for a regression output or remove them.")


def check_one_kind(kinds: Sequence[str], source: str) -> None:
    """A model's outputs are all regression outputs or none."""
    regression = [i for i, kind in enumerate(kinds) if kind == REGRESSION_KIND]
    if regression and len(regression) != len(kinds):
        raise ContractError(f"{source}: outputs {regression} are 'regression' outputs and the others class outputs; "
                            "a model's outputs are all regression (a value raster) or all classes (a class raster). "
                            "Describe only the outputs of one kind in the contract.")


def is_regression(contract: _Contract) -> bool:
    """Whether the model gives continuous values (its outputs are of kind ``regression``)."""
    return any(o.kind == REGRESSION_KIND for o in contract.outputs)


def regression_specs(contract: _Contract) -> list[RegressionSpec]:
    """The regression description of each output, in order (empty for a class model)."""
    return [o.regression for o in contract.outputs if o.regression is not None]


def value_bands(contract: _Contract) -> int:
    """Channels over all regression outputs: the bands of the value raster."""
    return sum(spec.bands for spec in regression_specs(contract))


def value_nodata(contract: _Contract) -> float:
    """The nodata value of the model's value raster: -9999, or the lowest float32 when -9999 is valid."""
    for spec in regression_specs(contract):
        if spec.valid_range is not None and spec.valid_range[0] <= VALUE_NODATA <= spec.valid_range[1]:
            return FALLBACK_NODATA
    return VALUE_NODATA


def declared_regression(documents: Iterable[Mapping[str, Any] | None]) -> set[int]:
    """Positions of the outputs that the documents (embedded contract, then sidecar: the later wins) declare of
    kind ``regression``, so their shape defaults give band names instead of classes."""
    kinds: dict[int, Any] = {}
    for document in documents:
        outputs = document.get("outputs") if document is not None else None
        if not isinstance(outputs, list):
            continue
        for index, entry in enumerate(outputs):
            if isinstance(entry, Mapping) and "kind" in entry:
                kinds[index] = entry["kind"]
    return {index for index, kind in kinds.items() if kind == REGRESSION_KIND}


def regression_defaults(entry: dict[str, Any], channels: int | None) -> dict[str, Any]:
    """A shape-derived output entry as a regression output: band names for its channels instead of classes."""
    result = {key: value for key, value in entry.items() if key not in ("classes", "threshold")}
    result["kind"] = REGRESSION_KIND
    if channels:
        result["band_names"] = default_band_names(channels)
    return result
