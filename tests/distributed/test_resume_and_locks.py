"""``--resume`` and the ownership of a parts folder, on a real 2-worker local Dask cluster with the bundled model
on real Sentinel-2 pixels (768 x 640 px, 256 px windows at 25 % overlap, blocks of 192 px: 4 x 3 blocks).

- A resumed run reuses blocks only when every file its inputs read is as it was (a source of a VRT, an
  ADDITIONAL_INPUTS source, the MASK, the CONTRACT, the model, a nodata value GDAL takes from an ``.aux.xml``);
  QGIS's statistics in an ``.aux.xml`` change nothing. A refused ``--resume`` deletes nothing.
- A block whose file was truncated, damaged or removed, or whose marker is not ours, is computed again.
- A second run into an output another run is writing is refused, naming it; a lock left by a dead process on this
  machine is taken over.

Unfinished runs are made on purpose (:func:`tests.distributed.helpers.unfinished_run`: the client's planning and
the workers' block function, then the folder given back as a stopped run gives it back)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.core.engine.plan import RunOptions
from plugin.core.progress import LoggingProgress
from plugin.distributed.lock import LOCK_NAME, process_start
from tests.cli.helpers import BUNDLED_MODEL, cli, same_raster
from tests.distributed.helpers import markers, part_files, unfinished_run
from tests.support.data import REPO

pytestmark = pytest.mark.slow

WINDOW, OVERLAP, BLOCK = "256", "25", "192"


def _options(*more: object) -> list[object]:
    return ["--window-size", WINDOW, "--overlap", OVERLAP, "--block-size", BLOCK, *more]


def _single(source: Path, output: Path, **request: object) -> Path:
    """The single-process result of the same inputs and options (what every distributed run must give)."""
    options = RunOptions(window_size=int(WINDOW), overlap=float(OVERLAP))
    classify(ClassifyRequest(str(source), str(BUNDLED_MODEL), str(output), options=options, **request),
             LoggingProgress())
    return output


def _write_like(path: Path, like: Path, pixels: np.ndarray) -> Path:
    dataset = gdal.GetDriverByName("GTiff").CreateCopy(str(path), gdal.Open(str(like)))
    dataset.WriteArray(pixels)
    dataset = None
    return path


@pytest.fixture
def mosaic(scene, tmp_path) -> dict[str, Path]:
    """The scene as a VRT of two GeoTIFF halves (left and right), as mosaics of tiles are."""
    folder = tmp_path / "mosaic"
    folder.mkdir()
    halves = {name: folder / f"{name}.tif" for name in ("left", "right")}
    for path, column in zip(halves.values(), (0, 384)):
        gdal.Translate(str(path), str(scene), srcWin=[column, 0, 384, 640])
    vrt = folder / "mosaic.vrt"
    gdal.BuildVRT(str(vrt), [str(p) for p in halves.values()])
    return {"vrt": vrt, **halves}


def _brighter(path: Path) -> None:
    """Rewrite a raster with other pixels (as an updated tile of a mosaic would be)."""
    pixels = gdal.Open(str(path)).ReadAsArray()
    _write_like(path.with_name("new.tif"), path, pixels + 300)
    os.replace(path.with_name("new.tif"), path)


def _changes(case: str, tmp_path: Path, mosaic: dict[str, Path]) -> tuple[list[object], object]:
    """The command's inputs for a case, and what changes one of the files they read."""
    if case == "a source file of the INPUT VRT":
        return [mosaic["vrt"]], lambda: _brighter(mosaic["left"])
    if case == "a nodata value in the INPUT's .aux.xml":
        path = Path(gdal.Translate(str(tmp_path / "input.tif"), str(mosaic["vrt"])).GetDescription())
        aux = Path(f"{path}.aux.xml")
        return [path], lambda: aux.write_text('<PAMDataset><PAMRasterBand band="1"><NoDataValue>1408</NoDataValue>'
                                              '</PAMRasterBand></PAMDataset>\n')
    if case == "a source file of an ADDITIONAL_INPUTS VRT":
        gdal.Translate(str(tmp_path / "first_bands.tif"), str(mosaic["vrt"]), bandList=[1, 2]).FlushCache()
        for name in ("left", "right"):
            gdal.Translate(str(tmp_path / f"{name}_34.tif"), str(mosaic[name]), bandList=[3, 4])
        more = tmp_path / "more_bands.vrt"
        gdal.BuildVRT(str(more), [str(tmp_path / f"{n}_34.tif") for n in ("left", "right")])
        return ([tmp_path / "first_bands.tif", "--additional-input", more],
                lambda: _brighter(tmp_path / "right_34.tif"))
    if case == "the MASK":
        mask = tmp_path / "mask.gpkg"
        _square_mask(mosaic["vrt"], mask, 0.1)
        return [mosaic["vrt"], "--mask", mask], lambda: _square_mask(mosaic["vrt"], mask, 0.2)
    contract = tmp_path / "contract.json"
    contract.write_text(json.dumps({"name": "land use"}))
    return [mosaic["vrt"], "--contract", contract], lambda: contract.write_text(json.dumps({"name": "land use 2"}))


