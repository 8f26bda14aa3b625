"""Class names and colours typed into a text parameter, read into the training configuration's ``data.classes``.

Accepted forms (the same entries the command line's ``data.classes`` takes):

- JSON: ``[{"value": 1, "name": "farm", "color": "#e6c364"}, ...]`` or ``{"1": "farm", "2": "meadow"}``;
- text: one class per line or separated by ``;``: ``1 farm #e6c364``, ``1=farm``, ``1: forest #1b7837``.
  The colour is optional; a name may hold spaces (``4 built-up area #d73027``).

Pure standard library: no QGIS here, so the parsing is tested without it.
"""
from __future__ import annotations

import json
import re
from typing import Any

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ENTRY = re.compile(r"^\s*(-?\d+)\s*[=:]?\s*(.*?)\s*$")


class ClassTextError(ValueError):
    """The text cannot be read as a class table; the message says how to write it."""


HOW = ('Write one class per line (or separated by ";") as VALUE NAME [#RRGGBB], e.g. "1 farm #e6c364; 2 meadow", '
       'or JSON such as [{"value": 1, "name": "farm", "color": "#e6c364"}].')


def parse_class_table(text: str) -> list[dict[str, Any]]:
    """``[{value, name, color?}, ...]`` from ``text``; an empty text gives an empty list."""
    text = (text or "").strip()
    if not text:
        return []
    if text[0] in "[{":
        return _from_json(text)
    entries = [_entry(part) for part in re.split(r"[;\n]", text) if part.strip()]
    _check_unique(entries)
    return entries


def _from_json(text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ClassTextError(f"The class table is not valid JSON ({error}). {HOW}") from error
    if isinstance(data, dict):
        data = [{"value": key, **(value if isinstance(value, dict) else {"name": value})}
                for key, value in data.items()]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ClassTextError(f"The class table must be a JSON list of objects or an object of value: name. {HOW}")
    entries = []
    for item in data:
        unknown = set(item) - {"value", "name", "color"}
        if unknown or "value" not in item:
            raise ClassTextError(f"Class entry {item} needs 'value' and may have only 'name' and 'color'. {HOW}")
        entries.append(_checked(item.get("value"), item.get("name"), item.get("color")))
    _check_unique(entries)
    return entries


def _entry(part: str) -> dict[str, Any]:
    match = _ENTRY.match(part)
    if not match:
        raise ClassTextError(f"Cannot read the class entry {part.strip()!r}. {HOW}")
    value, rest = match.group(1), match.group(2)
    words = rest.split()
    color = words.pop() if words and words[-1].startswith("#") else None
    return _checked(value, " ".join(words) or None, color)


def _checked(value: Any, name: Any, color: Any) -> dict[str, Any]:
    try:
        number = int(str(value))
    except ValueError:
        raise ClassTextError(f"Class value {value!r} is not a whole number. {HOW}") from None
    if number < 0:
        raise ClassTextError(f"Class value {number} is negative; label values are 0 or more.")
    entry: dict[str, Any] = {"value": number}
    if name is not None and str(name).strip():
        entry["name"] = str(name).strip()
    if color is not None:
        if not _COLOR.match(str(color)):
            raise ClassTextError(f"Colour {color!r} of class {number} is not #RRGGBB (e.g. #1b7837).")
        entry["color"] = str(color)
    return entry


def _check_unique(entries: list[dict[str, Any]]) -> None:
    values = [e["value"] for e in entries]
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ClassTextError(f"Class value(s) {repeated} appear more than once in the class table.")
