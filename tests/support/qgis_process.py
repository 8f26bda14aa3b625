"""Running ``qgis_process`` with this repository as the plugin, in a throwaway profile."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.data import REPO

QGIS_PROCESS = shutil.which("qgis_process.bin") or "qgis_process.bin"


def qgis_process_environment(root: Path) -> dict[str, str]:
    """Environment for qgis_process with a throwaway profile and this repository as the plugin."""
    plugins = root / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / "seamless_segmentation"
    if not link.exists():
        link.symlink_to(REPO, target_is_directory=True)
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env.update({
        "QGIS_CUSTOM_CONFIG_PATH": str(root / "profile"),
        "QGIS_PLUGINPATH": str(plugins),
        "QT_QPA_PLATFORM": "offscreen",
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
        "XDG_RUNTIME_DIR": str(root / "xdg"),
    })
    (root / "xdg").mkdir(exist_ok=True, mode=0o700)
    return env


def enable_plugin(env: dict[str, str]) -> None:
    """Enable the plugin in the throwaway profile; fail loudly if QGIS cannot import it."""
    subprocess.run([QGIS_PROCESS, "plugins", "enable", "seamless_segmentation"], env=env,
                   capture_output=True, text=True, timeout=120, check=False)
    listing = subprocess.run([QGIS_PROCESS, "plugins"], env=env, capture_output=True, text=True, timeout=120)
    enabled = [line for line in listing.stdout.splitlines() if "seamless_segmentation" in line]
    assert enabled and enabled[0].lstrip().startswith("*"), f"plugin not enabled: {listing.stdout}{listing.stderr}"


class QgisProcessResult:
    """A finished qgis_process run: return code, parsed JSON (if any) and the raw streams."""

    def __init__(self, completed: subprocess.CompletedProcess) -> None:
        self.returncode = completed.returncode
        self.stdout, self.stderr = completed.stdout, completed.stderr
        self.json: dict[str, Any] | None = None
        start = self.stdout.find("{")
        if start >= 0:
            try:
                self.json = json.loads(self.stdout[start:])
            except json.JSONDecodeError:
                self.json = None

    @property
    def results(self) -> dict[str, Any]:
        return (self.json or {}).get("results", {})

    @property
    def log(self) -> str:
        """Everything the run said: the JSON log (a string, or lists by level in QGIS 3.22) and both streams."""
        log = (self.json or {}).get("log", "")
        if isinstance(log, dict):
            log = "\n".join(str(line) for lines in log.values()
                            for line in (lines if isinstance(lines, list) else [lines]))
        return str(log) + self.stdout + self.stderr