def _square_mask(raster: Path, path: Path, inset: float) -> None:
    """A polygon over the raster, ``inset`` of its size in from every side (rewritten in place)."""
    dataset = gdal.Open(str(raster))
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    width, height = dataset.RasterXSize * dx, dataset.RasterYSize * -dy
    left, right = x0 + inset * width, x0 + (1 - inset) * width
    top, bottom = y0 - inset * height, y0 - (1 - inset) * height
    path.unlink(missing_ok=True)
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = source.CreateLayer("mask", dataset.GetSpatialRef(), ogr.wkbPolygon)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POLYGON(({left} {top},{right} {top},{right} {bottom},{left} "
                                                  f"{bottom},{left} {top}))"))
    layer.CreateFeature(feature)
    feature = layer = source = None


CHANGES = ["a source file of the INPUT VRT", "a nodata value in the INPUT's .aux.xml",
           "a source file of an ADDITIONAL_INPUTS VRT", "the MASK", "the CONTRACT"]


@pytest.mark.parametrize("case", CHANGES)
def test_resume_after_a_file_the_inputs_read_changed_is_refused_and_deletes_nothing(capsys, mosaic, tmp_path, case):
    inputs, change = _changes(case, tmp_path, mosaic)
    out = tmp_path / "out"
    first, *more = inputs
    scene = unfinished_run(first, BUNDLED_MODEL, out / "classes.tif", *more, *_options(), blocks=2)
    kept = markers(scene)
    assert len(kept) == 2
    change()  # type: ignore[operator]
    result = cli(capsys, "classify", first, BUNDLED_MODEL, out / "classes.tif", *more, *_options(),
                 "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1", "--resume")  # refused before any task
    assert result.returncode == 2, result.log
    assert "was made with other settings" in result.stderr and "--resume would mix two runs" in result.stderr
    assert "Traceback" not in result.log
    assert markers(scene) == kept  # the earlier run's blocks are all still there, as they were
    assert not (out / LOCK_NAME).exists() and not (scene.parts.path / LOCK_NAME).exists()


def test_statistics_qgis_writes_beside_an_input_do_not_stop_a_resume(capsys, cluster, scene, tmp_path):
    source = Path(gdal.Translate(str(tmp_path / "input.tif"), str(scene)).GetDescription())
    out = tmp_path / "out"
    unfinished = unfinished_run(source, BUNDLED_MODEL, out / "classes.tif", *_options(), blocks=2)
    info = gdal.Info(str(source), stats=True)  # GDAL writes input.tif.aux.xml with the statistics, as QGIS does
    assert "STATISTICS_MEAN" in info and Path(f"{source}.aux.xml").exists()
    result = cli(capsys, "classify", source, BUNDLED_MODEL, out / "classes.tif", *_options(), "--scheduler",
                 cluster[0].scheduler_address, "--resume", "--json")
    assert result.returncode == 0, result.log
    assert result.json["TASKS_REUSED"] == 2 and len(markers(unfinished)) == 0  # finished: the folder is gone
    same_raster(out / "classes.tif", _single(source, tmp_path / "single.tif"))


def test_resume_after_a_source_changed_then_a_fresh_run_gives_the_new_mosaic(capsys, cluster, mosaic, tmp_path):
    out = tmp_path / "out"
    unfinished_run(mosaic["vrt"], BUNDLED_MODEL, out / "classes.tif", *_options(), blocks=3)
    _brighter(mosaic["left"])
    arguments = ["classify", mosaic["vrt"], BUNDLED_MODEL, out / "classes.tif", *_options(), "--scheduler",
                 cluster[0].scheduler_address]
    refused = cli(capsys, *arguments, "--resume")
    assert refused.returncode == 2 and "input differs" in refused.stderr, refused.log
    fresh = cli(capsys, *arguments, "--json")
    assert fresh.returncode == 0, fresh.log
    assert "Removed the blocks of an earlier unfinished run" in fresh.stderr and fresh.json["TASKS_REUSED"] == 0
    same_raster(out / "classes.tif", _single(mosaic["vrt"], tmp_path / "single.tif"))


def test_a_refused_resume_keeps_the_blocks_it_tells_the_user_to_resume(capsys, cluster, scene, tmp_path):
    out = tmp_path / "out"
    unfinished = unfinished_run(scene, BUNDLED_MODEL, out / "classes.tif", *_options(), blocks=3)
    kept = markers(unfinished)
    other = [a if a != OVERLAP else "50" for a in _options()]
    refused = cli(capsys, "classify", scene, BUNDLED_MODEL, out / "classes.tif", *other, "--scheduler",
                  cluster[0].scheduler_address, "--resume")
    assert refused.returncode == 2 and "options differs" in refused.stderr, refused.log
    assert markers(unfinished) == kept
    resumed = cli(capsys, "classify", scene, BUNDLED_MODEL, out / "classes.tif", *_options(), "--scheduler",
                  cluster[0].scheduler_address, "--resume", "--json")
    assert resumed.returncode == 0, resumed.log
    assert resumed.json["TASKS_REUSED"] == 3
    same_raster(out / "classes.tif", _single(scene, tmp_path / "single.tif"))


