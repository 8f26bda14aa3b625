"""Shared fixtures and session hooks. Shared helpers live in the package ``tests.support`` and are imported
from there (paths to the real test data, qgis_process, script-built models); no test imports this file.

The repository root goes on sys.path so tests import the top-level packages ``plugin``, ``training`` and
``tests``, as ``python -m training`` does. qgis_process runs load the same folder as the installed plugin
``seamless_segmentation`` (a symbolic link in a throwaway plugin folder).
"""
from __future__ import annotations

import faulthandler
import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.qgis_process import (  # noqa: E402 - after the repository is on the path
    QGIS_PROCESS,
    QgisProcessResult,
    enable_plugin,
    qgis_process_environment,
)

# A test run leaves nothing in the repository's root: hypothesis keeps its examples in the ignored build
# folder, and the throwaway QGIS settings folder pytest-qgis makes in the root is removed at the end.
set_hypothesis_home_dir(str(REPO / "build" / "hypothesis"))
QGIS_SETTINGS = REPO / ".qgis-settings"


# A test that hangs (a lost Dask future, a deadlocked library) ends the run with every thread's stack instead of
# holding a CI machine until its limit; no test takes near this long (the slowest trains for about a minute).
HANG_LIMIT_S = float(os.environ.get("SEAMLESS_TEST_HANG_LIMIT_S", "900"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Arm the hang guard around each test (set-up, call and tear-down)."""
    faulthandler.dump_traceback_later(HANG_LIMIT_S, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture(autouse=True, scope="session")
def gdal_objects_freed_before_qgis_exits(qgis_app):
    """Free what reference cycles still hold before pytest-qgis ends the session with ``exitQgis()``: QGIS then
    destroys GDAL's driver manager, closing every dataset still open, and a GDAL object the garbage collector
    frees after that is freed twice ("double free or corruption" when the process ends). Dask keeps exceptions,
    and the frames (and their GDAL datasets) they refer to, in such cycles."""
    yield
    gc.collect()


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


def pytest_unconfigure(config) -> None:
    """Remove the throwaway QGIS settings folder pytest-qgis made in the repository's root for this run."""
    shutil.rmtree(QGIS_SETTINGS, ignore_errors=True)


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
