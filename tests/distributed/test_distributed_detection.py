"""Distributed detection on a real 2-worker local Dask cluster against the single-process detection job: a raster
of squares across every window edge and corner, cut into blocks of two window strides (blocks smaller than the
windows' reach, so every block runs windows of its neighbours and most objects near a block edge are seen by two
blocks). The GeoPackage must hold the same detections, in the same order, with the same fields; so with an
EXTENT and a MASK, with test-time augmentation, and after a resumed run; a bad detector is named, and a block is
not computed from an input that changed since the run was planned."""
from __future__ import annotations

import logging
import os

import pytest

from plugin.adapters.detect.job import DetectRequest, detect_objects
from plugin.core.detection.plan import required_overlap
from plugin.core.engine.grid import AxisLayout, plan_axis
from plugin.core.errors import InputError
from plugin.core.progress import LoggingProgress
from plugin.distributed.detect_scene import DetectScene
from plugin.distributed.detect_tasks import run_detect_block
from tests.cli.helpers import cli
from tests.detect.helpers import (
    ORIGIN,
    PIXEL,
    WINDOW,
    expected,
    pixel_boxes,
    read_features,
    square_detector,
    write_raster,
)
from tests.support.detectors import SIZES, build_detector, detector_contract, edge_squares, paint_squares

pytestmark = pytest.mark.slow
distributed = pytest.importorskip("distributed")

HEIGHT, WIDTH = 260, 310
OVERLAP = required_overlap(max(SIZES), 1)  # 17 px: 7 x 6 windows flush with the raster, strides 41 and 40 px
BLOCK = str(2 * plan_axis(WIDTH, 0, 0, AxisLayout(WINDOW, OVERLAP)).stride)  # 82 px: 4 x 3 blocks


@pytest.fixture(scope="module")
def cluster():
    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                                     silence_logs=logging.ERROR)
    client = distributed.Client(local)
    yield local
    client.close()
    local.close()


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scene")
    squares = edge_squares(HEIGHT, WIDTH, WINDOW, OVERLAP, seed=7)
    return {"squares": squares, "raster": write_raster(folder / "squares.tif", paint_squares(HEIGHT, WIDTH, squares)),
            "model": square_detector(folder), "folder": folder}


def _features(path) -> list[tuple]:
    """Every feature's fields and geometry, in the layer's order."""
    return [(f["class_value"], f["class_name"], f["score"], f["window_row"], f["window_col"], f["geometry"])
            for f in read_features(path)]


def _single(scene, folder, **options) -> list[tuple]:
    request = DetectRequest(str(scene["raster"]), str(scene["model"]), str(folder / "single.gpkg"), **options)
    detect_objects(request, LoggingProgress())
    return _features(folder / "single.gpkg")