def test_blocks_whose_files_were_truncated_damaged_or_removed_are_computed_again(capsys, cluster, scene, tmp_path):
    out = tmp_path / "out"
    unfinished = unfinished_run(scene, BUNDLED_MODEL, out / "classes.tif", *_options(), "--probabilities",
                                out / "probabilities.tif", blocks=5)
    names = list(unfinished.tasks)
    truncated, damaged, removed, foreign, intact = names[:5]
    classes = part_files(unfinished, truncated)[0]
    size = classes.stat().st_size
    classes.write_bytes(classes.read_bytes()[: size // 2])
    probabilities = part_files(unfinished, damaged)[1]
    data = bytearray(probabilities.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)
    probabilities.write_bytes(bytes(data))
    part_files(unfinished, removed)[0].unlink()
    assert unfinished.parts is not None
    Path(unfinished.parts.marker(foreign)).write_text('{"class_counts": 5}')
    result = cli(capsys, "classify", scene, BUNDLED_MODEL, out / "classes.tif", *_options(), "--probabilities",
                 out / "probabilities.tif", "--scheduler", cluster[0].scheduler_address, "--resume", "--json")
    assert result.returncode == 0, result.log
    assert "Traceback" not in result.log and "Unexpected error" not in result.log
    log = result.stderr
    assert f"the finished block {truncated} is run again: '{classes.name}' has {size // 2} bytes instead of {size}" \
           in log
    assert f"the finished block {damaged} is run again: the content of '{probabilities.name}' changed" in log
    assert f"the finished block {removed} is run again: '" in log and "cannot be read" in log
    assert f"the finished block {foreign} is run again: its marker is not one this program wrote" in log
    assert intact not in log and result.json["TASKS_REUSED"] == 1
    single = _single(scene, tmp_path / "single.tif", probabilities_path=str(tmp_path / "single_p.tif"))
    same_raster(out / "classes.tif", single)
    np.testing.assert_array_equal(gdal.Open(str(out / "probabilities.tif")).ReadAsArray(),
                                  gdal.Open(str(tmp_path / "single_p.tif")).ReadAsArray())


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None and not path.exists():
        time.sleep(0.05)
    assert process.poll() is None and path.exists(), "the first run ended before the second could start"


def test_a_second_run_into_an_output_another_run_is_writing_is_refused_naming_it(capsys, cluster, scene, tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "plugin.cli", "classify", str(scene), str(BUNDLED_MODEL),
                              str(out / "classes.tif"), *map(str, _options()), "--scheduler",
                              cluster[0].scheduler_address], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(out / ".classes.tif.parts" / "manifest.json", first)
        other = [a if a != OVERLAP else "50" for a in _options()]
        for resume in ([], ["--resume"]):
            second = cli(capsys, "classify", scene, BUNDLED_MODEL, out / "classes.tif", *other, "--scheduler",
                         cluster[0].scheduler_address, *resume)
            assert second.returncode == 2, second.log
            assert (f"Another run is writing 'classes.tif': process {first.pid} on host '{socket.gethostname()}'"
                    in second.stderr), second.log
        stdout, stderr = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, stdout + stderr
    same_raster(out / "classes.tif", _single(scene, tmp_path / "single.tif"))  # the first run's result, unmixed
    assert not (out / ".classes.tif.parts").exists()


def test_a_lock_left_by_a_process_that_died_is_taken_over(capsys, cluster, scene, tmp_path):
    out = tmp_path / "out"
    unfinished = unfinished_run(scene, BUNDLED_MODEL, out / "classes.tif", *_options(), blocks=2)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    assert process_start(pid) is None  # gone
    assert unfinished.parts is not None
    (unfinished.parts.path / LOCK_NAME).write_text(json.dumps({
        "host": socket.gethostname(), "pid": pid, "process_started": time.time() - 60, "locked_at": time.time() - 50,
        "run": "0123456789abcdef", "boot": None}))
    result = cli(capsys, "classify", scene, BUNDLED_MODEL, out / "classes.tif", *_options(), "--scheduler",
                 cluster[0].scheduler_address, "--resume", "--json")
    assert result.returncode == 0, result.log
    assert f"the lock of an earlier run (process {pid} on host '{socket.gethostname()}'" in result.stderr
    assert "no longer runs; it is taken over" in result.stderr and result.json["TASKS_REUSED"] == 2
    same_raster(out / "classes.tif", _single(scene, tmp_path / "single.tif"))
