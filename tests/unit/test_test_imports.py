"""The tests' own import style: shared code comes from packages (``tests.support``, ``tests.<folder>.helpers``),
never from ``conftest`` or from another test module, so every import says where its code lives."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and not node.level:
            names.append(node.module or "")
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def test_tests_import_shared_code_through_packages_only():
    wrong = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        if "data" in path.relative_to(REPO / "tests").parts:
            continue
        for module in imported_modules(path):
            last = module.rsplit(".", 1)[-1]
            if last == "conftest" or last.startswith("test_") or module in ("helpers", "support"):
                wrong.append(f"{path.relative_to(REPO)} imports {module}")
            elif module.split(".")[0] == "tests" and not module.startswith(("tests.support", "tests.hostile",
                                                                                  "tests.accuracy", "tests.cli",
                                                                                  "tests.cells", "tests.distributed",
                                                                                  "tests.training", "tests.qgis",
                                                                                  "tests.detect")):
                wrong.append(f"{path.relative_to(REPO)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_the_test_modules():
    assert len(list((REPO / "tests").rglob("test_*.py"))) > 50
