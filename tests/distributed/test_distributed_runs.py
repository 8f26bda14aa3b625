"""Distributed runs on a real 2-worker local Dask cluster against the single-process classify job, on a
768 x 640 px part of the Sentinel-2 subset with the bundled model, smooth blending at 25 % overlap and 256 px
windows, in blocks of one window stride (4 x 3 blocks, smaller than a window: the halo spans several blocks,
and blocks lie at the raster's edges and an EXTENT's).

The class rasters must be identical and the probabilities equal; and so after a worker is killed mid-task,
after the client is killed and the run resumed, for an EXTENT, for several scenes with a corrupt one, and on
workers pinned to a device list. A scheduler that cannot be reached and an unreadable input get clear messages."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.adapters.outputs.qml_style import write_qml_style
from plugin.core.engine.plan import RunOptions
from plugin.core.progress import LoggingProgress
from tests.cli.helpers import BUNDLED_MODEL, SAMPLE, cli, pixels, same_raster
from tests.hostile import make_hostile_inputs
from tests.support.data import REPO, S2_IMAGE

pytestmark = pytest.mark.slow
distributed = pytest.importorskip("distributed")

WINDOW, OVERLAP, BLOCK = "256", "25", "192"  # 25 % overlap: a stride of 192 px, 4 x 3 blocks of the scene
OUTPUTS = ("classes.tif", "probabilities.tif", "confidence.tif")


def _extent(scene: Path) -> tuple[float, float, float, float]:
    """Columns 37 to 700 and rows 61 to 599 of the scene, in its CRS."""
    x0, dx, _, y0, _, dy = gdal.Open(str(scene)).GetGeoTransform()
    return x0 + 37 * dx, y0 + 600 * dy, x0 + 701 * dx, y0 + 61 * dy


@pytest.fixture(scope="module")
def reference(scene, tmp_path_factory) -> dict[str, Path]:
    """The single-process results: the whole scene, and an EXTENT of it."""
    folder = tmp_path_factory.mktemp("single")
    for name, extent in (("whole", None), ("extent", _extent(scene))):
        paths = {f"{output}_path": str(folder / name / f"{output}.tif") for output in ("probabilities", "confidence")}
        options = RunOptions(window_size=int(WINDOW), overlap=float(OVERLAP))
        classify(ClassifyRequest(str(scene), str(BUNDLED_MODEL), str(folder / name / "classes.tif"), extent=extent,
                                 options=options, **paths), LoggingProgress(), style_writer=write_qml_style)
    return {"whole": folder / "whole", "extent": folder / "extent"}


def _arguments(scene: Path, output: Path, *more: object) -> list[object]:
    return ["classify", scene, BUNDLED_MODEL, output / "classes.tif", "--probabilities", output / "probabilities.tif",
            "--confidence", output / "confidence.tif", "--window-size", WINDOW, "--overlap", OVERLAP,
            "--block-size", BLOCK, *more]


def _identical(folder: Path, single: Path) -> None:
    same_raster(folder / "classes.tif", single / "classes.tif")
    for name in OUTPUTS[1:]:
        np.testing.assert_array_equal(pixels(folder / name), pixels(single / name))  # within float rounding: exact
    assert (folder / "classes.qml").read_text() == (single / "classes.qml").read_text()


def _only_outputs(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted([*OUTPUTS, "classes.qml", "classes.tif.aux.xml"])


def test_two_workers_give_the_single_process_result(capsys, cluster, scene, reference, tmp_path):
    result = cli(capsys, *_arguments(scene, tmp_path, "--scheduler", cluster[0].scheduler_address, "--json"))
    assert result.returncode == 0, result.log
    assert "12 block(s) (4 x 3) of about 176 px" in result.stderr  # strides of 176 and 160 px flush with the edges
    _identical(tmp_path, reference["whole"])
    _only_outputs(tmp_path)  # the blocks' folder is gone
    report = result.json
    assert report["TASKS"] == 12 and report["TASKS_REUSED"] == 0 and report["PARTS_BYTES"] > 0
    assert "the blocks took" in result.stderr and "MB on disk until the output was assembled" in result.stderr


def test_an_extent_gives_the_single_process_result(capsys, cluster, scene, reference, tmp_path):
    result = cli(capsys, *_arguments(scene, tmp_path, "--scheduler", cluster[0].scheduler_address, "--extent",
                                     *_extent(scene)))
    assert result.returncode == 0, result.log
    assert pixels(tmp_path / "classes.tif").shape == (539, 664)
    _identical(tmp_path, reference["extent"])


def _markers(folder: Path) -> list[Path]:
    parts = folder / ".classes.tif.parts"
    return sorted(parts.glob("*.done.json")) if parts.exists() else []


def _wait_for_markers(process: subprocess.Popen, folder: Path, count: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None and len(_markers(folder)) < count:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before the test could interrupt it"


def test_a_killed_worker_has_its_task_rerun_and_the_result_is_the_same(cluster, scene, reference, tmp_path):
    local, client = cluster
    process = subprocess.Popen([sys.executable, "-m", "plugin.cli", *map(str, _arguments(
        scene, tmp_path, "--scheduler", local.scheduler_address))], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_markers(process, tmp_path, 1)
        busy = {address: keys for address, keys in client.processing().items() if keys}
        assert busy, "no worker was running a block"
        address = sorted(busy)[0]
        pid = client.run(os.getpid)[address]
        os.kill(pid, signal.SIGKILL)  # mid-task: the nanny starts a new worker, the scheduler reruns the task
        stdout, stderr = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stdout + stderr
    _identical(tmp_path, reference["whole"])
    _only_outputs(tmp_path)
    client.wait_for_workers(2, timeout=60)
    assert pid not in client.run(os.getpid).values()


def test_resume_after_the_client_was_killed_finishes_with_the_same_result(capsys, cluster, scene, reference,
                                                                          tmp_path):
    arguments = _arguments(scene, tmp_path, "--workers", "2")
    process = subprocess.Popen([sys.executable, "-m", "plugin.cli", *map(str, arguments)],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_markers(process, tmp_path, 2)
        os.killpg(process.pid, signal.SIGKILL)  # the client, its local cluster and their workers
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    done = len(_markers(tmp_path))
    assert 2 <= done < 12
    assert not any(p.name in OUTPUTS for p in tmp_path.iterdir())  # nothing at the output paths
    result = cli(capsys, *_arguments(scene, tmp_path, "--scheduler", cluster[0].scheduler_address, "--resume",
                                     "--json"))
    assert result.returncode == 0, result.log
    assert f"Resuming 'classes.tif': {done} block(s) already done" in result.stderr
    assert result.json["TASKS_REUSED"] == done
    _identical(tmp_path, reference["whole"])
    _only_outputs(tmp_path)


def test_a_scheduler_that_cannot_be_reached_is_named(capsys, scene, tmp_path):
    for address in ("tcp://127.0.0.1:1", "nonsense"):
        result = cli(capsys, *_arguments(scene, tmp_path, "--scheduler", address, "--connect-timeout", "1"))
        assert result.returncode == 2, result.log
        assert f"Cannot reach the Dask scheduler at '{address}'" in result.stderr
        assert "Traceback" not in result.log
    assert not list(tmp_path.iterdir())


def test_an_unreadable_input_is_named_and_nothing_is_written(capsys, cluster, tmp_path):
    broken = make_hostile_inputs._truncated(tmp_path / "broken.tif", S2_IMAGE)
    out = tmp_path / "out"
    result = cli(capsys, "--debug", "classify", broken, BUNDLED_MODEL, out / "classes.tif", "--window-size", WINDOW,
                 "--block-size", "768", "--scheduler", cluster[0].scheduler_address)
    assert result.returncode == 2, result.log
    assert "Cannot read the pixels of" in result.stderr and "truncated or damaged" in result.stderr
    assert "Traceback" not in result.log
    left = [p.name for p in out.iterdir()] if out.exists() else []  # the client may find it before any block
    assert "classes.tif" not in left and left in ([], [".classes.tif.parts"])
    if left:  # the blocks that could be read are kept for --resume, and the log says so
        assert "finished block(s) are kept in" in result.stderr


def test_scenes_on_the_cluster_are_one_task_each_and_a_corrupt_one_stops_only_itself(capsys, cluster, tmp_path):
    shutil.copy(SAMPLE, tmp_path / "north.tif")
    make_hostile_inputs._truncated(tmp_path / "broken.tif", S2_IMAGE)
    out = tmp_path / "out"
    result = cli(capsys, "classify", tmp_path / "broken.tif", tmp_path / "north.tif", BUNDLED_MODEL, "--output-dir",
                 out, "--scheduler", cluster[0].scheduler_address, "--json")
    assert result.returncode == 2, result.log
    assert "broken.tif: Cannot read the pixels of" in result.stderr
    assert "north.tif: one task (one block)" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["north.qml", "north.tif", "north.tif.aux.xml"]
    assert json.loads(result.stdout)["failed"] == 1
    classify(ClassifyRequest(str(SAMPLE), str(BUNDLED_MODEL), str(tmp_path / "single.tif")), LoggingProgress())
    same_raster(out / "north.tif", tmp_path / "single.tif")


def test_workers_pinned_to_a_device_list(capsys, tmp_path):
    result = cli(capsys, "classify", SAMPLE, BUNDLED_MODEL, tmp_path / "classes.tif", "--workers", "cpu,cpu",
                 "--window-size", WINDOW, "--overlap", OVERLAP,
            "--block-size", BLOCK, "--json")
    assert result.returncode == 0, result.log
    assert "a local Dask cluster of 2 worker process(es), one per device (cpu, cpu)" in result.stderr
    assert result.json["TASKS"] == 4  # 3 x 3 windows of 256 px flush with the 512 px sample: 2 x 2 blocks
    classify(ClassifyRequest(str(SAMPLE), str(BUNDLED_MODEL), str(tmp_path / "single.tif"),
                             options=RunOptions(window_size=int(WINDOW), overlap=float(OVERLAP))), LoggingProgress())
    same_raster(tmp_path / "classes.tif", tmp_path / "single.tif")
    unknown = cli(capsys, "classify", SAMPLE, BUNDLED_MODEL, tmp_path / "other.tif", "--workers", "cuda:0,cuda:1")
    assert unknown.returncode == 2 and "DEVICE 'cuda:0' needs CUDAExecutionProvider" in unknown.stderr


def _mask_in_wgs84(scene: Path, path: Path) -> Path:
    """A quadrilateral over about the middle half of the scene, in WGS 84 (not the scene's CRS)."""
    dataset = gdal.Open(str(scene))
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    corners = [(x0 + c * dx, y0 + r * dy) for c, r in ((150, 100), (620, 160), (560, 540), (120, 480), (150, 100))]
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in corners:
        ring.AddPoint_2D(x, y)
    polygon = ogr.Geometry(ogr.wkbPolygon)
    polygon.AddGeometry(ring)
    source, target = osr.SpatialReference(wkt=dataset.GetProjection()), osr.SpatialReference()
    target.ImportFromEPSG(4326)
    target.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    source.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    polygon.Transform(osr.CoordinateTransformation(source, target))
    out = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = out.CreateLayer("mask", target, ogr.wkbPolygon)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(polygon)
    layer.CreateFeature(feature)
    out = None
    return path


def _polygons(path: Path) -> tuple[int, list[str]]:
    """(features, field names) of a GeoPackage's layer (closed again: layers must not outlive their source)."""
    source = ogr.Open(str(path))
    layer = source.GetLayer(0)
    definition = layer.GetLayerDefn()
    found = (layer.GetFeatureCount(), [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())])
    layer = None
    source = None
    return found


