"""The command line (``seamless-segmentation``) on the hostile inputs: the messages qgis_process gives, exit status
2, no traceback, the inputs untouched and nothing left in the output folder."""
from __future__ import annotations

import pytest

from tests.cli.helpers import cli
from tests.hostile.helpers import BUNDLED_MODEL, only_outputs, refused
from tests.hostile.malformed_cases import CONTRACT_CASES, MODEL_CASES, RASTER_CASES


def _refused_with_status_2(result, *fragments: str) -> None:
    assert result.returncode == 2, result.log
    refused(result, *fragments)


@pytest.mark.parametrize("contract, message", CONTRACT_CASES)
def test_malformed_contracts(capsys, hostile, tmp_path, contract, message):
    result = cli(capsys, "classify", hostile["s2"], BUNDLED_MODEL, tmp_path / "classes.tif", "--contract",
                 hostile[contract])
    _refused_with_status_2(result, message)
    only_outputs(tmp_path)


@pytest.mark.parametrize("model, message", MODEL_CASES)
def test_malformed_models(capsys, hostile, tmp_path, model, message):
    result = cli(capsys, "classify", hostile["s2"], hostile[model], tmp_path / "classes.tif")
    _refused_with_status_2(result, message)
    only_outputs(tmp_path)
    info = cli(capsys, "modelinfo", hostile[model])
    _refused_with_status_2(info, message)


@pytest.mark.parametrize("raster, messages", RASTER_CASES)
def test_unreadable_rasters(capsys, hostile, tmp_path, raster, messages):
    result = cli(capsys, "classify", hostile[raster], BUNDLED_MODEL, tmp_path / "classes.tif")
    _refused_with_status_2(result, *messages)
    only_outputs(tmp_path)


@pytest.mark.parametrize("arguments, message", [
    (("--extent", "1", "2", "3", "4"), "does not overlap the raster"),
    (("--bands", "1,2,3"), "BANDS lists 3 band(s) but the model takes 4"),
    (("--device", "gpu2"), "DEVICE 'gpu2' is not known. Use one of: auto, cpu, cuda"),
], ids=["extent outside", "bands count", "device"])
def test_bad_options(capsys, hostile, tmp_path, arguments, message):
    result = cli(capsys, "classify", hostile["s2"], BUNDLED_MODEL, tmp_path / "classes.tif", *arguments)
    _refused_with_status_2(result, message)
    only_outputs(tmp_path)


def test_outputs_that_name_inputs(capsys, hostile, tmp_path):
    result = cli(capsys, "classify", hostile["s2"], BUNDLED_MODEL, tmp_path / "classes.png")
    _refused_with_status_2(result, "ends in '.png', but a class, probability or confidence raster is written as .tif")
    result = cli(capsys, "classify", hostile["mosaic"], BUNDLED_MODEL, hostile["part"])
    _refused_with_status_2(result, "is the same file as INPUT")
    result = cli(capsys, "classify", hostile["s2"], BUNDLED_MODEL, tmp_path / "c.tif", "--probabilities",
                 tmp_path / "c.tif")
    _refused_with_status_2(result, "OUTPUT and OUTPUT_PROBABILITIES name the same file")
    only_outputs(tmp_path)


def test_too_few_bands(capsys, hostile, tmp_path):
    result = cli(capsys, "classify", hostile["three_bands"], BUNDLED_MODEL, tmp_path / "classes.tif")
    _refused_with_status_2(result, "the raster has only 3: it cannot be classified with this model")
    only_outputs(tmp_path)
