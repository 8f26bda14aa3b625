"""Class codes a dataset already uses, given as ``data.classes`` (or ``--classes``) in any of three forms.

With a text class field ("farm", "forest"...), classes are numbered from 1 in alphabetical order unless
their codes are given; giving them lets a model follow a dataset's own legend (1 farm, 2 meadow, 3 forest),
so its class raster matches the dataset's label rasters code for code. The forms:

- a list of ``{value, name, color}`` (``color`` optional), as in a configuration file;
- a mapping of value to name, ``{1: farm, 2: meadow}``;
- text, ``"1=farm; 2=meadow; 3=forest #1b7837"`` (``;``, ``,`` or new lines between entries).

Every form becomes the list form; a value or a name given twice is refused with the entry that repeats it.
"""
from __future__ import annotations

from typing import Any, Mapping

from ._plugin import errors

_EXAMPLE = "for example '1=farm; 2=meadow; 3=forest'"


def parse_class_codes(value: Any, key: str = "data.classes") -> list[dict[str, Any]] | None:
    """The list form of ``value`` (None stays None)."""
    if value is None or isinstance(value, list):
        return value
    entries: list[tuple[Any, Any, str | None]]
    if isinstance(value, Mapping):
        entries = [(code, name, None) for code, name in value.items()]
    elif isinstance(value, str):
        entries = [_entry(text, key) for text in value.replace("\n", ";").replace(",", ";").split(";") if text.strip()]
    else:
        raise errors.InputError(f"{key} must be a list of {{value, name, color}}, a mapping of value to name or "
                                f"text like 'value=name; ...' ({_EXAMPLE}); got {value!r}.")
    result: list[dict[str, Any]] = []
    for code, name, color in entries:
        try:
            number = int(code)
        except (TypeError, ValueError):
            raise errors.InputError(f"{key}: the class value {code!r} is not a whole number ({_EXAMPLE}).") from None
        item: dict[str, Any] = {"value": number, "name": str(name).strip()}
        if color:
            item["color"] = color
        result.append(item)
    _check_unique(result, key)
    return result


def _entry(text: str, key: str) -> tuple[str, str, str | None]:
    code, equals, rest = text.strip().partition("=")
    words = rest.split()
    color = words[-1] if words and words[-1].startswith("#") else None
    name = " ".join(words[:-1] if color else words)
    if not equals or not code.strip() or not name:
        raise errors.InputError(f"{key}: cannot read '{text.strip()}'; write one 'value=name' per class ({_EXAMPLE}).")
    return code.strip(), name, color


def _check_unique(items: list[dict[str, Any]], key: str) -> None:
    for field in ("value", "name"):
        seen: set[Any] = set()
        for item in items:
            if item[field] in seen:
                raise errors.InputError(f"{key} gives the class {field} {item[field]!r} twice; give each class once.")
            seen.add(item[field])
