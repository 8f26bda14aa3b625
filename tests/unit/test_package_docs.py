"""Package docstrings list their modules: every ``- :mod:`.name``` line names a module or sub-package that
exists, and every module or sub-package is listed. A reader opening a folder's ``__init__.py`` sees its map,
and the map cannot go stale (a moved, renamed or added module fails here)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LISTED = re.compile(r"^\s*- :mod:`\.(\w+)`", re.MULTILINE)
DOCUMENTED_TREES = ("plugin", "training")


def packages() -> list[Path]:
    return sorted(p.parent for tree in DOCUMENTED_TREES for p in (REPO / tree).rglob("__init__.py"))


def members(package: Path) -> set[str]:
    modules = {p.stem for p in package.glob("*.py") if p.stem not in ("__init__", "__main__")}
    return modules | {p.name for p in package.iterdir() if (p / "__init__.py").exists()}


@pytest.mark.parametrize("package", packages(), ids=lambda p: str(p.relative_to(REPO)))
def test_package_docstring_lists_exactly_its_modules(package):
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""
    listed = set(LISTED.findall(docstring))
    actual = members(package)
    assert listed == actual, (f"{package.relative_to(REPO)}/__init__.py lists {sorted(listed - actual)} that do not "
                              f"exist and leaves out {sorted(actual - listed)}")


def test_the_check_sees_every_package():
    assert len(packages()) >= 20 and all(members(p) for p in packages())
