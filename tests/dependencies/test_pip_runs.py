"""Running pip as a child process leaves nothing open behind it (no ResourceWarning in QGIS's log)."""
from __future__ import annotations

import gc
import sys
import warnings

from plugin.core.progress import LoggingProgress
from plugin.dependencies.installer import _pip_version
from plugin.dependencies.pip_runner import run_pip


def test_a_finished_pip_run_leaves_no_open_pipe():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = run_pip([sys.executable, "-c", "print('Collecting onnxruntime')"], [], LoggingProgress())
        del run
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], [str(w.message) for w in caught]


def test_pip_versions_are_read_from_its_version_line():
    assert _pip_version("pip 23.0.1 from /usr/lib/python3/dist-packages/pip (python 3.11)") == (23, 0)
    assert _pip_version("pip 22.1 from x") < (22, 2) <= _pip_version("pip 22.2.2 from x")
    assert _pip_version("something else") == (0, 0)
