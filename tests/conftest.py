"""Shared fixtures: paths to the bundled real data, the Processing provider, a qgis_process runner.

The repository root goes on sys.path so tests import the top-level packages ``plugin`` and
``training``, as ``python -m training`` does. qgis_process runs load the same folder as the
installed plugin ``seamless_segmentation`` (a symbolic link in a throwaway plugin folder).
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMITTED_DATA = REPO / "tests" / "data"
# Tests read a copy: QGIS writes statistics sidecars (.aux.xml) next to rasters it loads and may touch
# GeoPackages it opens, and the committed fixtures must stay exactly as they are.
_SESSION_COPY = Path(tempfile.mkdtemp(prefix="seamless-test-data-"))
DATA = _SESSION_COPY / "data"
shutil.copytree(COMMITTED_DATA, DATA)
atexit.register(shutil.rmtree, _SESSION_COPY, True)
# Measured context margins are cached here, not in the user's cache folder (qgis_process inherits it).
os.environ["SEAMLESS_SEGMENTATION_CACHE"] = str(_SESSION_COPY / "cache")
for folder in (REPO, REPO / "tests"):  # packages plugin/training, and test helpers such as onnx_factory
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

S2_IMAGE = DATA / "s2" / "s2_l1c_10m_B02_B03_B04_B08.tif"
S2_LABELS = DATA / "s2" / "osm_landuse_labels_10m.tif"
S2_POLYGONS = DATA / "s2" / "osm_landuse.gpkg"
DEEPNESS_MODELS = DATA / "deepness" / "models"
FOTOMAP = DATA / "deepness" / "dummy_fotomap_small.tif"
SPACENET = DATA / "spacenet" / "sample_geotiff.tif"
DETECTREE_TILE = DATA / "detectree" / "1091-322_00.tif"
LANDSAT_EDGE = DATA / "landsat" / "landsat7_edge.tif"
QGIS_PROCESS = shutil.which("qgis_process.bin") or "qgis_process.bin"


@pytest.fixture(scope="session")
def provider(qgis_app, qgis_processing):
    """The ``seamless`` provider registered in this test session's QGIS."""
    from qgis.core import QgsApplication

    from plugin.processing.provider import SeamlessProvider

    registry = QgsApplication.processingRegistry()
    existing = registry.providerById("seamless")
    if existing is not None:
        return existing
    instance = SeamlessProvider()
    assert registry.addProvider(instance)
    return instance


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


@pytest.fixture(scope="session")
def qgis_process(tmp_path_factory) -> Callable[..., QgisProcessResult]:
    """Run ``qgis_process.bin --json run ALGORITHM -- KEY=VALUE...`` with this plugin enabled."""
    root = tmp_path_factory.mktemp("qgis_process")
    env = qgis_process_environment(root)
    enable_plugin(env)

    def run(algorithm: str, parameters: dict[str, Any], timeout: float = 600) -> QgisProcessResult:
        args = [QGIS_PROCESS, "--json", "run", algorithm, "--"]
        args += [f"{key}={value}" for key, value in parameters.items()]
        completed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
        return QgisProcessResult(completed)

    run.environment = env  # type: ignore[attr-defined]
    return run


def leftover_files(folder: Path, keep: set[str] = frozenset()) -> list[str]:
    """Files in ``folder`` other than ``keep``: what a failed or cancelled run must not leave."""
    return sorted(p.name for p in Path(folder).iterdir() if p.name not in keep)


def pytest_sessionfinish(session, exitstatus) -> None:
    """Fail the run if any test changed or added a file beside the committed inputs (test data, the demo
    sample, the bundled models), ignored files such as GDAL's .aux.xml included: inputs are never modified."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        return
    status = subprocess.run(["git", "status", "--porcelain", "--ignored", "--", "tests/data", "resources/sample",
                             "models"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    if status:
        print(f"\nThe committed inputs were modified during the run (or files added beside them):\n{status}",
              file=sys.stderr)
        session.exitstatus = 1
