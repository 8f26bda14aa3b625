"""``REFERENCE_CLASSES``: the names of a reference's class codes, typed as ``value=name`` pairs or read from a CSV
file (a dataset's legend: one class per row, its code then its name; a header row and ``,``, ``;`` or tab
separators are recognised)."""
from __future__ import annotations

import csv
from pathlib import Path

from ...core.accuracy.class_mapping import parse_class_names
from ...core.errors import InputError

PARAMETER = "REFERENCE_CLASSES"


def reference_classes(text: str | None, parameter: str = PARAMETER) -> dict[int, str] | None:
    """Code -> name from ``text`` (pairs, or the path of a CSV file); None when it is empty."""
    text = (text or "").strip()
    if not text:
        return None
    path = Path(text)
    if "=" not in text and (path.suffix.lower() in (".csv", ".txt") or path.is_file()):
        return _read_csv(path, parameter)
    return parse_class_names(text, parameter) or None


def _read_csv(path: Path, parameter: str) -> dict[int, str]:
    try:
        content = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{parameter}: cannot read the class file '{path}' ({error}). Give a CSV file with a code "
                         "and a name on each row, or value=name pairs such as '1=farm;2=meadow'.") from error
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(content[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    names: dict[int, str] = {}
    for number, row in enumerate(csv.reader(content.splitlines(), dialect), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        try:
            value = int(cells[0])
        except ValueError:
            if not names and number == 1:
                continue  # a header row
            raise InputError(f"{parameter}: row {number} of '{path}' does not start with a whole-number code "
                             f"({row}). Each row holds a code and its name, e.g. '2,meadow'.") from None
        if len(cells) < 2 or not cells[1]:
            raise InputError(f"{parameter}: row {number} of '{path}' gives code {value} no name.")
        if value in names:
            raise InputError(f"{parameter}: '{path}' names code {value} twice ('{names[value]}' and '{cells[1]}').")
        names[value] = cells[1]
    if not names:
        raise InputError(f"{parameter}: '{path}' lists no class; give one code and name per row, e.g. '2,meadow'.")
    return names
