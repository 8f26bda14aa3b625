"""The plugin's menu in a real QGIS desktop (on a virtual screen), started with the system Python only, so
onnxruntime is missing: the message bar offers the installer, *Install dependencies* opens its dialog and
*Diagnostics* shows the report and puts it on the clipboard."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.data import REPO
from tests.support.qgis_process import enable_plugin

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("xvfb-run") is None or shutil.which("qgis") is None,
                                 reason="needs the QGIS desktop and xvfb-run")]

# Runs inside QGIS (qgis --code): drives the menu, writes what it saw as JSON, and leaves.
IN_QGIS = r'''
import json, os, traceback
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QApplication, QPushButton
from qgis.utils import iface, plugins

seen = {}


def menu():
    for action in iface.pluginMenu().actions():
        if action.menu() is not None and "Seamless Segmentation" in action.text().replace("&", ""):
            return {a.objectName(): a for a in action.menu().actions()}
    return {}


def check():
    try:
        plugin = plugins["seamless_segmentation"]
        actions = menu()
        seen["menu"] = [a.text() for a in actions.values()]
        bar_items = [item for item in iface.messageBar().items() if "needs onnxruntime" in item.text()]
        seen["bar_buttons"] = [b.text() for item in bar_items for b in item.findChildren(QPushButton)]
        actions["seamless_diagnostics"].trigger()
        dialog = plugin.dialogs[-1]
        seen["diagnostics_visible"] = dialog.isVisible()
        seen["clipboard"] = QApplication.clipboard().text()
        seen["report_text"] = dialog.report.text()
        seen["browser"] = dialog.browser.toPlainText()
        dialog.close()
        actions["seamless_install"].trigger()
        installer = plugin.dialogs[-1]
        seen["installer_algorithm"] = installer.algorithm().id()
        seen["installer_visible"] = installer.isVisible()
        installer.close()
        for item in bar_items:
            for button in item.findChildren(QPushButton):
                button.click()
        seen["after_bar_button"] = plugin.dialogs[-1].algorithm().id() if bar_items else None
    except Exception:
        seen["error"] = traceback.format_exc()
    with open(os.environ["SEAMLESS_TEST_OUTPUT"], "w") as handle:
        json.dump(seen, handle)
    os._exit(0)


QTimer.singleShot(1000, check)
'''


@pytest.fixture(scope="module")
def desktop(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("desktop")
    plugins = root / "config" / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "seamless_segmentation").symlink_to(REPO, target_is_directory=True)
    (root / "xdg").mkdir(mode=0o700)
    (root / "in_qgis.py").write_text(IN_QGIS)
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("QGIS_PLUGINPATH", "VIRTUAL_ENV", "QT_QPA_PLATFORM")}
    env.update({"PATH": os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin),
                "QGIS_CUSTOM_CONFIG_PATH": str(root / "config"), "XDG_RUNTIME_DIR": str(root / "xdg"),
                "SEAMLESS_TEST_OUTPUT": str(root / "seen.json")})
    enable_plugin({**env, "QT_QPA_PLATFORM": "offscreen"})
    completed = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", "qgis", "--nologo",
                                "--noversioncheck", "--code", str(root / "in_qgis.py")], env=env,
                               capture_output=True, text=True, timeout=300)
    assert (root / "seen.json").exists(), completed.stdout[-2000:] + completed.stderr[-2000:]
    seen = json.loads((root / "seen.json").read_text())
    assert "error" not in seen, seen["error"]
    return seen


def test_the_plugin_menu_has_install_dependencies_and_diagnostics(desktop):
    assert desktop["menu"] == ["Install dependencies…", "Diagnostics…"]


def test_without_onnxruntime_the_message_bar_offers_the_installer(desktop):
    assert desktop["bar_buttons"] == ["Install dependencies…"]
    assert desktop["after_bar_button"] == "seamless:installdependencies"


def test_install_dependencies_opens_the_algorithm_dialog(desktop):
    assert desktop["installer_algorithm"] == "seamless:installdependencies" and desktop["installer_visible"]


def test_diagnostics_shows_the_report_and_copies_it_to_the_clipboard(desktop):
    assert desktop["diagnostics_visible"]
    assert desktop["clipboard"] == desktop["report_text"]
    assert desktop["clipboard"].startswith("Seamless Segmentation diagnostics")
    assert "onnxruntime: not installed" in desktop["clipboard"]
    assert "Seamless Segmentation diagnostics" in desktop["browser"]
