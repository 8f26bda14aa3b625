"""The plugin follows the Qt 5 to Qt 6 migration rules, so the same sources load in QGIS 3.22 and QGIS 4.

A scan of the plugin's own sources (what the plugin zip holds): Qt only through ``qgis.PyQt``, no Qt 5-only
API, and no unscoped enum. Unscoped enums are found for real: every ``Name.attribute`` whose name was imported
from ``qgis`` is looked up in the running QGIS, and a value of an enum reached without its enum type fails.
"""
from __future__ import annotations

import ast
import enum
import importlib
import re
from pathlib import Path

import pytest

from tests.support.data import REPO

PLUGIN_SOURCES = sorted([REPO / "__init__.py", *(REPO / "plugin").rglob("*.py"), *(REPO / "training").rglob("*.py")])
COMPAT = REPO / "plugin" / "processing" / "common" / "qgis_compat.py"

QT5_ONLY = [
    (re.compile(r"^\s*(from|import)\s+(PyQt[456]|PySide\d*|sip)\b", re.M), "import Qt through qgis.PyQt"),
    (re.compile(r"\.exec_\("), "exec_() is gone in PyQt6: call exec()"),
    (re.compile(r"\bQRegExp\b"), "QRegExp is gone in Qt 6: use QRegularExpression"),
    (re.compile(r"\bresources_rc\b|\bpyrcc5\b|\.qrc\b"), "compiled resources are gone in Qt 6: load files by path"),
    (re.compile(r"\bQDesktopWidget\b"), "QDesktopWidget is gone in Qt 6: use QScreen"),
    (re.compile(r"\bQtWebKit"), "Qt WebKit is gone in Qt 6"),
    (re.compile(r"^\s*from\s+qgis\.PyQt\.QtWidgets\s+import\s[^\n]*\bQAction\b", re.M),
     "QAction moved to QtGui in Qt 6: import it from plugin/processing/common/qgis_compat.py"),
]


def qt5_only_forms(path: Path) -> list[str]:
    """``path:line: why`` for every Qt 5-only form in the file."""
    text = path.read_text(encoding="utf-8")
    found = []
    for pattern, why in QT5_ONLY:
        if path == COMPAT and "QAction" in pattern.pattern:
            continue  # the one place that picks QAction's module
        for match in pattern.finditer(text):
            found.append(f"{path.relative_to(path.parents[0])}:{text.count(chr(10), 0, match.start()) + 1}: {why}")
    return found


def _is_enum_member(value: object) -> bool:
    if isinstance(value, enum.Enum):  # Qt 6 and QGIS's scoped enums are Python enums
        return True
    kind = type(value)  # Qt 5 (sip) enum values are ints of a sip enum type
    return isinstance(value, int) and kind not in (int, bool) and type(kind).__name__ == "enumtype"


def _qgis_names(tree: ast.AST) -> dict[str, object]:
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "qgis":
            module = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if isinstance(value, type):
                    names[alias.asname or alias.name] = value
    return names


def unscoped_enums(path: Path) -> list[str]:
    """``path:line: Owner.Member`` for every enum value reached without its enum type."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = _qgis_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names:
            value = getattr(names[node.value.id], node.attr, None)
            if _is_enum_member(value):
                found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr} is unscoped: write "
                             f"{node.value.id}.{type(value).__name__}.{node.attr} or use qgis_compat")
    return found


def test_the_scan_covers_the_plugin():
    names = {p.relative_to(REPO).as_posix() for p in PLUGIN_SOURCES}
    assert {"__init__.py", "plugin/qgis_plugin.py", "plugin/processing/classify/algorithm.py",
            "plugin/processing/common/tables.py", "plugin/processing/common/qgis_compat.py"} <= names


def test_no_qt5_only_forms_in_the_plugin():
    found = [line for path in PLUGIN_SOURCES for line in qt5_only_forms(path)]
    assert not found, "\n".join(found)


def test_no_unscoped_enums_in_the_plugin(qgis_app):
    found = [line for path in PLUGIN_SOURCES for line in unscoped_enums(path)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("snippet, expected", [
    ("from PyQt5.QtCore import Qt\n", "qgis.PyQt"),
    ("dialog.exec_()\n", "exec_()"),
    ("from qgis.PyQt.QtCore import QRegExp\n", "QRegExp"),
    ("from . import resources_rc\n", "compiled resources"),
    ("from qgis.PyQt.QtWidgets import QAction, QMenu\n", "QAction"),
])
def test_the_scan_finds_qt5_only_forms(tmp_path, snippet, expected):
    source = tmp_path / "bad.py"
    source.write_text(snippet)
    assert any(expected in line for line in qt5_only_forms(source))


@pytest.mark.parametrize("snippet", [
    "from qgis.core import QgsProcessingParameterNumber\nx = QgsProcessingParameterNumber.Integer\n",
    "from qgis.core import QgsProcessing\nx = [QgsProcessing.TypeVectorPolygon]\n",
    "from qgis.core import QgsFeatureSink\nx = QgsFeatureSink.FastInsert\n",
    "from qgis.PyQt.QtCore import Qt\nx = Qt.AlignLeft\n",
])
def test_the_scan_finds_unscoped_enums(qgis_app, tmp_path, snippet):
    source = tmp_path / "bad.py"
    source.write_text(snippet)
    assert len(unscoped_enums(source)) == 1


def test_scoped_forms_pass_the_scan(qgis_app, tmp_path):
    source = tmp_path / "good.py"
    source.write_text("from qgis.core import QgsFeatureSink\nfrom qgis.PyQt.QtCore import Qt\n"
                      "x = QgsFeatureSink.Flag.FastInsert\ny = Qt.AlignmentFlag.AlignLeft\n")
    assert unscoped_enums(source) == []
