"""Class 2: NaN and infinity. Non-finite input pixels are nodata (said once in the log) and change no other
pixel; non-finite model outputs stop the run naming the window; non-finite or absurd numbers in a
contract are refused with the field named."""
from __future__ import annotations

import json

import numpy as np
import pytest
from osgeo import gdal

from tests.hostile.helpers import BUNDLED_MODEL, only_outputs, refused, succeeded
from tests.hostile.make_hostile_inputs import NAN_PIXEL

pytestmark = pytest.mark.slow
CLASS_OUTPUTS = ("classes.tif", "classes.qml", "classes.tif.aux.xml")


@pytest.fixture(scope="module")
def declared_nodata_classes(qgis_process, hostile, tmp_path_factory) -> np.ndarray:
    """The same raster with the broken pixel declared nodata: what the NaN run must give."""
    output = tmp_path_factory.mktemp("declared") / "classes.tif"
    succeeded(qgis_process("seamless:classify", {"INPUT": hostile["declared_nodata"], "MODEL": BUNDLED_MODEL,
                                                 "OUTPUT": output}))
    return gdal.Open(str(output)).ReadAsArray()


@pytest.mark.parametrize("name", ["nan", "inf"])
def test_non_finite_pixels_are_nodata_and_change_nothing_else(qgis_process, hostile, tmp_path, name,
                                                              declared_nodata_classes):
    # NODATA_RULE=any: the pixel whose second band is NaN is nodata as a whole, like one declared nodata.
    output = tmp_path / "classes.tif"
    result = qgis_process("seamless:classify", {"INPUT": hostile[name], "MODEL": BUNDLED_MODEL, "OUTPUT": output,
                                                "NODATA_RULE": "any"})
    log = succeeded(result)
    assert json.dumps(result.json["log"]).count("NaN or infinite values") == 1  # said once, where it was
    assert f"column {NAN_PIXEL[0]}, row {NAN_PIXEL[1]}" in log
    classes = gdal.Open(str(output)).ReadAsArray()
    col, row = NAN_PIXEL
    assert classes[row, col] == 255
    assert np.count_nonzero(classes == 255) == 1
    np.testing.assert_array_equal(classes, declared_nodata_classes)
    only_outputs(tmp_path, *CLASS_OUTPUTS)


def test_under_the_default_rule_a_pixel_missing_one_band_is_still_classified(qgis_process, hostile, tmp_path):
    # NODATA_RULE=all (the default): the non-finite band is missing, the pixel is classified with the model's
    # fill value for that band, and the log says both things once.
    output = tmp_path / "classes.tif"
    result = qgis_process("seamless:classify", {"INPUT": hostile["nan"], "MODEL": BUNDLED_MODEL, "OUTPUT": output})
    log = succeeded(result)
    assert json.dumps(result.json["log"]).count("NaN or infinite values") == 1
    assert "NODATA_RULE=any to leave such pixels out" in log
    classes = gdal.Open(str(output)).ReadAsArray()
    assert (classes != 255).all()
    only_outputs(tmp_path, *CLASS_OUTPUTS)


def test_a_model_returning_nan_stops_the_run_naming_the_window(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": hostile["model_nan_output"],
                                                "OUTPUT": tmp_path / "classes.tif"})
    refused(result, "The model returned NaN or infinite values for the window over columns 0 to",
            "no output was written")
    only_outputs(tmp_path)


@pytest.mark.parametrize("contract, message", [
    ("contract_nan_fill", "'NaN' is not a number JSON allows"),
    ("contract_infinite_scale", "'input.scale' must hold finite numbers"),
    ("contract_huge_resolution", "'resolution_m' must be a positive number up to 100000"),
    ("contract_zero_std", "'input.std' must be at least"),
    ("contract_absurd_tile", "'tile_size' must be a whole number from 1 to 16384"),
])
def test_non_finite_or_absurd_contract_numbers_are_refused_with_the_field(qgis_process, hostile, tmp_path, contract,
                                                                         message):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                "CONTRACT": hostile[contract], "OUTPUT": tmp_path / "classes.tif"})
    refused(result, message)
    only_outputs(tmp_path)
