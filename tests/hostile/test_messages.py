"""Class 8: messages that name the real cause, and say the allowed values where QGIS would only say
"Incorrect parameter value"."""
from __future__ import annotations

import pytest

from tests.hostile.helpers import BUNDLED_MODEL, only_outputs, refused, training_cli

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("parameters, message", [
    ({"EXTENT": "335200,335200,5818000,5819000"}, "EXTENT (335200,335200,5818000,5819000) has no area"),
    ({"OVERLAP": 95}, "OVERLAP must be from 0 to 90, got 95."),
    ({"BATCH_SIZE": -1}, "BATCH_SIZE must be at least 0, got -1."),
    ({"WINDOW_SIZE": "large"}, "WINDOW_SIZE must be a number, got 'large'."),
    ({"BLENDING": "feather"}, "BLENDING 'feather' is not one of its options: smooth, average, crop."),
    ({"TTA": 7}, "TTA '7' is not one of its options: none, flips, d4."),
], ids=["zero-width extent", "overlap", "batch size", "window", "blending", "tta"])
def test_classify_parameters_say_what_is_allowed(qgis_process, hostile, tmp_path, parameters, message):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": tmp_path / "classes.tif", **parameters})
    refused(result, message)
    assert "Incorrect parameter value" not in result.log
    only_outputs(tmp_path)


def test_an_empty_model_is_called_empty(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:modelinfo", {"MODEL": hostile["model_empty"]})
    log = refused(result, "is empty (0 bytes)")
    assert "text file" not in log


def test_too_few_bands_never_suggests_bands_that_do_not_exist(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": hostile["three_bands"], "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": tmp_path / "classes.tif"})
    log = refused(result, "the raster has only 3: it cannot be classified with this model")
    assert "1,2,3,4" not in log
    only_outputs(tmp_path)


def test_complex_values_are_refused_not_silently_cut_to_their_real_part(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": hostile["complex"], "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": tmp_path / "classes.tif"})
    refused(result, "The raster holds complex numbers (band 1: CFloat32)")
    only_outputs(tmp_path)


def test_fractional_label_values_are_named_as_the_cause(hostile, tmp_path):
    result = training_cli("train", "--image", str(hostile["s2"]), "--label-raster", str(hostile["fractional_labels"]),
                          "--chip-size", "64", "--output", str(tmp_path / "run"))
    assert result.returncode == 2
    refused(result, "holds values that are not whole numbers (for example 0.5)")
    only_outputs(tmp_path)


def test_chips_larger_than_the_image_are_named_as_the_cause(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:exportchips", {"INPUT": hostile["s2"], "LABEL_RASTER": hostile["fractional_labels"],
                                                   "CHIP_SIZE": 512, "OUTPUT_FOLDER": tmp_path / "chips"})
    refused(result, "CHIP_SIZE 512 is larger than the raster (256 x 256 pixels)")
    only_outputs(tmp_path)