def test_a_mask_and_class_polygons_give_the_single_process_result(capsys, cluster, scene, tmp_path):
    mask = _mask_in_wgs84(scene, tmp_path / "mask.gpkg")
    finishing = ["--mask", mask, "--min-area", "3000", "--sieve", "--vector-confidence"]
    results = {}
    for name, more in (("single", []), ("blocks", ["--block-size", BLOCK, "--scheduler",
                                                  cluster[0].scheduler_address])):
        folder = tmp_path / name
        result = cli(capsys, "classify", scene, BUNDLED_MODEL, folder / "classes.tif", "--window-size", WINDOW,
                     "--overlap", OVERLAP, "--output-vector", folder / "classes.gpkg", *finishing, *more, "--json")
        assert result.returncode == 0, result.log
        results[name] = json.loads(result.stdout)
    assert "TASKS" not in results["single"] and results["blocks"]["TASKS"] > 1
    single, blocks = pixels(tmp_path / "single" / "classes.tif"), pixels(tmp_path / "blocks" / "classes.tif")
    assert np.array_equal(single, blocks)
    assert 0.1 < (single != 255).mean() < 0.9  # the mask left pixels out, and kept some
    assert results["single"]["CLASS_AREAS"] == results["blocks"]["CLASS_AREAS"]
    single_polygons, block_polygons = (_polygons(tmp_path / name / "classes.gpkg") for name in ("single", "blocks"))
    assert single_polygons == block_polygons and single_polygons[0] > 0 and "mean_confidence" in block_polygons[1]
    for name in ("single", "blocks"):  # the same format: a cloud-optimised GeoTIFF with overviews
        dataset = gdal.Open(str(tmp_path / name / "classes.tif"))
        assert dataset.GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE") == "COG"
        assert dataset.GetRasterBand(1).GetOverviewCount() >= 1
        dataset = None  # closed now, not whenever a frame kept by Dask is collected
