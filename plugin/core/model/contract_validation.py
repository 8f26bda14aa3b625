"""Reading a contract dictionary: every key known, every value of the right type and within sane limits.

A contract comes from files people write by hand and from models made elsewhere, so nothing in it is
trusted: unknown keys are refused with a "did you mean" suggestion (a misspelt ``tile_sise`` would
otherwise be ignored silently), numbers must be finite and within limits that keep a run possible
(a tile of a billion pixels would only fail later with a memory error), and every message names the
field and says how to fix it. :mod:`.contract` builds its dataclasses with these helpers.
"""
from __future__ import annotations

import difflib
import json
import math
from typing import Any, Iterable, Mapping, Sequence

from ..errors import ContractError

MAX_CONTRACT_BYTES = 1024 * 1024  # a contract is a few kB; anything near this size is not one
MAX_NESTING = 32
MAX_TILE_SIZE = 16384
MAX_SIZE_MULTIPLE = 1024
MAX_BANDS = 4096
MAX_CLASSES = 65535
MAX_ABS_NUMBER = 1e12  # scale, offset, mean, std and fill values beyond this are not normalisation
MIN_ABS_FACTOR = 1e-12  # smallest |scale| and std: smaller ones make every input value infinite
MAX_RESOLUTION_M = 1e5

TOP_KEYS = ("schema_version", "task", "name", "description", "input", "outputs", "tile_size", "dynamic_size",
            "size_multiple", "context_margin", "recommended_overlap", "resolution_m", "provenance", "detection")
INPUT_KEYS = ("name", "bands", "band_names", "scale", "offset", "mean", "std", "nodata_fill")
OUTPUT_KEYS = ("name", "kind", "threshold", "classes", "band_names", "units", "valid_range")  # last 3: regression
CLASS_KEYS = ("value", "name", "color")


def _refuse_constant(name: str) -> float:
    raise ValueError(f"'{name}' is not a number JSON allows")


def parse_json_object(text: str, source: str) -> dict[str, Any]:
    """Parse ``text`` as a JSON object or raise a ContractError saying where and why.

    NaN and Infinity (which Python's json accepts) are refused, as is nesting deeper than
    :data:`MAX_NESTING` levels (Python's parser would otherwise hit its recursion limit).
    """
    if len(text) > MAX_CONTRACT_BYTES:
        raise ContractError(f"{source} is {len(text) / 1e6:.1f} MB long; a model contract is a few kB of JSON. "
                            "Check that the right file or metadata was given.")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise ContractError(f"{source} is not valid JSON: {error.msg} at line {error.lineno}, "
                            f"column {error.colno}.") from error
    except ValueError as error:  # NaN / Infinity
        raise ContractError(f"{source} is not valid JSON: {error}; write finite numbers.") from error
    except RecursionError as error:
        raise ContractError(f"{source} is nested too deeply to be a model contract (more than "
                            f"{MAX_NESTING} levels).") from error
    if not isinstance(value, dict):
        raise ContractError(f"{source} must hold a JSON object ({{...}}), not {type(value).__name__}.")
    if nesting_depth(value) > MAX_NESTING:
        raise ContractError(f"{source} is nested too deeply (more than {MAX_NESTING} levels); a model contract is "
                            "a flat object with a few lists. Check the file.")
    return value


