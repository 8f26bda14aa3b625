"""Install dependencies, for real: a QGIS whose Python has no onnxruntime (the system interpreter, not the
project's virtual environment), a throwaway profile, pip with the configuration it has on this machine.

seamless:installdependencies runs through qgis_process, then seamless:classify from that profile works; a
cancelled installation and one without a network leave the profile exactly as it was.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from tests.support.data import REPO
from tests.support.qgis_process import QGIS_PROCESS, enable_plugin

pytestmark = pytest.mark.slow

SYSTEM_PYTHON = Path("/usr/bin/python3")
SAMPLE = REPO / "resources" / "sample" / "s2_sample.tif"
MODEL = REPO / "models" / "s2_landuse_unet.onnx"


def _system_python_lacks_onnxruntime() -> bool:
    completed = subprocess.run([str(SYSTEM_PYTHON), "-c", "import onnxruntime"], capture_output=True)
    return completed.returncode != 0


@pytest.fixture(scope="module")
def bare_qgis(tmp_path_factory) -> dict[str, str]:
    """qgis_process with the system Python only (the virtual environment left off PATH), plugin in the profile."""
    if not SYSTEM_PYTHON.exists() or not _system_python_lacks_onnxruntime():
        pytest.skip("needs a system Python without onnxruntime at /usr/bin/python3")
    root = tmp_path_factory.mktemp("bare_qgis")
    plugins = root / "config" / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "seamless_segmentation").symlink_to(REPO, target_is_directory=True)
    (root / "xdg").mkdir(mode=0o700)
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    env = {k: v for k, v in os.environ.items() if k not in ("QGIS_PLUGINPATH", "VIRTUAL_ENV", "PYTHONPATH",
                                                            "PYTHONHOME")}
    env.update({"PATH": path, "QGIS_CUSTOM_CONFIG_PATH": str(root / "config"), "QT_QPA_PLATFORM": "offscreen",
                "XDG_RUNTIME_DIR": str(root / "xdg")})
    enable_plugin(env)
    return env


def qgis_process(env: dict[str, str], algorithm: str, **parameters) -> tuple[int, dict, str]:
    command = [QGIS_PROCESS, "--json", "run", algorithm, "--", *(f"{k}={v}" for k, v in parameters.items())]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    start = completed.stdout.find("{")
    parsed = json.loads(completed.stdout[start:]) if start >= 0 and completed.returncode == 0 else {}
    return completed.returncode, parsed, completed.stdout + completed.stderr


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.rglob("*")}


def test_without_onnxruntime_classify_says_how_to_install(bare_qgis, tmp_path):
    code, _, log = qgis_process(bare_qgis, "seamless:classify", INPUT=SAMPLE, MODEL=MODEL,
                                OUTPUT=tmp_path / "classes.tif")
    assert code != 0 and "onnxruntime is not installed" in log and "Install dependencies" in log


def test_install_then_classify_then_remove(bare_qgis, tmp_path):
    profile = Path(bare_qgis["QGIS_CUSTOM_CONFIG_PATH"]) / "profiles" / "default"
    code, parsed, log = qgis_process(bare_qgis, "seamless:installdependencies", VARIANT="cpu")
    assert code == 0, log
    results = parsed["results"]
    folder = Path(results["FOLDER"])
    assert folder.is_dir() and folder.is_relative_to(profile / "python" / "seamless_segmentation_deps")
    assert Path(results["PYTHON"]).resolve() == SYSTEM_PYTHON.resolve()
    assert "onnxruntime" in json.loads(results["PACKAGES"]) and "numpy" not in json.loads(results["PACKAGES"])
    assert "CPUExecutionProvider" in results["PROVIDERS"] and results["RESTART_NEEDED"] is False
    assert "pip: Successfully installed" in log
    # numpy is QGIS's Python's own: neither downloaded (no "Collecting numpy") nor installed and then left out.
    assert "Collecting numpy" not in log and "Left out copies" not in log and "ResourceWarning" not in log
    planned = next(line for line in log.splitlines() if "To install (what QGIS's Python lacks)" in line)
    assert "onnxruntime==" in planned and "numpy" not in planned
    # A new qgis_process: the plugin puts the folder on the path when it loads.
    code, parsed, log = qgis_process(bare_qgis, "seamless:classify", INPUT=SAMPLE, MODEL=MODEL,
                                     OUTPUT=tmp_path / "classes.tif")
    assert code == 0, log
    assert parsed["results"]["PROVIDER"] == "CPUExecutionProvider"
    dataset = gdal.Open(str(tmp_path / "classes.tif"))
    assert len(np.unique(dataset.ReadAsArray())) >= 4
    code, parsed, log = qgis_process(bare_qgis, "seamless:diagnostics")
    assert code == 0 and f"folder: {folder.parent}" in parsed["results"]["REPORT"]
    assert "installed: cpu on " in parsed["results"]["REPORT"]
    code, parsed, log = qgis_process(bare_qgis, "seamless:installdependencies", REMOVE="true")
    assert code == 0, log
    assert not (profile / "python" / "seamless_segmentation_deps").exists()
    code, _, log = qgis_process(bare_qgis, "seamless:classify", INPUT=SAMPLE, MODEL=MODEL,
                                OUTPUT=tmp_path / "again.tif")
    assert code != 0 and "onnxruntime is not installed" in log


CANCEL_AT_FIRST_DOWNLOAD = """
import sys
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from plugin.core.errors import CancelledError
from plugin.core.progress import LoggingProgress
from plugin.dependencies.installer import InstallRequest, install

class CancelOnceCollecting(LoggingProgress):
    def is_cancelled(self):
        return any(message.startswith("pip: Collecting") for message in self.messages)

try:
    install(InstallRequest(Path(sys.argv[1]), "cpu"), CancelOnceCollecting())
except CancelledError as error:
    print("CANCELLED", error)
"""


def test_a_cancelled_installation_leaves_the_profile_as_it_was(bare_qgis):
    profile = Path(bare_qgis["QGIS_CUSTOM_CONFIG_PATH"]) / "profiles" / "default"
    before = snapshot(profile)
    completed = subprocess.run([str(SYSTEM_PYTHON), "-c", CANCEL_AT_FIRST_DOWNLOAD, str(profile), str(REPO)],
                               capture_output=True, text=True, timeout=600, env=bare_qgis)
    assert "CANCELLED the installation was cancelled" in completed.stdout, completed.stdout + completed.stderr
    assert snapshot(profile) == before


def test_without_a_network_the_message_says_so_and_nothing_changes(bare_qgis):
    # QGIS itself rewrites a few profile files (bookmarks, settings) whenever it starts: compare the python
    # folder, where the plugin and its packages live.
    python = Path(bare_qgis["QGIS_CUSTOM_CONFIG_PATH"]) / "profiles" / "default" / "python"
    before = {**snapshot(python), ".": (python.stat().st_size, python.stat().st_mtime_ns)}
    # pip with no configuration file, no local wheels and an index nobody answers at.
    offline = {k: v for k, v in bare_qgis.items() if not k.startswith("PIP_")}
    offline.update({"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": "http://127.0.0.1:9/simple/",
                    "PIP_RETRIES": "1", "PIP_TIMEOUT": "5", "PIP_NO_CACHE_DIR": "1"})
    code, _, log = qgis_process(offline, "seamless:installdependencies", VARIANT="cpu")
    assert code != 0
    assert "pip could not reach the package index" in log and "Nothing was installed" in log
    assert {**snapshot(python), ".": (python.stat().st_size, python.stat().st_mtime_ns)} == before