def test_two_workers_give_the_single_process_detections_in_the_same_order(capsys, cluster, scene, tmp_path):
    result = cli(capsys, "detect", scene["raster"], scene["model"], tmp_path / "boxes.gpkg", "--scheduler",
                 cluster.scheduler_address, "--block-size", BLOCK, "--json")
    assert result.returncode == 0, result.log
    report = result.json
    assert report["TASKS"] == 12 and report["TASKS_REUSED"] == 0
    assert "12 block(s) (4 x 3) of about 82 px" in result.stderr
    single = _single(scene, tmp_path)
    assert _features(tmp_path / "boxes.gpkg") == single
    assert pixel_boxes(read_features(tmp_path / "boxes.gpkg")) == expected(scene["squares"])
    assert report["DETECTIONS"] == len(scene["squares"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boxes.gpkg", "single.gpkg"]  # the blocks are gone


def test_an_extent_a_mask_and_test_time_augmentation_give_the_single_process_detections(capsys, cluster, scene,
                                                                                       tmp_path):
    mask = tmp_path / "mask.geojson"
    corners = [(30, 20), (280, 40), (250, 240), (50, 200), (30, 20)]
    ring = ", ".join(f"[{ORIGIN[0] + c * PIXEL}, {ORIGIN[1] - r * PIXEL}]" for c, r in corners)
    mask.write_text('{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:32633"}}, '
                    f'"features": [{{"type": "Feature", "properties": {{}}, "geometry": {{"type": "Polygon", '
                    f'"coordinates": [[{ring}]]}}}}]}}')
    extent = (ORIGIN[0] + 11 * PIXEL, ORIGIN[1] - 250 * PIXEL, ORIGIN[0] + 290 * PIXEL, ORIGIN[1] - 9 * PIXEL)
    result = cli(capsys, "detect", scene["raster"], scene["model"], tmp_path / "boxes.gpkg", "--scheduler",
                 cluster.scheduler_address, "--block-size", BLOCK, "--extent", *extent, "--mask", mask, "--tta", "d4",
                 "--centroids", tmp_path / "centres.gpkg")
    assert result.returncode == 0, result.log
    single = _single(scene, tmp_path, extent=extent, mask_path=str(mask), tta="d4")
    assert _features(tmp_path / "boxes.gpkg") == single and 10 < len(single) < len(scene["squares"])
    assert len(read_features(tmp_path / "centres.gpkg")) == len(single)


def test_a_resumed_run_keeps_the_finished_blocks_and_gives_the_same_detections(capsys, cluster, scene, tmp_path):
    """An interrupted run: its scene planned and three of its blocks done (their records and markers written by the
    worker function itself), the rest not, its folder given back; --resume runs only the others."""
    request = DetectRequest(str(scene["raster"]), str(scene["model"]), str(tmp_path / "boxes.gpkg"))
    interrupted = DetectScene(0, request, LoggingProgress())
    interrupted.plan(int(BLOCK), False, (), 1)
    for task in list(interrupted.tasks.values())[:3]:
        run_detect_block(task)
    assert interrupted.parts is not None
    interrupted.parts.release()  # as a run that stopped gives its folder back, its finished blocks kept
    result = cli(capsys, "detect", scene["raster"], scene["model"], tmp_path / "boxes.gpkg", "--scheduler",
                 cluster.scheduler_address, "--block-size", BLOCK, "--resume", "--json")
    assert result.returncode == 0, result.log
    assert result.json["TASKS_REUSED"] == 3 and result.json["TASKS"] == len(interrupted.tasks)
    assert "Resuming 'boxes.gpkg': 3 block(s) already done" in result.stderr
    assert _features(tmp_path / "boxes.gpkg") == _single(scene, tmp_path)
    assert not (tmp_path / ".boxes.gpkg.parts").exists()


def test_a_detector_whose_boxes_fall_outside_is_named_and_nothing_is_written(capsys, cluster, scene, tmp_path):
    model = build_detector(tmp_path / "shifted.onnx", "anchors", shift=500.0,
                           contract=detector_contract("anchors", tile=WINDOW))
    result = cli(capsys, "detect", scene["raster"], model, tmp_path / "boxes.gpkg", "--scheduler",
                 cluster.scheduler_address, "--block-size", BLOCK)
    assert result.returncode == 2 and "all centred outside the 64 x 64 px windows" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shifted.onnx"]


def test_a_block_is_not_computed_from_an_input_that_changed_since_the_run_was_planned(scene, tmp_path):
    """A worker checks the files the client planned on before it records a block (blocks of two versions of the
    raster would not fit together); nothing is written for that block."""
    raster = tmp_path / "squares.tif"
    raster.write_bytes(scene["raster"].read_bytes())
    request = DetectRequest(str(raster), str(scene["model"]), str(tmp_path / "boxes.gpkg"))
    planned = DetectScene(0, request, LoggingProgress())
    planned.plan(int(BLOCK), False, (), 1)
    task = next(iter(planned.tasks.values()))
    stat = os.stat(raster)
    os.utime(raster, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the raster replaced meanwhile
    with pytest.raises(InputError, match="files changed while the run was going on"):
        run_detect_block(task)
    assert planned.parts is not None and not list(planned.parts.path.glob("r*"))
    planned.parts.remove()


def test_the_client_says_which_largest_object_it_assumed(scene, tmp_path):
    model = build_detector(tmp_path / "unsized.onnx", "anchors",
                           contract=detector_contract("anchors", tile=WINDOW, max_object=None))
    progress = LoggingProgress()
    planned = DetectScene(0, DetectRequest(str(scene["raster"]), str(model), str(tmp_path / "b.gpkg")), progress)
    planned.plan(int(BLOCK), False, (), 1)
    assert any("gives no max_object_size_px; objects up to 16 px" in m for m in progress.messages)
    assert planned.parts is not None
    planned.parts.remove()
