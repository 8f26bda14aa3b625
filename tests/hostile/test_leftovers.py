"""Class 6: leftovers and half-updates. A run killed with SIGKILL leaves the previous output intact, and the
next run at the same path removes what the killed one left (partial files, its temporary folder); a commit
that fails half-way restores every old file and sidecar, so new classes never sit beside old probabilities."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.core.errors import OutputError
from plugin.core.progress import LoggingProgress
from tests.hostile.helpers import BUNDLED_MODEL, fingerprint, only_outputs, succeeded
from tests.support.qgis_process import QGIS_PROCESS

pytestmark = pytest.mark.slow
CLASS_OUTPUTS = ("classes.tif", "classes.qml", "classes.tif.aux.xml")


def _arguments(parameters: dict) -> list[str]:
    return [QGIS_PROCESS, "--json", "run", "seamless:classify", "--", *(f"{k}={v}" for k, v in parameters.items())]


def _kill_when_started(environment: dict, parameters: dict, folder: Path, suffix: str) -> list[str]:
    """Start a run, SIGKILL it once a partial file or folder ending in ``suffix`` appears (the model is then
    at work); returns what it left in ``folder``."""
    process = subprocess.Popen(_arguments(parameters), env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            partial = [p.name for p in folder.iterdir() if p.name.startswith(".classes.partial-")]
            if any(name.endswith(suffix) for name in partial):
                time.sleep(0.3)  # well inside the model's work
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before it could be killed; make it longer"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".classes.partial-"))


@pytest.mark.parametrize("scene, suffix", [("scene_5m", ".d"), ("scene_10m", ".tif")],
                         ids=["resampled to the model", "on the raster's grid"])
def test_kill_9_keeps_the_previous_output_and_the_next_run_cleans_up(qgis_process, hostile, tmp_path, scene, suffix):
    output = tmp_path / "classes.tif"
    succeeded(qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL, "OUTPUT": output}))
    previous = fingerprint(tmp_path)
    # A long run (the whole scene, eight variants per window, half-overlapping windows), killed mid-way.
    left = _kill_when_started(qgis_process.environment, {
        "INPUT": hostile[scene], "MODEL": BUNDLED_MODEL, "OUTPUT": output, "TTA": "d4", "OVERLAP": 50,
        "BATCH_SIZE": 1}, tmp_path, suffix)
    assert any(name.endswith(suffix) for name in left), left
    assert {k: v for k, v in fingerprint(tmp_path).items() if not k.startswith(".")} == previous
    # The next run at the same path: the killed run's files are gone, only the outputs remain.
    succeeded(qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL, "OUTPUT": output}))
    only_outputs(tmp_path, *CLASS_OUTPUTS)


class MakesAFolderAtTheConfidencePath(LoggingProgress):
    """Progress that, mid-run, puts a folder where the confidence raster is to go: its move must fail."""

    def __init__(self, blocker: Path) -> None:
        super().__init__()
        self.blocker = blocker

    def set_fraction(self, fraction: float) -> None:
        super().set_fraction(fraction)
        self.blocker.mkdir(exist_ok=True)


def test_a_failed_commit_restores_every_old_file(hostile, tmp_path):
    paths = {"output_path": str(tmp_path / "classes.tif"), "probabilities_path": str(tmp_path / "p.tif"),
             "confidence_path": str(tmp_path / "c.tif")}
    classify(ClassifyRequest(str(hostile["s2"]), str(BUNDLED_MODEL), **paths), LoggingProgress(),
             style_writer=lambda path, contract: Path(path).with_suffix(".qml").write_text("<qgis/>"))
    old = fingerprint(tmp_path)
    assert set(old) == {"classes.tif", "classes.qml", "classes.tif.aux.xml", "p.tif", "c.tif"}
    (tmp_path / "c.tif").unlink()  # so the folder can appear there during the next run
    old.pop("c.tif")
    with pytest.raises(OutputError, match="nothing was changed, the previous files are as they were"):
        classify(ClassifyRequest(str(hostile["float"]), str(BUNDLED_MODEL), **paths),
                 MakesAFolderAtTheConfidencePath(tmp_path / "c.tif"),
                 style_writer=lambda path, contract: Path(path).with_suffix(".qml").write_text("<new/>"))
    assert fingerprint(tmp_path) == old  # classes, style, sidecar and probabilities: all the old ones
    only_outputs(tmp_path, "classes.tif", "classes.qml", "classes.tif.aux.xml", "p.tif", "c.tif")
