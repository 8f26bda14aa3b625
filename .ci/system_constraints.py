"""Print constraints.txt adapted to the system Python that the virtual environment is made from.

constraints.txt pins what Debian 12's GDAL and QGIS need (numpy below 2, Debian's rasterio). Where the system
Python has a build that does not satisfy a line (Debian 13: numpy 2, which its GDAL is built against, and
rasterio 1.4), the system's own version replaces the line, so pip never installs a second, incompatible copy
into the environment. Lines the system satisfies, or packages it does not have, are printed unchanged.

    /usr/bin/python3 .ci/system_constraints.py constraints.txt > generated-constraints.txt
"""
from __future__ import annotations

import operator
import re
import sys
from importlib import metadata

LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(==|!=|<=|>=|<|>)\s*([0-9][0-9A-Za-z.+]*)\s*$")
OPERATORS = {"==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge, "<": operator.lt,
             ">": operator.gt}


def release(version: str) -> tuple[int, ...]:
    """The numeric release part of a version ("2.2.4" -> (2, 2, 4); "1.3.5+ds" -> (1, 3, 5))."""
    numbers = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(n) for n in numbers.group(0).split(".")) if numbers else ()


def satisfies(installed: str, op: str, wanted: str) -> bool:
    """Compare release numbers, padded to the same length (1.24.2 < 2)."""
    left, right = release(installed), release(wanted)
    width = max(len(left), len(right))
    return OPERATORS[op](left + (0,) * (width - len(left)), right + (0,) * (width - len(right)))


def adapted(line: str) -> str:
    match = LINE.match(line.split("#", 1)[0])
    if not match:
        return line
    name, op, wanted = match.groups()
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        return line
    return line if satisfies(installed, op, wanted) else f"{name}=={installed}  # the system's build"


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        sys.stdout.write("".join(adapted(line.rstrip("\n")) + "\n" for line in handle))
