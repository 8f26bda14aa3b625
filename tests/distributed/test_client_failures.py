"""What the client of a distributed run leaves when a scene fails: no connection made for nothing, and no GDAL
dataset or onnxruntime session kept alive by the failure.

A failed scene's exception used to keep the frames of the failed step, and with them the damaged file's GDAL
dataset, its band readers and the client's model session, in a reference cycle (exception, traceback, frame,
scene, exception), freed by whichever garbage collection came next, in whichever thread ran it (the Dask client
runs its own event-loop thread in the same process), or after QGIS had already closed every GDAL dataset at the
end of a test session: "double free or corruption" on a truncated TIFF."""
from __future__ import annotations

import gc

import pytest

from tests.cli.helpers import BUNDLED_MODEL, cli
from tests.hostile import make_hostile_inputs
from tests.support.data import S2_IMAGE

pytestmark = pytest.mark.slow


def _native_objects_in_cycles() -> list[str]:
    """The GDAL objects and model sessions that only the garbage collector would free now."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        names = [f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage]
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
    return [n for n in names if n.startswith("osgeo.") or n.endswith(("OnnxModel", "GdalBandReader", "GdalInput"))]


def test_a_run_whose_every_scene_fails_when_planned_never_reaches_the_cluster(capsys, tmp_path):
    broken = make_hostile_inputs._truncated(tmp_path / "broken.tif", S2_IMAGE)
    result = cli(capsys, "classify", broken, BUNDLED_MODEL, tmp_path / "out" / "classes.tif", "--block-size", "768",
                 "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1")
    assert result.returncode == 2, result.log
    assert "Cannot read the pixels of" in result.stderr and "Cannot reach the Dask scheduler" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_scene_that_fails_when_planned_leaves_nothing_native_to_the_garbage_collector(capsys, tmp_path):
    broken = make_hostile_inputs._truncated(tmp_path / "broken.tif", S2_IMAGE)
    gc.collect()
    result = cli(capsys, "--debug", "classify", broken, BUNDLED_MODEL, tmp_path / "out" / "classes.tif",
                 "--block-size", "768", "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1")
    assert result.returncode == 2 and "Traceback" not in result.log, result.log
    assert _native_objects_in_cycles() == []


def test_a_block_that_fails_on_a_worker_leaves_nothing_native_to_the_garbage_collector(capsys, cluster, scene,
                                                                                     tmp_path):
    """A damaged 16 px tile far from the suitability check's samples: the client plans, some blocks fail."""
    damaged = tmp_path / "damaged.tif"
    make_hostile_inputs.damaged_tile(damaged, scene, column=600, row=120)
    gc.collect()
    result = cli(capsys, "--debug", "classify", damaged, BUNDLED_MODEL, tmp_path / "out" / "classes.tif",
                 "--window-size", "256", "--overlap", "25", "--block-size", "192", "--scheduler",
                 cluster[0].scheduler_address)
    assert result.returncode == 2, result.log
    assert "Cannot read the pixels of" in result.stderr and "Traceback" not in result.log
    assert _native_objects_in_cycles() == []
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert left in ([], [".classes.tif.parts"])  # finished blocks kept for --resume, or nothing
    if left:
        assert not (tmp_path / "out" / ".classes.tif.parts" / "lock.json").exists()  # the folder was given back