def nesting_depth(value: Any) -> int:
    """How many objects and lists deep ``value`` goes (iteratively, so any depth is measured safely)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any] = ()
        if isinstance(item, Mapping):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            return depth
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_keys(data: Mapping[str, Any], known: Sequence[str], where: str, source: str) -> None:
    """Refuse keys that are not part of the schema, suggesting the nearest known key."""
    for key in data:
        if key in known:
            continue
        suggestion = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f" Did you mean '{suggestion[0]}'?" if suggestion else ""
        raise ContractError(f"{source}: unknown key '{_join(where, str(key))}'.{hint} The keys allowed there are: "
                            f"{', '.join(known)} (see docs/model_contract.md).")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def mapping(data: Mapping[str, Any], key: str, source: str, where: str = "") -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise ContractError(f"{source}: '{_join(where, key)}' must be an object; see the plugin's "
                            "docs/model_contract.md.")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def optional_int(data: Mapping[str, Any], key: str, source: str, minimum: int, maximum: int,
                 where: str = "") -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not _is_number(value) or not math.isfinite(value) or int(value) != value or not minimum <= value <= maximum:
        raise ContractError(f"{source}: '{_join(where, key)}' must be a whole number from {minimum} to {maximum}, "
                            f"got {value!r}.")
    return int(value)


def optional_bool(data: Mapping[str, Any], key: str, source: str) -> bool | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise ContractError(f"{source}: '{key}' must be true, false or null, got {value!r}.")


def optional_float(data: Mapping[str, Any], key: str, source: str, low: float, high: float,
                   where: str = "") -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if not _is_number(value) or not low <= value <= high:  # NaN fails the comparison too
        raise ContractError(f"{source}: '{_join(where, key)}' must be a number from {low:g} to {high:g}, "
                            f"got {value!r}.")
    return float(value)


def positive_or_none(data: Mapping[str, Any], key: str, source: str, maximum: float) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if not _is_number(value) or not 0 < value <= maximum:
        raise ContractError(f"{source}: '{key}' must be a positive number up to {maximum:g} (metres per pixel) or "
                            f"null, got {value!r}.")
    return float(value)


def optional_text(data: Mapping[str, Any], key: str, source: str, where: str = "") -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ContractError(f"{source}: '{_join(where, key)}' must be text or null, got {value!r}.")


def per_band(values: Any, bands: int, key: str, source: str, default: float) -> tuple[float, ...]:
    """A per-band list of finite numbers; a single number (or a one-item list) applies to every band."""
    if values is None:
        return (float(default),) * bands
    items = [values] if _is_number(values) else values
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise ContractError(f"{source}: 'input.{key}' must be a number or a list of {bands} numbers, got "
                            f"{values!r}.")
    if not all(_is_number(v) and math.isfinite(v) and abs(v) <= MAX_ABS_NUMBER for v in items):
        raise ContractError(f"{source}: 'input.{key}' must hold finite numbers of at most {MAX_ABS_NUMBER:g} in "
                            f"size, got {values!r}.")
    if len(items) == 1:
        return (float(items[0]),) * bands
    if len(items) != bands:
        raise ContractError(f"{source}: 'input.{key}' has {len(items)} values but the model takes "
                            f"{bands} bands; give one value per band (or one for all).")
    return tuple(float(v) for v in items)


def band_names(data: Mapping[str, Any], bands: int, source: str) -> tuple[str, ...]:
    names = data.get("band_names")
    if names is None:
        return tuple(f"band {i + 1}" for i in range(bands))
    if not isinstance(names, list) or not all(isinstance(n, (str, int, float)) for n in names):
        raise ContractError(f"{source}: 'input.band_names' must be a list of {bands} names, got {names!r}.")
    if len(names) != bands:
        raise ContractError(f"{source}: 'input.band_names' has {len(names)} names for {bands} bands.")
    return tuple(str(n) for n in names)


def nodata_fill(data: Mapping[str, Any], source: str, mean_keyword: str) -> str | float:
    fill = data.get("nodata_fill", mean_keyword)
    if fill == mean_keyword:
        return mean_keyword
    if not _is_number(fill) or not math.isfinite(fill) or abs(fill) > MAX_ABS_NUMBER:
        raise ContractError(f"{source}: 'input.nodata_fill' must be \"{mean_keyword}\" or a finite number, "
                            f"got {fill!r}.")
    return float(fill)


def check_factors(scale: Sequence[float], std: Sequence[float], source: str) -> None:
    """Scale and std divide or multiply every value: too small (or zero) makes every input infinite."""
    if any(s < MIN_ABS_FACTOR for s in std):
        raise ContractError(f"{source}: 'input.std' must be at least {MIN_ABS_FACTOR:g} for every band, got "
                            f"{list(std)}.")
    if any(abs(s) < MIN_ABS_FACTOR for s in scale):
        raise ContractError(f"{source}: 'input.scale' must be non-zero (at least {MIN_ABS_FACTOR:g} in size) for "
                            f"every band, got {list(scale)}.")


def sequence_of_objects(items: Any, source: str, where: str, what: str) -> Sequence[Any]:
    if not isinstance(items, list) or not items:
        raise ContractError(f"{source}: '{where}' must be a non-empty list of {what}; see the "
                            "plugin's docs/model_contract.md.")
    return items
