"""Class names: the user's ``CLASS_NAMES`` and ``REFERENCE_CLASSES`` text, and matching reference class names to
class values.

A reference layer often names its classes ("forest") where the classification stores codes (3). When
the classification carries class names, reference names are matched to them without regard to case
or surrounding spaces, so codes line up. Names that match no class get new codes above every code in
use: their pixels count as reference classes the classification does not have (all omission errors).
A reference raster (or field) of codes is matched the same way when its codes are named (``REFERENCE_CLASSES``):
each reference code becomes the classification's code of its name (:class:`CodeMap`).
:func:`class_values` checks that raster values are class codes (whole numbers).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from ..errors import InputError


def parse_class_names(text: str, parameter: str = "CLASS_NAMES") -> dict[int, str]:
    """``"1=farm; 2=forest"`` (``;`` or new lines between entries) -> ``{1: "farm", 2: "forest"}``."""
    names: dict[int, str] = {}
    for entry in (part.strip() for part in text.replace("\n", ";").split(";")):
        if not entry:
            continue
        value_text, equals, name = entry.partition("=")
        try:
            value = int(value_text.strip())
        except ValueError:
            value = None
        if not equals or value is None or not name.strip():
            raise InputError(f"{parameter}: cannot read '{entry}'. Write one 'value=name' per class, separated "
                             "by ';', for example '1=farm;2=forest;8=water'.")
        if value in names:
            raise InputError(f"{parameter} names class {value} twice ('{names[value]}' and '{name.strip()}').")
        names[value] = name.strip()
    return names


def name_key(name: str) -> str:
    """How names are compared: case and surrounding or repeated spaces do not matter."""
    return " ".join(str(name).split()).casefold()


@dataclass(frozen=True)
class NameMatch:
    """Reference names -> class values; ``unmatched`` names were given new values (``new_values``)."""

    value_of: dict[str, int]
    unmatched: tuple[str, ...]

    @property
    def new_values(self) -> dict[int, str]:
        return {self.value_of[name]: name for name in self.unmatched}


def match_names(reference_names: Iterable[str], classes: Mapping[int, str],
                reserved: Iterable[int] = ()) -> NameMatch:
    """Match reference class names to the classification's ``classes`` (value -> name).

    Unmatched names get the next free values above every class value, skipping ``reserved`` values
    (e.g. the ignore value), in alphabetical order. Raises :class:`InputError` when no name matches,
    because then the two sets of names describe different legends and no score would mean anything.
    """
    lookup: dict[str, int] = {}
    for value, name in classes.items():
        key = name_key(name)
        if key in lookup and lookup[key] != value:
            raise InputError(f"The classification names two classes '{name}' ({lookup[key]} and {value}); "
                             "give distinct names with CLASS_NAMES.")
        lookup[key] = value
    names = sorted({str(n) for n in reference_names})
    value_of = {name: lookup[name_key(name)] for name in names if name_key(name) in lookup}
    if names and not value_of:
        raise InputError(f"None of the reference class names {names[:8]} matches a class name of the "
                         f"classification {sorted(set(classes.values()))[:8]}. Use a reference field with the "
                         "same names or with the class codes, or name the classification's classes with "
                         "CLASS_NAMES (for example '1=farm;2=forest').")
    unmatched = tuple(name for name in names if name not in value_of)
    taken = set(classes) | set(reserved)
    next_value = max(classes, default=0) + 1
    for name in unmatched:
        while next_value in taken:
            next_value += 1
        value_of[name] = next_value
        taken.add(next_value)
    return NameMatch(value_of, unmatched)


def class_values(array: np.ndarray, where: np.ndarray, what: str) -> np.ndarray:
    """``array`` as int64 class values; raises when a value under ``where`` is not a whole number."""
    if array.dtype.kind == "f":
        values = array[where]
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise InputError(f"The {what} holds values that are not whole numbers; class rasters hold class codes "
                             "(1, 2, 3...). Use a classified raster, not probabilities or a continuous band.")
        array = np.where(where, array, 0)
    return array.astype(np.int64)


@dataclass(frozen=True)
class CodeMap:
    """Reference codes -> the classification's codes of the same class name; codes not listed are unlabelled."""

    codes: dict[int, int]

    def apply(self, values: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the codes mapped, where a listed code was found) for int64 ``values`` under ``where``."""
        mapped = np.zeros(values.shape, np.int64)
        known = np.zeros(values.shape, bool)
        for reference, classification in self.codes.items():
            hit = where & (values == reference)
            mapped[hit] = classification
            known |= hit
        return mapped, known


def code_map(reference_names: Mapping[int, str], classes: Mapping[int, str],
             reserved: Iterable[int] = ()) -> tuple[CodeMap, NameMatch]:
    """How named reference codes become the classification's codes: matched by name (:func:`match_names`),
    names that match no class on new codes; the match tells which."""
    match = match_names(reference_names.values(), classes, reserved)
    return CodeMap({code: match.value_of[str(name)] for code, name in reference_names.items()}), match
