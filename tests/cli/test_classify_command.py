"""``seamless-segmentation classify`` in one process: the classify job's result, its options and messages, several
scenes (one of them corrupt), progress lines, JSON, exit statuses, cancellation."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from osgeo import gdal

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.cli.progress_bar import CliProgress
from plugin.core.engine.plan import RunOptions
from plugin.core.progress import LoggingProgress
from tests.cli.helpers import BUNDLED_MODEL, SAMPLE, cli, pixels, same_raster
from tests.hostile import make_hostile_inputs
from tests.support.data import REPO, S2_IMAGE


def test_classify_writes_what_the_classify_job_writes(capsys, tmp_path):
    result = cli(capsys, "classify", SAMPLE, BUNDLED_MODEL, tmp_path / "cli" / "classes.tif", "--confidence",
                 tmp_path / "cli" / "confidence.tif", "--json")
    assert result.returncode == 0, result.log
    classify(ClassifyRequest(str(SAMPLE), str(BUNDLED_MODEL), str(tmp_path / "job" / "classes.tif"),
                             confidence_path=str(tmp_path / "job" / "confidence.tif")), LoggingProgress())
    same_raster(tmp_path / "cli" / "classes.tif", tmp_path / "job" / "classes.tif")
    same_raster(tmp_path / "cli" / "confidence.tif", tmp_path / "job" / "confidence.tif")
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == ["classes.qml", "classes.tif",
                                                                    "classes.tif.aux.xml", "confidence.tif"]
    output = result.json  # the Processing algorithm's result names
    assert output["OUTPUT"] == str(tmp_path / "cli" / "classes.tif") and output["PROVIDER"] == "CPUExecutionProvider"
    assert set(output["CLASS_AREAS"]) <= {"farm", "meadow", "forest", "residential", "scrub", "wetland", "grass",
                                          "water"} and sum(output["CLASS_AREAS"].values()) == 512 * 512 * 100
    # Off a terminal: plain progress lines, then the run's report.
    assert "100 % done" in result.stderr and "Ran on CPUExecutionProvider" in result.stderr


def test_options_have_the_algorithms_meanings(capsys, tmp_path):
    x0, dx, _, y0, _, dy = gdal.Open(str(SAMPLE)).GetGeoTransform()
    extent = (x0, y0 + 160 * dy, x0 + 160 * dx, y0)  # the top left 160 x 160 pixels
    result = cli(capsys, "classify", SAMPLE, BUNDLED_MODEL, tmp_path / "a.tif", "--window-size", "256", "--overlap",
                 "50", "--blending", "crop", "--tta", "flips", "--batch-size", "2", "--bands", "1,2,3,4", "--device",
                 "cpu", "--extent", *extent)
    assert result.returncode == 0, result.log
    assert "window 256 px, overlap 128 px, crop blending" in result.stderr and "4 TTA transform(s)" in result.stderr
    options = RunOptions(window_size=256, overlap=50, blending="crop", tta="flips", batch_size=2)
    classify(ClassifyRequest(str(SAMPLE), str(BUNDLED_MODEL), str(tmp_path / "b.tif"), bands=[1, 2, 3, 4],
                             device="cpu", extent=extent, options=options), LoggingProgress())
    same_raster(tmp_path / "a.tif", tmp_path / "b.tif")


def test_an_extent_writes_its_part_of_the_grid(capsys, tmp_path):
    dataset = gdal.Open(str(SAMPLE))
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    extent = (x0 + 100 * dx, y0 + 300 * dy, x0 + 400 * dx, y0 + 50 * dy)  # columns 100-399, rows 50-299
    result = cli(capsys, "classify", SAMPLE, BUNDLED_MODEL, tmp_path / "part.tif", "--extent", *extent)
    assert result.returncode == 0, result.log
    assert pixels(tmp_path / "part.tif").shape == (250, 300)


@pytest.mark.parametrize("option, value, message", [
    ("--overlap", "95", "OVERLAP must be from 0 to 90, got 95."),
    ("--batch-size", "-1", "BATCH_SIZE must be at least 0, got -1."),
    ("--window-size", "large", "WINDOW_SIZE must be a number, got 'large'."),
    ("--blending", "feather", "BLENDING 'feather' is not one of its options: smooth, average, crop."),
    ("--tta", "7", "TTA '7' is not one of its options: none, flips, d4."),
], ids=["overlap", "batch size", "window", "blending", "tta"])
def test_bad_values_get_the_algorithms_messages_and_status_2(capsys, tmp_path, option, value, message):
    result = cli(capsys, "classify", SAMPLE, BUNDLED_MODEL, tmp_path / "classes.tif", option, value)
    assert result.returncode == 2 and message in result.stderr, result.log
    assert not list(tmp_path.iterdir())


def test_bad_input_is_status_2_with_the_jobs_message_and_no_traceback(capsys, tmp_path):
    result = cli(capsys, "classify", SAMPLE, BUNDLED_MODEL, tmp_path / "classes.tif", "--bands", "1,2,9")
    assert result.returncode == 2
    assert "Error: BANDS names band 9, but the raster has 4 band(s)" in result.stderr
    assert "Traceback" not in result.log and not list(tmp_path.iterdir())
    result = cli(capsys, "classify", SAMPLE, BUNDLED_MODEL, SAMPLE)
    assert result.returncode == 2 and "is the same file as INPUT" in result.stderr


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """Two good scenes and a truncated one between them."""
    folder = tmp_path_factory.mktemp("scenes")
    shutil.copy(SAMPLE, folder / "north.tif")
    shutil.copy(SAMPLE, folder / "south.tif")
    make_hostile_inputs._truncated(folder / "broken.tif", S2_IMAGE)
    return folder


def test_several_scenes_go_on_past_a_corrupt_one(capsys, tmp_path, scenes):
    out = tmp_path / "out"
    result = cli(capsys, "classify", scenes / "north.tif", scenes / "broken.tif", scenes / "south.tif", BUNDLED_MODEL,
                 "--output-dir", out, "--probabilities", "--json")
    assert result.returncode == 2, result.log
    assert "Error: broken.tif: Cannot read the pixels of" in result.stderr
    assert "2 of 3 scene(s) classified; failed: broken.tif" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{name}{suffix}" for name in ("north", "south") for suffix in (".tif", ".qml", ".tif.aux.xml",
                                                                        "_probabilities.tif"))
    report = result.json
    assert report["failed"] == 1 and [s.get("ERROR", "")[:27] for s in report["scenes"]] == [
        "", "Cannot read the pixels of '", ""]
    assert (pixels(out / "north.tif") == pixels(out / "south.tif")).all()


def test_scenes_from_a_list_file(capsys, tmp_path, scenes):
    listing = scenes / "scenes.txt"
    listing.write_text("# two scenes, by relative path\nnorth.tif\n\nsouth.tif\n", encoding="utf-8")
    result = cli(capsys, "classify", BUNDLED_MODEL, "--input-list", listing, "--output-dir", tmp_path)
    listing.unlink()
    assert result.returncode == 0, result.log
    assert {"north.tif", "south.tif"} <= {p.name for p in tmp_path.iterdir()}


def test_two_inputs_with_one_name_are_refused_before_anything_runs(capsys, tmp_path, scenes):
    (tmp_path / "other").mkdir()
    shutil.copy(SAMPLE, tmp_path / "other" / "north.tif")
    result = cli(capsys, "classify", scenes / "north.tif", tmp_path / "other" / "north.tif", BUNDLED_MODEL,
                 "--output-dir", tmp_path / "out")
    assert result.returncode == 2 and "would both be written to" in result.stderr
    assert not (tmp_path / "out").exists()


def test_modelinfo_evaluate_and_diagnostics(capsys, tmp_path):
    info = cli(capsys, "modelinfo", BUNDLED_MODEL, "--json", "--output", tmp_path / "model.json")
    assert info.returncode == 0, info.log
    assert info.json["contract"]["outputs"][0]["classes"][0]["name"] == "farm"
    assert (tmp_path / "model.json").read_text(encoding="utf-8").strip().startswith("{")
    classes = tmp_path / "classes.tif"
    assert cli(capsys, "classify", SAMPLE, BUNDLED_MODEL, classes).returncode == 0
    labels = REPO / "resources" / "sample" / "osm_landuse_sample.tif"
    scores = cli(capsys, "evaluate", classes, "--reference", labels, "--reference-nodata", "0", "--report",
                 tmp_path / "accuracy.html", "--json-output", tmp_path / "accuracy.json", "--table",
                 tmp_path / "table.csv", "--json")
    assert scores.returncode == 0, scores.log
    written = json.loads((tmp_path / "accuracy.json").read_text(encoding="utf-8"))
    assert scores.json["KAPPA"] == pytest.approx(written["kappa"]) and 0 < written["kappa"] < 1
    table = (tmp_path / "table.csv").read_text(encoding="utf-8").splitlines()
    assert table[0].startswith("value,name,reference_count") and len(table) >= 5
    none = cli(capsys, "evaluate", classes)
    assert none.returncode == 2 and "Give a reference: REFERENCE (a label raster)" in none.stderr
    diagnostics = cli(capsys, "diagnostics", "--json")
    assert diagnostics.returncode == 0 and "CPUExecutionProvider" in diagnostics.json["providers"]


@pytest.mark.slow
@pytest.mark.parametrize("distributed", [False, True], ids=["one process", "distributed"])
def test_ctrl_c_cancels_cleanly_with_status_130_and_nothing_written(tmp_path, distributed):
    """SIGINT (Ctrl+C) to a run in its own process: it stops at the next batch and writes no output file; what it
    says when cancelling and at the end agree (a distributed run keeps its finished blocks), and it is no error."""
    extra = ["--workers", "1", "--block-size", "256"] if distributed else []
    process = subprocess.Popen([sys.executable, "-m", "plugin.cli", "classify", str(S2_IMAGE), str(BUNDLED_MODEL),
                                str(tmp_path / "classes.tif"), "--tta", "d4", "--batch-size", "1", *extra], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        started = ".partial-" if not distributed else ".parts"
        while time.monotonic() < deadline and not any(started in p.name for p in tmp_path.iterdir()):
            time.sleep(0.05)
        time.sleep(1.0)
        os.kill(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr and "Error:" not in stderr  # the user's own Ctrl+C is no error
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Cancelled: the run was cancelled")
    if distributed:
        assert "no output file is written, and the blocks finished so far are kept for --resume" in stderr
        assert "finished blocks are kept" in last and not (tmp_path / "classes.tif").exists()
    else:
        assert "no output file is written" in stderr and "kept" not in stderr
        assert last == "Cancelled: the run was cancelled; no output was written." and not list(tmp_path.iterdir())


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_in_a_log():
    bar, log = io.StringIO(), io.StringIO()
    for stream, as_bar in ((bar, True), (log, False)):
        progress = CliProgress(stream, bar=as_bar)
        progress.begin("scene.tif")
        for step in range(11):
            progress.set_fraction(step / 10)
        progress.warning("careful")
        progress.end()
    assert "scene.tif 100%|" in bar.getvalue() and "Warning: careful" in bar.getvalue()
    lines = log.getvalue().splitlines()
    assert lines[:2] == ["scene.tif: 10 % done", "scene.tif: 20 % done"] and lines[-2:] == [
        "scene.tif: 100 % done", "Warning: careful"]
